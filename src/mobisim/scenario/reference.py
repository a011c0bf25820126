"""Generate the scenario file reference (docs/scenario-reference.md) from the pydantic models.

The reference lists every key with its type, unit, default and description (which names the
source of the default). Because it is generated from the models, it cannot drift from the code;
a test checks that the committed file equals the generated one. Regenerate with::

    python -m mobisim.scenario.reference > docs/scenario-reference.md
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from mobisim.scenario import registry
from mobisim.units import format_clock

#: key-name suffix -> unit shown in the reference
UNIT_SUFFIXES = {
    "_s": "s",
    "_min": "min",
    "_h": "h",
    "_m": "m",
    "_km": "km",
    "_km2": "km²",
    "_kmh": "km/h",
    "_mps": "m/s",
    "_kwh": "kWh",
    "_wh": "Wh",
    "_kw": "kW",
    "_kwp": "kWp",
    "_krw": "KRW",
    "_pax": "passengers",
    "_share": "share 0–1",
    "_pct": "%",
    "_kg": "kg",
    "_l": "L",
}


def _unit(name: str) -> str:
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return UNIT_SUFFIXES[suffix]
    return ""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        inner = ", ".join(_type_name(a) for a in get_args(annotation) if a is not Ellipsis)
        return f"list[{inner}]"
    if origin is dict:
        key, value = get_args(annotation) or (Any, Any)
        return f"map[{_type_name(key)}, {_type_name(value)}]"
    if annotation is type(None):
        return "null"
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation.__name__
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        out.extend(_nested_models(arg))
    return out


def _is_clock(field) -> bool:
    return any(
        getattr(getattr(m, "func", None), "__name__", "") == "_clock" for m in field.metadata
    )


def _field_type(field) -> str:
    return 'clock "HH:MM"' if _is_clock(field) else _type_name(field.annotation)


def _default(field) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(see below)"
    if _is_clock(field) and isinstance(value, int | float):
        return f"`{format_clock(value)}`"
    if isinstance(value, float) and "clock" in str(field.metadata).lower():
        return str(value)
    text = repr(value)
    return f"`{text}`" if len(text) < 60 else f"`{text[:57]}...`"


def _model_rows(
    model: type[BaseModel],
    prefix: str,
    seen: set[type],
    sections: list[tuple[str, type[BaseModel]]],
) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}.{name}" if prefix else name
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| `{path}` | {_field_type(field)} | {_unit(name)} | {_default(field)} | {description} |"
        )
        for nested in _nested_models(field.annotation):
            if nested not in seen:
                seen.add(nested)
                sections.append((f"{path}", nested))
    return rows


def _section(title: str, model: type[BaseModel], prefix: str) -> list[str]:
    lines = [f"## {title}", ""]
    doc = inspect.getdoc(model) or ""
    if doc:
        lines += [doc.split("\n\n")[0], ""]
    seen: set[type] = {model}
    sections: list[tuple[str, type[BaseModel]]] = []
    header = ["| key | type | unit | default | description |", "|---|---|---|---|---|"]
    lines += header + _model_rows(model, prefix, seen, sections) + [""]
    while sections:
        path, nested = sections.pop(0)
        lines += [f"### `{path}` ({nested.__name__})", ""]
        doc = inspect.getdoc(nested) or ""
        if doc:
            lines += [doc.split("\n\n")[0], ""]
        lines += header + _model_rows(nested, path, seen, sections) + [""]
    return lines


def generate() -> str:
    """The whole reference as Markdown text."""
    from mobisim.scenario.models import Scenario

    lines = [
        "# Scenario file reference",
        "",
        "Generated from the pydantic models by `python -m mobisim.scenario.reference`; do not edit by hand",
        "(a test fails when this file is out of date). Units: the key name carries the unit of the value in",
        "the file (`_min` minutes, `_kmh` km/h, `_m` metres, `_kwh` kWh ...); clock times are written",
        '"HH:MM". Source keys in brackets ([T3], [P2] ...) refer to docs/sources.md.',
        "",
    ]
    top_fields = {name: f for name, f in Scenario.model_fields.items() if not f.exclude}
    scalar_rows = []
    for name, field in top_fields.items():
        if not _nested_models(field.annotation) and name != "services":
            description = (field.description or "").replace("|", "\\|")
            scalar_rows.append(
                f"| `{name}` | {_field_type(field)} | {_unit(name)} | {_default(field)} | {description} |"
            )
    lines += [
        "## Top level",
        "",
        "| key | type | unit | default | description |",
        "|---|---|---|---|---|",
        *scalar_rows,
        "",
    ]
    for name, field in top_fields.items():
        if name == "services":
            continue
        for nested in _nested_models(field.annotation):
            lines += _section(f"`{name}`", nested, name)
    lines += [
        "## `services`",
        "",
        "A list of named blocks; `type` selects one of the service types below. In `--set` key paths a block",
        "is addressed by its name: `services.shuttle.vehicles=6`.",
        "",
    ]
    for type_name in registry.SERVICE_TYPES:
        config = registry.service_config_model(type_name)
        lines += _section(f"service type `{type_name}`", config, "services.<name>")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())

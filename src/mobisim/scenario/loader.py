"""Load scenario files: YAML, ``extends:`` merging, overrides, validation with clear messages.

Merge rule for ``extends: base.yaml`` (the path is relative to the extending file; chains are
allowed, cycles are an error). The extending file is merged *onto* its base:

* maps merge key by key, recursively; on a scalar the extending file wins;
* lists of **named blocks** (every item a map with a ``name``, like ``services``) merge by name:
  a block with a name already in the base merges recursively into it, a new name is appended in
  order, and ``{name: x, remove: true}`` drops block ``x``;
* every other list is replaced whole.

Overrides (``--set key.path=value`` on the command line, or ``overrides={"key.path": value}`` in
Python) are applied after merging, in order. A list of named blocks is addressed by the block's
name: ``services.shuttle.vehicles=6``. A value given as text is parsed as YAML (``6`` -> int,
``[1, 2]`` -> list, ``"07:30"`` stays text).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mobisim.errors import ScenarioError
from mobisim.scenario import registry
from mobisim.scenario.base import ServiceConfig
from mobisim.scenario.models import Scenario


def _is_named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and "name" in v for v in value)
    )


def deep_merge(base: Any, child: Any) -> Any:
    """Merge ``child`` onto ``base`` following the module's merge rule; inputs are not modified."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = copy.deepcopy(base)
        for key, value in child.items():
            out[key] = deep_merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    if _is_named_list(child) and (_is_named_list(base) or base == []):
        out = [copy.deepcopy(b) for b in base]
        for block in child:
            names = [b["name"] for b in out]
            if block.get("remove") is True:
                out = [b for b in out if b["name"] != block["name"]]
            elif block["name"] in names:
                i = names.index(block["name"])
                out[i] = deep_merge(out[i], block)
            else:
                out.append(copy.deepcopy(block))
        return out
    return copy.deepcopy(child)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML file into a map; ScenarioError with the line number on a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, [("", "file not found")]) from None
    except OSError as exc:
        raise ScenarioError(path, [("", f"cannot read the file ({exc.strerror})")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, [("", f"not valid YAML: {where}{problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(
            path, [("", f"expected a map of sections at the top level (got {type(data).__name__})")]
        )
    return data


def resolve_extends(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw map of ``path`` with its ``extends`` chain merged in (the key itself removed)."""
    path = path.resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ScenarioError(path, [("extends", f"expected no cycle (got {cycle})")])
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, [("extends", f"expected a file name (got {parent!r})")])
    base = resolve_extends(path.parent / parent, (*_chain, path))
    return deep_merge(base, data)


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"key.path=value"`` and parse the value as YAML (``--set`` syntax)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(None, [("--set", f"expected key.path=value (got {text!r})")])
    if ":" in raw and not raw.strip().startswith(("{", "[")):
        return (
            key.strip(),
            raw.strip(),
        )  # clock times: YAML 1.1 would read "22:00" as the number 1320
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _suggest(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _model_at(path: list[str], data: dict[str, Any]) -> type[BaseModel] | None:
    """The pydantic model describing the map at ``path`` in the raw data (for did-you-mean)."""
    model: type[BaseModel] | None = Scenario
    node: Any = data
    i = 0
    while i < len(path) and model is not None:
        key = path[i]
        if key == "services" and model is Scenario:
            if i + 1 >= len(path):
                return None
            block = next(
                (
                    b
                    for b in node.get("services", [])
                    if isinstance(b, dict) and b.get("name") == path[i + 1]
                ),
                None,
            )
            if block is None or block.get("type") not in registry.SERVICE_TYPES:
                return ServiceConfig
            model = registry.service_config_model(block["type"])
            node, i = block, i + 2
            continue
        field = model.model_fields.get(key)
        if field is None:
            return None
        model = next((a for a in _annotation_models(field.annotation)), None)
        node = node.get(key, {}) if isinstance(node, dict) else {}
        i += 1
    return model


def _annotation_models(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in get_args(annotation):
        out.extend(_annotation_models(arg))
    return out


def apply_override(
    data: dict[str, Any], key_path: str, value: Any, file: str | None = None
) -> None:
    """Set ``key_path`` (dots; named list blocks by name) to ``value`` in the raw map, in place."""
    parts = key_path.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            match = next((b for b in node if isinstance(b, dict) and b.get("name") == part), None)
            if match is None:
                names = [b.get("name") for b in node if isinstance(b, dict)]
                raise ScenarioError(
                    file,
                    [
                        (
                            here,
                            f"no block named {part!r}{_suggest(part, names)} (known: {', '.join(map(str, names))})",
                        )
                    ],
                )
            node = match
        elif isinstance(node, dict):
            if part not in node:
                model = _model_at(parts[:depth], data)
                if model is not None and part not in model.model_fields:
                    raise ScenarioError(
                        file, [(here, f"unknown key {part!r}{_suggest(part, model.model_fields)}")]
                    )
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError(
                file, [(here, f"expected a map or a list of named blocks (got {node!r})")]
            )
    last = parts[-1]
    if isinstance(node, list):
        raise ScenarioError(
            file,
            [(key_path, "expected a key inside a named block, e.g. services.shuttle.vehicles")],
        )
    if not isinstance(node, dict):
        raise ScenarioError(file, [(key_path, f"cannot set a key inside a value ({node!r})")])
    node[last] = value


def _key_path(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Dotted key path of a pydantic error location, with service names instead of indices."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            block = node[item] if item < len(node) else None
            name = block.get("name") if isinstance(block, dict) else None
            parts.append(str(name) if name else f"[{item}]")
            node = block
            continue
        text = str(item)
        if isinstance(node, list):  # a pydantic tag (the service model's name) inside a list item
            continue
        if text in {"function-after[_typed_services(), list[ServiceConfig]]"}:
            continue
        parts.append(text)
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _problems(exc: ValidationError, data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = _key_path(loc, data)
        got = err.get("input")
        if err["type"] == "extra_forbidden":
            model = _model_at(_names_path(loc[:-1], data), data)
            options = model.model_fields if model else []
            problems.append((key, f"unknown key {loc[-1]!r}{_suggest(str(loc[-1]), options)}"))
            continue
        message = err["msg"].removeprefix("Value error, ")
        plain = isinstance(got, dict | list) or got is None or "(got" in message
        shown = "" if plain else f" (got {got!r})"
        problems.append((key, f"{message}{shown}"))
    return problems


def _names_path(loc: tuple[Any, ...], data: dict[str, Any]) -> list[str]:
    path = _key_path(loc, data)
    return path.split(".") if path else []


def _service_problems(blocks: Any) -> list[tuple[str, str]]:
    """Problems of each service block, keyed ``services.<name>.<key>`` (every block checked)."""
    if not isinstance(blocks, list):
        return []
    problems = []
    for i, block in enumerate(blocks):
        label = block.get("name") if isinstance(block, dict) and block.get("name") else f"[{i}]"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(
                (f"services.{label}", f"expected a map with 'name' and 'type' (got {block!r})")
            )
            continue
        if block["type"] not in registry.SERVICE_TYPES:
            known = ", ".join(sorted(registry.SERVICE_TYPES))
            problems.append(
                (
                    f"services.{label}.type",
                    f"unknown service type {block['type']!r}{_suggest(str(block['type']), registry.SERVICE_TYPES)} (known: {known})",
                )
            )
            continue
        model = registry.service_config_model(block["type"])
        try:
            model.model_validate(block)
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(["services", label, *map(str, err["loc"])])
                if err["type"] == "extra_forbidden":
                    problems.append(
                        (
                            key,
                            f"unknown key {err['loc'][-1]!r}{_suggest(str(err['loc'][-1]), model.model_fields)}",
                        )
                    )
                    continue
                message = err["msg"].removeprefix("Value error, ")
                got = err.get("input")
                shown = (
                    ""
                    if isinstance(got, dict | list) or got is None or "(got" in message
                    else f" (got {got!r})"
                )
                problems.append((key, message + shown))
    return problems


def validate(data: dict[str, Any], file: str | Path | None = None) -> Scenario:
    """Validate a raw scenario map; ScenarioError listing every problem at once."""
    problems = _service_problems(data.get("services"))
    checked = {**data, "services": []} if problems else data
    try:
        scenario = Scenario.model_validate(checked)
    except ValidationError as exc:
        problems.extend(_problems(exc, checked))
    if problems:
        raise ScenarioError(file, problems)
    if file is not None:
        scenario._source_file = Path(file).resolve()
    return scenario


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None
) -> Scenario:
    """Load a scenario file with its ``extends`` chain, apply overrides, validate.

    Parameters
    ----------
    path : the scenario file (YAML).
    overrides : ``{"key.path": value}`` or an iterable of ``"key.path=value"`` strings (``--set``).
    """
    path = Path(path)
    data = resolve_extends(path)
    items = (
        overrides.items()
        if isinstance(overrides, Mapping)
        else (parse_override(t) for t in overrides or [])
    )
    for key, value in items:
        apply_override(data, key, value, str(path))
    return validate(data, path)


def canonical_json(scenario: Scenario) -> str:
    """The fully resolved scenario as canonical JSON (sorted keys, no whitespace)."""
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def fingerprint(scenario: Scenario) -> str:
    """sha256 of the fully resolved scenario including its seed: equal fingerprints, equal runs."""
    return hashlib.sha256(canonical_json(scenario).encode("utf-8")).hexdigest()

"""Load scenario files: YAML, ``extends:`` merging, overrides, validation with clear messages.

Merge rule for ``extends: base.yaml`` (the path is relative to the extending file; chains are
allowed up to :data:`MAX_EXTENDS_FILES` files, cycles are an error, and a base must lie inside
the scenario's own folder, the working directory or a folder allowed with ``--allow-extends``).
The extending file is merged *onto* its base:

* maps merge key by key, recursively; on a scalar the extending file wins;
* lists of **named blocks** (every item a map with a ``name``, like ``services``) merge by name:
  a block with a name already in the base merges recursively into it, a new name is appended in
  order, and ``{name: x, remove: true}`` drops block ``x``;
* every other list is replaced whole;
* ``template: true`` (a base that is only extended) is not inherited.

Overrides (``--set key.path=value`` on the command line, or ``overrides={"key.path": value}`` in
Python) are applied after merging, in order. A list of named blocks is addressed by the block's
name: ``services.shuttle.vehicles=6``; a list of unnamed blocks (a micromobility service's
``devices``) by the block's type: ``services.pm.devices.ebike.count=800``. A value given as text is parsed as YAML (``6`` -> int,
``[1, 2]`` -> list, ``"07:30"`` stays text).

Every problem (of the overrides, then of the merged file) is collected and raised at once as one
:class:`mobisim.errors.ScenarioError` with ``(key.path, "what was expected (got ...)")`` pairs;
key paths name service blocks by their ``name``, never by list position.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from mobisim.errors import ScenarioError
from mobisim.scenario import registry
from mobisim.scenario.models import Scenario

#: longest ``extends`` chain, files (the scenario and its bases); a longer one is an error
MAX_EXTENDS_FILES = 64

# ---------------------------------------------------------------------------- files and extends


def _is_named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and "name" in v for v in value)
    )


def deep_merge(base: Any, child: Any) -> Any:
    """Merge ``child`` onto ``base`` following the module's merge rule; inputs are not modified.

    Parameters
    ----------
    base : the raw value of the base file (map, list or scalar).
    child : the raw value of the extending file at the same place; it wins on scalars.
    """
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
    """Read one YAML file into a map; ScenarioError with the line number on a syntax error.

    Parameters
    ----------
    path : the YAML file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError(path, [("", f"cannot read the file ({reason})")]) from None
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
        got = type(data).__name__
        raise ScenarioError(
            path, [("", f"expected a map of sections at the top level (got {got})")]
        )
    return data


def _resolved(path: Path, file: Path | None, key: str) -> Path:
    """``path`` made absolute with symlinks followed; ScenarioError (in ``file`` at ``key``)
    when it cannot be, such as a loop of symlinks."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        reason = "a loop of symbolic links" if isinstance(exc, RuntimeError) else str(exc)
        where = file if file is not None else path
        got = f"{str(path)!r}: {reason}"
        problem = (key, f"expected a file name that resolves (got {got})")
        raise ScenarioError(where, [problem]) from None


def extends_roots(path: str | Path, extra: Iterable[str | Path] = ()) -> list[Path]:
    """The folders an ``extends`` chain starting at ``path`` may read files from.

    They are the folder of ``path`` (the scenario tree), the working directory (the project)
    and the folders in ``extra`` (given on the command line with ``--allow-extends``).

    Parameters
    ----------
    path : the scenario file the chain starts at.
    extra : more folders allowed explicitly.
    """
    roots = [_resolved(Path(path), None, "").parent, Path.cwd().resolve()]
    roots += [_resolved(Path(folder), None, "--allow-extends") for folder in extra]
    return list(dict.fromkeys(roots))


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_extends(path: Path, allowed: Iterable[str | Path] | None = None) -> dict[str, Any]:
    """The raw map of ``path`` with its ``extends`` chain merged in (the key itself removed).

    Parameters
    ----------
    path : the scenario file; its ``extends`` is relative to its own folder.
    allowed : folders besides the scenario's own folder and the working directory that
        ``extends`` may read from (:func:`extends_roots`); a base outside them is refused.

    A chain longer than :data:`MAX_EXTENDS_FILES` files, a cycle, a name that does not resolve
    (a loop of symbolic links) or a base outside the allowed folders is a ScenarioError naming
    the extending file and its ``extends`` key.
    """
    current = _resolved(Path(path), None, "")
    roots = extends_roots(current, allowed or ())
    chain = [current]
    layers = [read_yaml(current)]
    while (parent := layers[-1].pop("extends", None)) is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError(current, [("extends", f"expected a file name (got {parent!r})")])
        if len(chain) >= MAX_EXTENDS_FILES:
            shown = " -> ".join(p.name for p in chain[:3])
            raise ScenarioError(
                current,
                [
                    (
                        "extends",
                        f"expected a chain of at most {MAX_EXTENDS_FILES} files (got more: "
                        f"{shown} -> ... -> {current.name} -> {parent})",
                    )
                ],
            )
        parent_path = _resolved(current.parent / parent, current, "extends")
        if parent_path in chain:
            cycle = " -> ".join(p.name for p in (*chain, parent_path))
            raise ScenarioError(current, [("extends", f"expected no cycle (got {cycle})")])
        if not parent_path.is_file():
            raise ScenarioError(
                current, [("extends", f"expected an existing file (got {parent!r}: not found)")]
            )
        if not _inside(parent_path, roots):
            where = ", ".join(str(r) for r in roots)
            raise ScenarioError(
                current,
                [
                    (
                        "extends",
                        f"expected a file inside {where} (got {parent!r}, which is "
                        f"{parent_path}); allow its folder with --allow-extends DIR",
                    )
                ],
            )
        chain.append(parent_path)
        current = parent_path
        layers.append(read_yaml(current))
    merged = layers.pop()
    while layers:
        merged.pop(
            "template", None
        )  # a template's children are scenarios unless they say otherwise
        merged = deep_merge(merged, layers.pop())
    return merged


# ---------------------------------------------------------------------------- models by key path


def _suggest(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _annotation_models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field annotation (``X``, ``X | None``, ``list[X]`` ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in get_args(annotation):
        out.extend(_annotation_models(arg))
    return out


def _is_list_field(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))


def _named(blocks: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(blocks, list):
        return None
    return next((b for b in blocks if isinstance(b, dict) and b.get("name") == name), None)


def _block(blocks: Any, part: str) -> dict[str, Any] | None:
    """The block ``part`` of a list addressed by a key path: by ``name``, or else (lists of
    unnamed blocks such as a micromobility service's ``devices``) the one block of that ``type``."""
    found = _named(blocks, part)
    if found is not None or not isinstance(blocks, list):
        return found
    typed = [b for b in blocks if isinstance(b, dict) and "name" not in b and b.get("type") == part]
    return typed[0] if len(typed) == 1 else None


def _service_model(block: Any) -> type[BaseModel] | None:
    if isinstance(block, dict) and _type_name(block) in registry.SERVICE_TYPES:
        return registry.service_config_model(block["type"])
    return None


def _type_name(block: dict[str, Any]) -> str | None:
    """A block's ``type`` if it is a text (a map or a list there is no type name)."""
    name = block.get("type")
    return name if isinstance(name, str) else None


def model_at(path: list[str], data: dict[str, Any]) -> type[BaseModel] | None:
    """The pydantic model of the map at a dotted key ``path`` of the raw data (None if unknown).

    Parameters
    ----------
    path : key path parts; a named-list block is addressed by its name (``["services", "car"]``).
    data : the raw scenario map (service blocks are typed by their ``type``).
    """
    model: type[BaseModel] | None = Scenario
    node: Any = data
    i = 0
    while i < len(path):
        if model is None:
            return None
        key = path[i]
        field = model.model_fields.get(key)
        if field is None:
            return None
        child = node.get(key) if isinstance(node, dict) else None
        if model is Scenario and key == "services":
            if i + 1 == len(path):
                return None
            node = _named(child, path[i + 1])
            model = _service_model(node)
            i += 2
            continue
        models = _annotation_models(field.annotation)
        model = models[0] if len(models) == 1 else None
        if _is_list_field(field.annotation):  # a named list: the next part is a block name
            if i + 1 == len(path):
                return None
            node = _block(child, path[i + 1]) or {}
            i += 2
            continue
        node = child if isinstance(child, dict) else {}
        i += 1
    return model


def _model_for_loc(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the map at a pydantic error location (indices and union tags skipped)."""
    candidates = [root]
    for item in loc:
        by_name = {m.__name__: m for m in candidates}
        if item in by_name:  # a union tag chooses among the candidates
            candidates = [by_name[item]]
            continue
        if isinstance(item, int):
            continue
        field = next((m.model_fields[item] for m in candidates if item in m.model_fields), None)
        if field is None:
            continue  # a dict key or a validator tag
        candidates = _annotation_models(field.annotation)
        if not candidates:
            return None
    return candidates[0] if len(candidates) == 1 else None


# ---------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"key.path=value"`` and parse the value as YAML (``--set`` syntax).

    Parameters
    ----------
    text : one ``--set`` argument, e.g. ``services.shuttle.vehicles=6`` or ``period.end=22:00``.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(None, [("--set", f"expected key.path=value (got {text!r})")])
    raw = raw.strip()
    if ":" in raw and not raw.startswith(("{", "[")):
        return key.strip(), raw  # clock times: YAML 1.1 would read 22:00 as the number 1320
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _unknown_key(key: str, model: type[BaseModel]) -> str:
    hint = _suggest(key, model.model_fields)
    if not hint:
        hint = f" (expected one of: {', '.join(model.model_fields)})"
    return f"unknown key {key!r}{hint}"


def apply_override(
    data: dict[str, Any], key_path: str, value: Any, file: str | Path | None = None
) -> None:
    """Set ``key_path`` (dots; named list blocks by name) to ``value`` in the raw map, in place.

    Parameters
    ----------
    data : the merged raw scenario map.
    key_path : e.g. ``"services.shuttle.vehicles"`` or ``"demand.synthetic.residents"``.
    value : the new value, in the file's units (``headway_min`` is minutes).
    file : the scenario file, for the error message.

    Raises ScenarioError (with did-you-mean) when the path names an unknown key or block.
    """
    parts = key_path.split(".")
    if not all(parts):
        raise ScenarioError(file, [(key_path, "expected a key path like services.car.enabled")])
    node: Any = data
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if last:
                raise ScenarioError(
                    file,
                    [(key_path, "expected a key inside a named block, e.g. services.car.enabled")],
                )
            match = _block(node, part)
            if match is None:
                names = [str(b.get("name", b.get("type"))) for b in node if isinstance(b, dict)]
                known = ", ".join(names) or "none"
                raise ScenarioError(
                    file,
                    [(here, f"no block named {part!r}{_suggest(part, names)} (known: {known})")],
                )
            node = match
            continue
        if not isinstance(node, dict):
            raise ScenarioError(file, [(here, f"cannot set a key inside the value {node!r}")])
        model = model_at(parts[:depth], data)
        if part not in node and model is not None and part not in model.model_fields:
            raise ScenarioError(file, [(here, _unknown_key(part, model))])
        if last:
            node[part] = value
            return
        if node.get(part) is None:  # absent or null: start from the model's default
            node[part] = _default_raw(model, part)
        node = node[part]


def _default_raw(model: type[BaseModel] | None, key: str) -> Any:
    """The default of ``model.key`` as file data, so that ``--set`` can reach into defaults.

    For example ``demand.synthetic.groups.workers.car_share=0.3`` on a file that does not list
    the groups starts from the default groups. A section without a default starts empty.
    """
    field = model.model_fields.get(key) if model is not None else None
    if field is None:
        return {}
    default = field.get_default(call_default_factory=True, validated_data={})
    if default is None or default is PydanticUndefined:
        return [] if _is_list_field(field.annotation) else {}
    return TypeAdapter(field.annotation).dump_python(default, mode="json")


def _override_items(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[Any]:
    """``(key, value)`` pairs, or ``"key=value"`` texts still to be parsed, in order."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return list(overrides.items())
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


# ---------------------------------------------------------------------------- validation


def _key_path(loc: tuple[Any, ...], data: Any) -> list[str]:
    """Key path parts of a pydantic error location, with block names instead of list indices."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            block = node[item] if 0 <= item < len(node) else None
            name = block.get("name") if isinstance(block, dict) else None
            parts.append(str(name) if name else f"[{item}]")
            node = block
            continue
        text = str(item)
        present = isinstance(node, dict) and item in node
        if not present and (text[:1].isupper() or "[" in text or isinstance(node, list)):
            continue  # a union tag or validator name, not a key of the file
        parts.append(text)
        node = node.get(item) if isinstance(node, dict) else None
    return parts


def _message(err: dict[str, Any]) -> str:
    """'what was expected (got ...)' for one pydantic error."""
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if err["type"] == "missing":
        return "required key is missing"
    if message.startswith("Input should be "):
        rest = message.removeprefix("Input should be ")
        if rest.startswith(("greater", "less")):
            rest = "a value " + rest
        message = "expected " + rest
    got = err.get("input")
    if isinstance(got, dict | list) or got is None or "(got" in message:
        return message
    return f"{message} (got {got!r})"


def _problems(
    exc: ValidationError, data: Any, model: type[BaseModel], prefix: list[str]
) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join([*prefix, *_key_path(loc, data)])
        if err["type"] == "extra_forbidden":
            parent = _model_for_loc(model, loc[:-1])
            text = _unknown_key(str(loc[-1]), parent) if parent else f"unknown key {loc[-1]!r}"
            problems.append((key, text))
        else:
            problems.append((key, _message(err)))
    return problems


def _service_problems(blocks: Any) -> list[tuple[str, str]]:
    """Problems of each service block, keyed ``services.<name>.<key>`` (every block checked)."""
    if not isinstance(blocks, list):
        return []
    problems = []
    for i, block in enumerate(blocks):
        label = str(block["name"]) if isinstance(block, dict) and block.get("name") else f"[{i}]"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(
                (f"services.{label}", f"expected a map with 'name' and 'type' (got {block!r})")
            )
            continue
        model = _service_model(block)
        if model is None:
            known = ", ".join(sorted(registry.SERVICE_TYPES))
            given = block["type"]
            if isinstance(given, str):
                text = f"unknown service type {given!r}{_suggest(given, registry.SERVICE_TYPES)}"
            else:
                text = f"expected a service type name (got {given!r})"
            problems.append((f"services.{label}.type", f"{text} (known types: {known})"))
            continue
        try:
            model.model_validate(block)
        except ValidationError as exc:
            problems.extend(_problems(exc, block, model, ["services", label]))
    return problems


def validate(
    data: dict[str, Any], file: str | Path | None = None, base_dir: str | Path | None = None
) -> Scenario:
    """Validate a raw scenario map; ScenarioError listing every problem at once.

    Parameters
    ----------
    data : the merged raw map (after ``extends`` and overrides).
    file : the scenario file it came from (for messages and relative paths), or None.
    base_dir : folder for relative file paths when there is no file (default: working directory).
    """
    problems = _service_problems(data.get("services"))
    checked = {**data, "services": []} if problems else data
    scenario = None
    try:
        scenario = Scenario.model_validate(checked)
    except ValidationError as exc:
        problems.extend(_problems(exc, checked, Scenario, []))
    if scenario is not None:
        problems.extend(scenario.group_problems())
    if problems or scenario is None:
        raise ScenarioError(file, problems)
    return scenario.with_origin(Path(file) if file is not None else None, base_dir)


def load_scenario(
    path: str | Path,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    allow_extends: Iterable[str | Path] = (),
) -> Scenario:
    """Load a scenario file with its ``extends`` chain, apply overrides, validate.

    Parameters
    ----------
    path : the scenario file (YAML).
    overrides : ``{"key.path": value}`` or an iterable of ``"key.path=value"`` strings (``--set``);
        values in the file's units.
    allow_extends : folders ``extends`` may read from besides the scenario's own folder and the
        working directory (``--allow-extends``; :func:`resolve_extends`).

    Raises ScenarioError with every problem found (overrides first, then the merged scenario).
    """
    path = Path(path)
    data = resolve_extends(path, allow_extends)
    problems: list[tuple[str, str]] = []
    for item in _override_items(overrides):
        try:
            key, value = parse_override(item) if isinstance(item, str) else item
            apply_override(data, key, value, path)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(path, problems)
    return validate(data, path)


# ---------------------------------------------------------------------------- fingerprint


def canonical_json(scenario: Scenario) -> str:
    """The fully resolved scenario as canonical JSON (sorted keys, no whitespace).

    Parameters
    ----------
    scenario : a validated scenario; where it was loaded from is not part of it.
    """
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def fingerprint(scenario: Scenario) -> str:
    """sha256 (hex) of the canonical JSON of the resolved scenario, which includes its seed.

    Equal fingerprints mean equal inputs, hence byte-identical event and trip tables.

    Parameters
    ----------
    scenario : a validated scenario.
    """
    return hashlib.sha256(canonical_json(scenario).encode("utf-8")).hexdigest()

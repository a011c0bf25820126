"""A scenario fuzzer: seeded mutations of the shipped scenario files (deleted and renamed keys,
wrong types, negative, zero, huge and NaN values, duplicate names, odd service types) must each
validate or raise a ScenarioError that names the file and a key path; never another exception.

100 cases run by default and 1,000 more under the ``slow`` marker. A failing case prints its
seed and its mutations: ``mutated(<seed>)`` rebuilds it.
"""

from __future__ import annotations

import copy
import math
import os
import random
from pathlib import Path

import pytest

from mobisim.errors import ScenarioError
from mobisim.scenario.loader import MAX_EXTENDS_FILES, load_scenario, resolve_extends, validate
from mobisim.scenario.models import Scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if p.name != "base.yaml")

#: values a mutation may put anywhere: wrong types, out-of-range and odd numbers
ODD_VALUES = [
    None,
    {},
    [],
    [1, 2],
    "",
    "text",
    "10 km",
    "07:30",
    True,
    False,
    0,
    -1,
    -0.5,
    1e12,
    10**30,
    math.nan,
    math.inf,
    -math.inf,
    {"name": "x"},
    {"type": {}},
]
ODD_TYPES = [{}, [], None, 3, "", "shutle", "walk", "drt", ["walk"], {"name": "walk"}]


def _places(node, path=()):
    """Every (path, container) of the raw tree: each key of a map, each item of a list."""
    if isinstance(node, dict):
        for key in list(node):
            yield (*path, key), node
            yield from _places(node[key], (*path, key))
    elif isinstance(node, list):
        for i in range(len(node)):
            yield (*path, i), node
            yield from _places(node[i], (*path, i))


def _mutate(data: dict, rng: random.Random) -> str:
    """Apply one random mutation to ``data`` in place; return what it did."""
    places = list(_places(data))
    path, container = rng.choice(places)
    key = path[-1]
    kind = rng.choice(
        ["delete", "rename", "odd", "odd", "number", "duplicate", "type", "services", "nest"]
    )
    if kind == "delete":
        del container[key]
    elif kind == "rename" and isinstance(container, dict):
        container[f"{key}x"] = container.pop(key)
    elif kind == "odd":
        container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif kind == "number":
        value = container[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            container[key] = rng.choice([-value, 0, value * 1e9, -1, math.nan, value + 0.5])
        else:
            container[key] = rng.choice([0, -3, 1e15, math.nan])
    elif kind == "duplicate" and isinstance(container, list):
        container.append(copy.deepcopy(container[key]))
    elif kind == "type":
        blocks = data.get("services")
        if isinstance(blocks, list) and blocks:
            block = rng.choice(blocks)
            if isinstance(block, dict):
                block["type"] = copy.deepcopy(rng.choice(ODD_TYPES))
    elif kind == "services":
        data["services"] = copy.deepcopy(rng.choice([{}, "walk", [None], [{"name": "w"}], [{}]]))
    else:  # nest: a map where a scalar was, or the other way round
        container[key] = {"value": container[key]} if rng.random() < 0.5 else 1
    return f"{kind} at {'.'.join(map(str, path))}"


def mutated(seed: int) -> tuple[Path, dict, list[str]]:
    """Case ``seed``: a shipped scenario (its extends chain merged) with 1-3 random mutations."""
    rng = random.Random(seed)
    path = rng.choice(SHIPPED)
    data = copy.deepcopy(_BASES[path])
    done = [_mutate(data, rng) for _ in range(rng.randint(1, 3))]
    return path, data, done


_BASES = {path: resolve_extends(path) for path in SHIPPED}


def _problem_in_case(seed: int) -> str | None:
    """None if case ``seed`` validates or raises a proper ScenarioError, else what went wrong."""
    path, data, done = mutated(seed)
    try:
        validate(data, path)
    except ScenarioError as exc:
        if exc.file != str(path):
            return f"case {seed} ({done}): ScenarioError names {exc.file!r}, not {path}"
        if not exc.problems or any(not key for key, _ in exc.problems):
            return f"case {seed} ({done}): a problem without a key path: {exc.problems}"
        for key, message in exc.problems:
            top = key.split(".")[0]
            if top not in Scenario.model_fields and top not in data:
                return f"case {seed} ({done}): key path {key!r} names no key of the file"
            if not message:
                return f"case {seed} ({done}): {key}: empty message"
    except Exception as exc:  # the point of the fuzzer: a bug, reported with its case
        return f"case {seed} ({done}): {type(exc).__name__}: {exc}"
    return None


def _run_cases(seeds) -> None:
    failures = [p for p in map(_problem_in_case, seeds) if p is not None]
    assert not failures, f"{len(failures)} cases failed:\n" + "\n".join(failures[:20])


def test_a_hundred_mutated_scenarios_validate_or_name_the_key():
    _run_cases(range(100))


@pytest.mark.slow
def test_a_thousand_more_mutated_scenarios_validate_or_name_the_key():
    _run_cases(range(100, 1100))


def test_the_mutations_do_find_errors():
    """The fuzzer is not vacuous: most cases are invalid, some valid, on several files."""
    outcomes, files = [], set()
    for seed in range(100):
        path, data, _ = mutated(seed)
        files.add(path)
        try:
            validate(data, path)
            outcomes.append("ok")
        except ScenarioError:
            outcomes.append("error")
    assert outcomes.count("error") >= 40 and outcomes.count("ok") >= 5
    assert len(files) >= 5


# ---------------------------------------------------------------------------- the three crashes


def _chain(folder: Path, n: int) -> Path:
    (folder / "f0.yaml").write_text("name: deep\nservices: [{name: walk, type: walk}]\n")
    for i in range(1, n):
        (folder / f"f{i}.yaml").write_text(f"extends: f{i - 1}.yaml\nname: deep{i}\n")
    return folder / f"f{n - 1}.yaml"


def test_an_extends_chain_1100_files_deep_is_a_scenario_error(tmp_path):
    top = _chain(tmp_path, 1100)
    with pytest.raises(ScenarioError) as info:
        load_scenario(top)
    [(key, message)] = info.value.problems
    assert key == "extends" and f"at most {MAX_EXTENDS_FILES} files" in message
    assert "f1099.yaml -> f1098.yaml" in message


def test_an_extends_chain_at_the_limit_loads(tmp_path):
    assert load_scenario(_chain(tmp_path, MAX_EXTENDS_FILES)).name == f"deep{MAX_EXTENDS_FILES - 1}"


def test_an_extends_symlink_loop_is_a_scenario_error(tmp_path):
    os.symlink(tmp_path / "loop-b.yaml", tmp_path / "loop-a.yaml")
    os.symlink(tmp_path / "loop-a.yaml", tmp_path / "loop-b.yaml")
    child = tmp_path / "child.yaml"
    child.write_text("extends: loop-a.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    assert info.value.file == str(child.resolve())
    [(key, message)] = info.value.problems
    assert key == "extends" and "loop-a.yaml" in message and "resolve" in message
    with pytest.raises(ScenarioError, match="resolve"):  # the scenario file itself a loop
        load_scenario(tmp_path / "loop-a.yaml")


def test_an_extends_symlink_back_to_the_file_is_a_cycle(tmp_path):
    os.symlink(tmp_path / "a.yaml", tmp_path / "link.yaml")
    (tmp_path / "a.yaml").write_text("extends: link.yaml\nname: a\n")
    with pytest.raises(ScenarioError, match="expected no cycle"):
        load_scenario(tmp_path / "a.yaml")


@pytest.mark.parametrize("odd", [{}, [], ["walk"], 3, None])
def test_a_service_type_that_is_no_name_is_a_scenario_error(tmp_path, odd):
    path = tmp_path / "s.yaml"
    data = {"name": "s", "services": [{"name": "walk", "type": "walk"}, {"name": "x", "type": odd}]}
    with pytest.raises(ScenarioError) as info:
        validate(data, path)
    problems = dict(info.value.problems)
    assert "expected a service type name" in problems["services.x.type"]
    assert "known types:" in problems["services.x.type"]


def test_the_docks_message_names_both_quantities():
    data = copy.deepcopy(_BASES[ROOT / "scenarios" / "demo.yaml"])
    bikes = next(b for b in data["services"] if b["name"] == "bikes")
    bikes["stations"] = bikes["stations"][:4]  # 40 docks for 60 bikes
    with pytest.raises(ScenarioError) as info:
        validate(data, "demo.yaml")
    message = dict(info.value.problems)["services.bikes"]
    assert "docks 40 < fleet 60" in message

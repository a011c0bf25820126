"""Scenario files: validation messages, the extends merge rule, overrides, fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobisim.errors import ScenarioError
from mobisim.scenario.loader import deep_merge, fingerprint, load_scenario, parse_override

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_demo_validates_with_units_converted():
    scenario = load_scenario(DEMO)
    assert scenario.name == "demo"
    assert scenario.period.start_s == 5 * 3600 and scenario.period.end_s == 24 * 3600
    assert [s.name for s in scenario.services] == ["walk", "car"]
    assert scenario.service("car").parking_search_min == 2


def test_every_problem_is_reported_at_once_with_file_and_key_path(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        'name: x\nperiod: {start: "7h30"}\nnetwrk: {}\nnetwork: {max_snap_m: -3}\n'
        "services:\n  - {name: car, type: private_car, parking_serch_min: 3}\n"
        "  - {name: w, type: walk, max_walk_m: 10 km}\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = dict(info.value.problems)
    text = str(info.value)
    assert all(line.startswith(f"{path}: ") for line in text.splitlines())
    assert "'HH:MM'" in problems["period.start"] and "7h30" in problems["period.start"]
    assert "did you mean 'network'" in problems["netwrk"]
    assert "greater than 0" in problems["network.max_snap_m"]
    assert "did you mean 'parking_search_min'" in problems["services.car.parking_serch_min"]
    assert "10 km" in problems["services.w.max_walk_m"]  # wrong unit in a number field


def test_negative_count_and_unknown_service_type(tmp_path):
    path = write(
        tmp_path,
        "s.yaml",
        "name: x\ndemand: {synthetic: {residents: -5}}\nservices: [{name: s, type: shutle}]\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = dict(info.value.problems)
    assert "greater than or equal to 0" in problems["demand.synthetic.residents"]
    assert "unknown service type 'shutle'" in problems["services.s.type"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    path = write(tmp_path, "broken.yaml", "name: x\nservices: [\n  - a: b\n")
    with pytest.raises(ScenarioError, match=r"not valid YAML: line \d+"):
        load_scenario(path)


def test_duplicate_service_names(tmp_path):
    path = write(
        tmp_path, "d.yaml", "name: x\nservices: [{name: a, type: walk}, {name: a, type: walk}]\n"
    )
    with pytest.raises(ScenarioError, match="unique service names"):
        load_scenario(path)


def test_merge_rule_maps_named_lists_remove_and_replaced_lists():
    base = {
        "a": {"x": 1, "y": {"z": 2}},
        "services": [{"name": "s1", "type": "walk", "k": 1}, {"name": "s2", "type": "walk"}],
        "plain": [1, 2, 3],
    }
    child = {
        "a": {"y": {"w": 3}},
        "services": [
            {"name": "s1", "k": 5},
            {"name": "s2", "remove": True},
            {"name": "s3", "type": "walk"},
        ],
        "plain": [9],
    }
    merged = deep_merge(base, child)
    assert merged["a"] == {"x": 1, "y": {"z": 2, "w": 3}}
    assert merged["services"] == [
        {"name": "s1", "type": "walk", "k": 5},
        {"name": "s3", "type": "walk"},
    ]
    assert merged["plain"] == [9]
    assert base["services"][0]["k"] == 1  # inputs untouched


def test_extends_chain_and_cycle(tmp_path):
    write(tmp_path, "a.yaml", "name: a\nseed: 1\nservices: [{name: walk, type: walk}]\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nname: b\n")
    write(
        tmp_path, "c.yaml", "extends: b.yaml\nname: c\nservices: [{name: walk, max_walk_m: 900}]\n"
    )
    scenario = load_scenario(tmp_path / "c.yaml")
    assert (scenario.name, scenario.seed, scenario.service("walk").max_walk_m) == ("c", 1, 900)
    write(tmp_path, "x.yaml", "extends: y.yaml\nname: x\n")
    write(tmp_path, "y.yaml", "extends: x.yaml\nname: y\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "x.yaml")


def test_the_demo_variant_is_a_few_lines():
    scenario = load_scenario(DEMO.parent / "demo-no-car.yaml")
    assert scenario.name == "demo-no-car"
    assert not scenario.service("car").enabled
    assert [s.name for s in scenario.enabled_services()] == ["walk"]


def test_overrides_by_key_path_and_service_name():
    scenario = load_scenario(
        DEMO, overrides=["services.car.parking_search_min=7", "seed=3", "period.end=22:00"]
    )
    assert scenario.service("car").parking_search_min == 7
    assert scenario.seed == 3
    assert scenario.period.end_s == 22 * 3600
    scenario = load_scenario(
        DEMO, overrides={"demand.synthetic.residents": 10, "demand.synthetic.households": 4}
    )
    assert scenario.demand.synthetic.residents == 10


def test_bad_overrides_have_clear_messages():
    with pytest.raises(ScenarioError, match="no block named 'bus'"):
        load_scenario(DEMO, overrides=["services.bus.headway_min=5"])
    with pytest.raises(ScenarioError, match="did you mean 'demand'"):
        load_scenario(DEMO, overrides=["demnd.synthetic.residents=5"])
    with pytest.raises(ScenarioError, match=r"key\.path=value"):
        parse_override("seed")


def test_fingerprint_is_stable_and_sensitive():
    a, b = load_scenario(DEMO), load_scenario(DEMO)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(load_scenario(DEMO, overrides={"seed": 43})) != fingerprint(a)
    assert fingerprint(
        load_scenario(DEMO, overrides={"services.car.parking_walk_m": 101})
    ) != fingerprint(a)

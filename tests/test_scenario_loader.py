"""Scenario files: validation messages, the extends merge rule, overrides, fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
    assert [s.name for s in scenario.services] == [
        "walk",
        "car",
        "shuttle",
        "drt",
        "carshare",
        "scooters",
        "bikes",
    ]
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


def test_the_demo_variants_are_a_few_lines():
    scenario = load_scenario(DEMO.parent / "demo-no-car.yaml")
    assert scenario.name == "demo-no-car"
    assert not scenario.service("car").enabled
    assert "car" not in [s.name for s in scenario.enabled_services()]
    walk_car = load_scenario(DEMO.parent / "demo-walk-car.yaml")
    assert [s.name for s in walk_car.enabled_services()] == ["walk", "car"]
    demo, variant = load_scenario(DEMO), load_scenario(DEMO.parent / "demo-variant.yaml")
    assert (variant.name, variant.seed) == ("demo-variant", 7)
    assert variant.period.start_s == demo.period.start_s  # kept from the base
    assert variant.period.end_s == 22 * 3600
    car = variant.service("car")
    assert (car.parking_search_min, car.parking_walk_m) == (6, 250)
    assert car.fuel_cost_krw_per_km == demo.service("car").fuel_cost_krw_per_km
    assert variant.network == demo.network and variant.demand == demo.demand


def test_extends_missing_base_and_non_map_file(tmp_path):
    write(tmp_path, "child.yaml", "extends: nowhere.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "child.yaml")
    assert info.value.problems == [
        ("extends", "expected an existing file (got 'nowhere.yaml': not found)")
    ]
    assert info.value.file.endswith("child.yaml")
    write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(ScenarioError, match="expected a map of sections"):
        load_scenario(tmp_path / "list.yaml")


def test_named_lists_merge_inside_sections_and_whole_lists_are_replaced(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        "name: b\nnetwork:\n  bbox: [1, 2, 3, 4]\n  places:\n"
        "    - {name: school, kind: school, lat: 36.9, lon: 127.5}\n"
        "    - {name: mall, kind: shop, lat: 36.91, lon: 127.51}\n",
    )
    write(
        tmp_path,
        "child.yaml",
        "extends: base.yaml\nname: c\nnetwork:\n  bbox: [5, 6, 7, 8]\n  places:\n"
        "    - {name: mall, remove: true}\n    - {name: school, weight: 3}\n"
        "    - {name: clinic, kind: clinic, lat: 36.92, lon: 127.52}\n",
    )
    network = load_scenario(tmp_path / "child.yaml").network
    assert network.bbox == [5, 6, 7, 8]
    assert [p.name for p in network.places] == ["school", "clinic"]
    assert (network.places[0].kind, network.places[0].weight) == ("school", 3)


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


def test_bad_overrides_are_all_reported_with_suggestions():
    with pytest.raises(ScenarioError) as info:
        load_scenario(
            DEMO,
            overrides=[
                "services.cars.parking_search_min=5",
                "demnd.synthetic.residents=5",
                "services.car.parkng_walk_m=3",
                "seed",
            ],
        )
    problems = dict(info.value.problems)
    assert "no block named 'cars'; did you mean 'car'?" in problems["services.cars"]
    assert "did you mean 'demand'?" in problems["demnd"]
    assert "did you mean 'parking_walk_m'?" in problems["services.car.parkng_walk_m"]
    assert "expected key.path=value (got 'seed')" in problems["--set"]
    with pytest.raises(ScenarioError, match=r"key\.path=value"):
        parse_override("seed")


def test_override_values_are_parsed_as_yaml():
    assert parse_override("services.shuttle.vehicles=6") == ("services.shuttle.vehicles", 6)
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a.enabled=false") == ("a.enabled", False)
    assert parse_override("period.end=22:00") == ("period.end", "22:00")
    assert parse_override("name = x-1") == ("name", "x-1")


def test_override_values_are_validated_like_the_file():
    with pytest.raises(ScenarioError) as info:
        load_scenario(DEMO, overrides={"services.car.parking_search_min": "5 min", "seed": -1})
    problems = dict(info.value.problems)
    assert "(got '5 min')" in problems["services.car.parking_search_min"]
    assert "greater than or equal to 0 (got -1)" in problems["seed"]


def test_fingerprint_is_stable_and_sensitive():
    a, b = load_scenario(DEMO), load_scenario(DEMO)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(load_scenario(DEMO, overrides={"seed": 43})) != fingerprint(a)
    assert fingerprint(
        load_scenario(DEMO, overrides={"services.car.parking_walk_m": 101})
    ) != fingerprint(a)


def test_overrides_reach_into_defaults_the_file_does_not_list():
    demo = load_scenario(DEMO)
    assert "groups" not in yaml.safe_load(DEMO.read_text())["demand"]["synthetic"]  # defaults
    changed = load_scenario(DEMO, overrides=["demand.synthetic.groups.workers.car_share=0.3"])
    shares = {g.name: g.car_share for g in changed.demand.synthetic.groups}
    before = {g.name: g.car_share for g in demo.demand.synthetic.groups}
    assert shares == {**before, "workers": 0.3}
    same = load_scenario(
        DEMO, overrides={"demand.synthetic.groups.workers.car_share": before["workers"]}
    )
    assert fingerprint(same) == fingerprint(demo)


def test_unnamed_blocks_such_as_devices_are_addressed_by_type():
    scenario = load_scenario(DEMO, overrides={"services.scooters.devices.escooter.count": 321})
    scooters = next(s for s in scenario.services if s.name == "scooters")
    assert [(d.type, d.count) for d in scooters.devices] == [("escooter", 321)]
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            DEMO,
            overrides={
                "services.scooters.devices.escooterr.count": 1,
                "services.bikes.devices.bike.cont": 1,
            },
        )
    text = str(caught.value)
    assert "no block named 'escooterr'; did you mean 'escooter'? (known: escooter)" in text
    assert "services.bikes.devices.bike.cont: unknown key 'cont'; did you mean 'count'?" in text


def test_the_station_siting_recipe_merges_stations_by_name(tmp_path, repo_root):
    """docs/recipes.md "Station siting", as written: its ``stations`` block merges by name onto
    the base's list (changed, dropped, added, the rest kept), it does not replace the list."""
    import re

    recipes = (repo_root / "docs" / "recipes.md").read_text(encoding="utf-8")
    section = recipes[recipes.index("## Station siting") :]
    text = re.search(r"```yaml\n(# siting/.*?)```", section, re.S).group(1)
    siting = tmp_path / "siting"
    siting.mkdir()
    scenarios = (repo_root / "scenarios").as_posix()
    (siting / "centre-and-terminal.yaml").write_text(text.replace("../scenarios", scenarios))
    scenario = load_scenario(siting / "centre-and-terminal.yaml", allow_extends=[scenarios])
    carshare = next(s for s in scenario.services if s.name == "carshare")
    stations = {s.name: s for s in carshare.stations}
    assert list(stations) == ["Terminal", "Centre", "NorthEast"]
    terminal = stations["Terminal"]
    assert (terminal.place, terminal.vehicles, terminal.spaces) == ("bus_terminal", 6, 8)
    assert terminal.charge_kw == 7.0  # kept from the base
    assert (stations["NorthEast"].place, stations["NorthEast"].vehicles) == ("residential_ne", 4)

"""The Scenario model: period, seed, service blocks by registry type, origin kept out of dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobisim.errors import ScenarioError
from mobisim.scenario import registry
from mobisim.scenario.loader import canonical_json, fingerprint, load_scenario, validate
from mobisim.scenario.models import Scenario

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"


def problems_of(data: dict) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        validate(data, "s.yaml")
    return dict(info.value.problems)


def test_defaults_of_a_minimal_scenario():
    scenario = validate({"name": "tiny"})
    assert (scenario.seed, scenario.period.start_s, scenario.period.end_s) == (0, 5 * 3600, 86400)
    assert scenario.services == []
    assert (scenario.outputs.dir, scenario.outputs.charts, scenario.outputs.write_events) == (
        "results",
        True,
        True,
    )
    assert scenario.base_dir == Path.cwd()


def test_period_must_end_after_it_starts_and_clock_format_is_checked():
    problems = problems_of({"name": "x", "period": {"start": "09:00", "end": "08:00"}})
    assert problems["period"] == "expected end after start"
    problems = problems_of({"name": "x", "period": {"start": "7h30", "end": "25:61"}})
    assert "(got '7h30')" in problems["period.start"]
    assert "minutes and seconds below 60" in problems["period.end"]


def test_seed_and_name_are_checked():
    problems = problems_of({"name": "a b/c", "seed": -2})
    assert "(got -2)" in problems["seed"]
    assert "(got 'a b/c')" in problems["name"]
    assert "required key is missing" in problems_of({"seed": 1})["name"]


def test_service_blocks_are_typed_by_the_registry():
    scenario = validate(
        {
            "name": "x",
            "services": [
                {"name": "w", "type": "walk", "max_walk_m": 800},
                {"name": "c", "type": "private_car", "enabled": False},
            ],
        }
    )
    assert isinstance(scenario.service("w"), registry.service_config_model("walk"))
    assert isinstance(scenario.service("c"), registry.service_config_model("private_car"))
    assert scenario.service("w").max_walk_m == 800
    assert [s.name for s in scenario.enabled_services()] == ["w"]
    dumped = scenario.model_dump(mode="json")["services"]
    assert dumped[0]["max_walk_m"] == 800 and "parking_search_min" in dumped[1]
    with pytest.raises(KeyError, match="services: w, c"):
        scenario.service("bus")


def test_unknown_type_lists_the_known_types_and_duplicates_are_named():
    problems = problems_of({"name": "x", "services": [{"name": "s", "type": "shutle"}]})
    assert "unknown service type 'shutle'" in problems["services.s.type"]
    assert "walk" in problems["services.s.type"] and "private_car" in problems["services.s.type"]
    problems = problems_of(
        {"name": "x", "services": [{"name": "a", "type": "walk"}, {"name": "a", "type": "walk"}]}
    )
    assert problems["services"] == "expected unique service names (duplicated: a)"
    problems = problems_of({"name": "x", "services": ["walk"]})
    assert "expected a map with 'name' and 'type'" in problems["services.[0]"]


def test_where_it_came_from_is_kept_but_not_dumped_or_fingerprinted(tmp_path):
    copy = tmp_path / "elsewhere" / "demo.yaml"
    copy.parent.mkdir()
    copy.write_text(DEMO.read_text())
    here, there = load_scenario(DEMO), load_scenario(copy)
    assert here.source_file == DEMO and there.base_dir == copy.parent
    assert "source_file" not in canonical_json(here) and str(DEMO) not in canonical_json(here)
    assert fingerprint(here) == fingerprint(there)
    moved = here.model_copy(update={"seed": 5})
    assert moved.source_file == DEMO  # copies keep their origin
    built = validate({"name": "py"}, base_dir=tmp_path)
    assert built.source_file is None and built.base_dir == tmp_path.resolve()


def test_a_dumped_scenario_validates_back_to_an_equal_one():
    scenario = load_scenario(DEMO)
    again = Scenario.model_validate(scenario.model_dump(mode="json"))
    assert fingerprint(again) == fingerprint(scenario)

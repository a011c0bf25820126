"""The examples of docs/contributing.md run: a new service, a new policy and a new KPI."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import mobisim
from conftest import REPO_ROOT
from mobisim.metrics.tables import load_run
from mobisim.metrics.trip_outcomes import trip_outcomes
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.scenario import registry

EXAMPLES = REPO_ROOT / "docs" / "examples"
WALK_CAR = REPO_ROOT / "scenarios" / "demo-walk-car.yaml"
SMALL = {"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}


@pytest.fixture(autouse=True)
def _examples_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setitem(registry.SERVICE_TYPES, "on_call_van", "on_call_van:OnCallVanService")
    monkeypatch.setitem(registry.POLICIES["mode_choice"], "walk_first", "walk_first:WalkFirst")
    yield
    for name in ("on_call_van", "walk_first", "long_trips_kpi"):
        sys.modules.pop(name, None)


def _run(tmp_path, **overrides):
    keys = {**SMALL, "outputs.dir": str(tmp_path), "outputs.charts": False, **overrides}
    return mobisim.run(mobisim.load_scenario(WALK_CAR, overrides=keys))


def test_the_example_service_carries_commuters_and_logs_a_consistent_story(tmp_path):
    van = {"name": "van", "type": "on_call_van", "depot_place": "town_centre", "fare_krw": 500}
    scenario = mobisim.load_scenario(
        WALK_CAR, overrides={**SMALL, "outputs.dir": str(tmp_path), "outputs.charts": False}
    )
    scenario.services.append(registry.service_config_model("on_call_van").model_validate(van))
    result = mobisim.run(scenario)
    trips = result.trips
    rides = trips[trips["mode"] == "van"]
    assert len(rides) > 10  # cheap enough to be chosen
    assert (rides["fare_krw"] == 500).all() and (rides["wait_s"] > 0).all()
    # the events tell the same story as the trips table (the pickup's value is the wait)
    rebuilt = trip_outcomes(result.events).loc[rides["trip_id"]]
    assert rebuilt["wait_s"].tolist() == rides["wait_s"].tolist()
    assert rebuilt["in_vehicle_s"].tolist() == rides["in_vehicle_s"].tolist()
    # one van, its legs connected in space and never overlapping in time
    legs = result.events[(result.events["service"] == "van")]
    moves = legs[legs["event"].isin(["vehicle_leg", "vehicle_dwell"])].sort_values("time_s")
    assert moves["vehicle_id"].nunique() == 1
    ends = (moves["time_s"] + moves["duration_s"]).to_numpy()
    assert (moves["time_s"].to_numpy()[1:] >= ends[:-1] - 1e-6).all()
    drives = moves[moves["event"] == "vehicle_leg"]
    assert (drives["node"].to_numpy()[1:] == drives["to_node"].to_numpy()[:-1]).all()


def test_the_example_policy_is_chosen_by_name_and_walks_every_short_trip(tmp_path):
    logit = _run(tmp_path / "logit")
    walk_first = _run(tmp_path / "walk-first", **{"mode_choice.policy": "walk_first"})
    share = {
        name: (r.trips["mode"] == "walk").mean()
        for name, r in [("logit", logit), ("walk_first", walk_first)]
    }
    assert share["walk_first"] > share["logit"]
    scenario = mobisim.load_scenario(WALK_CAR, overrides=SMALL)
    router = Router(build_network(scenario.network, REPO_ROOT / "scenarios"))
    trips = walk_first.trips
    walk_s = router.travel_times_s(
        "walk", trips["origin_node"].to_numpy(), trips["dest_node"].to_numpy()
    )
    short = pd.Series(walk_s <= 15 * 60.0, index=trips.index)
    assert short.sum() > 100
    assert (trips.loc[short, "mode"] == "walk").all()


def test_the_example_kpi_on_hand_made_trips_and_on_a_run(tmp_path):
    from long_trips_kpi import long_trip_share_by_group

    trips = pd.DataFrame(
        {
            "group": ["a", "a", "a", "b", "b"],
            "status": ["completed", "fallback", "unserved", "completed", "completed"],
            "door_to_door_s": [4000.0, 1000.0, 9000.0, 3600.0, 3601.0],
        }
    )
    assert long_trip_share_by_group(trips).to_dict() == {"a": 0.5, "b": 0.5}
    result = _run(tmp_path)
    shares = long_trip_share_by_group(load_run(result.run_dir)["trips"])
    served = result.trips[result.trips["status"] != "unserved"]
    assert set(shares.index) == set(served["group"]) and shares.between(0, 1).all()

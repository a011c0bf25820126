"""simulate() end to end on a small synthetic town with walk and private car."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import mobisim
from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import SimOutput, simulate
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"
SMALL = {"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}
OUTCOME_COLUMNS = [
    "mode",
    "service",
    "status",
    "fallback_reason",
    "offered_walk_s",
    "offered_wait_s",
    "offered_in_vehicle_s",
    "access_walk_s",
    "wait_s",
    "in_vehicle_s",
    "egress_walk_s",
    "door_to_door_s",
    "distance_m",
    "fare_krw",
    "arrival_s",
    "n_offers_available",
    "direct_s",
]


@pytest.fixture(scope="module")
def town():
    scenario = mobisim.load_scenario(DEMO, overrides=SMALL)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand,
        network,
        RandomStreams(scenario.seed),
        scenario.period.start_s,
        scenario.period.end_s,
    )
    return scenario, network, router, trips


def day(town, **car_settings) -> SimOutput:
    scenario, network, router, trips = town
    if car_settings:
        data = scenario.model_dump(mode="json")
        for block in data["services"]:
            if block["type"] == "private_car":
                block.update(car_settings)
        scenario = type(scenario).model_validate(data)
    return simulate(scenario, network, router, trips, RandomStreams(scenario.seed))


@pytest.fixture(scope="module")
def base(town):
    return day(town)


def test_trips_frame_has_the_contract_columns_one_row_per_trip(town, base):
    trips = town[3]
    out = base.trips
    assert list(out.columns) == list(trips.columns) + OUTCOME_COLUMNS
    assert (out["trip_id"].to_numpy() == trips["trip_id"].to_numpy()).all()
    assert out["status"].isin(["completed", "fallback", "unserved"]).all()
    assert out["n_offers_available"].dtype == "int64"
    served = out[out["status"] != "unserved"]
    assert (served["arrival_s"] >= served["depart_s"]).all()
    parts = served[["access_walk_s", "wait_s", "in_vehicle_s", "egress_walk_s"]].sum(axis=1)
    assert (served["door_to_door_s"] >= parts - 1e-6).all()
    assert base.n_events == len(base.events)
    assert set(base.timings_s) == {"setup", "run", "tables"}


def test_one_vehicle_leg_per_car_trip_for_the_energy_accounting(base):
    legs = base.events[base.events["event"] == "vehicle_leg"]
    car_trips = base.trips[base.trips["mode"] == "car"]
    assert sorted(legs["trip_id"]) == sorted(car_trips["trip_id"])
    assert (legs["vehicle_id"] == -1).all() and (legs["state"] == "occupied").all()
    assert (legs["service"] == "car").all() and (legs["detail"] == "petrol_car").all()
    merged = car_trips.set_index("trip_id")["distance_m"]
    assert legs.set_index("trip_id")["distance_m"].sort_index().to_numpy() == pytest.approx(
        merged.sort_index().to_numpy()
    )


def test_walk_and_car_times_equal_router_answers(town, base):
    router = town[2]
    trips = base.trips
    for row in (
        trips[(trips["mode"] == "walk") & (trips["status"] == "completed")].head(40).itertuples()
    ):
        assert row.door_to_door_s == pytest.approx(
            router.travel_time_s("walk", row.origin_node, row.dest_node), rel=1e-6
        )
    for row in trips[trips["mode"] == "car"].head(40).itertuples():
        drive_s = router.travel_time_s("car", row.origin_node, row.dest_node)
        assert row.in_vehicle_s == pytest.approx(drive_s + 120, rel=1e-6)  # demo: 2 min search
        assert row.door_to_door_s == pytest.approx((50 + 100) / 1.2 + drive_s + 120, rel=1e-6)


def test_the_car_share_falls_when_car_costs_rise(base, town):
    shares = [(base.trips["mode"] == "car").mean()]
    for fee_krw in (2000, 6000):
        shares.append((day(town, parking_fee_krw=fee_krw).trips["mode"] == "car").mean())
    assert shares[0] > shares[1] + 0.03 > shares[2] + 0.06, shares
    walk_share = (base.trips["mode"] == "walk").mean()
    assert 0.05 < shares[0] < 0.95 and 0.05 < walk_share < 0.95


def test_same_seed_same_day(town, base):
    again = day(town)
    pd.testing.assert_frame_equal(again.trips, base.trips)
    pd.testing.assert_frame_equal(again.events, base.events)

"""DRT idle policies: each moves idle vehicles as documented, and the events show the legs.

``stay``: no repositioning leg, a vehicle waits where its last drop-off left it.
``nearest_base_after_idle`` (HIVE's default): a vehicle idle ``idle_after_min`` without work
drives (state ``repositioning``) to the base it reaches soonest, leaving exactly that long after
it last fell idle; being dispatched meanwhile starts the idle clock again.
``return_to_depot`` and ``zone_rebalancing`` are tested in tests/test_drt.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.loader import load_scenario
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService

START_S, END_S = 7 * 3600.0, 10 * 3600.0


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def make_service(town, **keys) -> DrtService:
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    keys.setdefault("name", "drt")
    service = DrtService(DrtConfig(**keys), ctx)
    service.start()
    return service


def rider(service, trip: Trip, outcomes: dict):
    env = service.ctx.env
    yield env.timeout(trip.depart_s - env.now)
    offer = service.offers(trip, env.now)[0]
    assert offer.available, offer.reason
    outcomes[trip.trip_id] = yield service.request(trip, offer)


def run(service, trips) -> dict:
    outcomes = {}
    for trip in trips:
        service.ctx.env.process(rider(service, trip, outcomes))
    service.ctx.env.run(until=END_S)
    service.finish(END_S)
    return outcomes


def trip(network, trip_id: int, origin: str, dest: str, depart_s: float) -> Trip:
    return Trip(
        trip_id, trip_id, "g", "p", network.place_node(origin), network.place_node(dest), depart_s
    )


def legs_of(service):
    events = service.ctx.log.to_frame()
    return events[events["event"] == "vehicle_leg"].sort_values("time_s", kind="stable")


def test_stay_leaves_idle_vehicles_where_their_last_drop_off_was(town):
    network, _ = town
    service = make_service(
        town, vehicles=1, idle_policy="stay", depots=[{"name": "d", "place": "bus_terminal"}]
    )
    outcomes = run(service, [trip(network, 0, "town_centre", "supermarket", START_S + 60)])
    assert outcomes[0].served
    legs = legs_of(service)
    assert not (legs["state"] == "repositioning").any()
    assert legs.iloc[-1]["to_node"] == network.place_node("supermarket")
    assert service.vehicles[0].node == network.place_node("supermarket")


def test_nearest_base_after_idle_drives_to_the_nearest_base_after_the_idle_time(town):
    network, router = town
    after_min = 20.0
    bases = [
        {"name": "north", "place": "residential_n"},
        {"name": "terminal", "place": "bus_terminal"},
        {"name": "south", "place": "residential_s"},
    ]
    service = make_service(
        town,
        vehicles=1,
        idle_policy="nearest_base_after_idle",
        idle_after_min=after_min,
        idle_bases=bases,
        depots=[{"name": "d", "place": "town_centre"}],
    )
    # the second request comes 10 min after the vehicle fell idle: the idle clock starts again
    trips = [
        trip(network, 0, "town_centre", "supermarket", START_S + 60),
        trip(network, 1, "supermarket", "high_school", START_S + 60 + 900),
    ]
    outcomes = run(service, trips)
    assert outcomes[0].served and outcomes[1].served
    events = service.ctx.log.to_frame()
    legs = legs_of(service)
    moves = legs[legs["state"] == "repositioning"]
    drop_1 = events[(events["event"] == "dropoff") & (events["trip_id"] == 1)]
    last_free_s = float(drop_1["time_s"].iloc[0]) + service.config.stop_s
    # exactly one move after the last drop-off, at last_free_s + the idle time
    after_last = moves[moves["time_s"] >= last_free_s - 1e-6]
    assert len(after_last) == 1
    move = after_last.iloc[0]
    assert move["time_s"] == pytest.approx(last_free_s + after_min * 60.0)
    high_school = network.place_node("high_school")
    assert move["node"] == high_school
    base_nodes = [network.place_node(b["place"]) for b in bases]
    drive_s = [router.try_leg("drt", high_school, b)[0] for b in base_nodes]
    assert move["to_node"] == base_nodes[int(np.argmin(drive_s))]
    # no move between the first drop-off and the second request: it came within the idle time
    drop_0 = events[(events["event"] == "dropoff") & (events["trip_id"] == 0)]
    between = moves[
        (moves["time_s"] > float(drop_0["time_s"].iloc[0])) & (moves["time_s"] < last_free_s)
    ]
    assert between.empty
    # at the base it waits: no further leg
    assert legs.iloc[-1]["time_s"] == move["time_s"]
    assert service.vehicles[0].node == move["to_node"]


def test_nearest_base_after_idle_without_bases_goes_to_the_start_node(town):
    network, _ = town
    service = make_service(
        town,
        vehicles=1,
        idle_policy="nearest_base_after_idle",
        idle_after_min=5,
        depots=[{"name": "d", "place": "bus_terminal"}],
    )
    run(service, [trip(network, 0, "town_centre", "supermarket", START_S + 60)])
    moves = legs_of(service).query("state == 'repositioning'")
    assert len(moves) == 1
    assert moves.iloc[0]["to_node"] == network.place_node("bus_terminal")
    assert moves.iloc[0]["node"] == network.place_node("supermarket")


def test_bad_idle_policy_names_and_values_name_the_key(town):
    with pytest.raises(ValidationError, match="idle_after_min"):
        DrtConfig(name="drt", idle_policy="nearest_base_after_idle", idle_after_min=-1)
    with pytest.raises(ScenarioError, match=r"services\.drt\.idle_bases\[0\]"):
        make_service(
            town,
            idle_policy="nearest_base_after_idle",
            idle_bases=[{"name": "x", "place": "atlantis"}],
        )
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.idle_policy": "to_base"})
    message = str(caught.value)
    assert "demo.yaml: services.drt.idle_policy: expected one of:" in message
    assert "nearest_base_after_idle" in message
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.idle_after_min": -5})
    assert "services.drt.idle_after_min" in str(caught.value)

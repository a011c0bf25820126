"""``dispatch: hive_step``: the emulation of NREL HIVE's time-stepped dispatch (drt_hive).

The instance: a straight road of 7 nodes, 0-1-...-6, 200 m apart, every link the same drive
time τ (about 24 s, well under the 60-s step). Each test checks one rule of the emulation.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.network.graph import Network
from mobisim.network.load import prepare_graph
from mobisim.network.router import Router
from mobisim.scenario.loader import load_scenario
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_dispatch import StopView, VehicleView
from mobisim.services.drt_hive import dispatchable, next_step_s

START_S, END_S = 7 * 3600.0, 9 * 3600.0
STEP_S = 60.0


@pytest.fixture(scope="module")
def road():
    """Seven nodes on a straight residential road, 200 m apart (node index = position)."""
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for k in range(7):
        graph.add_node(100 + k, y=37.5 + 0.0018 * k, x=127.0, street_count=2)
    for k in range(6):
        for a, b in ((100 + k, 101 + k), (101 + k, 100 + k)):
            graph.add_edge(a, b, highway="residential", length=200.0, oneway=False)
    graph, _ = prepare_graph(graph, "road")
    network = Network(graph, name="road")
    return network, Router(network)


def taxis(road, depots: list[int], **keys) -> DrtService:
    network, router = road
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    keys = {"max_wait_s": 600.0, "queue_requests": True, "dispatch": "hive_step"} | keys
    config = DrtConfig(
        name="taxi",
        vehicles=len(depots),
        capacity_pax=1,
        stop_s=0.0,
        time_step_s=STEP_S,
        depots=[{"name": f"V{k}", "node": node} for k, node in enumerate(depots)],
        **keys,
    )
    service = DrtService(config, ctx)
    service.start()
    return service


def run(service: DrtService, trips: list[Trip]) -> tuple[dict, object]:
    """Book each trip at its departure; run the service hours; (outcomes, events)."""
    outcomes = {}
    env = service.ctx.env

    def rider(trip):
        yield env.timeout(trip.depart_s - env.now)
        offer = service.offers(trip, env.now)[0]
        assert offer.available
        outcomes[trip.trip_id] = yield service.request(trip, offer)

    for trip in trips:
        env.process(rider(trip))
    env.run(until=END_S)
    service.finish(END_S)
    return outcomes, service.ctx.log.to_frame()


def times(events, kind: str) -> dict[int, float]:
    rows = events[events["event"] == kind]
    return dict(zip(rows["trip_id"].astype(int), rows["time_s"], strict=True))


def test_next_step_rounds_up_to_the_step_boundary():
    assert next_step_s(START_S + 5.0, START_S, STEP_S) == START_S + 60.0
    assert next_step_s(START_S + 60.0, START_S, STEP_S) == START_S + 60.0
    assert next_step_s(START_S + 60.0 + 1e-9, START_S, STEP_S) == START_S + 60.0
    assert next_step_s(START_S + 61.0, START_S, STEP_S) == START_S + 120.0
    assert next_step_s(START_S - 5.0, START_S, STEP_S) == START_S


def test_decisions_and_state_changes_happen_only_at_step_boundaries(road):
    service = taxis(road, depots=[3])
    tau = service.leg(0, 1)[0]
    assert 0 < 2 * tau < STEP_S
    # asked at +5 s: matched at the first step (+60 s); the drive of τ takes effect at the next
    # boundary (+120 s, pick-up), the ride of τ at the one after (+180 s, drop-off)
    outcomes, events = run(service, [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0)])
    assert outcomes[0].served
    assert times(events, "pickup")[0] == START_S + 120.0
    assert times(events, "dropoff")[0] == START_S + 180.0
    # the vehicle drove τ, then stood until the step boundary (vehicle-km unchanged)
    legs = events[(events["event"] == "vehicle_leg") & (events["state"] == "to_pickup")]
    assert legs["duration_s"].sum() == pytest.approx(tau)
    # native batch rounds on the same instance act at once on arrival
    native = taxis(road, depots=[3], dispatch="batch", batch_interval_s=STEP_S)
    _, events = run(native, [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0)])
    assert times(events, "pickup")[0] == pytest.approx(START_S + 60.0 + tau)


def test_a_vehicle_that_falls_idle_at_a_step_is_matched_only_at_the_next_one(road):
    service = taxis(road, depots=[3])
    # trip 1 is asked while the only taxi serves trip 0 (drop-off at +180 s, at node 1)
    trips = [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0), Trip(1, 1, "g", "b", 1, 0, START_S + 70.0)]
    outcomes, events = run(service, trips)
    assert outcomes[0].served and outcomes[1].served
    assert times(events, "dropoff")[0] == START_S + 180.0
    # HIVE: at +180 s the vehicle is still ServicingTrip when the step's instructions are made;
    # matched at +240 s, at the pick-up node already: picked up at once
    assert times(events, "pickup")[1] == START_S + 240.0
    view = VehicleView(7, 1, START_S + 180.0, 1, 0, ())
    assert not dispatchable(view, START_S + 180.0) and dispatchable(view, START_S + 240.0)
    busy = VehicleView(7, 1, START_S, 1, 0, (StopView(3, 2, True, START_S, np.inf, 1),))
    assert not dispatchable(busy, START_S + 240.0)
    charging = VehicleView(7, 1, np.inf, 1, 0, ())
    assert not dispatchable(charging, START_S + 240.0)


def test_matching_is_least_total_straight_line_distance_not_first_come_nearest(road):
    # V0 at node 0, V1 at node 3; A picks up at 2, B at 5 (both asked in one step, A first).
    # First come nearest: A -> V1 (200 m), B -> V0 (1,000 m), 1,200 m. HIVE's Kuhn-Munkres on
    # straight-line distance: A -> V0 (400 m), B -> V1 (400 m), 800 m.
    service = taxis(road, depots=[0, 3])
    v0, v1 = service.vehicles
    now_s = START_S + STEP_S
    trips = [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0), Trip(1, 1, "g", "b", 5, 6, START_S + 5.0)]
    requests = [service._plan_request(trip, START_S + 5.0)[0] for trip in trips]
    pairs = service.dispatcher.dispatch(requests, service.fleet_view, now_s)
    assert [(a.request.trip_id, a.vehicle_id) for a in pairs] == [
        (0, v0.vehicle_id),
        (1, v1.vehicle_id),
    ]
    outcomes, _ = run(taxis(road, depots=[0, 3]), trips)
    assert outcomes[0].vehicle_id == v0.vehicle_id and outcomes[1].vehicle_id == v1.vehicle_id


def test_matching_ignores_arrival_and_a_cancel_en_route_frees_the_vehicle_where_it_ends(road):
    # max wait 120 s: the taxi at node 0 cannot reach node 6 (6τ ≈ 144 s, plus the steps) in
    # time. mobisim's own dispatch never sends it; HIVE sends it, the request is cancelled at
    # its cancel step (+120 s) while the taxi drives, the taxi stands idle at node 6 and then
    # serves the next request from there.
    service = taxis(road, depots=[0], max_wait_s=120.0)
    (taxi,) = service.vehicles
    trips = [Trip(0, 0, "g", "a", 6, 5, START_S), Trip(1, 1, "g", "b", 6, 4, START_S + 400.0)]
    outcomes, events = run(service, trips)
    assert not outcomes[0].served and outcomes[0].reason == "gave_up_max_wait"
    give_up = events[events["event"] == "give_up"]
    assert give_up["time_s"].tolist() == [START_S + 120.0]
    legs = events[(events["event"] == "vehicle_leg") & (events["vehicle_id"] == taxi.vehicle_id)]
    assert legs["state"].iloc[0] == "to_pickup"  # dispatched although it could not make it
    assert 0 not in times(events, "pickup")
    assert outcomes[1].served and outcomes[1].vehicle_id == taxi.vehicle_id
    assert times(events, "pickup")[1] == START_S + 420.0  # at node 6 already: no drive
    assert not service._cancel_at  # nothing left over
    native = taxis(road, depots=[0], max_wait_s=120.0, dispatch="batch", batch_interval_s=60.0)
    _, events = run(native, trips[:1])
    assert (events["event"] == "vehicle_leg").sum() == 0  # never sent


def test_a_request_no_vehicle_takes_is_cancelled_at_its_cancel_step(road):
    service = taxis(road, depots=[3], max_wait_s=150.0)
    # the taxi is busy with trip 0 until +180 s, matched again at +240 s; trip 1 (asked at +10 s)
    # is cancelled at the first step at or after +160 s: +180 s
    trips = [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0), Trip(1, 1, "g", "b", 4, 5, START_S + 10.0)]
    outcomes, events = run(service, trips)
    assert outcomes[0].served and not outcomes[1].served
    give_up = events[events["event"] == "give_up"].set_index("trip_id")["time_s"]
    assert give_up[1] == START_S + 180.0
    assert service.waiting == []


def test_bad_time_step_and_unknown_policy_are_errors_naming_the_key():
    with pytest.raises(ValidationError, match="time_step_s"):
        DrtConfig(name="drt", dispatch="hive_step", time_step_s=0)
    with pytest.raises(ValidationError, match="time_step_s"):
        DrtConfig(name="drt", dispatch="hive_step", time_step_s=-60)
    with pytest.raises(ValidationError, match=r"time_step_s \(900 s\) expects at most max_wait_s"):
        DrtConfig(name="drt", dispatch="hive_step", time_step_s=900, max_wait_s=600)
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            demo, overrides={"services.drt.dispatch": "hive_step", "services.drt.time_step_s": 0}
        )
    assert "demo.yaml: services.drt.time_step_s:" in str(caught.value)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.dispatch": "hive"})
    assert "services.drt.dispatch: expected one of: batch, hive_step, insertion" in str(
        caught.value
    )


def test_hive_idle_sends_an_autonomous_vehicle_to_a_base_where_it_retires(road):
    # idle 1 min: V0 (node 3) drives to the base at node 6 and is never dispatched again; a
    # request at +10 min gives up although V0 stands next to it
    service = taxis(
        road,
        depots=[3],
        idle_policy="hive_base_after_idle",
        idle_after_min=1.0,
        idle_bases=[{"name": "base", "node": 6}],
    )
    (taxi,) = service.vehicles
    outcomes, events = run(service, [Trip(0, 0, "g", "a", 5, 4, START_S + 600.0)])
    assert not outcomes[0].served
    legs = events[events["event"] == "vehicle_leg"]
    assert legs["state"].tolist() == ["repositioning"] and legs["to_node"].tolist() == [6]
    assert legs["time_s"].iloc[0] == pytest.approx(START_S + 60.0)
    assert taxi.free_s == np.inf and taxi.vehicle_id in service.off_duty
    parked = events[(events["event"] == "vehicle_dwell") & (events["state"] == "parked")]
    assert parked["duration_s"].sum() == pytest.approx(
        END_S - START_S - 60.0 - service.leg(3, 6)[0]
    )
    # with nearest_base_after_idle the same vehicle serves it from the base
    service = taxis(
        road,
        depots=[3],
        idle_policy="nearest_base_after_idle",
        idle_after_min=1.0,
        idle_bases=[{"name": "base", "node": 6}],
    )
    outcomes, _ = run(service, [Trip(0, 0, "g", "a", 5, 4, START_S + 600.0)])
    assert outcomes[0].served


def test_a_request_made_at_a_step_boundary_is_matched_a_step_later(road):
    # HIVE reads the requests that departed *before* the step (departure_time < sim_time; its
    # Denver log: request 1, departing 00:02:00, is dispatched at 00:03:00): asked at +60 s
    # exactly, with the taxi at the pick-up, the ride starts at +120 s (whatever order SimPy
    # runs the two processes in); one asked at +61 s is matched at +120 s too
    for depart_s in (START_S + 60.0, START_S + 600.0, START_S + 61.0):
        service = taxis(road, depots=[2])
        _, events = run(service, [Trip(0, 0, "g", "a", 2, 1, depart_s)])
        assert times(events, "pickup")[0] == next_step_s(depart_s + 1.0, START_S, STEP_S)


def test_a_request_read_a_step_late_is_still_cancelled_at_departure_plus_cancel_time(road):
    # the one vehicle (at node 0) reaches node 6 in 6 τ, about 2.4 min: a request departing at
    # +60 s is read and matched at +120 s, the pick-up would take effect at +300 s, but with a
    # 240-s cancel time it is cancelled at +300 s first (read at +60 s, as before this rule,
    # it would have been picked up at +240 s)
    service = taxis(road, depots=[0], max_wait_s=240.0)
    outcomes, events = run(service, [Trip(0, 0, "g", "a", 6, 5, START_S + 60.0)])
    assert not outcomes[0].served
    assert times(events, "give_up") == {0: START_S + 300.0}

"""DRT batch assignment (``dispatch: batch``): the open requests of a round are assigned together.

The hand-solved instance: a straight road of 7 nodes, 0-1-2-3-4-5-6, every link the same drive
time τ. Taxi V1 waits at node 3, taxi V2 at node 0. Request A goes 2 → 1, request B 4 → 5, both
asked in the same round, A first. Added drive (to the pick-up + the ride):

=========  ======  ======
           V1 (3)  V2 (0)
A (2 → 1)  τ + τ   2τ + τ
B (4 → 5)  τ + τ   4τ + τ
=========  ======  ======

First come first (``insertion``): A takes V1 (2τ); B is then cheapest behind A in V1's plan
(drop A at 1, drive 1 → 4 → 5: 4τ; V2 would add 5τ): 6τ in all, and B waits for A's ride.
The optimal assignment: A → V2 (3τ), B → V1 (2τ): 5τ. ``batch`` must find it.
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
from mobisim.services.drt_dispatch import InsertionDispatch, insert_stops, optimal_assignment

START_S, END_S = 7 * 3600.0, 9 * 3600.0


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


def taxis(road, **keys) -> DrtService:
    network, router = road
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    config = DrtConfig(
        name="taxi",
        vehicles=2,
        capacity_pax=1,
        stop_s=0.0,
        max_wait_s=900.0,
        depots=[{"name": "V1", "node": 3}, {"name": "V2", "node": 0}],
        **keys,
    )
    service = DrtService(config, ctx)
    service.start()
    return service


TRIPS = [Trip(0, 0, "g", "a", 2, 1, START_S + 5.0), Trip(1, 1, "g", "b", 4, 5, START_S + 5.0)]


def test_the_road_is_uniform(road):
    _, router = road
    router.add_profile("check", view="drive")
    tau = router.travel_time_s("check", 0, 1)
    for a in range(7):
        for b in range(7):
            assert router.travel_time_s("check", a, b) == pytest.approx(abs(a - b) * tau)


def test_batch_assignment_is_the_hand_solved_optimum_where_first_come_is_worse(road):
    service = taxis(road, dispatch="batch", batch_interval_s=30.0)
    v1, v2 = service.vehicles
    tau = service.leg(0, 1)[0]
    now_s = START_S + 30.0
    requests = [service._plan_request(trip, now_s)[0] for trip in TRIPS]
    # one round: A -> V2 (3τ), B -> V1 (2τ), 5τ in all
    pairs = service.dispatcher.dispatch(requests, service.fleet_view, now_s)
    assert [(a.request.trip_id, a.vehicle_id) for a in pairs] == [
        (0, v2.vehicle_id),
        (1, v1.vehicle_id),
    ]
    assert [a.cost_s for a in pairs] == pytest.approx([3 * tau, 2 * tau])
    # the service's reference check of the changes gives the same costs
    checked = [service._checked(a, requests, now_s) for a in pairs]
    assert [ins.cost_s for ins in checked] == pytest.approx([3 * tau, 2 * tau])
    # first come first on the same plans: A -> V1 (2τ), then B behind A in V1 (4τ): 6τ
    greedy = InsertionDispatch(service.config)
    (first,) = greedy.dispatch(requests[:1], service.fleet_view, now_s)
    assert first.vehicle_id == v1.vehicle_id and first.cost_s == pytest.approx(2 * tau)
    insert_stops(v1, requests[0], service._checked(first, requests, now_s))
    (second,) = greedy.dispatch(requests[1:], service.fleet_view, now_s)
    assert second.vehicle_id == v1.vehicle_id and second.cost_s == pytest.approx(4 * tau)
    assert first.cost_s + second.cost_s > sum(a.cost_s for a in pairs) + 0.5 * tau


def test_in_a_run_the_round_gives_each_taxi_its_optimal_rider(road):
    service = taxis(road, dispatch="batch", batch_interval_s=30.0)
    v1, v2 = service.vehicles
    outcomes = {}

    def rider(trip):
        env = service.ctx.env
        yield env.timeout(trip.depart_s - env.now)
        offer = service.offers(trip, env.now)[0]
        assert offer.available
        outcomes[trip.trip_id] = yield service.request(trip, offer)

    for trip in TRIPS:
        service.ctx.env.process(rider(trip))
    service.ctx.env.run(until=END_S)
    assert outcomes[0].served and outcomes[1].served
    assert outcomes[0].vehicle_id == v2.vehicle_id and outcomes[1].vehicle_id == v1.vehicle_id
    events = service.ctx.log.to_frame()
    pickups = events[events["event"] == "pickup"].set_index("trip_id")["time_s"]
    tau = service.leg(0, 1)[0]
    round_s = START_S + 30.0  # the requests wait for the first round, then the drive
    assert pickups[0] == pytest.approx(round_s + 2 * tau)
    assert pickups[1] == pytest.approx(round_s + tau)


def test_a_request_left_out_of_a_round_waits_for_the_next_or_gives_up(road):
    """One taxi, two riders in the same round: one is assigned, the other stays open; with a
    max wait too short to be served after the first ride it gives up with its reason."""
    network, router = road
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    config = DrtConfig(
        name="taxi",
        vehicles=1,
        capacity_pax=1,
        stop_s=0.0,
        max_wait_s=120.0,
        dispatch="batch",
        batch_interval_s=30.0,
        depots=[{"name": "V", "node": 3}],
    )
    service = DrtService(config, ctx)
    service.start()
    far = [Trip(0, 0, "g", "a", 2, 0, START_S + 5.0), Trip(1, 1, "g", "b", 4, 6, START_S + 5.0)]
    outcomes, offered = {}, {}

    def rider(trip):
        yield env.timeout(trip.depart_s - env.now)
        offer = service.offers(trip, env.now)[0]
        offered[trip.trip_id] = offer.available
        outcomes[trip.trip_id] = yield service.request(trip, offer)

    for trip in far:
        env.process(rider(trip))
    env.run(until=END_S)
    assert offered == {0: True, 1: True}  # each alone could be served at once
    served = [t for t, o in outcomes.items() if o.served]
    gave_up = [o for o in outcomes.values() if not o.served]
    assert len(served) == 1 and len(gave_up) == 1
    assert gave_up[0].reason == "gave_up_max_wait"
    assert gave_up[0].wait_s == pytest.approx(120.0)
    events = service.ctx.log.to_frame()
    assert list(events.loc[events["event"] == "give_up", "detail"].astype(str)) == [
        "gave_up_max_wait"
    ]
    assert service.waiting == []


def test_optimal_assignment_serves_the_most_requests_before_the_cheapest():
    """Row 0 could take either vehicle; row 1 only vehicle 0: both are served although row 0's
    cheapest option is vehicle 0."""

    class Option:
        def __init__(self, vehicle_id, cost_s):
            self.vehicle_id, self.cost_s = vehicle_id, cost_s

    options = [[Option(0, 10.0), Option(1, 500.0)], [Option(0, 400.0)], []]
    pairs = optimal_assignment(options)
    assert [(row, option.vehicle_id) for row, option in pairs] == [(0, 1), (1, 0)]
    assert optimal_assignment([[], []]) == []


def test_bad_batch_interval_and_max_wait_are_scenario_errors_naming_the_key():
    with pytest.raises(ValidationError, match="batch_interval_s"):
        DrtConfig(name="drt", dispatch="batch", batch_interval_s=0)
    with pytest.raises(ValidationError, match="batch_interval_s"):
        DrtConfig(name="drt", dispatch="batch", batch_interval_s=-30)
    with pytest.raises(
        ValidationError, match=r"batch_interval_s \(120 s\) expects at most max_wait_s"
    ):
        DrtConfig(name="drt", dispatch="batch", batch_interval_s=120, max_wait_s=60)
    DrtConfig(name="drt", dispatch="insertion", batch_interval_s=120, max_wait_s=60)
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            demo, overrides={"services.drt.dispatch": "batch", "services.drt.batch_interval_s": 0}
        )
    assert "demo.yaml: services.drt.batch_interval_s:" in str(caught.value)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            demo,
            overrides={
                "services.drt.dispatch": "batch",
                "services.drt.batch_interval_s": 900,
                "services.drt.max_wait_s": 300,
            },
        )
    message = str(caught.value)
    assert "demo.yaml: services.drt" in message and "batch_interval_s (900 s)" in message
    assert "max_wait_s (300 s)" in message
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.dispatch": "batched"})
    assert "services.drt.dispatch: expected one of: batch, hive_step, insertion" in str(
        caught.value
    )


def test_the_rounds_end_after_the_service_hours_once_nothing_is_open(road):
    service = taxis(road, dispatch="batch", batch_interval_s=30.0)
    service.ctx.env.run()  # no end given: returns because the rounds stop
    assert service.service_end_s < service.ctx.env.now <= service.service_end_s + 30.0

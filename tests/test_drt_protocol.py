"""The narrow DRT dispatch protocol: the example dispatcher of docs/services-transit.md
("Writing a dispatcher") runs as written, and a dispatcher's plan change that breaks a limit is
refused with the dispatcher's name and the trip.

The instance: a straight road of 7 nodes, 0-1-...-6, every link the same drive time τ; taxi V1
(one place) waits at node 3, taxi V2 at node 0 (as in tests/test_drt_batch.py).
"""

from __future__ import annotations

import re
import sys

import networkx as nx
import numpy as np
import pytest
import simpy

from conftest import REPO_ROOT
from mobisim.events import EventLog
from mobisim.network.graph import Network
from mobisim.network.load import prepare_graph
from mobisim.network.router import Router
from mobisim.scenario import registry
from mobisim.scenario.loader import load_scenario
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_dispatch import Assignment, Dispatcher, DispatchError, FleetView

START_S, END_S = 7 * 3600.0, 9 * 3600.0
DOC = REPO_ROOT / "docs" / "services-transit.md"


def doc_dispatcher_code() -> str:
    """The first Python block of the section "Writing a dispatcher"."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Writing a dispatcher") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture(scope="module")
def road():
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for k in range(7):
        graph.add_node(100 + k, y=37.5 + 0.0018 * k, x=127.0, street_count=2)
    for k in range(6):
        for a, b in ((100 + k, 101 + k), (101 + k, 100 + k)):
            graph.add_edge(a, b, highway="residential", length=200.0, oneway=False)
    graph, _ = prepare_graph(graph, "road")
    network = Network(graph, name="road")
    return network, Router(network)


@pytest.fixture
def nearest_idle(tmp_path, monkeypatch):
    """The doc's example saved as my_dispatchers.py and registered as the doc says."""
    (tmp_path / "my_dispatchers.py").write_text(doc_dispatcher_code(), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        registry.POLICIES["drt_dispatch"], "nearest_idle", "my_dispatchers:NearestIdle"
    )
    sys.modules.pop("my_dispatchers", None)
    yield "nearest_idle"
    sys.modules.pop("my_dispatchers", None)


def taxis(road, **keys) -> DrtService:
    network, router = road
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    settings = {"vehicles": 2, "capacity_pax": 1, "stop_s": 0.0, "max_wait_s": 900.0}
    depots = [{"name": "V1", "node": 3}, {"name": "V2", "node": 0}]
    config = DrtConfig(name="taxi", depots=depots, **{**settings, **keys})
    service = DrtService(config, ctx)
    service.start()
    return service


def run_riders(service, trips):
    outcomes = {}

    def rider(trip):
        env = service.ctx.env
        yield env.timeout(trip.depart_s - env.now)
        offer = service.offers(trip, env.now)[0]
        outcomes[trip.trip_id] = (offer.available, (yield service.request(trip, offer)))

    for trip in trips:
        service.ctx.env.process(rider(trip))
    service.ctx.env.run(until=END_S)
    return outcomes


# A 2 -> 1 and B 4 -> 5 at once; C 6 -> 5 a second later, while both taxis are busy
TRIPS = [
    Trip(0, 0, "g", "a", 2, 1, START_S + 5.0),
    Trip(1, 1, "g", "b", 4, 5, START_S + 5.0),
    Trip(2, 2, "g", "c", 6, 5, START_S + 6.0),
]


def test_the_doc_example_dispatcher_runs_from_the_scenario_and_decides_as_documented(
    road, nearest_idle
):
    service = taxis(road, dispatch=nearest_idle)
    assert type(service.dispatcher).__name__ == "NearestIdle"
    assert isinstance(service.dispatcher, Dispatcher)
    v1, v2 = service.vehicles
    tau = service.leg(0, 1)[0]
    outcomes = run_riders(service, TRIPS)
    # A: V1 (at 3) is nearest its pick-up at 2; B: V1 is no longer idle, so V2 (from 0)
    assert outcomes[0][1].served and outcomes[0][1].vehicle_id == v1.vehicle_id
    assert outcomes[1][1].served and outcomes[1][1].vehicle_id == v2.vehicle_id
    # C: no idle taxi: no offer, rejected
    assert not outcomes[2][0] and not outcomes[2][1].served
    events = service.ctx.log.to_frame()
    pickups = events[events["event"] == "pickup"].set_index("trip_id")["time_s"]
    assert pickups[0] == pytest.approx(START_S + 5.0 + tau)
    assert pickups[1] == pytest.approx(START_S + 5.0 + 4 * tau)
    # the built-in insertion pools B behind A in V1 instead (cheaper: 4τ against 5τ)
    insertion = run_riders(taxis(road), TRIPS[:2])
    assert {outcome.vehicle_id for _, outcome in insertion.values()} == {v1.vehicle_id}


def test_the_doc_example_name_is_accepted_by_the_scenario_loader(nearest_idle):
    scenario = load_scenario(
        REPO_ROOT / "scenarios" / "demo.yaml", overrides={"services.drt.dispatch": nearest_idle}
    )
    drt = next(s for s in scenario.services if s.name == "drt")
    assert drt.dispatch == "nearest_idle"


class IntoV1(Dispatcher):
    """Puts every request into the first vehicle, the pick-up right after the plan's first
    stop (0 on an empty plan): the second rider shares the one place with the first."""

    def dispatch(self, requests, fleet: FleetView, now_s):
        vehicle = fleet.vehicles[0]
        i = min(1, len(vehicle.plan))
        return [Assignment(request, vehicle.vehicle_id, i, i) for request in requests]


class IntoV2(Dispatcher):
    """Puts every request into the second vehicle, however far it is."""

    def dispatch(self, requests, fleet: FleetView, now_s):
        return [Assignment(request, fleet.vehicles[1].vehicle_id, 0, 0) for request in requests]


def _booked(service, trip):
    return service.request(trip, service.offers(trip, service.ctx.env.now)[0])


def test_a_change_over_capacity_is_refused_naming_the_dispatcher_and_the_trip(road, monkeypatch):
    monkeypatch.setitem(registry.POLICIES["drt_dispatch"], "into_v1", f"{__name__}:IntoV1")
    service = taxis(road, dispatch="into_v1")
    v1 = service.vehicles[0]
    service.ctx.env.run(until=START_S + 5.0)
    _booked(service, TRIPS[0])
    assert [stop.request.trip_id for stop in v1.plan] == [0, 0]
    with pytest.raises(DispatchError) as refused:
        _booked(service, TRIPS[1])
    message = str(refused.value)
    assert "'into_v1'" in message and "services.taxi.dispatch" in message
    assert "trip 1" in message and "capacity" in message
    assert [stop.request.trip_id for stop in v1.plan] == [0, 0]  # nothing applied


def test_a_change_past_the_max_wait_is_refused_naming_the_dispatcher_and_the_trip(
    road, monkeypatch
):
    monkeypatch.setitem(registry.POLICIES["drt_dispatch"], "into_v2", f"{__name__}:IntoV2")
    tau = taxis(road).leg(0, 1)[0]
    service = taxis(road, dispatch="into_v2", max_wait_s=2.5 * tau)  # V2 needs 4τ to node 4
    service.ctx.env.run(until=START_S + 5.0)
    with pytest.raises(DispatchError) as refused:
        _booked(service, TRIPS[1])
    message = str(refused.value)
    assert "'into_v2'" in message and "trip 1" in message
    assert "time window" in message and "pick-up of trip 1" in message
    assert service.vehicles[1].plan == []
    # the built-in insertion serves it from V1 (τ from node 3 to 4) within the same max wait
    builtin = taxis(road, max_wait_s=2.5 * tau)
    builtin.ctx.env.run(until=START_S + 5.0)
    _booked(builtin, TRIPS[1])
    assert [stop.request.trip_id for stop in builtin.vehicles[0].plan] == [1, 1]


def test_a_change_to_a_vehicle_or_position_that_does_not_exist_is_refused(road):
    service = taxis(road)
    request = service._plan_request(TRIPS[0], START_S)[0]
    for change, problem in (
        (Assignment(request, 999, 0, 0), "no vehicle 999"),
        (Assignment(request, service.vehicles[0].vehicle_id, 1, 0), "positions (1, 0)"),
    ):
        with pytest.raises(DispatchError, match=re.escape(problem)):
            service._checked(change, [request], START_S)
    other = service._plan_request(TRIPS[1], START_S)[0]
    with pytest.raises(DispatchError, match="not one of the open requests"):
        service._checked(Assignment(other, 0, 0, 0), [request], START_S)


def test_the_fleet_view_is_a_snapshot(road):
    service = taxis(road)
    view = service.fleet_view.vehicles
    assert [(v.node, v.idle, v.plan) for v in view] == [(3, True, ()), (0, True, ())]
    with pytest.raises(AttributeError):
        view[0].node = 5
    assert service.fleet_view.drive_s(0, 3) == pytest.approx(3 * service.leg(0, 1)[0])


class BothIntoV1Batch(Dispatcher):
    """A batch dispatcher: every round, every open request into V1, one after the other (each
    position in the plan as the earlier assignments of the list left it)."""

    def __init__(self, config):
        super().__init__(config)
        self.batch_interval_s = 30.0

    def dispatch(self, requests, fleet: FleetView, now_s):
        v1 = fleet.vehicles[0]
        stops = len(v1.plan)
        changes = []
        for request in requests:
            changes.append(Assignment(request, v1.vehicle_id, stops, stops))
            stops += 2
        return changes


class TwiceBatch(BothIntoV1Batch):
    def dispatch(self, requests, fleet: FleetView, now_s):
        return [*super().dispatch(requests[:1], fleet, now_s)] * 2


def test_a_batch_dispatcher_chains_changes_to_one_vehicle_and_may_not_repeat_one(road, monkeypatch):
    monkeypatch.setitem(registry.POLICIES["drt_dispatch"], "both_v1", f"{__name__}:BothIntoV1Batch")
    monkeypatch.setitem(registry.POLICIES["drt_dispatch"], "twice", f"{__name__}:TwiceBatch")
    service = taxis(road, dispatch="both_v1")
    v1 = service.vehicles[0]
    outcomes = run_riders(service, TRIPS[:2])
    assert [outcome.vehicle_id for _, outcome in outcomes.values()] == [v1.vehicle_id] * 2
    events = service.ctx.log.to_frame()
    pickups = events[events["event"] == "pickup"].set_index("trip_id")["time_s"]
    tau = service.leg(0, 1)[0]
    round_s = START_S + 30.0  # A: 3 -> 2 -> 1, then B: 1 -> 4 -> 5
    assert pickups[0] == pytest.approx(round_s + tau)
    assert pickups[1] == pytest.approx(round_s + 5 * tau)
    twice = taxis(road, dispatch="twice")
    with pytest.raises(DispatchError, match=r"'twice'.*assigned trip 0 twice"):
        run_riders(twice, TRIPS[:1])


def test_a_dispatcher_without_dispatch_cannot_be_built():
    """``Dispatcher.dispatch`` is abstract: a subclass that forgets it fails when it is built."""
    from mobisim.services.drt_dispatch import Dispatcher

    class Forgetful(Dispatcher):
        pass

    with pytest.raises(TypeError, match="dispatch"):
        Forgetful(config=None)

"""DRT: insertion limits, large fleets, taxis, stops and areas, idle policies, pre-booking, energy.

Each test drives the real service on the synthetic town with the real router and small
commuter-like processes (offers -> request -> wait for the outcome).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.energy.context import EnergyContext
from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.metrics.fleet import pooled_trips
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.scenario.loader import load_scenario
from mobisim.services.base import RideOutcome, ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService

START_S, END_S = 7 * 3600.0, 10 * 3600.0


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def make_service(town, seed: int = 0, energy: bool = False, **keys) -> DrtService:
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    log = EventLog()
    ctx = ServiceContext(env, network, router, log, np.random.default_rng(seed), START_S, END_S)
    if energy:
        ctx.energy = EnergyContext(EnergyConfig(), env, log, network)
    keys.setdefault("name", "drt")
    service = DrtService(DrtConfig(**keys), ctx)
    service.start()
    return service


def rider(service, trip: Trip, outcomes: dict, offers: dict):
    """A commuter: at departure ask for an offer, book it at once, wait for the outcome."""
    env = service.ctx.env
    if trip.depart_s > env.now:
        yield env.timeout(trip.depart_s - env.now)
    offer = service.offers(trip, env.now)[0]
    offers[trip.trip_id] = (env.now, offer)
    if not offer.available:
        outcomes[trip.trip_id] = offer.reason
        return
    ride = service.request(trip, offer)
    outcomes[trip.trip_id] = yield ride


def run(service, trips) -> tuple[dict, dict]:
    outcomes, offers = {}, {}
    for trip in trips:
        service.ctx.env.process(rider(service, trip, outcomes, offers))
    service.ctx.env.run(until=END_S + 3600)
    service.finish(service.ctx.env.now)
    return outcomes, offers


def random_trips(network, n: int, seed: int, span_s: float = 3600.0, party_max: int = 1):
    rng = np.random.default_rng(seed)
    trips = []
    for i in range(n):
        origin, dest = rng.choice(network.n_nodes, size=2, replace=False)
        party = int(rng.integers(1, party_max + 1))
        depart = START_S + float(rng.uniform(0, span_s))
        trips.append(Trip(i, i, "g", "p", int(origin), int(dest), depart, party_size=party))
    return trips


def assert_legs_connect(events, vehicles) -> None:
    """Every vehicle's legs and dwells chain in time and place from its depot node."""
    starts = {v["vehicle_id"]: v["depot_node"] for v in vehicles}
    moves = events[events["event"].isin(["vehicle_leg", "vehicle_dwell"])]
    for vehicle_id, rows in moves.groupby("vehicle_id"):
        here, free_s = starts[vehicle_id], -math.inf
        for row in rows.sort_values("time_s", kind="stable").itertuples():
            assert row.node == here, f"vehicle {vehicle_id} jumps at {row.time_s}"
            assert row.time_s >= free_s - 1e-6, f"vehicle {vehicle_id} overlaps at {row.time_s}"
            if row.event == "vehicle_leg":
                here = row.to_node
            free_s = row.time_s + row.duration_s


def loads_by_vehicle(events) -> dict[int, list[int]]:
    rows = events[events["event"].isin(["board", "alight"])]
    return {int(v): list(g["pax"]) for v, g in rows.groupby("vehicle_id")}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    vehicles=st.integers(1, 6),
    capacity=st.integers(1, 4),
    n_trips=st.integers(1, 40),
    max_wait_s=st.floats(120, 900),
    stop_s=st.sampled_from([0.0, 30.0, 60.0]),
    lead_min=st.sampled_from([0.0, 5.0]),
    k=st.one_of(st.none(), st.integers(1, 6)),
)
def test_invariants_limits_capacity_connected_legs_one_outcome(
    town, seed, vehicles, capacity, n_trips, max_wait_s, stop_s, lead_min, k
):
    alpha, beta = 1.5, 600.0
    service = make_service(
        town,
        seed=seed,
        vehicles=vehicles,
        capacity_pax=capacity,
        max_wait_s=max_wait_s,
        stop_s=stop_s,
        booking_lead_min=lead_min,
        approx_candidates_k=k,
        max_travel_alpha=alpha,
        max_travel_beta_s=beta,
    )
    trips = random_trips(town[0], n_trips, seed, party_max=capacity)
    outcomes, offers = run(service, trips)
    assert len(outcomes) == n_trips  # every request ends in exactly one outcome
    events = service.ctx.log.to_frame()
    rejected = set(events.loc[events["event"] == "reject", "trip_id"])
    dropped = events.loc[events["event"] == "dropoff", "trip_id"]
    assert dropped.is_unique and not (set(dropped) & rejected)
    router = town[1]
    for trip in trips:
        outcome = outcomes[trip.trip_id]
        if not isinstance(outcome, RideOutcome) or not outcome.served:
            continue
        asked_s, offer = offers[trip.trip_id]
        ready_s = asked_s + lead_min * 60.0
        pickup_s = ready_s + (outcome.wait_s - lead_min * 60.0)
        direct_s = router.travel_time_s("drt", trip.origin_node, trip.dest_node)
        assert pickup_s <= ready_s + max_wait_s + 1e-3
        assert pickup_s + outcome.in_vehicle_s <= ready_s + alpha * direct_s + beta + 1e-3
        # later insertions may delay a ride (within its limits), never advance it
        assert outcome.wait_s >= offer.wait_s - 1e-3
        assert outcome.wait_s + outcome.in_vehicle_s >= offer.wait_s + offer.in_vehicle_s - 1e-3
    for loads in loads_by_vehicle(events).values():
        assert max(loads) <= capacity and min(loads) >= 0
    assert_legs_connect(events, service.ctx.vehicles)


def test_large_fleet_rejects_nothing_and_waits_are_the_nearest_drive(town):
    network, router = town
    service = make_service(town, vehicles=300, capacity_pax=4, max_wait_s=600, stop_s=30)
    trips = random_trips(network, 60, seed=5, span_s=7200)
    nearest = {}

    def note_nearest(trip):
        yield service.ctx.env.timeout(trip.depart_s - START_S)
        anchors = np.array([v.node for v in service.vehicles])
        free = np.array([max(v.free_s, service.ctx.env.now) for v in service.vehicles])
        reach = free - service.ctx.env.now + router.travel_times_s("drt", anchors, trip.origin_node)
        nearest[trip.trip_id] = float(np.nanmin(reach))

    for trip in trips:
        service.ctx.env.process(note_nearest(trip))
    outcomes, _ = run(service, trips)
    events = service.ctx.log.to_frame()
    assert (events["event"] == "reject").sum() == 0
    assert all(isinstance(o, RideOutcome) and o.served for o in outcomes.values())
    excess = np.array([outcomes[t].wait_s - nearest[t] for t in outcomes])
    assert (excess >= -1e-6).all()
    assert np.median(excess) == pytest.approx(0.0, abs=1e-6)
    assert excess.mean() < 30.0


def test_small_fleet_rejects_when_nothing_is_feasible(town):
    service = make_service(town, vehicles=1, capacity_pax=2, max_wait_s=120)
    outcomes, _ = run(service, random_trips(town[0], 30, seed=3, span_s=600))
    reasons = [o.reason if isinstance(o, RideOutcome) else o for o in outcomes.values()]
    assert "no_vehicle_feasible" in reasons


def test_capacity_one_never_shares_a_ride(town):
    service = make_service(town, vehicles=4, capacity_pax=1, max_wait_s=900)
    _outcomes, _ = run(service, random_trips(town[0], 60, seed=11, span_s=3600))
    events = service.ctx.log.to_frame()
    pooled, boarded = pooled_trips(events)
    assert boarded > 10 and pooled == 0
    for loads in loads_by_vehicle(events).values():
        assert set(loads) <= {0, 1}


def test_pooling_happens_with_a_larger_capacity(town):
    service = make_service(town, vehicles=2, capacity_pax=6, max_wait_s=900)
    run(service, random_trips(town[0], 60, seed=11, span_s=3600))
    pooled, boarded = pooled_trips(service.ctx.log.to_frame())
    assert pooled > 0 and boarded > pooled // 2


def test_prebooked_rides_are_not_picked_up_before_the_lead_time(town):
    service = make_service(town, vehicles=3, booking_lead_min=10)
    outcomes, _offers = run(service, random_trips(town[0], 10, seed=4))
    served = [o for o in outcomes.values() if isinstance(o, RideOutcome) and o.served]
    assert served and all(o.wait_s >= 600 - 1e-6 for o in served)


def test_virtual_stops_and_given_stops(town):
    network, _ = town
    service = make_service(town, stop_mode="virtual_stops", virtual_stop_spacing_m=400)
    assert 5 < len(service.stop_nodes) < network.n_nodes
    centre, market = network.place_node("town_centre"), network.place_node("supermarket")
    offer = service.offers(Trip(0, 0, "g", "p", centre, market, START_S), START_S)[0]
    assert offer.available
    assert {offer.access_node, offer.egress_node} <= set(service.stop_nodes)
    assert offer.access_walk_m <= 400 and offer.egress_walk_m <= 400
    given_stops = make_service(
        town,
        name="drt_stops",
        stop_mode="stops",
        stops=[{"name": "c", "place": "town_centre"}, {"name": "m", "place": "supermarket"}],
    )
    offer = given_stops.offers(Trip(0, 0, "g", "p", centre, market, START_S), START_S)[0]
    assert offer.available and (offer.access_node, offer.egress_node) == (centre, market)
    far = network.place_node("industrial_complex")
    offer = given_stops.offers(Trip(1, 1, "g", "p", far, market, START_S), START_S)[0]
    assert offer.reason == "no_stop_within_walk"


def test_service_area_polygon_and_zones(town):
    network, _ = town
    lat0, lon0 = network.nodes["lat"].median(), network.nodes["lon"].median()
    d = 0.005
    square = [
        (lat0 - d, lon0 - d),
        (lat0 - d, lon0 + d),
        (lat0 + d, lon0 + d),
        (lat0 + d, lon0 - d),
    ]
    service = make_service(town, service_area=square)
    inside = service.area_nodes
    assert 0 < inside.size < network.n_nodes
    outside = int(np.flatnonzero(~service.in_area)[0])
    offer = service.offers(Trip(0, 0, "g", "p", outside, int(inside[0]), START_S), START_S)[0]
    assert offer.reason == "outside_service_area"
    zoned = make_service(town, name="drt_zone", service_zones=["town_centre"])
    assert set(zoned.area_nodes) == set(network.zone_nodes("town_centre"))
    with pytest.raises(ScenarioError, match=r"services\.bad\.service_zones\[0\]"):
        make_service(town, name="bad", service_zones=["atlantis"])


def test_outside_service_hours_and_unknown_policy(town):
    service = make_service(town, service_start="08:00")
    trip = random_trips(town[0], 1, seed=1)[0]
    assert service.offers(trip, START_S)[0].reason == "outside_service_hours"
    with pytest.raises(ValidationError, match="idle_policy"):
        make_service(town, name="bad_policy", idle_policy="teleport")
    # in a scenario file: caught by validation, with the file and key path, before any run
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.idle_policy": "rebalance"})
    assert (
        "demo.yaml: services.drt.idle_policy: expected one of: hive_base_after_idle, nearest_base_after_idle, return_to_depot, stay, "
        in str(caught.value)
    )


def test_idle_vehicles_return_to_their_depot(town):
    network, _ = town
    service = make_service(
        town,
        vehicles=2,
        idle_policy="return_to_depot",
        depots=[{"name": "depot", "place": "bus_terminal"}],
    )
    run(service, random_trips(network, 8, seed=2))
    events = service.ctx.log.to_frame()
    depot = network.place_node("bus_terminal")
    legs = events[events["event"] == "vehicle_leg"]
    assert (legs["state"] == "repositioning").any()
    for _vehicle_id, rows in legs.groupby("vehicle_id"):
        assert rows.sort_values("time_s").iloc[-1]["to_node"] == depot
    assert_legs_connect(events, service.ctx.vehicles)


def test_zone_rebalancing_moves_idle_vehicles_toward_demand(town):
    network, _ = town
    centre = network.zone_nodes("town_centre")
    rng = np.random.default_rng(0)
    trips = [
        Trip(i, i, "g", "p", int(rng.choice(centre)), int(rng.choice(centre)), START_S + 60 * i)
        for i in range(40)
    ]
    trips = [t for t in trips if t.origin_node != t.dest_node]
    service = make_service(
        town,
        vehicles=6,
        idle_policy="zone_rebalancing",
        depots=[{"name": "far", "place": "residential_nw"}],
        rebalance_interval_min=5,
    )
    run(service, trips)
    events = service.ctx.log.to_frame()
    moves = events[(events["event"] == "vehicle_leg") & (events["state"] == "repositioning")]
    assert len(moves) > 0
    zone_of = service.idle.zone_of
    target_zones = set(zone_of[moves["to_node"].to_numpy()])
    assert set(zone_of[centre]) & target_zones
    assert_legs_connect(events, service.ctx.vehicles)


def test_batteries_draw_what_the_events_say_and_low_packs_get_no_work(town):
    service = make_service(town, energy=True, vehicles=3)
    assert all(v.battery is not None for v in service.vehicles)
    _outcomes, _ = run(service, random_trips(town[0], 20, seed=6))
    events = service.ctx.log.to_frame()
    vt = service.vehicle_type
    for vehicle in service.vehicles:
        rows = events[events["vehicle_id"] == vehicle.vehicle_id]
        expected = sum(
            leg_energy_kwh(vt, r.distance_m, r.duration_s, r.pax)
            if r.event == "vehicle_leg"
            else dwell_energy_kwh(vt, r.duration_s, r.state)
            for r in rows.itertuples()
            if r.event in ("vehicle_leg", "vehicle_dwell")
        )
        assert vehicle.battery.drawn_kwh == pytest.approx(expected, rel=1e-9)
    flat = make_service(town, name="drt_flat", energy=True, vehicles=2)
    for vehicle in flat.vehicles:
        vehicle.battery.soc_kwh = 0.1 * vehicle.battery.capacity_kwh
    trip = random_trips(town[0], 1, seed=9)[0]
    assert flat.offers(trip, START_S)[0].reason == "no_vehicle_feasible"


def test_dense_leg_tables_equal_the_router(town):
    network, router = town
    service = make_service(town, name="drt_dense")
    dense = service.dense
    assert dense is not None  # 500 nodes with all-pairs tables: the nested-float tables are used
    rng = np.random.default_rng(5)
    origins, dests = rng.integers(0, network.n_nodes, 300), rng.integers(0, network.n_nodes, 300)
    times, dists = router.legs(service.profile, origins, dests)
    assert [dense.times[a][b] for a, b in zip(origins, dests, strict=True)] == times.tolist()
    assert [dense.dists[a][b] for a, b in zip(origins, dests, strict=True)] == dists.tolist()
    a, b = int(origins[0]), int(dests[0])
    assert service.leg(a, b) == router.leg(service.profile, a, b)
    assert service.leg(a, a) == (0.0, 0.0)


@pytest.mark.parametrize("fleet_arrays", [False, True])
@pytest.mark.parametrize("capacity", [1, 4])
def test_dense_tables_and_router_queries_plan_the_same_day(
    town, monkeypatch, capacity, fleet_arrays
):
    """Insertion on the nested-float tables is an optimisation only: same events as the
    vectorised router queries, ties at the K-th candidate included (every vehicle starts at one
    depot, K below the fleet), with batteries on; candidates picked in the plain loop or with
    NumPy over the fleet's arrays alike."""
    from mobisim.services import drt_insertion_fast

    network = town[0]
    depot = [{"name": "d", "node": int(network.n_nodes // 2)}]
    trips = random_trips(network, 80, seed=21, span_s=2400, party_max=capacity)
    monkeypatch.setattr(drt_insertion_fast, "FLEET_ARRAYS_MIN", 1 if fleet_arrays else 10_000)

    def day(dense: bool):
        monkeypatch.setattr(drt_insertion_fast, "DENSE_MAX_NODES", 10_000 if dense else 0)
        service = make_service(
            town,
            energy=True,
            vehicles=5,
            capacity_pax=capacity,
            approx_candidates_k=2,
            stop_s=30.0,
            depots=depot,
            name=f"drt_{dense}",
        )
        assert (service.dense is not None) == dense
        outcomes, _ = run(service, trips)
        events = service.ctx.log.to_frame().drop(columns="service")
        return outcomes, events

    fast_outcomes, fast_events = day(True)
    slow_outcomes, slow_events = day(False)
    assert fast_outcomes == slow_outcomes
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(fast_events, slow_events)
    assert (fast_events["event"] == "vehicle_leg").sum() > 20


def test_fleet_arrays_follow_the_vehicles(town):
    """The DrtFleet's arrays equal the vehicles' nodes and free times all day (moves, stops,
    charging at inf), one fleet kept; a fleet is made again when the list grows or one of its
    vehicles joins another fleet."""
    from mobisim.services.drt_dispatch import FLEET_ARRAYS_MIN, DrtVehicle, drt_fleet

    service = make_service(
        town, energy=True, vehicles=FLEET_ARRAYS_MIN + 10, capacity_pax=4, stop_s=30.0
    )
    env, seen, checks = service.ctx.env, set(), []

    def check():
        while True:
            yield env.timeout(97.0)
            fleet = service.vehicles[0]._fleet
            if fleet is None:
                continue
            seen.add(id(fleet))
            assert fleet.valid and fleet.vehicles is service.vehicles
            assert fleet.nodes.tolist() == [v.node for v in service.vehicles]
            assert fleet.free_s.tolist() == [v.free_s for v in service.vehicles]
            checks.append((fleet.nodes.copy(), fleet.free_s.copy()))

    env.process(check())
    run(service, random_trips(town[0], 120, seed=8, span_s=3600))
    assert len(seen) == 1 and len(checks) > 20
    first_nodes, first_free = checks[0]
    assert any((nodes != first_nodes).any() for nodes, _ in checks)  # vehicles moved
    assert any((free != first_free).any() for _, free in checks)

    vehicles = [DrtVehicle(i, 4, node=i, free_s=float(i), depot_node=0) for i in range(3)]
    fleet = drt_fleet(vehicles)
    assert drt_fleet(vehicles) is fleet
    vehicles[1].node, vehicles[2].free_s = 7, math.inf
    assert fleet.nodes.tolist() == [0, 7, 2] and fleet.free_s.tolist() == [0.0, 1.0, math.inf]
    vehicles.append(DrtVehicle(3, 4, node=3, free_s=3.0, depot_node=0))
    grown = drt_fleet(vehicles)
    assert grown is not fleet and grown.nodes.tolist() == [0, 7, 2, 3]
    other = drt_fleet([vehicles[2]])  # vehicle 2 now mirrors into ``other`` only
    vehicles[2].node = 9
    assert other.nodes.tolist() == [9] and grown.nodes.tolist() == [0, 7, 2, 3]
    assert not grown.valid
    again = drt_fleet(vehicles)  # made again: vehicle 2 back in it, ``other`` left behind
    assert again is not grown and again.nodes.tolist() == [0, 7, 9, 3] and not other.valid


def test_plan_windows_follow_every_plan_change():
    from mobisim.services.drt_dispatch import (
        DrtRequest,
        DrtVehicle,
        Insertion,
        insert_stops,
        party_of,
        plan_windows,
    )

    def request(k: int) -> DrtRequest:
        ready_s = 100.0 * k
        return DrtRequest(
            k, 10 + k, 20 + k, 1 + k % 3, ready_s, ready_s, ready_s + 600, ready_s + 1800, 300, 3000
        )

    def stop_by_stop(vehicle) -> tuple:
        plan = vehicle.plan
        return (
            [s.node for s in plan],
            [s.earliest_s for s in plan],
            [s.latest_s for s in plan],
            [party_of(s) for s in plan],
        )

    def listed(windows) -> tuple:
        return windows.nodes, windows.earliest_s, windows.latest_s, windows.deltas

    vehicle = DrtVehicle(1, 8, node=0, free_s=0.0, depot_node=0)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (2, 3), (1, 4)]):
        insertion = Insertion(vehicle, i, j, 0.0, 0.0, 0.0, vehicle.version, 0.0)
        insert_stops(vehicle, request(k), insertion)
        windows = plan_windows(vehicle)
        assert listed(windows) == stop_by_stop(vehicle)
        assert plan_windows(vehicle) is windows  # kept while the plan is unchanged
    vehicle.plan = vehicle.plan[1:]  # served, as DrtService._serve_next does
    vehicle.version += 1
    assert listed(plan_windows(vehicle)) == stop_by_stop(vehicle)


def test_unknown_dispatch_policy_is_a_scenario_error_naming_the_key(town, monkeypatch):
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(demo, overrides={"services.drt.dispatch": "nearest_first"})
    message = str(caught.value)
    assert (
        "demo.yaml: services.drt.dispatch: expected one of: batch, hive_step, insertion" in message
    )
    assert "'nearest_first'" in message
    with pytest.raises(ValidationError, match="dispatch"):
        make_service(town, name="bad_dispatch", dispatch="nearest_first")
    # the old K key is gone: a clear pointer to the approximation key that replaced it
    with pytest.raises(ScenarioError, match=r"services\.drt\.candidates_k.*approx_candidates_k"):
        load_scenario(demo, overrides={"services.drt.candidates_k": 8})
    with pytest.raises(ScenarioError, match=r"services\.drt\.approx_candidates_k"):
        load_scenario(demo, overrides={"services.drt.approx_candidates_k": 0})


def test_one_registry_holds_the_drt_policies(town, monkeypatch):
    """Names come from mobisim.scenario.registry.POLICIES only: a policy registered there is
    valid and used; one missing from it is refused with the key path."""
    from mobisim.scenario import registry
    from mobisim.services.drt_dispatch import InsertionDispatch, known_policies

    assert known_policies("drt_dispatch") == sorted(registry.POLICIES["drt_dispatch"])
    assert known_policies("drt_idle") == sorted(registry.POLICIES["drt_idle"])
    monkeypatch.setitem(
        registry.POLICIES["drt_dispatch"], "mine", "mobisim.services.drt_dispatch:InsertionDispatch"
    )
    service = make_service(town, name="drt_mine", dispatch="mine")
    assert isinstance(service.dispatcher, InsertionDispatch)
    config = DrtConfig(name="drt_gone", dispatch="mine")
    monkeypatch.delitem(registry.POLICIES["drt_dispatch"], "mine")
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    with pytest.raises(ScenarioError, match=r"services\.drt_gone\.dispatch: unknown drt_dispatch"):
        DrtService(config, ctx)

"""Fixed-route shuttles: closed-form waits, denied boardings, give-ups, lines, config errors, invariants.

Each test drives the real service on the synthetic town with the real router and small
commuter-like processes (offers -> request -> walk -> wait for the outcome).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import WALK_SPEED_MPS, Router
from mobisim.services.base import RideOutcome, ServiceContext, Trip
from mobisim.services.fixed_route import FixedRouteConfig, FixedRouteService

START_S, END_S = 7 * 3600.0, 11 * 3600.0
STOPS = ["town_centre", "supermarket", "bus_terminal", "residential_s"]


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def make_service(town, seed: int = 0, end_s: float = END_S, **keys) -> FixedRouteService:
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(
        env, network, router, EventLog(), np.random.default_rng(seed), START_S, end_s
    )
    keys.setdefault("stops", [{"name": p, "place": p} for p in STOPS])
    keys.setdefault("name", "shuttle")
    service = FixedRouteService(FixedRouteConfig(**keys), ctx)
    service.start()
    return service


def rider(service, trip: Trip, outcomes: dict):
    """A commuter: at departure ask for an offer, book it, walk, wait for the outcome."""
    env = service.ctx.env
    if trip.depart_s > env.now:
        yield env.timeout(trip.depart_s - env.now)
    offer = service.offers(trip, env.now)[0]
    if not offer.available:
        outcomes[trip.trip_id] = offer.reason
        return
    ride = service.request(trip, offer)
    yield env.timeout(offer.access_walk_s)
    outcomes[trip.trip_id] = yield ride


def stop_node(service, index: int) -> int:
    return int(service.stop_nodes[index])


def run(service, trips, until_s: float | None = None) -> dict:
    outcomes: dict = {}
    for trip in trips:
        service.ctx.env.process(rider(service, trip, outcomes))
    service.ctx.env.run(until=until_s or END_S + 3600)
    service.finish(service.ctx.env.now)
    return outcomes


def trips_between(origin: int, dest: int, departs_s, party: int = 1) -> list[Trip]:
    return [
        Trip(i, i, "g", "p", origin, dest, float(t), party_size=party)
        for i, t in enumerate(departs_s)
    ]


def assert_legs_connect(events, vehicles, start_key: str) -> None:
    """Every vehicle's legs and dwells chain in time and place from its start node."""
    starts = {v["vehicle_id"]: v[start_key] for v in vehicles}
    moves = events[events["event"].isin(["vehicle_leg", "vehicle_dwell"])]
    assert set(moves["vehicle_id"].unique()) <= set(starts)
    for vehicle_id, rows in moves.groupby("vehicle_id"):
        here, free_s = starts[vehicle_id], -math.inf
        for row in rows.sort_values("time_s", kind="stable").itertuples():
            assert row.node == here, f"vehicle {vehicle_id} jumps at {row.time_s}"
            assert row.time_s >= free_s - 1e-6, f"vehicle {vehicle_id} overlaps at {row.time_s}"
            assert row.duration_s >= 0
            if row.event == "vehicle_leg":
                here = row.to_node
            free_s = row.time_s + row.duration_s


def test_mean_wait_of_poisson_arrivals_is_half_the_headway(town):
    service = make_service(town, headway_min=6, capacity_pax=1000, dwell_per_pax_s=0)
    rng = np.random.default_rng(7)
    departs = START_S + 600 + np.cumsum(rng.exponential(2.0, size=5000))
    assert departs[-1] < END_S - 1200
    outcomes = run(service, trips_between(stop_node(service, 1), stop_node(service, 2), departs))
    waits = np.array([o.wait_s for o in outcomes.values()])
    assert all(isinstance(o, RideOutcome) and o.served for o in outcomes.values())
    assert len(waits) == 5000
    assert abs(waits.mean() - 180.0) < 0.03 * 180.0
    assert waits.max() <= 360.0 + 1e-6


def test_offer_shows_half_headway_and_the_ride_along_the_route(town):
    service = make_service(town, headway_min=10)
    a, b = stop_node(service, 1), stop_node(service, 3)
    offer = service.offers(Trip(0, 0, "g", "p", a, b, START_S + 3600), START_S + 3600)[0]
    assert offer.available and offer.wait_s == pytest.approx(300.0)
    assert (offer.access_node, offer.egress_node) == (a, b)
    pattern = service.pattern
    assert offer.in_vehicle_s == pytest.approx(pattern[3].offset_s - pattern[1].offset_s)
    assert offer.distance_m == pytest.approx(pattern[3].distance_m - pattern[1].distance_m)


def test_timetable_offer_waits_for_the_next_departure(town):
    service = make_service(town, timetable=["07:30", "08:00"])
    a, b = stop_node(service, 0), stop_node(service, 2)
    offer = service.offers(Trip(0, 0, "g", "p", a, b, START_S), START_S + 1000)[0]
    assert offer.wait_s == pytest.approx(7.5 * 3600 - (START_S + 1000))
    late = service.offers(Trip(1, 1, "g", "p", a, b, 9 * 3600), 9 * 3600)[0]
    assert not late.available and late.reason == "outside_service_hours"


@pytest.mark.parametrize(("per_headway", "expect_denied"), [(4, False), (9, True)])
def test_denied_boardings_appear_only_when_demand_exceeds_capacity(
    town, per_headway, expect_denied
):
    service = make_service(town, headway_min=10, capacity_pax=5, max_wait_min=120)
    # riders arrive in bursts at stop 1 shortly after each vehicle has passed
    first_s = START_S + service.pattern[1].offset_s + 5
    departs = [first_s + k * 600 + i for k in range(3) for i in range(per_headway)]
    outcomes = run(service, trips_between(stop_node(service, 1), stop_node(service, 3), departs))
    events = service.ctx.log.to_frame()
    denied = events[events["event"] == "denied_boarding"]
    assert (len(denied) > 0) == expect_denied
    assert all(o.served for o in outcomes.values())
    assert events.loc[events["event"] == "board", "pax"].max() <= 5


def test_riders_give_up_after_the_maximum_wait(town):
    service = make_service(town, headway_min=8, capacity_pax=1, max_wait_min=5)
    departs = [START_S + 1200 + i for i in range(6)]
    outcomes = run(service, trips_between(stop_node(service, 1), stop_node(service, 2), departs))
    gave_up = [o for o in outcomes.values() if not o.served]
    assert len(outcomes) == 6
    assert gave_up and all(o.reason == "gave_up_max_wait" for o in gave_up)
    assert all(o.wait_s == pytest.approx(300.0) for o in gave_up)
    events = service.ctx.log.to_frame()
    assert (events["event"] == "give_up").sum() == len(gave_up)
    assert (events["event"] == "dropoff").sum() == 6 - len(gave_up)


def test_a_line_runs_there_and_back(town):
    service = make_service(
        town, shape="line", vehicles=2, stops=[{"name": p, "place": p} for p in STOPS[:3]]
    )
    a, c = stop_node(service, 2), stop_node(service, 0)
    outcomes = run(service, trips_between(a, c, [START_S + 900, START_S + 2000]))
    assert all(o.served and o.egress_node == c for o in outcomes.values())
    events = service.ctx.log.to_frame()
    assert set(events.loc[events["event"] == "vehicle_dwell", "state"]) >= {"dwell", "layover"}
    assert_legs_connect(events, service.ctx.vehicles, "start_node")
    assert len(service.ctx.vehicles) == 2


def test_vehicle_count_follows_from_the_headway(town):
    service = make_service(town, headway_min=4)
    assert service.n_vehicles == math.ceil(service.cycle_s / 240.0)
    assert len(service.ctx.vehicles) == service.n_vehicles


def test_config_errors_name_the_key():
    with pytest.raises(ValidationError, match="vehicles, headway_min or timetable"):
        FixedRouteConfig(name="x", stops=[{"name": "a", "node": 1}, {"name": "b", "node": 2}])
    with pytest.raises(ValidationError, match="exactly one of"):
        FixedRouteConfig(
            name="x",
            headway_min=5,
            stops=[{"name": "a", "node": 1, "place": "town_centre"}, {"name": "b", "node": 2}],
        )


def test_unknown_place_raises_scenario_error_with_key_path(town):
    with pytest.raises(ScenarioError, match=r"services\.bad\.stops\[1\] \(b\)"):
        make_service(
            town,
            name="bad",
            headway_min=5,
            stops=[{"name": "a", "place": "town_centre"}, {"name": "b", "place": "nowhere"}],
        )


def test_stops_too_far_are_not_offered(town):
    service = make_service(town, headway_min=10, max_walk_m=50)
    network = town[0]
    far = int(network.place_node("industrial_complex"))
    offer = service.offers(Trip(0, 0, "g", "p", far, stop_node(service, 1), START_S), START_S)[0]
    assert not offer.available and offer.reason == "no_stop_within_walk"


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    headway_min=st.floats(3, 15),
    capacity=st.integers(1, 6),
    n_riders=st.integers(1, 60),
    shape=st.sampled_from(["loop", "line"]),
)
def test_invariants_capacity_connected_legs_one_outcome(
    town, seed, headway_min, capacity, n_riders, shape
):
    service = make_service(
        town,
        seed=seed,
        end_s=9 * 3600,
        headway_min=headway_min,
        capacity_pax=capacity,
        max_wait_min=10,
        shape=shape,
    )
    rng = np.random.default_rng(seed)
    nodes = service.stop_nodes
    trips = []
    for i in range(n_riders):
        a, b = rng.choice(len(nodes), size=2, replace=False)
        party = int(rng.integers(1, capacity + 1))
        trips.append(
            Trip(
                i,
                i,
                "g",
                "p",
                int(nodes[a]),
                int(nodes[b]),
                START_S + rng.uniform(0, 5400),
                party_size=party,
            )
        )
    outcomes = run(service, trips, until_s=12 * 3600)
    assert len(outcomes) == n_riders  # every request ends in exactly one outcome
    events = service.ctx.log.to_frame()
    boards = events[events["event"] == "board"]
    assert (boards["pax"] <= capacity).all()
    assert (events.loc[events["event"] == "alight", "pax"] >= 0).all()
    served = {t for t, o in outcomes.items() if isinstance(o, RideOutcome) and o.served}
    failed = {t for t, o in outcomes.items() if isinstance(o, RideOutcome) and not o.served}
    assert set(events.loc[events["event"] == "dropoff", "trip_id"]) == served
    assert set(events.loc[events["event"] == "give_up", "trip_id"]) == failed
    assert boards["trip_id"].is_unique
    assert_legs_connect(events, service.ctx.vehicles, "start_node")


def brute_force_offer(service, trip: Trip, now_s: float) -> tuple:
    """The documented offer rule over every (boarding, alighting) visit pair, one at a time:
    (reason or "", board, alight, wait s, ride s, access walk s, egress walk s)."""
    cfg, router = service.config, service.ctx.router
    pattern, deps = service.pattern, list(service.departures_s)
    walk_from = router.distances_m("walk", trip.origin_node, service.stop_nodes)
    walk_to = router.distances_m("walk", service.stop_nodes, trip.dest_node)
    boards = [p for p, v in enumerate(pattern) if v.boards and walk_from[v.stop] <= cfg.max_walk_m]
    alights = [p for p, v in enumerate(pattern) if p > 0 and walk_to[v.stop] <= cfg.max_walk_m]
    if not boards or not alights:
        return ("no_stop_within_walk",)
    pairs = [
        (b, a) for b in boards for a in alights if a > b and pattern[a].node != pattern[b].node
    ]
    if not pairs:
        return ("no_useful_stop_pair",)
    waits = {}
    for b in boards:
        arrival_s, offset_s = (
            now_s + walk_from[pattern[b].stop] / WALK_SPEED_MPS,
            pattern[b].offset_s,
        )
        index = next((i for i, d in enumerate(deps) if d >= arrival_s - offset_s - 1e-9), None)
        if index is not None:  # the next passage; without a timetable half the headway once running
            running = index > 0 and not cfg.timetable
            waits[b] = service.headway_s / 2 if running else deps[index] + offset_s - arrival_s
    if not waits:
        return ("outside_service_hours",)
    waits = {b: w for b, w in waits.items() if w <= cfg.max_wait_min * 60}
    if not waits:
        return ("wait_exceeds_max_wait",)
    costs = []
    for b, a in pairs:
        if b in waits:
            access_s, egress_s = (
                walk_from[pattern[b].stop] / WALK_SPEED_MPS,
                walk_to[pattern[a].stop] / WALK_SPEED_MPS,
            )
            ride_s = pattern[a].offset_s - pattern[b].offset_s
            costs.append((1.5 * (access_s + egress_s) + waits[b] + ride_s, b, a))
    if not costs:
        return ("no_useful_stop_pair",)
    _, b, a = min(costs, key=lambda c: c[0])  # the first of equals
    access_s, egress_s = (
        walk_from[pattern[b].stop] / WALK_SPEED_MPS,
        walk_to[pattern[a].stop] / WALK_SPEED_MPS,
    )
    return ("", b, a, waits[b], pattern[a].offset_s - pattern[b].offset_s, access_s, egress_s)


@pytest.mark.parametrize(
    "keys",
    [
        {"headway_min": 10, "shape": "line", "max_walk_m": 600},
        {"timetable": ["07:30", "08:00", "09:45"], "max_walk_m": 900, "max_wait_min": 40},
    ],
)
def test_offers_pick_the_least_cost_pair_of_the_documented_rule(town, keys):
    network, _ = town
    service = make_service(town, **keys)
    rng = np.random.default_rng(3)
    near = np.unique(service.stop_nodes)
    reasons = set()
    for k in range(300):
        # ends near the stops (or anywhere), departures over the morning
        origin, dest = (
            int(rng.choice(near)) if rng.random() < 0.7 else int(rng.integers(network.n_nodes))
            for _ in range(2)
        )
        now_s = START_S + float(rng.uniform(0, 4 * 3600))
        offer = service.offers(Trip(k, k, "g", "p", origin, dest, now_s), now_s)[0]
        expected = brute_force_offer(service, Trip(k, k, "g", "p", origin, dest, now_s), now_s)
        reasons.add(expected[0])
        if expected[0]:
            assert not offer.available and offer.reason == expected[0]
            continue
        _, board, alight, wait_s, ride_s, access_s, egress_s = expected
        assert offer.handle == (board, alight)
        assert (offer.wait_s, offer.in_vehicle_s) == (wait_s, ride_s)
        assert (offer.access_walk_s, offer.egress_walk_s) == (access_s, egress_s)
    assert "" in reasons and len(reasons) >= 3, reasons

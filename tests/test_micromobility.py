"""Shared bikes/e-scooters on the synthetic town with the real router and small commuter processes.

Also the shared harness of the sharing tests (imported by test_carsharing.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from pydantic import ValidationError

from mobisim.energy.accounting import check_energy_balance
from mobisim.energy.context import EnergyContext
from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.metrics.stations import station_kpis
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.services.base import RideOutcome, ServiceContext, Trip
from mobisim.services.micromobility import MicromobilityConfig, MicromobilityService
from mobisim.services.relocation import plan_moves
from mobisim.services.sharing_fleet import apportion

START_S = 7 * 3600.0


def build_town():
    """The test town: a 500-node synthetic new town and its router."""
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


@pytest.fixture(scope="module")
def town():
    return build_town()


def make(town, service_class, keys: dict, seed: int = 0, energy: bool = False, days: float = 1):
    """A started service on its own clock (period START_S .. + days), log and (optional) energy."""
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    log = EventLog()
    end_s = START_S + days * 86400.0
    ctx = ServiceContext(env, network, router, log, np.random.default_rng(seed), START_S, end_s)
    if energy:
        ctx.energy = EnergyContext(EnergyConfig(), env, log, network)
    service = service_class(service_class.Config(**keys), ctx)
    service.start()
    return service


def person(service, legs: list[Trip], outcomes: dict, mode: str | None = None):
    """A commuter's day: at each departure take the first available offer (of ``mode``), ride."""
    env = service.ctx.env
    for trip in legs:
        if trip.depart_s > env.now:
            yield env.timeout(trip.depart_s - env.now)
        offers = service.offers(trip, env.now)
        usable = [o for o in offers if o.available and (mode is None or o.mode == mode)]
        if not usable:
            outcomes[trip.trip_id] = offers[0].reason
            continue
        outcomes[trip.trip_id] = yield service.request(trip, usable[0])


def run(service, days: list[list[Trip]], until_s: float | None = None) -> pd.DataFrame:
    """Run commuters for ``days`` to the end of the period; the events frame."""
    outcomes: dict = {}
    env = service.ctx.env
    for legs in days:
        env.process(person(service, legs, outcomes))
    env.run(until=until_s or service.ctx.period_end_s)
    service.finish(env.now)
    service.outcomes = outcomes
    return service.ctx.log.to_frame()


def random_days(network, n: int, seed: int, span_s: float = 4 * 3600.0) -> list[list[Trip]]:
    """``n`` people going out and coming back (one tour each) between random nodes."""
    rng = np.random.default_rng(seed)
    days = []
    for i in range(n):
        home, work = (int(x) for x in rng.choice(network.n_nodes, size=2, replace=False))
        out_s = START_S + float(rng.uniform(0, span_s))
        back_s = out_s + float(rng.uniform(600, 4 * 3600))
        state: dict = {}
        days.append(
            [
                Trip(2 * i, i, "g", "p", home, work, out_s, tour_id=i, tour_state=state),
                Trip(2 * i + 1, i, "g", "p", work, home, back_s, 1, True, None, i, 1, state),
            ]
        )
    return days


def poisson_station(service, a: int, b: int, pickups_per_h: float, returns_per_h: float, hours):
    """Pick-ups at node ``a`` riding to ``b`` and returns from ``b`` riding to ``a``, both Poisson."""
    env, rng = service.ctx.env, np.random.default_rng(7)
    outcomes: dict = {}
    ids = iter(range(10**9))

    def stream(origin, dest, rate_per_h):
        while env.now < START_S + hours * 3600:
            yield env.timeout(rng.exponential(3600.0 / rate_per_h))
            trip = Trip(next(ids), 0, "g", "p", origin, dest, env.now)
            env.process(person(service, [trip], outcomes))

    env.process(stream(a, b, pickups_per_h))
    env.process(stream(b, a, returns_per_h))
    env.run(until=START_S + hours * 3600)
    return service.ctx.log.to_frame()


def birth_death(pickups_per_h: float, returns_per_h: float, spaces: int) -> np.ndarray:
    """Stationary distribution of a station's stock: +1 at the return rate below ``spaces``,
    -1 at the pick-up rate above 0 (arrivals finding it full/empty go elsewhere)."""
    weights = (returns_per_h / pickups_per_h) ** np.arange(spaces + 1)
    return weights / weights.sum()


def two_stations(town):
    """Node of a test station and a next-door node for the big station that feeds and drains it."""
    network, _ = town
    a = network.place_node("town_centre")
    neighbours = [v for v in network.view("bike").v[network.view("bike").u == a]]
    return a, int(neighbours[0])


# ------------------------------------------------------------------------------ the tests
def test_one_station_matches_the_birth_death_chain(town):
    a, b = two_stations(town)
    spaces, lam, mu = 4, 12.0, 10.0
    service = make(
        town,
        MicromobilityService,
        {
            "name": "bikes",
            "parking": "docked",
            "devices": [{"type": "bike", "count": 502}],
            "stations": [
                {"name": "A", "node": a, "spaces": spaces, "vehicles": 2},
                {"name": "B", "node": b, "spaces": 2000, "vehicles": 500},
            ],
            "max_walk_m": 1.0,  # only the bikes at the commuter's own node
        },
        days=30,
    )
    hours = 500
    events = poisson_station(service, a, b, lam, mu, hours)
    kpis = station_kpis(events, (START_S, START_S + hours * 3600))["bikes/A"]
    expected = birth_death(lam, mu, spaces)
    assert kpis["empty_share"] == pytest.approx(expected[0], abs=0.02)
    assert kpis["full_share"] == pytest.approx(expected[-1], abs=0.02)
    stock = events[(events["event"] == "station_stock") & (events["detail"] == "A")]
    assert stock["value"].between(0, spaces).all() and stock["pax"].between(0, spaces).all()
    assert (stock["value"] + stock["pax"] == spaces).all()


def test_no_device_within_walk_gives_an_unavailable_offer(town):
    network, router = town
    service = make(
        town,
        MicromobilityService,
        {
            "name": "scooters",
            "devices": [{"type": "escooter", "count": 3}],
            "zones": {"supermarket": 1},
        },
    )
    near = service.fleet.vehicles[0].node
    far = int(np.nanargmax(router.distances_m("walk", near, np.arange(network.n_nodes))))
    (offer,) = service.offers(Trip(1, 1, "g", "p", far, near, START_S), START_S)
    assert not offer.available and offer.reason == "no_vehicle_within_walk"
    assert offer.mode == "escooter"
    (offer,) = service.offers(Trip(2, 2, "g", "p", near, far, START_S), START_S)
    assert not offer.available and offer.reason == "destination_outside_service_area"
    inside = network.place_node("supermarket")
    (offer,) = service.offers(Trip(3, 3, "g", "p", near, inside, START_S), START_S)
    assert offer.available and offer.access_walk_m <= 200.0  # dockless default (A)


def test_invariants_one_rider_occupancy_battery_and_energy_balance(town):
    network, _ = town
    for seed in (1, 2, 3):
        service = make(
            town,
            MicromobilityService,
            {
                "name": "mm",
                "devices": [{"type": "escooter", "count": 120}, {"type": "ebike", "count": 40}],
                "max_walk_m": 600,
                "initial_soc_min_share": 0.1,
                "initial_soc_max_share": 0.6,
                "crews": {"policy": "schedule", "interval_min": 45, "crews": 2},
            },
            seed=seed,
            energy=True,
            days=0.5,
        )
        events = run(service, random_days(network, 250, seed))
        assert_one_rider_at_a_time(events)
        assert_legs_connect(events, service)
        for device in service.fleet.vehicles:
            assert device.battery is None or device.battery.soc_kwh >= 0
        vehicles = service.ctx.energy.annotate(pd.DataFrame(service.ctx.vehicles))
        check_energy_balance(events, vehicles, service.ctx.energy.config)  # raises if unbalanced
        served = [o for o in service.outcomes.values() if isinstance(o, RideOutcome) and o.served]
        assert served, "some rides happen"
        swaps = events[events["event"] == "battery_swap"]
        assert len(swaps) > 0 and (events["state"] == "crew").any()
        swapped = {int(v) for v in swaps["value"]}
        assert all(service.fleet.vehicles[i].battery.soc_kwh > 0 for i in swapped)


def assert_one_rider_at_a_time(events: pd.DataFrame) -> None:
    """Per vehicle, pick-ups and drop-offs alternate: nobody takes a vehicle someone rides."""
    rows = events[events["event"].isin(["pickup", "dropoff"])]
    for vehicle_id, part in rows.groupby("vehicle_id"):
        kinds = list(part.sort_values("time_s", kind="stable")["event"])
        assert kinds[::2] == ["pickup"] * len(kinds[::2]), f"vehicle {vehicle_id}: {kinds}"
        assert kinds[1::2] == ["dropoff"] * len(kinds[1::2]), f"vehicle {vehicle_id}: {kinds}"


def assert_legs_connect(events: pd.DataFrame, service) -> None:
    """Every vehicle's legs and dwells chain in place and never overlap in time."""
    moves = events[events["event"].isin(["vehicle_leg", "vehicle_dwell"])]
    for vehicle_id, rows in moves.groupby("vehicle_id"):
        rows = rows.sort_values("time_s", kind="stable")
        here, free_s = int(rows["node"].iloc[0]), -math.inf
        for row in rows.itertuples():
            assert row.node == here, f"vehicle {vehicle_id} jumps at {row.time_s}"
            assert row.time_s >= free_s - 1e-6, f"vehicle {vehicle_id} overlaps at {row.time_s}"
            if row.event == "vehicle_leg":
                here = row.to_node
            free_s = row.time_s + row.duration_s


def test_full_dock_sends_the_rider_on_with_a_longer_walk(town):
    a, b = two_stations(town)
    network, router = town
    c = network.place_node("supermarket")
    service = make(
        town,
        MicromobilityService,
        {
            "name": "bikes",
            "parking": "docked",
            "devices": [{"type": "bike", "count": 3}],
            "stations": [
                {"name": "A", "node": a, "spaces": 1, "vehicles": 0},
                {"name": "B", "node": b, "spaces": 3, "vehicles": 2},
                {"name": "C", "node": c, "spaces": 2, "vehicles": 1},
            ],
        },
    )
    rider = Trip(1, 1, "g", "p", c, a, START_S)
    (offer,) = service.offers(rider, START_S)
    assert offer.egress_node == a and offer.egress_walk_m == 0.0
    ride = service.request(rider, offer)
    blocker = Trip(2, 2, "g", "p", b, a, START_S)  # next door: docks at A first
    service.request(blocker, service.offers(blocker, START_S)[0])
    service.ctx.env.run(until=START_S + 3600)
    outcome = ride.value
    assert outcome.served and outcome.egress_node == b
    assert outcome.egress_walk_m == pytest.approx(router.distance_m("walk", b, a))
    assert outcome.distance_m > offer.distance_m


def test_speed_and_fares_per_device_type(town):
    network, _ = town
    service = make(
        town,
        MicromobilityService,
        {
            "name": "mix",
            "devices": [
                {"type": "bike", "count": 30},
                {"type": "escooter", "count": 30, "speed_kmh": 20, "fare_per_min_krw": 100},
            ],
            "max_walk_m": 5000,
        },
    )
    trip = Trip(
        1,
        1,
        "g",
        "p",
        network.place_node("town_centre"),
        network.place_node("high_school"),
        START_S,
    )
    offers = {o.mode: o for o in service.offers(trip, START_S)}
    bike, scooter = offers["bike"], offers["escooter"]
    assert bike.in_vehicle_s == pytest.approx(bike.distance_m / (15 / 3.6))  # [T2][T3]
    assert scooter.in_vehicle_s == pytest.approx(scooter.distance_m / (20 / 3.6))
    assert bike.fare_krw == 1000.0
    assert scooter.fare_krw == pytest.approx(1000.0 + 100.0 * scooter.in_vehicle_s / 60)


def test_low_battery_device_is_not_offered(town):
    network, _ = town
    service = make(
        town,
        MicromobilityService,
        {
            "name": "s",
            "devices": [{"type": "escooter", "count": 1}],
            "zones": {"supermarket": 1, "high_school": 0},
        },
    )
    device = service.fleet.vehicles[0]
    trip = Trip(1, 1, "g", "p", device.node, network.place_node("high_school"), START_S)
    assert service.offers(trip, START_S)[0].available
    device.battery.draw(device.battery.soc_kwh - 0.1 * device.battery.capacity_kwh)
    offer = service.offers(trip, START_S)[0]
    assert not offer.available and offer.reason == "no_vehicle_within_walk"


def test_configuration_errors_name_the_key(town):
    with pytest.raises(ValidationError, match="stations"):
        MicromobilityConfig(name="m", parking="docked", devices=[{"type": "bike", "count": 2}])
    with pytest.raises(ValidationError, match="listed twice"):
        MicromobilityConfig(name="m", devices=[{"type": "bike", "count": 1}] * 2)
    with pytest.raises(ValidationError, match="fit"):
        MicromobilityConfig(
            name="m",
            parking="docked",
            devices=[{"type": "bike", "count": 5}],
            stations=[{"name": "s", "node": 0, "spaces": 4}],
        )
    with pytest.raises(ScenarioError, match=r"services\.m\.zones\.nowhere"):
        make(
            town,
            MicromobilityService,
            {"name": "m", "devices": [{"type": "bike", "count": 1}], "zones": {"nowhere": 1}},
        )


def test_plan_moves_and_apportion():
    drive = np.array([[0, 10, 99], [10, 0, 20], [99, 20, 0]], dtype=float)
    moves = plan_moves(np.array([6, 0, 3]), np.array([3, 3, 3]), np.array([-1, 5, 1]), drive, 10)
    assert moves == [(0, 1), (0, 1), (0, 1)]
    assert plan_moves(np.array([1, 0]), np.array([1, 1]), np.array([0, 2]), drive[:2, :2], 5) == []
    assert list(apportion(10, [0.5, 0.3, 0.2])) == [5, 3, 2]
    assert apportion(7, [1, 1, 1]).sum() == 7

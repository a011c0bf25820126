"""Scheduled transit (``type: transit``): waits, denied boardings, ridership, rail run times, errors.

Each test drives the real service on the synthetic town with the real router and small
commuter-like processes (offers -> request -> walk -> wait for the outcome).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

import mobisim
from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.metrics.transit import denied_boardings, line_kpis, load_profile, ridership_by_stop
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.loader import resolve_extends, validate
from mobisim.services.base import RideOutcome, ServiceContext, Trip
from mobisim.services.transit import TransitConfig, TransitService

START_S, END_S = 7 * 3600.0, 11 * 3600.0
STOPS = ["town_centre", "supermarket", "bus_terminal", "residential_s"]


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def make_line(town, **keys) -> TransitService:
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    keys.setdefault("stops", [{"name": p, "place": p} for p in STOPS])
    keys.setdefault("name", "line1")
    service = TransitService(TransitConfig(**keys), ctx)
    service.start()
    return service


def rider(service, trip: Trip, outcomes: dict):
    env = service.ctx.env
    if trip.depart_s > env.now:
        yield env.timeout(trip.depart_s - env.now)
    offer = service.offers(trip, env.now)[0]
    if not offer.available:
        outcomes[trip.trip_id] = offer.reason
        return
    ride = service.request(trip, offer)
    outcomes[trip.trip_id] = yield ride


def run(service, trips) -> dict:
    outcomes: dict = {}
    for trip in trips:
        service.ctx.env.process(rider(service, trip, outcomes))
    service.ctx.env.run(until=END_S + 3600)
    service.finish(service.ctx.env.now)
    return outcomes


def trips_between(origin: int, dest: int, departs_s) -> list[Trip]:
    return [Trip(i, i, "g", "p", origin, dest, float(t)) for i, t in enumerate(departs_s)]


def test_random_arrivals_at_a_stop_wait_half_the_headway(town):
    """Arrivals uniform over whole headways wait U(0, H): mean H/2, sd H/sqrt(12)."""
    headway_min = 10.0
    service = make_line(
        town,
        headways=[
            {"start": "07:00", "end": "08:00", "headway_min": headway_min},
            {"start": "08:00", "end": "11:00", "headway_min": headway_min},
        ],
        capacity_pax=1000,
        dwell_per_pax_s=0,
        max_wait_min=30,
    )
    origin, dest = int(service.stop_nodes[1]), int(service.stop_nodes[2])
    rng = np.random.default_rng(11)
    n = 600
    # 7:30 to 10:00 spans 15 whole headways, all inside the service
    departs = rng.uniform(7.5 * 3600, 10 * 3600, n)
    outcomes = run(service, trips_between(origin, dest, departs))
    waits = np.array([outcomes[i].wait_s for i in range(n)])
    assert all(isinstance(outcomes[i], RideOutcome) and outcomes[i].served for i in range(n))
    h_s = headway_min * 60
    # standard error of the mean of U(0, H): H / sqrt(12 n) = 7.1 s; 4 standard errors
    tolerance_s = 4 * h_s / math.sqrt(12 * n)
    assert abs(waits.mean() - h_s / 2) < tolerance_s
    assert waits.min() >= 0 and waits.max() <= h_s + 1e-6


def test_headway_periods_set_the_departures(town):
    service = make_line(
        town,
        headways=[
            {"start": "07:00", "end": "08:00", "headway_min": 15},
            {"start": "09:00", "end": "10:00", "headway_min": 30},
        ],
    )
    expected_h = [7.0, 7.25, 7.5, 7.75, 9.0, 9.5]
    assert np.allclose(service.departures_s / 3600, expected_h)


def test_full_vehicles_deny_boardings_and_riders_take_the_next(town):
    service = make_line(
        town, timetable=["07:30", "07:40", "07:50"], capacity_pax=2, max_wait_min=30
    )
    origin, dest = int(service.stop_nodes[0]), int(service.stop_nodes[2])
    outcomes = run(service, trips_between(origin, dest, [7 * 3600 + 1500] * 5))
    events = service.ctx.log.to_frame()
    waits = sorted(o.wait_s for o in outcomes.values())
    assert all(o.served for o in outcomes.values())
    # 2 board at 07:30, 2 at 07:40, 1 at 07:50 (doors at the first stop open at departure)
    assert np.allclose(waits, [300, 300, 900, 900, 1500])
    denied = events[events["event"] == "denied_boarding"]
    assert len(denied) == 3 + 1  # 3 left by the first vehicle, 1 by the second
    assert denied_boardings(events, "line1")["riders_denied"] == 3
    kpis = line_kpis(events, "line1")
    assert kpis["denied_boardings"] == 4
    assert kpis["denied_boarding_share"] == pytest.approx(4 / (5 + 4))
    assert kpis["load_peak_pax"] == 2


def test_riders_left_by_full_vehicles_give_up_at_the_maximum_wait(town):
    service = make_line(town, timetable=["07:30", "08:30"], capacity_pax=1, max_wait_min=20)
    origin, dest = int(service.stop_nodes[0]), int(service.stop_nodes[1])
    outcomes = run(service, trips_between(origin, dest, [7 * 3600 + 1500] * 3))
    reasons = sorted(o.reason for o in outcomes.values() if not o.served)
    assert reasons == ["gave_up_max_wait", "gave_up_max_wait"]


def test_ridership_by_stop_equals_the_board_and_alight_events(town):
    service = make_line(
        town, headways=[{"start": "07:00", "end": "10:00", "headway_min": 12}], capacity_pax=3
    )
    rng = np.random.default_rng(5)
    nodes = [int(n) for n in service.stop_nodes]
    trips = []
    for i in range(120):
        a, b = rng.choice(len(nodes), size=2, replace=False)
        trips.append(Trip(i, i, "g", "p", nodes[a], nodes[b], float(rng.uniform(7, 9.5) * 3600)))
    outcomes = run(service, trips)
    events = service.ctx.log.to_frame()
    table = ridership_by_stop(events, "line1")
    boards = events[events["event"] == "board"]
    alights = events[events["event"] == "alight"]
    assert table["boardings"].sum() == len(boards) > 0
    assert table["alightings"].sum() == len(alights)
    for row in table.itertuples():
        assert row.boardings == int((boards["node"] == row.node).sum())
        assert row.alightings == int((alights["node"] == row.node).sum())
    kpis = line_kpis(events, "line1")
    assert kpis["boardings"] == len(boards)
    assert sum(kpis["boardings_by_stop"].values()) == len(boards)
    # the load profile carries what boarded: passenger-km equals the served riders' distances
    profile = load_profile(events, "line1")
    assert profile["load_max_pax"].max() <= 3
    served = [o for o in outcomes.values() if isinstance(o, RideOutcome) and o.served]
    ridden_km = sum(o.distance_m for o in served) / 1000
    assert profile["passenger_km"].sum() == pytest.approx(ridden_km)
    dropoffs = events[events["event"] == "dropoff"]
    assert len(dropoffs) == len(alights)


def test_a_rail_line_rides_on_the_timetable_not_the_roads(town):
    _, router = town
    service = make_line(
        town,
        name="rail1",
        mode="rail",
        shape="line",
        stops=[
            {"name": "Centre", "place": "town_centre"},
            {"name": "KTX", "place": "rail_station"},
        ],
        timetable=["07:30", "08:30"],
        run_times_min=[7.0],
        distances_km=[12.0],
    )
    a, b = int(service.stop_nodes[0]), int(service.stop_nodes[1])
    road_s = router.try_leg("car", a, b)[0]
    outcomes = run(service, trips_between(a, b, [7 * 3600 + 1200]))
    outcome = outcomes[0]
    assert outcome.served
    # doors open at the next station after the dwell at the first (60 s + 2 s for the one
    # boarding) and the 7 min run of the timetable
    assert outcome.in_vehicle_s == pytest.approx(60 + 2 + 7 * 60)
    assert abs(outcome.in_vehicle_s - road_s) > 1.0  # not the road time
    assert outcome.distance_m == pytest.approx(12_000)
    legs = service.ctx.log.to_frame().query("event == 'vehicle_leg' and pax > 0")
    assert legs["duration_s"].tolist() == [420.0]
    assert legs["distance_m"].tolist() == [12_000.0]
    assert service.config.vehicle_type == "e_train" and service.config.capacity_pax == 300


def test_bus_legs_use_the_router_drive_times(town):
    _, router = town
    service = make_line(town, timetable=["07:30"], speed_cap_kmh=50)
    a, b = int(service.stop_nodes[0]), int(service.stop_nodes[1])
    assert service.leg_s[0] == pytest.approx(router.try_leg("line1", a, b)[0])
    assert service.config.vehicle_type == "diesel_bus_12m"


def _scenario(service: dict) -> dict:
    stops = [{"name": "a", "place": "town_centre"}, {"name": "b", "place": "bus_terminal"}]
    return {"name": "t", "services": [{"name": "l1", "type": "transit", "stops": stops, **service}]}


def test_bad_input_errors_name_the_key():
    with pytest.raises(ScenarioError) as info:
        validate(_scenario({"timetable": ["07:00", "08:00", "07:30"]}))
    problems = dict(info.value.problems)
    assert "goes backwards at entry 2" in problems["services.l1.timetable"]
    with pytest.raises(ScenarioError) as info:
        validate(_scenario({"headways": [{"start": "07:00", "end": "09:00", "headway_min": 0}]}))
    problems = dict(info.value.problems)
    assert "greater than 0" in problems["services.l1.headways.[0].headway_min"]
    with pytest.raises(ScenarioError) as info:
        validate(_scenario({"mode": "rail", "timetable": ["07:00"]}))
    assert "rail: expected run_times_min" in dict(info.value.problems)["services.l1.run_times_min"]
    rail = {"mode": "rail", "timetable": ["07:00"]}
    with pytest.raises(ScenarioError, match="rail: expected shape: line"):
        validate(_scenario({**rail, "shape": "loop", "run_times_min": [5]}))
    with pytest.raises(ScenarioError) as info:
        validate(_scenario({**rail, "run_times_min": [5, 6]}))
    assert "expected 1 entries" in dict(info.value.problems)["services.l1.run_times_min"]
    with pytest.raises(ScenarioError, match="headway_min is a fixed_route key"):
        validate(_scenario({"headway_min": 10}))
    with pytest.raises(ValidationError, match="exactly one of timetable or headways"):
        TransitConfig(name="x", stops=[{"name": "a", "node": 1}, {"name": "b", "node": 2}])


def test_unknown_stop_names_the_key(town):
    with pytest.raises(ScenarioError, match=r"services\.bad\.stops\[1\] \(b\)"):
        make_line(
            town,
            name="bad",
            timetable=["07:00"],
            stops=[{"name": "a", "place": "town_centre"}, {"name": "b", "place": "nowhere"}],
        )


DEMO_WALK_CAR = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"


@pytest.fixture(scope="module")
def demo_with_lines(tmp_path_factory):
    """The walk-and-car demo with a bus line and a rail line to the station, small."""
    data = resolve_extends(DEMO_WALK_CAR)
    data["demand"]["synthetic"].update({"residents": 800, "households": 320})
    places = ["residential_n", "town_centre", "supermarket", "bus_terminal"]
    data["services"] += [
        {
            "name": "bus1",
            "type": "transit",
            "shape": "line",
            "stops": [{"name": p, "place": p} for p in places],
            "headways": [
                {"start": "06:00", "end": "09:00", "headway_min": 10},
                {"start": "09:00", "end": "22:00", "headway_min": 20},
            ],
        },
        {
            "name": "rail1",
            "type": "transit",
            "mode": "rail",
            "shape": "line",
            "stops": [
                {"name": "Centre", "place": "town_centre"},
                {"name": "KTX", "place": "rail_station"},
            ],
            "timetable": ["07:00", "08:00", "12:00", "17:00", "18:00"],
            "run_times_min": [6],
        },
    ]
    scenario = validate(data, file=DEMO_WALK_CAR)
    return mobisim.run(scenario, out_dir=tmp_path_factory.mktemp("transit"))


def test_line_kpis_appear_in_the_run_and_match_the_events(demo_with_lines):
    events = demo_with_lines.events
    for line in ("bus1", "rail1"):
        kpis = demo_with_lines.kpis["by_service"][line]
        boards = events[(events["event"] == "board") & (events["service"] == line)]
        assert kpis["boardings"] == len(boards)
        assert kpis["boardings_by_stop"] == {
            str(n): int(c) for n, c in boards["node"].value_counts().sort_index().items()
        }
        assert kpis["served"] == kpis["alightings"]
        assert kpis["load_profile_pax"]  # the legs between stops
    assert demo_with_lines.kpis["by_service"]["bus1"]["boardings"] > 0
    rail = demo_with_lines.kpis["by_service"]["rail1"]
    # 5 departures, there and back, over the straight line to the station; 15 kWh per train-km
    # plus the dwells' base load at most a few percent
    legs = events[(events["event"] == "vehicle_leg") & (events["service"] == "rail1")]
    assert len(legs) == 10 and legs["duration_s"].eq(360.0).all()
    assert rail["energy_kwh_per_vkm"] == pytest.approx(15.0, rel=0.1)
    # the bus is the default diesel_bus_12m: 40 L/100 km [B1][B2] x 9.91 kWh/L [F1] (DEFAULTS §4)
    bus = demo_with_lines.kpis["by_service"]["bus1"]
    assert bus["energy_kwh_per_vkm"] == pytest.approx(0.40 * 9.91, rel=0.02)

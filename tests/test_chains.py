"""Intermodal chains on the synthetic town: an e-scooter to a shuttle stop, the shuttle, a walk.

Real services (micromobility, fixed_route) and the real router through ``simulate``; the run's
invariants (every vehicle and device conserved, legs connected) are checked on its tables.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mobisim.engine.simulation import simulate
from mobisim.errors import ScenarioError
from mobisim.metrics.invariants import check_tables
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.scenario.loader import load_scenario
from mobisim.scenario.models import Scenario
from trip_rows import trips_frame

H = 3600.0
ORIGIN_PLACE, STOP_A, STOP_B = "residential_nw", "town_centre", "rail_station"


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def node_of(network, place: str) -> int:
    places = network.places.set_index("name")
    return int(places.loc[place, "node"])


def scenario(
    scooters: int = 20,
    per_min_krw: float = 500.0,
    zones=None,
    max_walk_m=200.0,
    extra_services=(),
    **chains,
) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "chains",
            "period": {"start": "07:00", "end": "10:00"},
            "services": [
                *extra_services,
                {
                    "name": "scooters",
                    "type": "micromobility",
                    "parking": "dockless",
                    "max_walk_m": max_walk_m,
                    "zones": zones or {ORIGIN_PLACE: 0.8, STOP_A: 0.1, STOP_B: 0.1},
                    "devices": [
                        {"type": "escooter", "count": scooters, "fare_per_min_krw": per_min_krw}
                    ],
                },
                {
                    "name": "shuttle",
                    "type": "fixed_route",
                    "stops": [{"name": p, "place": p} for p in (STOP_A, STOP_B)],
                    "headway_min": 10,
                },
            ],
            "mode_choice": {"policy": "cheapest"},
            "chains": {"enabled": True, **chains},
        }
    )


def run(town, scn: Scenario, rows):
    network, router = town
    out = simulate(scn, network, router, trips_frame(*rows, car_available=False), RandomStreams(3))
    tables = {"events": out.events, "trips": out.trips, "vehicles": out.vehicles, "manifest": {}}
    checks = check_tables(tables)
    failed = [c.line() for c in checks if not c.passed]
    assert not failed, failed
    assert any(c.name == "fleet_conserved" and c.checked > 0 for c in checks)
    return out


def test_scooter_shuttle_walk_chain_is_offered_chosen_when_better_and_conserves_the_fleet(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    out = run(town, scenario(transfer_penalty_min=0.0), [(origin, dest, 7.5 * H)])
    trip = out.trips.iloc[0]
    assert trip["mode"] == "chain" and trip["status"] == "completed"
    assert (trip["legs"], trip["access_mode"], trip["main_mode"]) == (2, "escooter", "shuttle")
    assert trip["service"] == "shuttle"
    events = out.events[out.events["trip_id"] == 0]
    legs = events[events["event"] == "vehicle_leg"]
    assert set(events.loc[events["event"] == "board", "service"]) == {"shuttle"}
    # the scooter is parked at the transfer stop (dockless: at the stop's node)
    scooter = legs[legs["service"] == "scooters"]
    assert int(scooter["to_node"].iloc[-1]) == node_of(network, STOP_A)
    # the transfer penalty weighs in mode choice as in-vehicle time at the chain's value of time
    chain = out.trips.iloc[0]
    assert chain["n_offers_available"] >= 1


def test_the_transfer_penalty_is_weighted_in_vehicle_time_in_the_generalised_cost():
    from mobisim.engine.modechoice import GeneralisedCost
    from mobisim.scenario.mode_choice_config import ModeChoiceConfig
    from mobisim.services.base import Offer

    cost = GeneralisedCost(ModeChoiceConfig())
    plain = Offer("a+b", "chain", True, in_vehicle_s=600.0, wait_s=120.0, fare_krw=2000.0)
    penalised = Offer(**{**{f: getattr(plain, f) for f in plain.__slots__}, "penalty_ivt_s": 900.0})
    # the default value of time (bus and rail, 5,000 KRW/h [T8]) x 15 min
    assert cost.cost_krw(penalised) - cost.cost_krw(plain) == pytest.approx(5000.0 / 3600 * 900)


def test_a_chain_whose_device_is_taken_meanwhile_falls_back(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    rows = [(origin, dest, 7.5 * H), (origin, dest, 7.5 * H)]  # one scooter, two riders
    zones = {ORIGIN_PLACE: 0.9, STOP_A: 0.1}  # the one scooter at the origin; no direct ride
    out = run(
        town, scenario(scooters=1, zones=zones, max_walk_m=1000.0, transfer_penalty_min=0.0), rows
    )
    trips = out.trips.set_index("trip_id")
    assert trips.loc[0, "mode"] == "chain" and trips.loc[0, "status"] == "completed"
    # the second found the scooter gone: the service said so, the commuter fell back as today
    # (here the scenario's forced walk, 15 km: walked, but unserved beyond acceptable_walk_m)
    assert trips.loc[1, "mode"] == "walk_fallback" and trips.loc[1, "fallback_reason"] != ""
    assert trips.loc[1, "status"] in {"fallback", "unserved"}
    events = out.events
    gave_up = events[(events["event"] == "fallback") & (events["trip_id"] == 1)]
    assert list(gave_up["service"]) == ["scooters"]


def test_chains_off_by_default_leave_the_trips_table_unchanged(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario().model_copy(update={"chains": Scenario(name="x").chains})
    out = run(town, scn, [(origin, dest, 7.5 * H)])
    assert out.trips.iloc[0]["mode"] != "chain"
    assert not {"legs", "access_mode", "main_mode"} & set(out.trips.columns)


def test_bad_chain_keys_are_scenario_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nchains: {enabled: true, access_modes: [car]}\n")
    with pytest.raises(ScenarioError, match=r"chains.*access_modes"):
        load_scenario(path)
    path.write_text("name: s\nchains: {transfer_penalty_min: -1}\n")
    with pytest.raises(ScenarioError, match="transfer_penalty_min"):
        load_scenario(path)


#: a door-to-door DRT serving only the centre and the station zones (not the origin's block)
ZONE_DRT = {
    "name": "drt",
    "type": "drt",
    "vehicles": 2,
    "capacity_pax": 4,
    "service_zones": [STOP_A, STOP_B],
    "fare_base_krw": 1000,
}


def test_a_scooter_drt_walk_chain_is_chosen_when_better_and_the_drt_judges_its_own_leg(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario(
        transfer_penalty_min=0.0,
        main_modes=["drt"],
        extra_services=[ZONE_DRT],
    )
    out = run(town, scn, [(origin, dest, 7.5 * H)])
    trip = out.trips.iloc[0]
    # the DRT refuses the door (outside its zones); a scooter into its zone, then the DRT
    assert trip["mode"] == "chain" and trip["status"] == "completed"
    assert (trip["legs"], trip["access_mode"], trip["main_mode"]) == (2, "escooter", "drt")
    events = out.events[out.events["trip_id"] == 0]
    assert list(events.loc[events["event"] == "pickup", "service"]) == ["scooters", "drt"]
    rides = events[(events["event"] == "vehicle_leg") & (events["service"] == "scooters")]
    area = set(network.zone_nodes(STOP_A).tolist()) | set(network.zone_nodes(STOP_B).tolist())
    assert int(rides["to_node"].iloc[-1]) in area  # parked where the DRT takes over
    # without the chain the DRT cannot serve this trip at all
    off = run(
        town,
        scn.model_copy(update={"chains": Scenario(name="x").chains}),
        [(origin, dest, 7.5 * H)],
    )
    assert off.trips.iloc[0]["service"] != "drt"


def test_a_drt_chain_whose_scooter_is_taken_meanwhile_falls_back(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    zones = {ORIGIN_PLACE: 0.9, STOP_A: 0.1}
    scn = scenario(
        scooters=1,
        zones=zones,
        max_walk_m=1000.0,
        transfer_penalty_min=0.0,
        main_modes=["drt"],
        extra_services=[ZONE_DRT],
    )
    out = run(town, scn, [(origin, dest, 7.5 * H), (origin, dest, 7.5 * H)])
    trips = out.trips.set_index("trip_id")
    assert trips.loc[0, "mode"] == "chain" and trips.loc[0, "main_mode"] == "drt"
    assert trips.loc[1, "mode"] != "chain" and trips.loc[1, "fallback_reason"] != ""


def test_the_fast_chain_composer_gives_the_reference_offers_on_random_trips(town):
    import numpy as np
    import simpy

    from mobisim.engine.chains import ChainComposer, chain_offers
    from mobisim.engine.simulation import build_services
    from mobisim.events import EventLog
    from mobisim.services.base import Trip

    network, router = town
    scn = scenario(
        scooters=60,
        zones={ORIGIN_PLACE: 0.4, STOP_A: 0.3, STOP_B: 0.3},
        max_walk_m=600.0,
        main_modes=["shuttle", "bus", "drt"],
        access_modes=["escooter", "carsharing"],
        line_transfers=True,
        extra_services=[ZONE_DRT, FEEDER, carshare()],
    )
    env = simpy.Environment(initial_time=7 * H)
    services = build_services(scn, network, router, RandomStreams(5), env, EventLog(False))
    for service in services:
        service.start()
    composer = ChainComposer(scn.chains, services)
    rng = np.random.default_rng(11)
    compared = chained = 0
    near_scooters = network.zone_nodes(ORIGIN_PLACE)
    for i in range(150):
        origin = int(rng.choice(near_scooters)) if i % 2 else int(rng.integers(network.n_nodes))
        served = np.union1d(network.zone_nodes(STOP_A), network.zone_nodes(STOP_B))
        dest = int(rng.choice(served)) if i % 3 else int(rng.integers(network.n_nodes))
        trip = Trip(i, i, "workers", "work", origin, dest, 7.5 * H, car_available=False)
        now_s = 7 * H + float(rng.uniform(0, 2 * H))

        def seen(offers):
            return [
                (
                    o.service,
                    o.mode,
                    o.door_to_door_s,
                    o.fare_krw,
                    o.access_node,
                    o.egress_node,
                    o.handle.stop_node,
                    o.handle.access_offer.access_node,
                )
                for o in offers
            ]

        reference = seen(chain_offers(scn.chains, services, trip, now_s))
        assert seen(composer.offers(trip, now_s)) == reference, (origin, dest, now_s)
        compared += 1
        chained += bool(reference)
    assert compared == 150 and chained >= 20  # enough trips that have chains at all


#: a feeder line from the origin's block to the centre, where the shuttle to the station stops
FEEDER = {
    "name": "feeder",
    "type": "fixed_route",
    "mode_label": "bus",
    "stops": [{"name": p, "place": p} for p in (ORIGIN_PLACE, STOP_A)],
    "headway_min": 10,
    "fare_krw": 1000,
}


def test_a_transfer_between_lines_is_offered_chosen_when_better_and_counts_one_penalty(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    far_scooters = {STOP_B: 1.0}  # no device near the origin: no device chain
    scn = scenario(
        zones=far_scooters, line_transfers=True, transfer_penalty_min=0.0, extra_services=[FEEDER]
    )
    out = run(town, scn, [(origin, dest, 7.5 * H)])
    trip = out.trips.iloc[0]
    assert trip["mode"] == "chain" and trip["status"] == "completed"
    assert (trip["legs"], trip["access_mode"], trip["main_mode"]) == (2, "bus", "shuttle")
    events = out.events[out.events["trip_id"] == 0]
    boards = events[events["event"] == "board"]
    assert list(boards["service"]) == ["feeder", "shuttle"]
    assert int(boards["node"].iloc[1]) == node_of(network, STOP_A)  # changed at the centre
    assert trip["fare_krw"] == pytest.approx(1000.0)  # the feeder's fare, the shuttle free
    # off by default: without line_transfers no chain (no device reaches a stop either)
    off = run(
        town, scenario(zones=far_scooters, extra_services=[FEEDER]), [(origin, dest, 7.5 * H)]
    )
    assert off.trips.iloc[0]["mode"] != "chain"


def test_a_transfer_chain_penalty_is_one_transfer_penalty(town):
    import simpy

    from mobisim.engine.chains import ChainComposer
    from mobisim.engine.simulation import build_services
    from mobisim.events import EventLog
    from mobisim.services.base import Trip

    network, router = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario(
        zones={STOP_B: 1.0}, line_transfers=True, transfer_penalty_min=12.0, extra_services=[FEEDER]
    )
    env = simpy.Environment(initial_time=7 * H)
    services = build_services(scn, network, router, RandomStreams(5), env, EventLog(False))
    for service in services:
        service.start()
    trip = Trip(0, 0, "workers", "work", origin, dest, 7.5 * H, car_available=False)
    (chain,) = ChainComposer(scn.chains, services).offers(trip, 7.5 * H)
    assert chain.service == "feeder+shuttle" and chain.penalty_ivt_s == 12.0 * 60
    plan = chain.handle
    assert chain.door_to_door_s == pytest.approx(
        plan.access_offer.door_to_door_s + plan.main_offer.door_to_door_s
    )


def test_a_transfer_chain_whose_second_line_has_stopped_running_falls_back_at_the_stop(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario(zones={STOP_B: 1.0}, line_transfers=True, transfer_penalty_min=0.0)
    services = [dict(s) for s in scn.model_dump(mode="json")["services"]]
    for block in services:
        if block["name"] == "shuttle":  # its last run leaves before the feeder reaches the centre
            block["service_end"] = "07:31"
    data = {**scn.model_dump(mode="json"), "services": [FEEDER, *services]}
    out = run(town, Scenario.model_validate(data), [(origin, dest, 7.5 * H)])
    trip = out.trips.iloc[0]
    assert trip["mode"] != "chain" and trip["fallback_reason"] == "chain_main_refused"
    events = out.events[out.events["trip_id"] == 0]
    assert list(events.loc[events["event"] == "board", "service"]) == ["feeder"]
    gave_up = events[events["event"] == "fallback"]
    assert list(gave_up["service"]) == ["shuttle"]


def carshare(cars: int = 2, reservation_min: float = 15.0) -> dict:
    """One-way car-sharing: cars at the origin's block, spaces at the centre (a shuttle stop)."""
    return {
        "name": "carshare",
        "type": "carsharing",
        "scheme": "one_way",
        "reservation_min": reservation_min,
        "stations": [
            {"name": "Home", "place": ORIGIN_PLACE, "vehicles": cars, "spaces": 4},
            {"name": "Centre", "place": STOP_A, "vehicles": 0, "spaces": 4},
        ],
    }


def test_a_carshare_shuttle_walk_chain_parks_the_car_at_the_stops_station(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario(
        zones={STOP_B: 1.0},  # no scooter near the origin
        access_modes=["carsharing"],
        transfer_penalty_min=0.0,
        extra_services=[carshare()],
    )
    out = run(town, scn, [(origin, dest, 7.5 * H)])
    trip = out.trips.iloc[0]
    # no car-sharing station near the station: the car alone cannot serve the trip
    assert trip["mode"] == "chain" and trip["status"] == "completed"
    assert (trip["access_mode"], trip["main_mode"]) == ("carsharing", "shuttle")
    events = out.events[out.events["trip_id"] == 0]
    drives = events[(events["event"] == "vehicle_leg") & (events["service"] == "carshare")]
    assert int(drives["to_node"].iloc[-1]) == node_of(network, STOP_A)  # the Centre station
    assert list(events.loc[events["event"] == "board", "service"]) == ["shuttle"]


def test_a_carshare_chain_whose_car_is_taken_meanwhile_falls_back(town):
    network, _ = town
    origin, dest = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    scn = scenario(
        zones={STOP_B: 1.0},
        access_modes=["carsharing"],
        transfer_penalty_min=0.0,
        extra_services=[carshare(cars=1, reservation_min=0.0)],  # no hold: it can be taken
    )
    # both start a short walk from the car: both are offered it, the first to arrive takes it
    network_, router = town
    walks = router.distances_m("walk", origin, network_.zone_nodes(ORIGIN_PLACE))
    near = [
        int(n)
        for n, m in zip(network_.zone_nodes(ORIGIN_PLACE), walks, strict=True)
        if 50 < m < 250
    ]
    start = near[0]
    out = run(town, scn, [(start, dest, 7.5 * H), (start, dest, 7.5 * H)])
    trips = out.trips.set_index("trip_id")
    assert trips.loc[0, "mode"] == "chain" and trips.loc[0, "access_mode"] == "carsharing"
    assert trips.loc[1, "mode"] != "chain" and trips.loc[1, "fallback_reason"] != ""
    events = out.events
    gave_up = events[(events["event"] == "fallback") & (events["trip_id"] == 1)]
    assert list(gave_up["service"]) == ["carshare"]  # chosen, then found the car gone


#: an own car with dear fuel: a short drive to the park-and-ride beats driving all the way
DEAR_CAR = {"name": "car", "type": "private_car", "fuel_cost_krw_per_km": 3000}


def park_and_ride(spaces: int = 1, **kw) -> Scenario:
    return scenario(
        zones={STOP_B: 1.0},  # no scooter near the origin
        transfer_penalty_min=0.0,
        park_and_ride=[{"name": "Centre P+R", "place": STOP_A, "spaces": spaces}],
        extra_services=[DEAR_CAR],
        **kw,
    )


def test_park_and_ride_out_and_back_leaves_the_car_at_the_site_and_fetches_it(town):
    network, _ = town
    home, station, site = (node_of(network, p) for p in (ORIGIN_PLACE, STOP_B, STOP_A))
    tour = {"person_id": 0, "tour_id": 0, "car_available": True}
    rows = [(home, station, 7.5 * H, {**tour}), (station, home, 9.0 * H, {**tour, "leg_index": 1})]
    out = run(town, park_and_ride(), rows)
    trips = out.trips.set_index("trip_id")
    out_leg, back_leg = trips.loc[0], trips.loc[1]
    assert out_leg["mode"] == "chain" and out_leg["status"] == "completed"
    assert (out_leg["access_mode"], out_leg["main_mode"]) == ("car", "shuttle")
    assert (back_leg["mode"], back_leg["access_mode"], back_leg["main_mode"]) == (
        "chain",
        "shuttle",
        "car",
    )
    drives = out.events[(out.events["event"] == "vehicle_leg") & (out.events["service"] == "car")]
    # driven home -> the site, then (after the shuttle back) the site -> home: the car is fetched
    assert list(zip(drives["node"], drives["to_node"], strict=True)) == [
        (home, site),
        (site, home),
    ]


def test_a_full_park_and_ride_site_is_not_offered(town):
    network, _ = town
    home, station = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    rows = [(home, station, 7.5 * H, {"car_available": True})] * 2  # two drivers, one space
    out = run(town, park_and_ride(spaces=1), rows)
    trips = out.trips.set_index("trip_id")
    assert trips.loc[0, "mode"] == "chain" and trips.loc[0, "access_mode"] == "car"
    assert trips.loc[1, "mode"] != "chain"  # the site is full: no park-and-ride offered
    assert trips.loc[1, "n_offers_available"] < trips.loc[0, "n_offers_available"]


def test_bad_park_and_ride_sites_are_scenario_errors(tmp_path, town):
    network, router = town
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nchains: {enabled: true, park_and_ride: [{name: p, place: x, spaces: 0}]}\n"
    )
    with pytest.raises(ScenarioError, match=r"chains.park_and_ride.*spaces"):
        load_scenario(path)
    scn = scenario(park_and_ride=[{"name": "p", "place": "nowhere", "spaces": 3}])
    with pytest.raises(ScenarioError, match=r"chains.park_and_ride\[0\].place"):
        simulate(scn, network, router, trips_frame((0, 1, 7.5 * H)), RandomStreams(3))


def test_chains_are_deterministic_for_the_same_scenario_and_seed(town):
    network, _ = town
    home, station = node_of(network, ORIGIN_PLACE), node_of(network, STOP_B)
    rows = [(home, station, 7.5 * H + 60 * i, {"car_available": i % 2 == 0}) for i in range(6)]
    scn = park_and_ride(spaces=2, main_modes=["shuttle", "bus", "drt"], line_transfers=True)
    first, second = run(town, scn, rows), run(town, scn, rows)
    pd.testing.assert_frame_equal(first.trips, second.trips)
    pd.testing.assert_frame_equal(first.events, second.events)
    assert (first.trips["mode"] == "chain").any()

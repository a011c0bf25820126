"""Car-sharing on the synthetic town: round trip, one way, free-floating, EVs, relocation."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from mobisim.energy.accounting import check_energy_balance
from mobisim.errors import ScenarioError
from mobisim.metrics.stations import station_kpis
from mobisim.services.base import RideOutcome, Trip
from mobisim.services.carsharing import MUST_USE, CarsharingConfig, CarsharingService
from test_micromobility import (
    START_S,
    assert_legs_connect,
    assert_one_rider_at_a_time,
    birth_death,
    build_town,
    make,
    poisson_station,
    random_days,
    run,
    two_stations,
)


@pytest.fixture(scope="module")
def town():
    return build_town()


PLACES = ["town_centre", "residential_n", "residential_s", "residential_w", "supermarket"]


def stations(vehicles=2, spaces=3, charge_kw=0.0):
    return [
        {"name": p, "place": p, "vehicles": vehicles, "spaces": spaces, "charge_kw": charge_kw}
        for p in PLACES
    ]


def tour(network, origin: str, dest: str, out_s: float, back_s: float, person: int = 1):
    state: dict = {}
    home, work = network.place_node(origin), network.place_node(dest)
    return [
        Trip(2 * person, person, "g", "p", home, work, out_s, tour_id=person, tour_state=state),
        Trip(2 * person + 1, person, "g", "p", work, home, back_s, 1, True, None, person, 1, state),
    ]


def test_round_trip_keeps_the_car_and_brings_it_home(town):
    network, _ = town
    service = make(town, CarsharingService, {"name": "cs", "stations": stations()})
    legs = tour(network, "town_centre", "high_school", START_S + 600, START_S + 9 * 3600)
    events = run(service, [legs], until_s=START_S + 12 * 3600)
    out, back = (service.outcomes[t.trip_id] for t in legs)
    assert out.served and back.served and out.vehicle_id == back.vehicle_id
    car = service.fleet.vehicles[out.vehicle_id]
    assert car.lot is car.home and car.node == network.place_node("town_centre")
    assert car.home.name == "town_centre" and car.home.stock == 2
    # the return leg was bound to the held car, and paid the activity's minutes
    assert legs[0].tour_state.get(MUST_USE) == "cs"
    assert back.fare_krw > 150.0 * (8 * 60)
    held = events[(events["vehicle_id"] == car.vehicle_id) & (events["state"] == "parked")]
    assert (held["node"] == network.place_node("high_school")).any()


def test_return_offer_is_the_held_car_and_new_rentals_start_tours(town):
    network, _ = town
    service = make(town, CarsharingService, {"name": "cs", "stations": stations()})
    out, back = tour(network, "town_centre", "residential_n", START_S, START_S + 3600)
    (offer,) = service.offers(back, START_S)
    assert not offer.available and offer.reason == "round_trip_starts_the_tour"
    service.ctx.env.run(until=service.request(out, service.offers(out, START_S)[0]))
    (offer,) = service.offers(back, service.ctx.env.now)
    held = back.tour_state[service.key]
    assert offer.available and offer.handle.vehicle is held and offer.access_walk_m == 0.0
    assert offer.egress_node == network.place_node("town_centre")


def test_round_trip_invariants_every_car_ends_at_its_station(town):
    network, _ = town
    service = make(
        town,
        CarsharingService,
        {"name": "cs", "stations": stations(), "max_walk_m": 800},
        energy=True,
        days=0.7,
    )
    events = run(service, random_days(network, 60, seed=4))
    assert sum(isinstance(o, RideOutcome) and o.served for o in service.outcomes.values()) > 10
    for car in service.fleet.vehicles:
        assert car.lot is car.home and car.node == car.home.node
    assert_one_rider_at_a_time(events)
    assert_legs_connect(events, service)
    check_station_bounds(events, service)
    vehicles = service.ctx.energy.annotate(pd.DataFrame(service.ctx.vehicles))
    check_energy_balance(events, vehicles, service.ctx.energy.config)


def check_station_bounds(events, service) -> None:
    stock = events[events["event"] == "station_stock"]
    for lot in service.fleet.lots:
        rows = stock[stock["detail"] == lot.name]
        assert rows["value"].between(0, lot.spaces).all()
        assert (rows["value"] + rows["pax"] == lot.spaces).all()


@pytest.mark.parametrize("scheme", ["one_way", "free_floating"])
def test_one_way_and_free_floating_invariants_with_relocation(town, scheme):
    network, _ = town
    keys = {"name": "cs", "scheme": scheme, "max_walk_m": 800, "reservation_min": 5}
    keys["relocation"] = {"policy": "threshold", "interval_min": 20, "crews": 2}
    if scheme == "one_way":
        keys["stations"] = stations(vehicles=2, spaces=4, charge_kw=7.0)
    else:
        keys.update(vehicles=20, zones={p: 1.0 for p in PLACES})
    service = make(town, CarsharingService, keys, seed=3, energy=True, days=0.7)
    events = run(service, random_days(network, 120, seed=5))
    served = [o for o in service.outcomes.values() if isinstance(o, RideOutcome) and o.served]
    assert len(served) > 20
    assert_one_rider_at_a_time(events)
    assert_legs_connect(events, service)
    if scheme == "one_way":
        check_station_bounds(events, service)
        assert set(o.egress_node for o in served) <= {lot.node for lot in service.fleet.lots}
    else:
        assert all(service.zone_of[o.egress_node] >= 0 for o in served)
    moved = events[events["state"] == "repositioning"]
    assert service.operator.tours > 0 and len(moved) > 0 and (moved["pax"] == 0).all()
    vehicles = service.ctx.energy.annotate(pd.DataFrame(service.ctx.vehicles))
    check_energy_balance(events, vehicles, service.ctx.energy.config)


def test_one_way_station_matches_the_birth_death_chain(town):
    a, b = two_stations(town)
    spaces, lam, mu = 3, 10.0, 10.0
    service = make(
        town,
        CarsharingService,
        {
            "name": "cs",
            "scheme": "one_way",
            "vehicle_type": "petrol_car",
            "max_walk_m": 1.0,
            "stations": [
                {"name": "A", "node": a, "spaces": spaces, "vehicles": 1},
                {"name": "B", "node": b, "spaces": 5000, "vehicles": 2500},
            ],
        },
        days=20,
    )
    hours = 300
    events = poisson_station(service, a, b, lam, mu, hours)
    kpis = station_kpis(events, (START_S, START_S + hours * 3600))["cs/A"]
    expected = birth_death(lam, mu, spaces)
    assert kpis["empty_share"] == pytest.approx(expected[0], abs=0.02)
    assert kpis["full_share"] == pytest.approx(expected[-1], abs=0.02)


def test_low_charge_car_is_not_offered_and_charges_at_its_station(town):
    network, _ = town
    keys = {"name": "cs", "scheme": "one_way", "stations": stations(vehicles=1, charge_kw=7.0)}
    keys["initial_soc_share"] = 0.1  # below min_soc_share 0.2 (A)
    service = make(town, CarsharingService, keys, energy=True)
    trip = Trip(
        1,
        1,
        "g",
        "p",
        network.place_node("town_centre"),
        network.place_node("residential_n"),
        START_S,
    )
    assert service.offers(trip, START_S)[0].reason == "no_vehicle_within_walk"
    later_s = START_S + 2 * 3600  # 7 kW for 2 h puts ~14 kWh in a 64 kWh pack [C4]
    (offer,) = service.offers(trip, later_s)
    assert offer.available
    service.ctx.env.run(until=later_s)
    outcome = service.ctx.env.run(until=service.request(trip, offer))
    assert outcome.served
    car = service.fleet.vehicles[outcome.vehicle_id]
    assert car.battery.charged_kwh == pytest.approx(14.0, rel=0.01)
    events = service.ctx.log.to_frame()
    ends = events[(events["event"] == "charge_end") & (events["vehicle_id"] == car.vehicle_id)]
    assert ends["value"].sum() == pytest.approx(car.battery.charged_kwh)


def test_reservation_holds_the_car_and_without_one_it_can_be_taken(town):
    network, router = town
    centre = network.place_node("town_centre")
    near = int(router.times_from_s("walk", centre).argsort()[3])
    for minutes, first_served in ((15.0, True), (0.0, False)):
        one = [
            {"name": "c", "node": centre, "vehicles": 1, "spaces": 2},
            {"name": "far", "place": "high_school", "vehicles": 0, "spaces": 2},
        ]
        keys = {"name": "cs", "scheme": "one_way", "stations": one, "reservation_min": minutes}
        service = make(town, CarsharingService, keys)
        walker = Trip(1, 1, "g", "p", near, network.place_node("high_school"), START_S)
        offer = service.offers(walker, START_S)[0]
        assert offer.available and offer.access_walk_s > 0
        booked = service.request(walker, offer)
        local = Trip(2, 2, "g", "p", centre, network.place_node("high_school"), START_S)
        (other,) = service.offers(local, START_S)
        assert other.available is not first_served
        if other.available:
            service.request(local, other)
        service.ctx.env.run(until=START_S + 3600)
        assert booked.value.served is first_served
        if not first_served:
            assert booked.value.reason == "no_vehicle_on_arrival"


def test_configuration_errors(town):
    with pytest.raises(ValidationError, match="stations"):
        CarsharingConfig(name="c", scheme="one_way")
    with pytest.raises(ValidationError, match="vehicles"):
        CarsharingConfig(name="c", scheme="free_floating")
    with pytest.raises(ValidationError, match="vehicles <= spaces"):
        CarsharingConfig(name="c", stations=[{"name": "s", "node": 0, "vehicles": 3, "spaces": 2}])
    with pytest.raises(ValidationError, match="exactly one"):
        CarsharingConfig(
            name="c", stations=[{"name": "s", "node": 0, "place": "x", "vehicles": 1, "spaces": 2}]
        )
    with pytest.raises(ScenarioError, match=r"services\.c\.stations\[0\] \(s\)"):
        make(
            town,
            CarsharingService,
            {
                "name": "c",
                "stations": [{"name": "s", "place": "nowhere", "vehicles": 1, "spaces": 2}],
            },
        )
    with pytest.raises(ScenarioError, match=r"relocation\.policy"):
        make(
            town,
            CarsharingService,
            {"name": "c", "stations": stations(), "relocation": {"policy": "schedule"}},
        )


def test_the_documented_examples_are_valid_and_run(town):
    import re
    from pathlib import Path

    import yaml

    from mobisim.services.micromobility import MicromobilityService

    text = (Path(__file__).resolve().parents[1] / "docs" / "services-sharing.md").read_text()
    blocks = [
        b
        for y in re.findall(r"```yaml\n(.*?)```", text, re.S)
        for b in yaml.safe_load(y)["services"]
    ]
    assert {b.get("scheme", "round_trip") for b in blocks if b["type"] == "carsharing"} == {
        "round_trip",
        "one_way",
        "free_floating",
    }
    assert {b["parking"] for b in blocks if b["type"] == "micromobility"} == {"docked", "dockless"}
    for block in blocks:
        cls = CarsharingService if block["type"] == "carsharing" else MicromobilityService
        for station in block.get("stations", []):
            if (
                "node" in station or "lat" in station
            ):  # the documented town's node/point: use a place here
                station.pop("node", None), station.pop("lat", None), station.pop("lon", None)
                station["place"] = "rail_station"
        service = make(town, cls, block, days=0.1)
        assert len(service.fleet.vehicles) >= 1

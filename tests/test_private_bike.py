"""The private bicycle and e-bike: ownership by group, riding on the bike profiles, the tour logic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy

import mobisim
from mobisim.demand.trips import build_trips
from mobisim.engine.modechoice import GeneralisedCost, logit_probabilities
from mobisim.engine.simulation import simulate
from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.metrics.kpis import system_kpis
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.scenario.loader import validate
from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.car import PrivateCarConfig, PrivateCarService
from mobisim.services.private_bike import PrivateBikeConfig, PrivateBikeService
from mobisim.services.walk import WalkConfig, WalkService

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"
SMALL = {"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}
#: half of the workers own a bike, students and homemakers none, the other groups the default
BIKE = {
    "name": "bike",
    "type": "private_bike",
    "ownership_share": {"workers": 0.5, "students": 0.0, "homemakers": 0.0},
}


@pytest.fixture(scope="module")
def town():
    scenario = mobisim.load_scenario(DEMO, overrides=SMALL)
    data = scenario.model_dump(mode="json")
    data["services"].append(dict(BIKE))
    scenario = validate(data)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand,
        network,
        RandomStreams(scenario.seed),
        scenario.period.start_s,
        scenario.period.end_s,
    )
    return scenario, network, router, trips


@pytest.fixture(scope="module")
def day(town):
    scenario, network, router, trips = town
    return simulate(scenario, network, router, trips, RandomStreams(scenario.seed))


def context(router):
    return ServiceContext(
        env=simpy.Environment(initial_time=7 * 3600.0),
        network=None,
        router=router,
        log=EventLog(),
        rng=np.random.default_rng(0),
        period_start_s=0.0,
        period_end_s=86400.0,
    )


def test_offer_rides_the_bike_profile_with_lock_unlock_and_rack_walks(town):
    router = town[2]
    for kind, profile in (("bike", "bike"), ("ebike", "ebike")):
        config = PrivateBikeConfig(name="b", kind=kind, default_ownership_share=1.0)
        service = PrivateBikeService(config, context(router))
        origin, dest = 3, 200
        (offer,) = service.offers(Trip(1, 1, "workers", "work", origin, dest, 0.0), 0.0)
        ride_s, ride_m = router.try_leg(profile, origin, dest)
        assert offer.available and offer.mode == f"private_{kind}"
        assert offer.in_vehicle_s == pytest.approx(ride_s + 30 + 60)  # unlock 0.5, lock 1 min
        assert offer.distance_m == pytest.approx(ride_m)
        assert offer.access_walk_s == pytest.approx(20 / 1.2)
        assert offer.egress_walk_s == pytest.approx(30 / 1.2)
        assert offer.fare_krw == 0.0
    assert ride_s == pytest.approx(ride_m / (18 / 3.6))  # the e-bike at 18 km/h


def test_ownership_is_drawn_once_per_person_at_the_group_share(town):
    router = town[2]
    config = PrivateBikeConfig(name="b", ownership_share={"workers": 0.5, "students": 0.0})
    service = PrivateBikeService(config, context(router))
    workers = [Trip(i, i, "workers", "work", 3, 200, 0.0) for i in range(2000)]
    owners = [service.owns_bike(t) for t in workers]
    assert 0.45 < np.mean(owners) < 0.55
    assert [service.owns_bike(t) for t in workers] == owners  # the same person, the same answer
    students = [Trip(i, 10_000 + i, "students", "school", 3, 200, 0.0) for i in range(500)]
    assert not any(service.owns_bike(t) for t in students)
    others = [Trip(i, 20_000 + i, "others", "shop", 3, 200, 0.0) for i in range(2000)]
    assert 0.25 < np.mean([service.owns_bike(t) for t in others]) < 0.35  # default 0.3
    (offer,) = service.offers(students[0], 0.0)
    assert not offer.available and offer.reason == "no_bike_owned"


def test_bike_left_at_home_and_rides_beyond_the_limit_are_not_offered(town):
    router = town[2]
    config = PrivateBikeConfig(name="b", default_ownership_share=1.0, max_ride_m=500.0)
    service = PrivateBikeService(config, context(router))
    back = Trip(2, 1, "workers", "work", 200, 3, 0.0, leg_index=1, tour_state={})
    (offer,) = service.offers(back, 0.0)
    assert offer.reason == "bike_left_at_home"
    far = Trip(1, 1, "workers", "work", 3, 200, 0.0)
    assert router.try_leg("bike", 3, 200)[1] > 500.0
    (offer,) = service.offers(far, 0.0)
    assert offer.reason == "too_far_to_ride"


def test_half_the_workers_own_a_bike_and_the_bike_share_falls_with_trip_length(town):
    """Expected bike share (ownership x logit probability among walk, car and bike) by distance."""
    network, router = town[1], town[2]
    ctx = context(router)
    bike = PrivateBikeService(PrivateBikeConfig(name="bike", ownership_share={"workers": 0.5}), ctx)
    services = [
        WalkService(WalkConfig(name="walk"), ctx),
        PrivateCarService(PrivateCarConfig(name="car"), ctx),
        bike,
    ]
    cost = GeneralisedCost(ModeChoiceConfig())  # the default values of time and constants
    rng = np.random.default_rng(1)
    rows = []
    for i in range(2000):
        origin, dest = (int(n) for n in rng.integers(0, network.n_nodes, 2))
        trip = Trip(i, i, "workers", "work", origin, dest, 7 * 3600.0)
        offers = [o for s in services for o in s.offers(trip, 0.0) if o.available]
        p_bike = 0.0
        if offers[-1].service == "bike":
            p_bike = float(logit_probabilities(cost.utilities(offers))[-1])
        rows.append((router.try_leg("walk", origin, dest)[1], p_bike, bike.owns_bike(trip)))
    frame = pd.DataFrame(rows, columns=["walk_m", "p_bike", "owner"])
    assert 0.45 < frame["owner"].mean() < 0.55
    assert (frame.loc[~frame["owner"], "p_bike"] == 0).all()
    share = frame.groupby(pd.cut(frame["walk_m"], [1000, 2000, 3000, 4000]), observed=False)
    share = share["p_bike"].mean()
    assert share.iloc[0] > 0.02, share
    assert share.iloc[0] > share.iloc[1] > share.iloc[2], share


def test_riders_in_a_day_are_owners_of_the_groups_that_own_bikes(day):
    workers = day.trips[day.trips["group"] == "workers"]
    riders = workers.loc[workers["mode"] == "private_bike", "person_id"].nunique()
    assert 0.02 < riders / workers["person_id"].nunique() <= 0.56


def test_persons_without_a_bike_never_ride_one(day):
    trips = day.trips
    bikes = trips[trips["mode"] == "private_bike"]
    assert len(bikes) > 0
    assert not bikes["group"].isin(["students", "homemakers"]).any()
    assert (
        trips.loc[trips["group"].isin(["students", "homemakers"]), "mode"] != "private_bike"
    ).all()


def test_a_bike_ridden_out_comes_back_and_one_left_at_home_stays_there(day):
    trips = day.trips.sort_values(["tour_id", "leg_index"])
    legs = trips.pivot(index="tour_id", columns="leg_index", values="mode")
    out_by_bike = legs[0] == "private_bike"
    assert out_by_bike.sum() > 10
    assert (legs.loc[out_by_bike, 1] == "private_bike").all()  # ridden back home
    assert (legs.loc[~out_by_bike, 1] != "private_bike").all()  # left at home: not ridden back


def test_bike_rides_are_logged_legs_with_energy_but_no_car_km(day):
    events = day.events
    legs = events[events["event"] == "vehicle_leg"]
    bike_legs = legs[legs["service"] == "bike"]
    car_legs = legs[legs["service"] == "car"]
    bike_trips = day.trips[day.trips["mode"] == "private_bike"]
    assert sorted(bike_legs["trip_id"]) == sorted(bike_trips["trip_id"])
    assert (bike_legs["vehicle_id"] == -1).all() and (bike_legs["detail"] == "bike").all()
    tables = {"events": events, "trips": day.trips, "vehicles": day.vehicles}
    kpis = system_kpis(tables, (0.0, 86400.0))
    assert kpis["private_car_km"] == pytest.approx(car_legs["distance_m"].sum() / 1000.0)
    assert bike_legs["distance_m"].sum() > 0


def problems(service: dict, **demand) -> list[tuple[str, str]]:
    data = {"name": "t", "services": [{"name": "walk", "type": "walk"}, service], **demand}
    with pytest.raises(ScenarioError) as info:
        validate(data)
    return info.value.problems


def test_shares_outside_0_1_and_unknown_groups_are_errors_naming_the_key():
    found = problems({**BIKE, "ownership_share": {"workers": 1.5}})
    assert any(key.startswith("services.bike.ownership_share") for key, _ in found), found
    found = problems({**BIKE, "default_ownership_share": -0.1})
    assert any(key == "services.bike.default_ownership_share" for key, _ in found), found
    found = problems({**BIKE, "ownership_share": {"wrkers": 0.5}})
    assert [key for key, _ in found] == ["services.bike.ownership_share.wrkers"], found
    assert "unknown demand group 'wrkers'" in found[0][1] and "workers" in found[0][1], found
    # a trip table's groups are known only when it is read: not checked before
    table = {"trip_table": {"file": "trips.csv"}}
    data = {"name": "t", "services": [{**BIKE, "ownership_share": {"wrkers": 0.5}}]}
    assert validate({**data, "demand": table}).services[0].ownership_share == {"wrkers": 0.5}
    found = problems({**BIKE, "kind": "tandem"})
    assert any(key == "services.bike.kind" for key, _ in found), found


def test_mode_choice_prices_bike_time_with_the_bike_defaults_unless_the_section_names_them():
    from mobisim.services.base import Offer

    ride = Offer(service="bike", mode="private_bike", available=True, in_vehicle_s=3600.0)
    ebike = Offer(service="eb", mode="private_ebike", available=True, in_vehicle_s=3600.0)
    cost = GeneralisedCost(ModeChoiceConfig())
    assert cost.cost_krw(ride) == pytest.approx(14550.0)  # 1.5 x the car's 9,700 KRW/h
    assert cost.cost_krw(ebike) == pytest.approx(9700.0)
    assert cost.utility(ride) == pytest.approx(-1.3 - 14.55)
    named = ModeChoiceConfig(vot_krw_per_h={"private_bike": 6000.0}, asc={"private_bike": 0.2})
    cost = GeneralisedCost(named)
    assert cost.cost_krw(ride) == pytest.approx(6000.0)
    assert cost.utility(ride) == pytest.approx(0.2 - 6.0)
    assert cost.cost_krw(ebike) == pytest.approx(9700.0)  # the other default stays


def test_same_seed_same_bike_owners_and_rides(town, day):
    scenario, network, router, trips = town
    again = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
    pd.testing.assert_frame_equal(again.trips, day.trips)
    pd.testing.assert_frame_equal(again.events, day.events)

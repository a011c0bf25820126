"""The baseline services on a small synthetic town: offers equal the router's answers."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from mobisim.events import EventLog
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.scenario import registry
from mobisim.scenario.network_config import NetworkConfig
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.car import PrivateCarConfig, PrivateCarService
from mobisim.services.walk import WalkConfig, WalkService


@pytest.fixture(scope="module")
def town():
    config = NetworkConfig.model_validate(
        {"source": "synthetic", "synthetic": {"area_km2": 2.0, "target_nodes": 300, "seed": 3}}
    )
    network = build_network(config, ".")
    return network, Router(network)


class NoPaths:
    """A router where nothing is reachable."""

    def try_leg(self, profile, origin, dest):
        return None

    def try_leg_within_m(self, profile, origin, dest, limit_m):
        return None


def context(router, network=None):
    env = simpy.Environment(initial_time=7 * 3600.0)
    return ServiceContext(
        env=env,
        network=network,
        router=router,
        log=EventLog(),
        rng=np.random.default_rng(0),
        period_start_s=0.0,
        period_end_s=86400.0,
    )


def pairs(network, n=25):
    rng = np.random.default_rng(1)
    nodes = rng.integers(0, network.n_nodes, size=(n, 2))
    return [(int(o), int(d)) for o, d in nodes if o != d]


def trip(origin, dest, **extra):
    return Trip(7, 3, "workers", "work", origin, dest, 7 * 3600.0, **extra)


def test_registry_types_name_the_services():
    assert registry.service_class("walk") is WalkService
    assert registry.service_class("private_car") is PrivateCarService
    assert WalkService.Config is WalkConfig and PrivateCarService.Config is PrivateCarConfig


def test_walk_offer_is_the_router_walk(town):
    network, router = town
    walk = WalkService(WalkConfig(name="walk", max_walk_m=1e9), context(router, network))
    for origin, dest in pairs(network):
        (offer,) = walk.offers(trip(origin, dest), 7 * 3600.0)
        assert offer.available and offer.mode == "walk"
        assert offer.access_walk_s == pytest.approx(router.travel_time_s("walk", origin, dest))
        assert offer.access_walk_m == pytest.approx(router.distance_m("walk", origin, dest))
        assert offer.access_walk_s == pytest.approx(offer.access_walk_m / 1.2)  # [T1]
        assert offer.wait_s == offer.in_vehicle_s == offer.fare_krw == 0


def test_walk_is_not_offered_beyond_the_limit_or_without_a_path(town):
    network, router = town
    origin, dest = max(pairs(network), key=lambda p: router.distance_m("walk", *p))
    limit = router.distance_m("walk", origin, dest) - 1
    walk = WalkService(WalkConfig(name="walk", max_walk_m=limit), context(router, network))
    (offer,) = walk.offers(trip(origin, dest), 0.0)
    assert (offer.available, offer.reason) == (False, "too_far_to_walk")
    walk = WalkService(WalkConfig(name="walk"), context(NoPaths()))
    assert walk.offers(trip(0, 1), 0.0)[0].reason == "no_walk_path"


def test_walk_request_is_served_at_once_with_the_walked_distance(town):
    network, router = town
    ctx = context(router, network)
    walk = WalkService(WalkConfig(name="walk"), ctx)
    origin, dest = pairs(network)[0]
    (offer,) = walk.offers(trip(origin, dest), 0.0)
    event = walk.request(trip(origin, dest), offer)
    ctx.env.run()
    assert event.value.served and event.value.distance_m == offer.access_walk_m
    assert ctx.env.now == 7 * 3600.0


def car_service(router, network=None, **settings):
    config = PrivateCarConfig(name="car", **settings)
    return PrivateCarService(config, context(router, network))


def test_car_offer_is_the_router_drive_plus_parking_and_walks(town):
    network, router = town
    car = car_service(
        router,
        network,
        access_walk_m=60,
        parking_search_min=3,
        parking_walk_m=90,
        fuel_cost_krw_per_km=150,
        parking_fee_krw=1000,
    )
    for origin, dest in pairs(network):
        (offer,) = car.offers(trip(origin, dest), 0.0)
        drive_s = router.travel_time_s("car", origin, dest)
        distance_m = router.distance_m("car", origin, dest)
        assert offer.available and offer.mode == "car"
        assert offer.in_vehicle_s == pytest.approx(drive_s + 180)
        assert offer.distance_m == pytest.approx(distance_m)
        assert offer.access_walk_s == pytest.approx(60 / 1.2)
        assert offer.egress_walk_s == pytest.approx(90 / 1.2)
        assert offer.fare_krw == pytest.approx(150 * distance_m / 1000 + 1000)
        assert offer.wait_s == 0


def test_car_not_offered_without_a_car_a_path_or_when_left_at_home(town):
    network, router = town
    car = car_service(router, network)
    assert car.offers(trip(0, 5, car_available=False), 0.0)[0].reason == "no_car_available"
    back = trip(5, 0, leg_index=1, tour_state={})
    assert car.offers(back, 0.0)[0].reason == "car_left_at_home"
    assert car_service(NoPaths()).offers(trip(0, 5), 0.0)[0].reason == "no_drive_path"


def test_car_request_logs_one_occupied_leg_and_keeps_the_car_with_its_driver(town):
    network, router = town
    car = car_service(router, network, access_walk_m=60)
    origin, dest = pairs(network)[0]
    out = trip(origin, dest, party_size=2)
    (offer,) = car.offers(out, 0.0)
    parked = car.request(out, offer)
    car.ctx.env.run()
    outcome = parked.value
    assert outcome.served and outcome.in_vehicle_s == pytest.approx(offer.in_vehicle_s)
    assert car.ctx.env.now == pytest.approx(7 * 3600.0 + offer.access_walk_s + offer.in_vehicle_s)
    events = car.ctx.log.to_frame()
    assert list(events["event"]) == ["vehicle_leg"]
    leg = events.iloc[0]
    assert (leg["vehicle_id"], leg["trip_id"], leg["service"], leg["state"]) == (
        -1,
        7,
        "car",
        "occupied",
    )
    assert (leg["node"], leg["to_node"], leg["pax"], leg["detail"]) == (
        origin,
        dest,
        2,
        "petrol_car",
    )
    assert leg["time_s"] == pytest.approx(7 * 3600.0 + 50)  # drive starts after the 60 m walk
    assert leg["distance_m"] == pytest.approx(offer.distance_m)
    assert out.tour_state == {"private_car": "with_person", "must_use": "car"}
    back = trip(dest, origin, leg_index=1, tour_state=out.tour_state)
    assert car.offers(back, 0.0)[0].available


def test_service_configs_have_units_in_their_names_and_reject_bad_values():
    assert {"max_walk_m"} <= set(WalkConfig.model_fields)
    assert {
        "access_walk_m",
        "parking_search_min",
        "parking_walk_m",
        "fuel_cost_krw_per_km",
        "parking_fee_krw",
    } <= set(PrivateCarConfig.model_fields)
    with pytest.raises(ValidationError):
        WalkConfig(name="walk", max_walk_m=0)
    with pytest.raises(ValidationError):
        PrivateCarConfig(name="car", parking_search_min=-1)
    with pytest.raises(ValidationError):
        PrivateCarConfig(name="car", type="walk")

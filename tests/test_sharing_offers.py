"""Offers of docked sharing services respect the walk limit at both ends of the ride."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.micromobility import MicromobilityService

START_S = 7 * 3600.0


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def bikes(town, stations, max_walk_m=500.0):
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    rng = np.random.default_rng(0)
    ctx = ServiceContext(env, network, router, EventLog(), rng, START_S, START_S + 3600)
    keys = {
        "name": "bikes",
        "parking": "docked",
        "devices": [{"type": "bike", "count": 4}],
        "stations": stations,
        "max_walk_m": max_walk_m,
    }
    service = MicromobilityService(MicromobilityService.Config(**keys), ctx)
    service.start()
    return service


def trip(origin: int, dest: int) -> Trip:
    return Trip(0, 0, "g", "p", origin, dest, START_S)


def test_no_offer_when_the_dock_nearest_the_destination_is_beyond_the_walk_limit(town):
    network, _router = town
    centre = network.place_node("town_centre")
    rail = network.place_node("rail_station")  # kilometres outside the town
    service = bikes(
        town,
        [
            {"name": "A", "place": "town_centre", "spaces": 4},
            {"name": "B", "place": "supermarket", "spaces": 4},
        ],
    )
    far = service.offers(trip(centre, rail), START_S)
    assert [o.available for o in far] == [False]
    assert far[0].reason == "no_station_within_walk_of_destination"
    market = network.place_node("supermarket")
    near = service.offers(trip(centre, market), START_S)[0]
    assert near.available and near.egress_walk_m <= 500.0


def test_the_walk_limit_at_the_destination_is_the_services_max_walk(town):
    network, router = town
    centre, market = network.place_node("town_centre"), network.place_node("supermarket")
    from_market = router.distances_m("walk", market, np.arange(network.n_nodes))
    from_centre = router.distances_m("walk", centre, np.arange(network.n_nodes))
    candidates = np.flatnonzero((from_market > 200) & (from_market < 400) & (from_centre > 800))
    dest = int(candidates[0])
    egress_m = float(from_market[dest])
    stations = [
        {"name": "A", "place": "town_centre", "spaces": 4},
        {"name": "B", "place": "supermarket", "spaces": 4},
    ]
    ok = bikes(town, stations, max_walk_m=egress_m + 1).offers(trip(centre, dest), START_S)[0]
    assert ok.available and ok.egress_walk_m == pytest.approx(egress_m, rel=1e-6)
    too_far = bikes(town, stations, max_walk_m=egress_m - 1).offers(trip(centre, dest), START_S)
    assert too_far[0].reason == "no_station_within_walk_of_destination"

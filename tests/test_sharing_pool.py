"""The fleet's pool index: the vehicles standing in rental lots, kept as they are parked and taken."""

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


def docked_bikes(town):
    """Bikes at three stations, two of them at the same node (their vehicles share the node)."""
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(
        env, network, router, EventLog(), np.random.default_rng(0), START_S, START_S + 3600
    )
    stations = [
        {"name": "A", "place": "town_centre", "spaces": 4},
        {"name": "B", "place": "supermarket", "spaces": 4},
        {"name": "C", "place": "town_centre", "spaces": 4},
    ]
    keys = {"name": "bikes", "parking": "docked", "devices": [{"type": "bike", "count": 8}]}
    service = MicromobilityService(MicromobilityService.Config(**keys, stations=stations), ctx)
    service.start()
    return service


def test_the_pool_follows_the_lots_through_takes_reservations_and_parking(town):
    service = docked_bikes(town)
    fleet, env = service.fleet, service.ctx.env
    rng = np.random.default_rng(7)
    taken, reserved = [], []
    nodes = sorted({lot.node for lot in fleet.lots})
    assert len(nodes) == 2  # A and C share a node
    for step in range(300):
        pooled = [v for lot in fleet.lots for v in lot.store.items]
        action = rng.integers(4)
        if action == 0 and pooled:
            vehicle = pooled[rng.integers(len(pooled))]
            fleet.take(vehicle, step)
            taken.append(vehicle)
        elif action == 1 and pooled:
            vehicle = pooled[rng.integers(len(pooled))]
            fleet.reserve(vehicle, step)
            reserved.append(vehicle)
        elif action == 2 and reserved:
            vehicle = reserved.pop(rng.integers(len(reserved)))
            if rng.random() < 0.5:
                fleet.release(vehicle)
            else:
                fleet.take(vehicle, step)
                taken.append(vehicle)
        elif taken:
            lots = [lot for lot in fleet.lots if lot.has_space()]
            lot = lots[rng.integers(len(lots))]
            fleet.place(taken.pop(rng.integers(len(taken))), lot, lot.node)
        env.run(until=env.now + 60)
        # the order of the lots' stores: lots in file order, each in parking order
        expected = [v for lot in fleet.lots for v in lot.store.items]
        listed, listed_nodes = fleet.standing_in_lots("bike")
        assert listed == expected
        assert listed_nodes.tolist() == [v.node for v in expected]
        for node in nodes:
            assert fleet.pooled_at("bike", node) == [v for v in expected if v.node == node]
        # both nodes as near: a stable sort by distance keeps the store order across them
        for distances in ({nodes[0]: 5.0, nodes[1]: 5.0}, {nodes[0]: 9.0, nodes[1]: 2.0}):
            near = {nodes[1]: distances[nodes[1]], nodes[0]: distances[nodes[0]], -5: 1.0}
            by_distance = sorted(expected, key=lambda v: distances[v.node])
            assert list(fleet.pooled_near("bike", near)) == [
                (distances[v.node], v) for v in by_distance
            ]
        # one node near (fewer than hold vehicles): only its vehicles
        only = {nodes[0]: 3.0}
        assert list(fleet.pooled_near("bike", only)) == [
            (3.0, v) for v in expected if v.node == nodes[0]
        ]
        assert list(fleet.pooled_near("escooter", near)) == []


def test_offers_walk_to_the_nearest_pooled_bike_and_dock_nearest_the_destination(town):
    network, router = town
    service = docked_bikes(town)
    centre, market = network.place_node("town_centre"), network.place_node("supermarket")
    dock_a, dock_b, dock_c = service.fleet.lots
    assert service.dock_near(market) is dock_b
    assert service.dock_near(centre) is dock_a  # A and C as near: the first in file order
    assert service.dock_near(centre, exclude=dock_a) is dock_c
    for vehicle in list(dock_b.store.items):
        service.fleet.take(vehicle, 1)
    while dock_b.has_space():  # fill B with bikes taken from A and C
        vehicle = (dock_a.store.items or dock_c.store.items)[0]
        service.fleet.take(vehicle, 1)
        service.fleet.place(vehicle, dock_b, dock_b.node)
    assert service.dock_near(market) is not dock_b
    offer = service.offers(Trip(0, 0, "g", "p", centre, centre, START_S), START_S)[0]
    first_at_centre = (dock_a.store.items or dock_c.store.items)[0]
    assert offer.available and offer.handle.vehicle is first_at_centre
    assert (offer.access_walk_s, offer.access_walk_m) == router.leg("walk", centre, centre)

"""DRT battery check: the memoised ``plan_kwh`` / ``energy_ok`` against the reference twin
(every leg asked again per plan) on random routes, on dense rows, all-pairs and LRU routers and
across time-of-day periods."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from mobisim.energy.battery import Battery
from mobisim.energy.vehicle_types import get_vehicle_type
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.network_config import RouterSettings
from mobisim.services.base import ServiceContext
from mobisim.services.drt import DrtConfig, DrtService

START_S, END_S = 7 * 3600.0, 10 * 3600.0


@pytest.fixture(scope="module")
def network():
    return build_network(config_for("synthetic", target_nodes=500, seed=2))


def electric_service(network, settings: RouterSettings | None = None) -> DrtService:
    """A DRT service whose vehicles carry a battery (energy itself is off: no charging)."""
    router = Router(network, settings)
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    service = DrtService(DrtConfig(name="drt", vehicles=3, battery_reserve_share=0.2), ctx)
    service.start()
    service.vehicle_type = get_vehicle_type("av_shuttle")  # after start: no energy context
    return service


def random_routes(network, count: int, seed: int):
    """Routes of 2..9 nodes, many sharing legs (as one request's candidate plans do)."""
    rng = np.random.default_rng(seed)
    plan = [int(n) for n in rng.integers(0, network.n_nodes, 6)]
    for _ in range(count):
        if rng.random() < 0.3:
            plan = [int(n) for n in rng.integers(0, network.n_nodes, rng.integers(1, 7))]
        route = list(plan)
        for node in rng.integers(0, network.n_nodes, 2):  # a pick-up and a drop-off
            route.insert(int(rng.integers(0, len(route) + 1)), int(node))
        if rng.random() < 0.1:
            route.insert(1, route[0])  # a zero leg
        yield route[: int(rng.integers(2, len(route) + 1))]


def assert_twins_agree(service, network, seed: int, exact: bool) -> None:
    rng = np.random.default_rng(seed)
    vehicle = service.vehicles[0]
    decisions = []
    for route in random_routes(network, 400, seed):
        want_kwh = service.plan_kwh_reference(route)
        got_kwh = service.plan_kwh(route)
        if exact:
            assert got_kwh == want_kwh, route
        else:
            assert got_kwh == pytest.approx(want_kwh, rel=1e-6), route
        # a state of charge around the need: both verdicts occur
        vehicle.battery = Battery(60.0, min(60.0, rng.uniform(0, 2.5) * (want_kwh + 12.0)))
        decision = service.energy_ok(vehicle, route)
        assert decision == service.energy_ok_reference(vehicle, route), route
        decisions.append(decision)
    assert any(decisions) and not all(decisions)


def test_dense_rows_give_the_references_floats(network):
    service = electric_service(network)
    assert service.dense is not None
    assert_twins_agree(service, network, seed=1, exact=True)


def test_router_all_pairs_gives_the_references_floats(network):
    service = electric_service(network)
    service._dense = None  # the path of networks beyond DENSE_MAX_NODES: router.legs
    assert_twins_agree(service, network, seed=2, exact=True)


def test_lru_router_gives_the_references_verdicts(network):
    """On LRU tables the reference's ``router.legs`` may group a plan by destination (rows on
    the reversed graph, equal to float32 rounding): the same verdicts, floats within 1e-6."""
    service = electric_service(network, RouterSettings(all_pairs_max_nodes=0, lru_size=64))
    assert service.dense is None
    assert_twins_agree(service, network, seed=3, exact=False)


def test_each_period_has_its_own_leg_energies(network):
    service = electric_service(network, RouterSettings(speed_preset="korea_weekday"))
    service._dense = None
    now_s = [8 * 3600.0]
    service.router.clock = lambda: now_s[0]
    route = next(random_routes(network, 1, seed=4))
    peak_kwh = service.plan_kwh(route)
    assert peak_kwh == service.plan_kwh_reference(route)
    now_s[0] = 2 * 3600.0  # night: faster roads, other leg energies
    assert service.plan_kwh(route) == service.plan_kwh_reference(route) != peak_kwh

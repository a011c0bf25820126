"""BPR link times and the MSA user equilibrium, checked against a two-route split worked by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mobisim.errors import NetworkError
from mobisim.network.bpr import (
    all_or_nothing,
    bpr_time_s,
    link_capacity_veh_h,
    msa_equilibrium,
    relative_gap,
)

# two routes from node 0 to node 3: route 1 = links 0->1->3, route 2 = links 0->2->3; each route's
# free time is split over its two links, both links of a route have the same capacity, so a
# route's time is t0 · (1 + 0.15 (x / c)^4)
U, V = [0, 1, 0, 2], [1, 3, 2, 3]
CAPACITY = [1000.0, 1000.0, 1000.0, 1000.0]


def _two_routes(t01_s: float, t02_s: float) -> list[float]:
    return [t01_s / 2, t01_s / 2, t02_s / 2, t02_s / 2]


def test_bpr_time_is_free_flow_at_zero_and_115_percent_at_capacity():
    times = bpr_time_s([60.0, 60.0, 60.0], [0.0, 1000.0, 2000.0], [1000.0] * 3)
    np.testing.assert_allclose(times, [60.0, 69.0, 60.0 * (1 + 0.15 * 16)])
    assert bpr_time_s(60.0, 500.0, 1000.0, alpha=1.0, beta=1.0) == pytest.approx(90.0)


def test_capacity_by_road_class_and_lanes():
    capacity = link_capacity_veh_h(["motorway", "primary_link", "nonsense"], [2, np.nan, 3])
    np.testing.assert_allclose(capacity, [4000.0, 1000.0, 1800.0])


def test_msa_converges_to_the_wardrop_split_worked_by_hand():
    """Hand solution: demand D = 3,000 veh/h; route 2 has t0 = 20 min, c = 1,000 veh/h; route 1
    has c = 1,000 veh/h and t0 chosen so that the split x1 = 2,011, x2 = 989 equalises the
    route times: t2(989) = 1200 · (1 + 0.15 · 0.989^4) s, t01 = t2(989) / (1 + 0.15 · 2.011^4).
    Route 1's time rises with x1 and route 2's falls, so this split is the only one where
    neither route is faster (Wardrop's first principle). Tolerance: volumes within 0.1 % of D,
    route times within 0.1 %, once the relative gap is below 1e-4."""
    demand, x1, x2 = 3000.0, 2011.0, 989.0
    t2_s = 1200.0 * (1 + 0.15 * (x2 / 1000) ** 4)
    t01_s = t2_s / (1 + 0.15 * (x1 / 1000) ** 4)
    result = msa_equilibrium(
        4, U, V, _two_routes(t01_s, 1200.0), CAPACITY, [0], [3], [demand], gap_threshold=1e-4
    )
    assert result.converged and result.gaps[-1] < 1e-4
    assert result.iterations == len(result.gaps) > 3  # each iteration's gap is reported
    assert result.gaps[0] > 0.1  # all-or-nothing at free flow is far from equilibrium
    np.testing.assert_allclose(result.volume_veh_h, [x1, x1, x2, x2], atol=0.001 * demand)
    route_1_s = result.time_s[0] + result.time_s[1]
    route_2_s = result.time_s[2] + result.time_s[3]
    assert route_1_s == pytest.approx(t2_s, rel=1e-3)
    assert route_2_s == pytest.approx(t2_s, rel=1e-3)


def test_a_route_slower_even_when_empty_gets_no_traffic():
    """Hand solution: 500 veh/h on route 1 (t0 = 10 min) take 10 · (1 + 0.15 · 0.5^4) = 10.09 min,
    less than route 2's empty 20 min: all traffic stays on route 1."""
    result = msa_equilibrium(4, U, V, _two_routes(600.0, 1200.0), CAPACITY, [0], [3], [500.0])
    np.testing.assert_allclose(result.volume_veh_h, [500.0, 500.0, 0.0, 0.0])
    assert result.converged
    assert result.time_s[0] + result.time_s[1] == pytest.approx(600.0 * (1 + 0.15 * 0.5**4))


def test_an_iteration_cap_stops_the_loop_and_says_it_did_not_converge():
    result = msa_equilibrium(
        4, U, V, _two_routes(700.0, 1200.0), CAPACITY, [0], [3], [3000.0],
        gap_threshold=1e-12, max_iterations=5,
    )  # fmt: skip
    assert result.iterations == 5 and not result.converged


def test_all_or_nothing_loads_the_fastest_of_parallel_links_and_shared_links():
    # 0 -> 1 by two parallel links (60 s and 30 s), then 1 -> 2; demands 0->2 and 1->2
    u, v = np.array([0, 0, 1]), np.array([1, 1, 2])
    volume = all_or_nothing(3, u, v, np.array([60.0, 30.0, 10.0]), [0, 1], [2, 2], [100.0, 40.0])
    np.testing.assert_allclose(volume, [0.0, 100.0, 140.0])
    assert relative_gap(np.array([60.0, 30.0, 10.0]), volume, volume) == 0.0


def test_demand_without_a_path_and_bad_capacities_are_errors():
    with pytest.raises(NetworkError, match="no path from node 3 to node 0"):
        all_or_nothing(4, np.array(U), np.array(V), np.ones(4), [3], [0], [10.0])
    with pytest.raises(NetworkError, match="capacities"):
        msa_equilibrium(4, U, V, np.ones(4), [1000.0, 0.0, 1.0, 1.0], [0], [3], [10.0])


def test_link_volumes_count_each_leg_on_its_path_in_its_departure_period():
    from mobisim.network.bpr import link_volumes_veh_h
    from mobisim.network.load import build_network
    from mobisim.network.router import Router
    from mobisim.scenario.network_config import NetworkConfig, RouterSettings

    net = build_network(NetworkConfig(synthetic={"target_nodes": 200, "seed": 1}), ".")
    periods = [
        {"name": "early", "start_h": 0, "end_h": 8},
        {"name": "late", "start_h": 8, "end_h": 24, "speed_factor": {"default": 0.5}},
    ]
    router = Router(net, RouterSettings(periods=periods))
    times_s = router.times_from_s("car", 0, depart_s=0.0)
    dest = int(np.nanargmax(times_s))  # the farthest node: a path of several links
    path = router.path("car", 0, dest, 0.0)
    assert len(path) > 3
    volumes = link_volumes_veh_h(
        router, [0, 0, 0, 5], [dest, dest, dest, 5], [3600.0, 7200.0, 9 * 3600.0, 100.0], scale=2.0
    )
    view = net.view("drive")
    assert volumes.shape == (2, view.n_edges)
    # two legs in the 8-hour early period, one in the 16-hour late one, each counted twice (scale)
    assert volumes[0].sum() == pytest.approx(2 * 2 * (len(path) - 1) / 8)
    assert volumes[1].sum() == pytest.approx(1 * 2 * (len(path) - 1) / 16)
    loaded = np.flatnonzero(volumes[0])
    pairs = {(int(view.u[e]), int(view.v[e])) for e in loaded}
    assert pairs == set(itertools.pairwise(path))

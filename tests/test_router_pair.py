"""Point-to-point queries on LRU tables (``PathTable.pair_search``) = the whole rows' floats."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router, TimesRow
from mobisim.network.shortest import chain_length_m, path_lengths
from mobisim.scenario.network_config import NetworkConfig, RouterSettings

LRU = RouterSettings(all_pairs_max_nodes=0, lru_size=8)


@pytest.fixture(scope="module")
def networks(shared_networks):
    return {
        "synthetic": build_network(NetworkConfig(synthetic={"target_nodes": 900, "seed": 2}), "."),
        "songpa": build_network(
            config_for(str(shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2")), "."
        ),
        "nootdorp": build_network(
            config_for(str(shared_networks / "nootdorp-maassim.graphml")), "."
        ),
    }


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("name", ["synthetic", "songpa", "nootdorp"])
@pytest.mark.parametrize("profile", ["car", "walk", "capped"])
def test_pair_search_gives_the_whole_rows_floats(networks, name, profile):
    """Time and length of every pair equal (float ==) the cells of the whole forward row the
    router computed before; several destinations per source, near and far (the search kept
    per source grows), and repeated pairs."""
    net = networks[name]
    routers = [Router(net, LRU) for _ in range(2)]
    for router in routers:
        router.add_profile("capped", view="drive", speed_cap_kmh=25.0)
    searched, whole = (router.table(profile) for router in routers)
    rng = np.random.default_rng(7)
    checked = 0
    for origin in rng.integers(0, net.n_nodes, 12).tolist():
        weight_row, length_row = whole.row(origin)
        by_distance = np.argsort(np.nan_to_num(weight_row, nan=np.inf))
        dests = [*by_distance[[1, 5, 50, len(by_distance) // 2, -1]].tolist()]
        dests += rng.integers(0, net.n_nodes, 6).tolist()
        for dest in [*dests, dests[0]]:
            weight, length = searched.pair_search(origin, dest)
            expected = (0.0, 0.0) if origin == dest else (weight_row[dest], length_row[dest])
            assert _same(weight, float(expected[0])), (origin, dest)
            assert _same(length, float(expected[1])), (origin, dest)
            checked += 1
    assert checked == 12 * 12
    assert len(searched._rows) == 0  # no whole row was computed


def test_router_answers_pairs_from_the_search_on_lru_tables(networks):
    """``try_leg`` on LRU tables uses the search (no whole row) and agrees with ``legs``
    computed by whole rows, and with the all-pairs matrices to float32 rounding."""
    net = networks["songpa"]
    lru, full = Router(net, LRU), Router(net)
    rng = np.random.default_rng(3)
    for origin, dest in rng.integers(0, net.n_nodes, (40, 2)).tolist():
        leg = lru.try_leg("car", origin, dest)
        assert leg is not None
        expected = full.try_leg("car", origin, dest)
        assert leg == pytest.approx(expected, rel=1e-6)
    assert len(lru.table("car")._rows) == 0


def test_chain_length_sums_as_the_tree_does():
    """``chain_length_m`` of a path = ``path_lengths`` at its end in a tree holding it (bit for
    bit), on lengths whose sum depends on the order of the additions."""
    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 7, 64, 129):
        steps = rng.uniform(0.1, 1000.0, size) * 10.0 ** rng.integers(-3, 4, size)
        n = size + 1
        pred = np.arange(-1, size, dtype=np.int64)[None, :]  # node j's parent is j - 1
        pred[0, 0] = -9999
        in_other = np.arange(-1, size, dtype=np.int64)[None, :]
        in_length = np.concatenate(([0.0], steps))[None, :]
        in_other[0, 0] = -1
        tree = path_lengths(pred, (in_other, in_length))
        assert tree.shape == (1, n)
        assert chain_length_m(steps) == tree[0, -1]


@pytest.mark.parametrize("profile", ["car", "walk", "capped"])
@pytest.mark.parametrize("mode", ["lru", "all_pairs"])
def test_times_within_are_the_whole_rows_within_the_limit(networks, profile, mode):
    """``times_within_s`` (forward and reverse) = ``times_from_s`` / ``times_to_s`` (float ==)
    wherever those are within the limit, inf where they are beyond it (``LIMIT_MARGIN``)."""
    net = networks["songpa"]
    router = Router(net, LRU if mode == "lru" else None)
    router.add_profile("capped", view="drive", speed_cap_kmh=25.0)
    rng = np.random.default_rng(11)
    for node in rng.integers(0, net.n_nodes, 8).tolist():
        limit_s = float(rng.uniform(30, 600))
        for reverse, whole_of in ((False, router.times_from_s), (True, router.times_to_s)):
            bounded = router.times_within_s(profile, node, limit_s, reverse=reverse)
            whole = np.nan_to_num(whole_of(profile, node), nan=np.inf)
            within = whole <= limit_s
            assert within.sum() > 1
            assert np.array_equal(bounded[within], whole[within])
            beyond = bounded[~within]
            assert np.all(np.isinf(beyond) | (beyond <= limit_s * (1 + 1e-6)))


@pytest.mark.parametrize("profile", ["car", "walk", "capped"])
@pytest.mark.parametrize("mode", ["lru", "all_pairs"])
def test_times_row_read_where_indexed_is_the_whole_row(networks, profile, mode):
    """``times_row_s`` (forward and reverse) indexed by a node array, by one node and by every
    node = ``times_from_s`` / ``times_to_s`` with inf for NaN (float ==); on all-pairs tables it
    is a ``TimesRow`` (nothing read until indexed), on LRU tables the whole row."""
    net = networks["songpa"]
    router = Router(net, LRU if mode == "lru" else None)
    router.add_profile("capped", view="drive", speed_cap_kmh=25.0)
    rng = np.random.default_rng(13)
    everywhere = np.arange(net.n_nodes)
    for node in rng.integers(0, net.n_nodes, 6).tolist():
        for reverse, whole_of in ((False, router.times_from_s), (True, router.times_to_s)):
            row = router.times_row_s(profile, node, reverse=reverse)
            assert isinstance(row, TimesRow) == (mode == "all_pairs")
            whole = whole_of(profile, node)
            whole = np.where(np.isnan(whole), np.inf, whole)
            assert np.array_equal(row[everywhere], whole)
            picked = rng.integers(0, net.n_nodes, 300)
            assert np.array_equal(row[picked], whole[picked])
            one = int(picked[0])
            assert isinstance(row[one], float) and row[one] == whole[one]
            assert row[node] == 0.0


def test_times_row_gives_inf_where_unreachable():
    """A ``TimesRow`` over cells with NaN (unreachable) gives inf there, as an array and as
    one float; a constant-speed row divides the float32 lengths by the speed as the router
    does (float32, then float64)."""
    weight = np.array([0.0, np.nan, 12.5], dtype=np.float32)
    length = np.array([0.0, np.nan, 100.0], dtype=np.float32)
    timed = TimesRow(weight, length, None)
    assert timed[1] == math.inf and timed[2] == 12.5
    assert np.array_equal(timed[np.array([2, 1, 0])], [12.5, np.inf, 0.0])
    walked = TimesRow(weight, length, 1.2)
    assert walked[2] == float(np.float32(100.0) / 1.2)
    assert np.isinf(walked[np.array([1])]).all()
    assert len(walked) == 3


@pytest.mark.parametrize("profile", ["walk", "bike", "car"])
@pytest.mark.parametrize("mode", ["lru", "all_pairs"])
def test_distances_within_are_the_whole_rows_within_the_limit(networks, profile, mode):
    """``distances_within_m`` (forward and reverse) = ``distances_m`` to every node (float ==)
    wherever that is within the limit (the walk to the stops, docks and vehicles near a trip's
    end), inf where it is beyond (``LIMIT_MARGIN``) or unreachable; on LRU tables of a length
    weight the search stops at the limit (fewer nodes reached than the whole row)."""
    net = networks["songpa"]
    router = Router(net, LRU if mode == "lru" else None)
    everywhere = np.arange(net.n_nodes)
    rng = np.random.default_rng(17)
    reached = 0  # cases with more than the node itself within the limit
    for node in rng.integers(0, net.n_nodes, 8).tolist():
        limit_m = float(rng.uniform(150, 1500))
        for reverse in (False, True):
            bounded = router.distances_within_m(profile, node, limit_m, reverse=reverse)
            pairs = (everywhere, node) if reverse else (node, everywhere)
            whole = np.nan_to_num(router.distances_m(profile, *pairs), nan=np.inf)
            within = whole <= limit_m
            reached += int(within.sum() > 1)
            assert not within.all()
            assert np.array_equal(bounded[within], whole[within])
            beyond = bounded[~within]
            assert np.all(np.isinf(beyond) | (beyond <= limit_m * (1 + 1e-6)))
    assert reached >= 12
    if mode == "lru" and profile != "car":  # the search stopped near the node
        assert np.isinf(bounded).sum() > np.isinf(whole).sum()


@pytest.mark.parametrize("profile", ["car", "walk"])
@pytest.mark.parametrize("mode", ["lru", "all_pairs"])
def test_time_within_a_limit_is_the_legs_time_or_none(networks, profile, mode):
    """``try_travel_time_within_s`` = ``try_travel_time_s`` when that is within the limit, None
    when it is beyond; a later larger limit still finds the pair (the stopped search is not
    taken for unreachable)."""
    net = networks["songpa"]
    router, reference = Router(net, LRU if mode == "lru" else None), Router(net, LRU)
    rng = np.random.default_rng(13)
    within = beyond = 0
    for origin, dest in rng.integers(0, net.n_nodes, (40, 2)).tolist():
        expected = reference.try_travel_time_s(profile, origin, dest)
        limit_s = float(rng.uniform(0.3, 2.0)) * (expected or 100.0)
        found = router.try_travel_time_within_s(profile, origin, dest, limit_s)
        if expected is not None and expected <= limit_s:
            assert found == expected
            within += 1
        elif expected is not None and expected > limit_s * (1 + 1e-6):
            assert found is None
            beyond += 1
            assert router.try_travel_time_within_s(profile, origin, dest, expected) == expected
    assert within > 3 and beyond > 3


@pytest.mark.parametrize("profile", ["walk", "car"])
@pytest.mark.parametrize("mode", ["lru", "all_pairs"])
def test_leg_within_a_length_is_the_leg_or_beyond(networks, profile, mode):
    """``try_leg_within_m`` = ``try_leg`` (time and length, float ==) when the path is within
    the limit, (inf, inf) when it is longer, None when unreachable; a later larger limit still
    finds the pair."""
    net = networks["songpa"]
    router, reference = Router(net, LRU if mode == "lru" else None), Router(net, LRU)
    rng = np.random.default_rng(19)
    within = beyond = 0
    for origin, dest in rng.integers(0, net.n_nodes, (40, 2)).tolist():
        expected = reference.try_leg(profile, origin, dest)
        limit_m = float(rng.uniform(0.3, 2.0)) * (expected[1] if expected else 500.0)
        found = router.try_leg_within_m(profile, origin, dest, limit_m)
        if expected is None:
            assert found is None or found == (math.inf, math.inf)
        elif expected[1] <= limit_m:
            assert found == expected
            within += 1
        elif expected[1] > limit_m * (1 + 1e-6):
            assert found == (math.inf, math.inf)
            beyond += 1
            assert router.try_leg_within_m(profile, origin, dest, expected[1]) == expected
    assert within > 3 and beyond > 3


def test_a_stopped_search_tells_unreachable_from_beyond():
    """Two islands: the pair across them is unreachable (None) once the search has run out of
    nodes, and beyond (inf, inf) while the limit is below the island's own extent."""
    from mobisim.network.shortest import PathTable

    # island A: 0 -> 1 -> 2 (10 m each); island B: 3 <-> 4
    table = PathTable(5, [0, 1, 3, 4], [1, 2, 4, 3], [10.0] * 4, [10.0] * 4, True, False)
    assert table.pair_within(0, 2, 25.0) == (20.0, 20.0)
    assert table.pair_within(0, 2, 15.0) == (math.inf, math.inf)
    assert math.isnan(table.pair_within(0, 3, 1e6)[0])


def test_the_docs_example_runs(networks, repo_root):
    """The LRU example of docs/services-transit.md (the block that calls ``times_within_s``)."""
    text = (repo_root / "docs" / "services-transit.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    (code,) = [block for block in blocks if "times_within_s" in block]
    scope = {"network": networks["synthetic"], "pickup": 1, "dropoff": 50, "stop": 30}
    exec(code, scope)
    assert scope["router"].mode == "lru" and scope["direct_s"] > 0 and scope["direct_m"] > 0
    assert np.isfinite(scope["reach"]).sum() > 1
    assert scope["detour_s"] is None or scope["detour_s"] <= 900.0 * (1 + 1e-6)

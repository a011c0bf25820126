"""The small-fleet search (plain Python, :mod:`mobisim.services.drt_insertion_small`) decides as
the readable reference and as the NumPy path of ``fast_insert``.

Random instances of ``test_drt_twins`` (idle, busy with riders on board and assigned, charging,
some with a battery budget), with fleets of 1-40 vehicles: for each request the small-fleet
search, the NumPy path (the hand-over switched off) and the brute force over every vehicle
(:func:`reference_insert`) give the same accept/reject decision, vehicle, positions, times and
cost, to the last bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.network_config import RouterSettings
from mobisim.services import drt_insertion_fast, drt_insertion_small
from mobisim.services.drt_insertion_fast import DenseDrive, RouterDrive, dense_legs, fast_insert
from mobisim.services.drt_insertion_small import busy_cost_bound, small_insert
from mobisim.services.drt_timing import reference_insert
from test_drt_twins import NOW_S, PROFILE, Instance, same


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    router = Router(network)
    router.add_profile(PROFILE, view="drive")
    dense = dense_legs(router, PROFILE)
    assert dense is not None
    return network, router, DenseDrive(dense)


class SmallInstance(Instance):
    """An instance of ``test_drt_twins`` (same kinds of vehicles and limits) with a fleet of
    1-40 vehicles (1 + seed % 40)."""

    def __init__(self, drive, n_nodes: int, seed: int):
        rng = np.random.default_rng(seed)
        self.rng, self.drive, self.n_nodes = rng, drive, n_nodes
        self.stop_s = float(rng.choice([0.0, 30.0, 60.0]))
        self.max_wait_s = float(rng.uniform(120, 900))
        self.alpha, self.beta_s = float(rng.uniform(1.2, 2.0)), float(rng.uniform(120, 900))
        capacity = int(rng.integers(1, 7))
        self.next_id = 0
        self.vehicles = [self.vehicle(i, capacity) for i in range(1 + seed % 40)]


def numpy_path(monkeypatch, *args):
    """``fast_insert`` with the small-fleet hand-over off (the NumPy expressions at any size)."""
    with monkeypatch.context() as patch:
        patch.setattr(drt_insertion_small, "SMALL_FLEET_MAX", 0)
        return fast_insert(*args)


def compare(town, monkeypatch, sources, seeds, brute_drive=None) -> dict:
    """Brute force (over ``brute_drive``'s drive times; default the dense tables, the same
    floats as the router's all-pairs tables) against the small search and the NumPy path on
    ``sources``. Counts of requests, accepted, mismatches small/reference and small/NumPy, busy vehicles
    in reach of the pick-up, busy vehicles the small search examined and those it ruled out
    from the pick-up's drive times alone (``pickup_cannot_fit``)."""
    network, _router, drive = town
    examined, ruled_out = [0], [0]
    real_best = drt_insertion_fast.fast_best_insertion
    real_cannot_fit = drt_insertion_fast.pickup_cannot_fit

    def counting(*args, **kwargs):
        examined[0] += 1
        return real_best(*args, **kwargs)

    def counting_ruled_out(*args, **kwargs):
        out = real_cannot_fit(*args, **kwargs)
        ruled_out[0] += out
        return out

    monkeypatch.setattr(drt_insertion_fast, "fast_best_insertion", counting)
    monkeypatch.setattr(drt_insertion_fast, "pickup_cannot_fit", counting_ruled_out)
    brute = brute_drive or drive
    counts = dict.fromkeys(
        ["requests", "accepted", "vs_reference", "vs_numpy", "in_reach", "examined", "ruled_out"],
        0,
    )
    for seed in seeds:
        inst = SmallInstance(drive, network.n_nodes, seed)
        source = sources[seed % len(sources)]
        for _ in range(3):
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            args = (request, inst.vehicles, NOW_S, source, inst.stop_s, inst.energy_ok)
            best = reference_insert(
                request, inst.vehicles, NOW_S, brute.drive_s, inst.stop_s, inst.energy_ok
            )
            reach = source.pickup_bounds(
                inst.vehicles, NOW_S, request.pickup_node, request.latest_pickup_s
            )
            counts["in_reach"] += sum(1 for entry in reach if inst.vehicles[entry[1]].plan)
            before, ruled_before = examined[0], ruled_out[0]
            small = small_insert(*args)
            counts["examined"] += examined[0] - before
            counts["ruled_out"] += ruled_out[0] - ruled_before
            counts["vs_reference"] += not same(small, best)
            counts["vs_numpy"] += not same(small, numpy_path(monkeypatch, *args))
            counts["requests"] += 1
            counts["accepted"] += best is not None
    return counts


def test_small_fleet_search_decides_as_reference_and_numpy_path(town, monkeypatch):
    """240 instances (fleets of 1-40) on dense tables and router queries: no mismatch with the
    brute force nor with the NumPy path; both outcomes are common, and the early stop on busy
    vehicles' cost bounds skips some busy vehicles in reach without changing a decision."""
    _network, router, drive = town
    sources = [drive, RouterDrive(router, PROFILE)]
    counts = compare(town, monkeypatch, sources, range(240))
    assert counts["vs_reference"] == 0 and counts["vs_numpy"] == 0, counts
    assert counts["requests"] >= 600
    assert 150 < counts["accepted"] < counts["requests"] - 150, counts
    assert counts["examined"] < 0.9 * counts["in_reach"], counts


def test_small_fleet_search_on_lru_tables(town, monkeypatch):
    """LRU tables (bounded rows, legs asked of the router): every busy vehicle in reach is
    examined or ruled out by the pick-up's slack (no cost bound), and the decisions are those of
    the brute force and NumPy path."""
    network, _router, _drive = town
    router = Router(network, RouterSettings(all_pairs_max_nodes=0, cache_dir=None))
    router.add_profile(PROFILE, view="drive")
    assert router.mode == "lru"
    source = RouterDrive(router, PROFILE)
    counts = compare(town, monkeypatch, [source], range(300, 310), brute_drive=source)
    assert counts["vs_reference"] == 0 and counts["vs_numpy"] == 0, counts
    assert counts["accepted"] > 10 and counts["ruled_out"] > 0, counts
    assert counts["examined"] + counts["ruled_out"] == counts["in_reach"], counts


def test_a_small_fleet_cost_bound_too_large_is_caught(town, monkeypatch):
    """The comparison can fail: busy cost bounds raised by 300 s (no longer lower bounds) stop
    the small search before the cheapest vehicle, and the brute force sees it."""
    monkeypatch.setattr(
        drt_insertion_small, "busy_cost_bound", lambda *args: busy_cost_bound(*args) + 300.0
    )
    counts = compare(town, monkeypatch, [town[2]], range(60))
    assert counts["vs_reference"] > 0, counts


def test_busy_cost_bound_is_the_numpy_bound_of_one_vehicle(town):
    """The one-vehicle bound equals the fleet-wide NumPy bound (``busy_cost_bounds``) within
    its float rounding, on busy vehicles of random instances."""
    network, _router, drive = town
    checked = 0
    for seed in range(20):
        inst = SmallInstance(drive, network.n_nodes, seed)
        busy = [v for v in inst.vehicles if v.plan]
        request = inst.request(NOW_S + 60.0, 1)
        if not busy or request is None:
            continue
        fleet_bounds = drt_insertion_fast.busy_cost_bounds(busy, request, drive, NOW_S)
        rows = drt_insertion_fast.RequestRows(drive, request, None)  # whole rows
        for vehicle, expected in zip(busy, fleet_bounds.tolist(), strict=True):
            geometry = drt_insertion_fast.route_geometry(vehicle, drive)
            times = drt_insertion_fast.busy_table(geometry, rows)
            bound = busy_cost_bound(times, len(geometry.nodes) - 1)
            assert math.isclose(bound, expected, rel_tol=0, abs_tol=1e-3) or (
                np.isinf(bound) and np.isinf(expected)
            )
            checked += 1
    assert checked > 30

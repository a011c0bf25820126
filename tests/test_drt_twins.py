"""The DRT reference insertion and its fast twin decide alike (ridepy's twin pattern).

Random instances on the synthetic town's real drive times: fleets of 1-300 vehicles, idle ones,
charging ones (free at inf), and busy ones whose plans hold riders on board (drop-offs only) and
riders assigned (pick-up and drop-off), some with a battery budget. For each request the fast
path (exact candidate search, pruning by the pick-up bound) and the brute force over every vehicle
(:func:`reference_insert`) must give the same accept/reject decision, the same vehicle and
positions, and the same cost and times to the last bit.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.network_config import RouterSettings
from mobisim.services import drt_insertion_fast
from mobisim.services.drt_grid import PickupGrid, dense_grid, router_grid
from mobisim.services.drt_insertion_fast import (
    GRID_MIN,
    DenseDrive,
    RequestRows,
    RouterDrive,
    dense_legs,
    fast_best_insertion,
    fast_insert,
    fast_options,
    leg_limits,
    pickup_cannot_fit,
    pickup_fit_mask,
    route_geometry,
)
from mobisim.services.drt_plan import (
    DrtRequest,
    DrtVehicle,
    PlanStop,
    insert_stops,
    new_route,
    plan_windows,
)
from mobisim.services.drt_timing import (
    latest_dropoff_s,
    latest_pickup_s,
    plan_stops,
    reference_best_insertion,
    reference_insert,
    reference_options,
    schedule,
    start_s,
    within_capacity,
    within_windows,
)

NOW_S = 8 * 3600.0
PROFILE = "drt"


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    router = Router(network)
    router.add_profile(PROFILE, view="drive")
    dense = dense_legs(router, PROFILE)
    assert dense is not None
    return network, router, DenseDrive(dense)


class Instance:
    """One random fleet and its limits."""

    def __init__(self, drive: DenseDrive, n_nodes: int, seed: int):
        rng = np.random.default_rng(seed)
        self.rng, self.drive, self.n_nodes = rng, drive, n_nodes
        self.stop_s = float(rng.choice([0.0, 30.0, 60.0]))
        self.max_wait_s = float(rng.uniform(120, 900))
        self.alpha, self.beta_s = float(rng.uniform(1.2, 2.0)), float(rng.uniform(120, 900))
        fleet = int(np.exp(rng.uniform(0, math.log(300))))  # 1..300, log-uniform
        capacity = int(rng.integers(1, 7))
        self.next_id = 0
        self.vehicles = [self.vehicle(i, capacity) for i in range(fleet)]

    def request(self, ready_s: float, max_party: int) -> DrtRequest | None:
        rng = self.rng
        pickup, dropoff = (int(n) for n in rng.integers(self.n_nodes, size=2))
        if pickup == dropoff:
            return None
        direct_s = self.drive.drive_s(pickup, dropoff)
        if not math.isfinite(direct_s):
            return None
        self.next_id += 1
        return DrtRequest(
            self.next_id,
            pickup,
            dropoff,
            int(rng.integers(1, max_party + 1)),
            ready_s,
            ready_s,
            latest_pickup_s(ready_s, self.max_wait_s),
            latest_dropoff_s(ready_s, direct_s, self.alpha, self.beta_s),
            direct_s,
            direct_s * 10.0,
        )

    def energy_ok(self, vehicle: DrtVehicle, nodes: list[int]) -> bool:
        """A battery budget: the drive time of the route, s, within the vehicle's budget."""
        drive = sum(self.drive.drive_s(a, b) for a, b in pairwise(nodes))
        return drive <= vehicle.battery

    def vehicle(self, vehicle_id: int, capacity: int) -> DrtVehicle:
        rng, drive = self.rng, self.drive
        node = int(rng.integers(self.n_nodes))
        kind = rng.choice(["idle", "busy", "busy", "charging"], p=[0.3, 0.3, 0.35, 0.05])
        free_s = math.inf if kind == "charging" else NOW_S + float(rng.uniform(-300, 300))
        vehicle = DrtVehicle(vehicle_id, capacity, node, free_s, node)
        if rng.random() < 0.2:
            vehicle.battery = float(rng.uniform(600, 4000))  # s of driving left
        if kind != "busy":
            return vehicle
        # riders on board: only their drop-offs are left, with room in their limits
        leave = start_s(free_s, NOW_S)
        for _ in range(int(rng.integers(0, capacity + 1))):
            rider = self.request(NOW_S - float(rng.uniform(0, 900)), 1)
            if rider is None or vehicle.anchor_load + rider.party > capacity:
                continue
            vehicle.plan = [*vehicle.plan, PlanStop(rider, False)]
            vehicle.anchor_load += rider.party
            vehicle.version += 1
        visits = schedule(
            node, leave, vehicle.anchor_load, plan_stops(vehicle), drive.drive_s, self.stop_s
        )
        for stop, visit in zip(vehicle.plan, visits, strict=True):
            stop.request.latest_dropoff_s = visit.service_s + float(rng.uniform(0, 600))
        # riders assigned: inserted as dispatch would (the plan is checked feasible below)
        for _ in range(int(rng.integers(0, 5))):
            rider = self.request(NOW_S + float(rng.uniform(-120, 600)), capacity)
            if rider is None:
                continue
            nodes = [node, *plan_windows(vehicle).nodes, rider.pickup_node, rider.dropoff_node]
            times = drive.local_tables([nodes])[0]
            found = fast_best_insertion(vehicle, rider, NOW_S, times, self.stop_s, self.energy_ok)
            if found is not None:
                insert_stops(vehicle, rider, found)
        stops = plan_stops(vehicle)
        visits = schedule(node, leave, vehicle.anchor_load, stops, drive.drive_s, self.stop_s)
        assert within_windows(stops, visits) and within_capacity(visits, capacity)
        return vehicle


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (a.vehicle, a.pickup_index, a.dropoff_index, a.pickup_s, a.dropoff_s, a.cost_s) == (
        b.vehicle,
        b.pickup_index,
        b.dropoff_index,
        b.pickup_s,
        b.dropoff_s,
        b.cost_s,
    )


def exactness_check(town, monkeypatch, seeds=range(220)) -> dict:
    """Fast path against brute force on the random instances of ``seeds`` (3 requests each):
    counts of mismatches, requests, accepted, rejected, plans with >= 2 riders on board, busy
    vehicles the time bound kept and busy vehicles the fast path examined (its early stop
    skipped the rest). The fast path runs on dense tables and router queries, each with and
    without the grid of vehicles."""
    network, router, drive = town
    sources = [
        RouterDrive(router, PROFILE),
        DenseDrive(drive.dense, dense_grid(network, drive.dense.times_to.T)),
        drive,
        RouterDrive(router, PROFILE, router_grid(router, PROFILE)),
        DenseDrive(drive.dense, dense_grid(network, drive.dense.times_to.T)),
    ]
    examined_busy = [0]
    real_best = drt_insertion_fast.fast_best_insertion

    def counting(*args, **kwargs):
        examined_busy[0] += 1
        return real_best(*args, **kwargs)

    monkeypatch.setattr(drt_insertion_fast, "fast_best_insertion", counting)
    counts = dict.fromkeys(
        ["mismatch", "requests", "accepted", "rejected", "onboard", "in_reach", "examined"], 0
    )
    for seed in seeds:
        inst = Instance(drive, network.n_nodes, seed)
        counts["onboard"] += sum(1 for v in inst.vehicles if v.plan and v.anchor_load >= 2)
        for _ in range(3):
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            brute = reference_insert(
                request, inst.vehicles, NOW_S, drive.drive_s, inst.stop_s, inst.energy_ok
            )
            source = sources[seed % 5]
            reach = source.pickup_bounds(
                inst.vehicles, NOW_S, request.pickup_node, request.latest_pickup_s
            )
            counts["in_reach"] += sum(1 for entry in reach if inst.vehicles[entry[1]].plan)
            before = examined_busy[0]
            fast = fast_insert(request, inst.vehicles, NOW_S, source, inst.stop_s, inst.energy_ok)
            counts["examined"] += examined_busy[0] - before
            counts["mismatch"] += not same(fast, brute)
            counts["accepted"] += brute is not None
            counts["rejected"] += brute is None
            counts["requests"] += 1
    return counts


def test_fast_path_and_brute_force_decide_alike_on_random_instances(town, monkeypatch):
    """>= 200 instances (660 requests); both outcomes occur often, and onboard riders are
    common. The early stop on busy vehicles' cost bounds is at work: it skips some of the busy
    vehicles that could make the pick-up in time (about a fifth on this small town), and no
    decision changes."""
    counts = exactness_check(town, monkeypatch)
    assert counts["mismatch"] == 0, counts
    assert counts["requests"] >= 600
    assert counts["accepted"] > 100 and counts["rejected"] > 100
    assert counts["onboard"] > 500
    assert counts["examined"] < 0.9 * counts["in_reach"], counts


def test_a_cost_bound_too_large_is_caught(town, monkeypatch):
    """The exactness check can fail: busy vehicles' cost bounds raised by 300 s (no longer lower
    bounds) stop the search before the cheapest vehicle, and the brute force sees it."""
    real_bounds = drt_insertion_fast.busy_cost_bounds
    monkeypatch.setattr(
        drt_insertion_fast, "busy_cost_bounds", lambda *args: real_bounds(*args) + 300.0
    )
    counts = exactness_check(town, monkeypatch, seeds=range(60))
    assert counts["mismatch"] > 0, counts


def test_pickup_slack_rules_out_only_vehicles_that_cannot_take_the_request(town):
    """``pickup_cannot_fit`` (the pick-up's delay against the plan's slack) says True only for
    busy vehicles into which the reference finds no feasible insertion, and it does rule out
    many of those."""
    network, _router, drive = town
    ruled_out = infeasible = 0
    for seed in range(300, 360):
        inst = Instance(drive, network.n_nodes, seed)
        for vehicle in [v for v in inst.vehicles if v.plan][:15]:
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            geometry = route_geometry(vehicle, drive)
            nodes = [*geometry.nodes.tolist(), request.pickup_node, request.dropoff_node]
            times = drive.local_tables([nodes])[0]
            pickup = len(nodes) - 2
            to_pickup = [times[i][pickup] for i in range(pickup)]
            cannot = pickup_cannot_fit(
                vehicle, request, NOW_S, geometry, to_pickup, times[pickup][:pickup], inst.stop_s
            )
            slow = reference_best_insertion(
                vehicle, request, NOW_S, drive.drive_s, inst.stop_s, inst.energy_ok
            )
            assert not (cannot and slow is not None), (seed, vehicle.vehicle_id, slow)
            infeasible += slow is None
            ruled_out += cannot
    assert infeasible > 100 and ruled_out > 0.3 * infeasible, (ruled_out, infeasible)


def test_a_plan_slack_too_small_is_caught(town, monkeypatch):
    """The exactness check sees a pick-up test that rules out too much: plans' slack lowered by
    120 s rules out vehicles that could take the request."""
    real_slack = drt_insertion_fast.plan_slack

    def too_small(*args):
        plan = real_slack(*args)
        return plan._replace(slack_s=[s - 120.0 for s in plan.slack_s])

    monkeypatch.setattr(drt_insertion_fast, "plan_slack", too_small)
    counts = exactness_check(town, monkeypatch, seeds=range(60))
    assert counts["mismatch"] > 0, counts


def test_fast_and_reference_insertion_into_one_vehicle_agree(town):
    network, _router, drive = town
    checked = found = 0
    for seed in range(300, 340):
        inst = Instance(drive, network.n_nodes, seed)
        for vehicle in inst.vehicles[:20]:
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            nodes = [vehicle.node, *plan_windows(vehicle).nodes]
            nodes += [request.pickup_node, request.dropoff_node]
            times = drive.local_tables([nodes])[0]
            fast = fast_best_insertion(vehicle, request, NOW_S, times, inst.stop_s, inst.energy_ok)
            slow = reference_best_insertion(
                vehicle, request, NOW_S, drive.drive_s, inst.stop_s, inst.energy_ok
            )
            assert same(fast, slow), (seed, vehicle, fast, slow)
            checked += 1
            found += fast is not None
    assert checked > 300 and found > 50


def test_every_vehicles_options_for_batch_assignment_agree_with_the_reference(town):
    """``fast_options`` (batch assignment) keeps exactly the vehicles the reference finds
    feasible, with the same best insertion for each, on dense tables and router queries."""
    network, router, drive = town
    router_drive = RouterDrive(router, PROFILE)
    pairs = 0
    for seed in range(500, 540):
        inst = Instance(drive, network.n_nodes, seed)
        request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
        if request is None:
            continue
        slow = reference_options(
            request, inst.vehicles, NOW_S, drive.drive_s, inst.stop_s, inst.energy_ok
        )
        source = router_drive if seed % 4 == 0 else drive
        fast = fast_options(request, inst.vehicles, NOW_S, source, inst.stop_s, inst.energy_ok)
        assert len(fast) == len(slow), seed
        assert all(same(a, b) for a, b in zip(fast, slow, strict=True)), seed
        pairs += len(fast)
    assert pairs > 100


def test_approximation_never_beats_the_exact_search(town):
    """``approx_k`` examines fewer vehicles: it may reject what exact search serves, or serve at a
    higher cost, never the reverse; with K at least the fleet it is the exact search."""
    network, _router, drive = town
    worse = 0
    for seed in range(400, 440):
        inst = Instance(drive, network.n_nodes, seed)
        request = inst.request(NOW_S + 60.0, 2)
        if request is None:
            continue
        exact = fast_insert(request, inst.vehicles, NOW_S, drive, inst.stop_s, inst.energy_ok)
        approx = fast_insert(request, inst.vehicles, NOW_S, drive, inst.stop_s, inst.energy_ok, 2)
        full = fast_insert(
            request, inst.vehicles, NOW_S, drive, inst.stop_s, inst.energy_ok, len(inst.vehicles)
        )
        assert same(full, exact)
        if approx is not None:
            assert exact is not None and exact.cost_s <= approx.cost_s
            # the approximate choice is a feasible insertion the reference agrees with
            check = reference_best_insertion(
                approx.vehicle, request, NOW_S, drive.drive_s, inst.stop_s, inst.energy_ok
            )
            assert same(check, approx)
        worse += (approx is None) != (exact is None) or (
            approx is not None and approx.cost_s > exact.cost_s
        )
    assert worse > 0  # the approximation does lose requests on these instances


def test_new_route_and_energy_check_see_the_inserted_stops(town):
    network, _router, drive = town
    inst = Instance(drive, network.n_nodes, 7)
    vehicle = next(v for v in inst.vehicles if len(v.plan) >= 2)
    request = inst.request(NOW_S, 1)
    route = new_route(vehicle, request, 1, 2)
    plan_nodes = [s.node for s in vehicle.plan]
    assert route[0] == vehicle.node and route[2] == request.pickup_node
    assert route[4] == request.dropoff_node
    assert [n for k, n in enumerate(route) if k not in (0, 2, 4)] == plan_nodes


def grid_mismatches(town, grid_of, seeds=range(600, 660)) -> tuple[int, int, int]:
    """(requests whose pick-up candidates differ from the whole fleet's, requests, requests where
    the grid looked at fewer vehicles than the fleet) for drives given a grid by ``grid_of``;
    vehicles move between requests (the fleet's cell index must follow them)."""
    network, router, drive = town
    dense_grid_drive = DenseDrive(drive.dense, grid_of(drive.dense.times_to.T))
    router_plain = RouterDrive(router, PROFILE)
    router_grid_drive = RouterDrive(router, PROFILE, grid_of(drive.dense.times_to.T))
    differ = requests = pruned = 0
    for seed in seeds:
        inst = Instance(drive, network.n_nodes, seed)
        while len(inst.vehicles) < GRID_MIN:  # the grid serves fleets of at least GRID_MIN
            inst.vehicles.append(inst.vehicle(len(inst.vehicles), 4))
        for _ in range(5):
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            args = (inst.vehicles, NOW_S, request.pickup_node, request.latest_pickup_s)
            whole = drive.pickup_bounds(*args)
            by_grid = dense_grid_drive.pickup_bounds(*args)
            by_router_grid = router_grid_drive.pickup_bounds(*args)
            differ += whole != by_grid or router_plain.pickup_bounds(*args) != (by_router_grid)
            requests += 1
            grid = dense_grid_drive.grid
            pruned += len(
                grid.candidates(inst.vehicles[0]._fleet, request.pickup_node, NOW_S, args[-1])
            ) < len(inst.vehicles)
            for vehicle in inst.rng.choice(inst.vehicles, 5):  # some vehicles move on
                vehicle.node = int(inst.rng.integers(network.n_nodes))
    return differ, requests, pruned


def test_grid_of_vehicles_keeps_every_vehicle_that_can_make_the_pick_up(town):
    """The grid's candidates, then the exact bound, give the same vehicles, bounds and times as
    the bound over the whole fleet (dense tables and router queries, vehicles moving between
    requests), while the grid does leave vehicles out on most requests."""
    network, router, _drive = town
    differ, requests, pruned = grid_mismatches(town, lambda times: dense_grid(network, times))
    assert differ == 0 and requests > 200
    assert pruned > requests // 3
    # the router's bound (edge chords / edge times) is valid too, and no faster than the pairs'
    by_edges, by_pairs = router_grid(router, PROFILE), dense_grid(network, _drive.dense.times_to.T)
    assert by_edges.speed_max_mps >= by_pairs.speed_max_mps * (1 - 1e-9)
    differ, _, _ = grid_mismatches(town, lambda times: by_edges)
    assert differ == 0


def test_grid_with_a_speed_too_low_is_caught(town):
    """The check above can fail: a top speed below the network's (an invalid lower bound)
    leaves out vehicles that could make the pick-up, and the comparison sees it."""
    network, _router, _drive = town

    def too_slow(times):
        grid = dense_grid(network, times)
        return PickupGrid(grid.x_m, grid.y_m, grid.speed_max_mps * 0.7, grid.cell_m)

    differ, requests, _ = grid_mismatches(town, too_slow)
    assert differ > 0, requests


@pytest.fixture(scope="module")
def lru_router(town):
    """The town's router with LRU tables (rows on demand), as networks above
    ``all_pairs_max_nodes`` get."""
    network, _router, _drive = town
    router = Router(network, RouterSettings(all_pairs_max_nodes=0, cache_dir=None))
    router.add_profile(PROFILE, view="drive")
    assert router.mode == "lru"
    return router


def test_bounded_rows_are_the_routers_rows_within_the_limit(town, lru_router):
    """The time-bounded Dijkstra of LRU tables (``Router.times_within_s``, reverse and forward,
    as ``RouterDrive`` reads it) gives the very floats of the router's whole rows up to the
    limit, and inf beyond it."""
    network, _router, _drive = town
    drive = RouterDrive(lru_router, PROFILE)
    rng = np.random.default_rng(5)
    for node in rng.integers(network.n_nodes, size=20).tolist():
        limit_s = float(rng.uniform(60, 900))
        to_node, from_node = drive.rows_at(node, limit_s)
        whole_to = lru_router.times_to_s(PROFILE, node)
        whole_from = lru_router.times_from_s(PROFILE, node)
        for bounded, whole in ((to_node, whole_to), (from_node, whole_from)):
            within = np.nan_to_num(whole, nan=np.inf) <= limit_s
            assert within.sum() > 1
            assert np.array_equal(bounded[within], whole[within])
            assert np.all(np.isinf(bounded[~within]) | (bounded[~within] <= limit_s * (1 + 1e-6)))


def _agrees_with_brute_force_on(town, source, seeds) -> None:
    """fast_insert over ``source`` decides as brute force over the same drive times on three
    requests of each seed's instance (enough of them, and enough accepted, to mean much)."""
    network, _router, drive = town
    mismatch = requests = accepted = 0
    for seed in seeds:
        inst = Instance(drive, network.n_nodes, seed)
        for _ in range(3):
            request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
            if request is None:
                continue
            brute = reference_insert(
                request, inst.vehicles, NOW_S, source.drive_s, inst.stop_s, inst.energy_ok
            )
            fast = fast_insert(request, inst.vehicles, NOW_S, source, inst.stop_s, inst.energy_ok)
            mismatch += not same(fast, brute)
            requests += 1
            accepted += brute is not None
    assert mismatch == 0 and requests > 30 and accepted > 10


def test_fast_path_on_lru_tables_decides_as_brute_force(town, lru_router, monkeypatch):
    """On LRU tables (bounded rows for the candidates and the cost bounds, router queries for
    the examined vehicles) the fast path agrees with brute force over the same drive times."""
    source = RouterDrive(lru_router, PROFILE)
    _agrees_with_brute_force_on(town, source, range(700, 712))


def test_lru_rows_stopped_short_decide_as_brute_force(town, lru_router, monkeypatch):
    """LRU rows around the request stopped well short of the longest feasible leg
    (``NEAR_ROWS_FACTOR`` 0.1): the cells beyond are asked pair by pair (``leg_within_s``) and
    the fast path still agrees with brute force; those pair queries did happen."""
    monkeypatch.setattr(drt_insertion_fast, "NEAR_ROWS_FACTOR", 0.1)
    source = RouterDrive(lru_router, PROFILE)
    asked = []
    real_within = source.leg_within_s
    monkeypatch.setattr(
        source, "leg_within_s", lambda a, b, limit_s: asked.append(1) or real_within(a, b, limit_s)
    )
    _agrees_with_brute_force_on(town, source, range(720, 732))
    assert len(asked) > 50


def test_fleet_pickup_mask_is_the_one_vehicle_test(town, lru_router, monkeypatch):
    """``pickup_fit_mask`` (NumPy, every busy vehicle at once) keeps exactly the busy vehicles
    that ``pickup_cannot_fit`` keeps, on the dense tables; on LRU rows stopped at a tenth of the
    pick-up's reach it keeps every one of them (and may keep a few more)."""
    network, _router, drive = town
    monkeypatch.setattr(drt_insertion_fast, "NEAR_ROWS_FACTOR", 0.1)
    sources = [drive, RouterDrive(lru_router, PROFILE)]
    compared = kept = 0
    for seed in range(700, 760):
        inst = Instance(drive, network.n_nodes, seed)
        busy = [v for v in inst.vehicles if v.plan]
        request = inst.request(NOW_S + float(inst.rng.uniform(0, 300)), 3)
        if not busy or request is None:
            continue
        source = sources[seed % 2]
        limits = None if source.rows_exact else leg_limits(request, busy, NOW_S)
        rows = RequestRows(source, request, limits)
        mask = pickup_fit_mask(busy, request, NOW_S, source, rows, inst.stop_s).tolist()
        one_by_one = []
        for vehicle in busy:
            geometry = route_geometry(vehicle, source)
            to_p, from_p = rows.cells(0, geometry.nodes), rows.cells(1, geometry.nodes)
            one_by_one.append(
                not pickup_cannot_fit(vehicle, request, NOW_S, geometry, to_p, from_p, inst.stop_s)
            )
        if source.rows_exact:
            assert mask == one_by_one, seed
        else:
            assert all(m or not o for m, o in zip(mask, one_by_one, strict=True)), seed
        compared += len(busy)
        kept += sum(mask)
    assert compared > 1000 and 0.05 * compared < kept < 0.95 * compared, (compared, kept)

"""Fast twin of :mod:`mobisim.services.drt_timing`: the same decisions and costs, sooner.

Read :mod:`mobisim.services.drt_timing` first: it defines what an insertion is, what it costs and
which one wins. This module finds the same one faster, by three means that change no decision
(``tests/test_drt_twins.py`` holds the two equal on random instances):

* **exact pruning of vehicles** (:func:`fast_insert`): a vehicle cannot pick the rider up before
  ``max(free, now) + drive(anchor → pick-up)`` (every route to the pick-up starts at the anchor and
  shortest drive times obey the triangle inequality), so a vehicle whose bound is past the latest
  pick-up is skipped (the bound is taken ``BOUND_SLACK_S`` lower, so float rounding in path sums
  never skips a feasible vehicle), for the whole fleet at once from one row of drive times to the
  pick-up (:func:`_fleet_candidates`). Idle vehicles have an exact cost (drive to the pick-up +
  direct ride), busy ones a lower bound on it (:func:`busy_cost_bounds`, proof there); all are
  examined in the order of these numbers and the search stops when the next one exceeds the best
  cost found;
* **ruling out busy vehicles from the pick-up alone** (:func:`pickup_cannot_fit`): a busy
  vehicle is examined in full only when at some position the pick-up can be made in time and
  delays the next plan stop by no more than the plan's slack there (:func:`plan_slack`, how
  late each stop may be reached with every later stop still in time); on a busy day most busy
  vehicles in reach fail this way, and the test reads two drive times per plan stop;
* **incremental timing** (:func:`fast_best_insertion`): the old plan's departures are worked out
  once; a position pair is dropped as soon as one stop breaks a limit, later pick-up positions
  once the vehicle leaves too late, and the rest of the plan is not re-timed once the delay is
  absorbed (its times are then those of the old, feasible plan);
* **plain floats**: on networks with the router's all-pairs tables and at most
  ``DENSE_MAX_NODES`` nodes, drive times are read from one float row per node
  (:class:`DenseLegs`); larger networks read the router's rows around the request (on LRU
  tables, Dijkstra runs stopped at the longest leg a feasible plan can drive:
  :meth:`~mobisim.network.router.Router.times_within_s`, :class:`LegLimits`) and the plans'
  cached legs (one-pair queries).

Approximation (off by default): ``approx_k`` examines only the K vehicles with the lowest
pick-up bound, as mobisim did before exact search; it can reject a request that another vehicle
could serve (the scenario key ``approx_candidates_k``).
"""

from __future__ import annotations

import math
import weakref
from array import array
from collections.abc import Callable
from itertools import pairwise
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from mobisim.services.drt_grid import PickupGrid
from mobisim.services.drt_plan import (
    DrtRequest,
    DrtVehicle,
    Insertion,
    drt_fleet,
    new_route,
    plan_windows,
)
from mobisim.services.drt_timing import EnergyCheck, decision_key

#: networks with at most this many nodes get :class:`DenseLegs` (8 n² bytes per table: 32 MB
#: for times and as much for distances at 2,000 nodes); larger ones query the router per request
DENSE_MAX_NODES = 2000

#: fleets of at least this many vehicles get their pick-up bounds with NumPy over a
#: :class:`~mobisim.services.drt_plan.DrtFleet` (a few calls whatever the fleet); smaller ones
#: in a plain loop (faster there)
FLEET_ARRAYS_MIN = 48

#: fleets of at least this many vehicles with a grid look only at the vehicles near the pick-up
#: (:mod:`mobisim.services.drt_grid`); smaller ones at every vehicle
GRID_MIN = 48

#: the pick-up bound is lowered by this much (s) before it prunes, so that rounding in sums of
#: path times (1e-12 s at a day's clock) can never prune a vehicle that could make it
BOUND_SLACK_S = 1e-6

#: busy vehicles' cost bounds (:func:`busy_cost_bounds`) are lowered by this much (s) before the
#: search stops on them: the router stores drive times as float32 (a cell is the exact path sum
#: rounded, 2.4e-4 s at 3,600 s), so the triangle inequality the bound rests on can fail between
#: stored times by a few such steps; 0.05 s is far above that and far below any useful cost
COST_SLACK_S = 0.05

#: separation (s) of the vehicles' values in the segmented suffix minimum of
#: :func:`busy_cost_bounds` (5,000 vehicles: values up to 5e10 s, rounding 1e-5 s, far inside
#: ``COST_SLACK_S``)
SEGMENT_S = 1e7

#: rows of drive times kept by :class:`RouterDrive` (a request reads four, some twice)
ROWS_KEPT = 16

#: LRU tables: the rows from the pick-up and to and from the drop-off are stopped at this
#: factor times the pick-up's reach (:class:`RequestRows`; any factor gives the same decisions)
NEAR_ROWS_FACTOR = 1.0


def _rows(matrix: np.ndarray) -> list[array]:
    """One ``array('d')`` per row of a float64 matrix (indexing gives Python floats)."""
    return [array("d", row.tobytes()) for row in matrix]


class DenseLegs:
    """Drive time (s) and distance (m) of one routing profile between every pair of nodes.

    ``times[a][b]`` and ``dists[a][b]`` are exactly the router's ``legs(profile, a, b)`` (NaN when
    unreachable); ``times_inf`` is ``times`` with inf for NaN (the same rows when nothing is
    unreachable).
    """

    __slots__ = ("_times_to", "dists", "times", "times_inf")

    def __init__(self, router, profile: str):
        nodes = np.arange(router.n_nodes)
        times, dists = router.legs(profile, nodes[:, None], nodes[None, :])
        times = np.ascontiguousarray(times, dtype=np.float64)
        self.times = _rows(times)
        self.dists = _rows(np.ascontiguousarray(dists, dtype=np.float64))
        unreachable = np.isnan(times)
        self.times_inf = (
            _rows(np.where(unreachable, np.inf, times)) if unreachable.any() else self.times
        )
        self._times_to: np.ndarray | None = None

    @property
    def times_to(self) -> np.ndarray:
        """``times_inf`` transposed as one float64 matrix: ``times_to[b][a]`` is
        ``times_inf[a][b]`` (the same floats), so the drives from every node to ``b`` are one
        contiguous row. Built on first use (large fleets only)."""
        if self._times_to is None:
            matrix = np.frombuffer(b"".join(row.tobytes() for row in self.times_inf))
            n = len(self.times_inf)
            self._times_to = np.ascontiguousarray(matrix.reshape(n, n).T)
        return self._times_to


#: router -> {(view, speed_kmh, speed_cap_kmh): DenseLegs}; profiles that move alike share one
_DENSE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dense_legs(router, profile: str) -> DenseLegs | None:
    """The :class:`DenseLegs` of ``profile`` on ``router`` (built once), or None when the network
    is beyond ``DENSE_MAX_NODES`` or the router does not keep ``profile``'s tables all-pairs."""
    if router.n_nodes > DENSE_MAX_NODES or router.storage(profile) != "all_pairs":
        return None
    prof = router.profiles[profile]
    key = (prof.view, prof.speed_kmh, prof.speed_cap_kmh)
    tables = _DENSE.setdefault(router, {})
    legs = tables.get(key)
    if legs is None:
        legs = tables[key] = DenseLegs(router, profile)
    return legs


# ------------------------------------------------------------------ drive-time sources
class DenseDrive:
    """Drive times (s, inf = unreachable) from :class:`DenseLegs` rows; with a ``grid``
    (:class:`~mobisim.services.drt_grid.PickupGrid`), fleets of at least ``GRID_MIN`` vehicles
    look only at the vehicles near enough to the pick-up (same result, see that module)."""

    def __init__(self, dense: DenseLegs, grid: PickupGrid | None = None):
        self.dense = dense
        self.times = dense.times_inf
        self.grid = grid

    def drive_s(self, origin: int, dest: int) -> float:
        """Drive time from node ``origin`` to ``dest``, s."""
        return self.times[origin][dest]

    def period(self) -> int:
        """Which table set the drive times come from now (one: dense tables have no periods)."""
        return 0

    #: :meth:`rows_at` gives the very floats of :meth:`local_tables` (tables can be put together
    #: from rows, see :func:`busy_table`)
    rows_exact = True

    def row_to(self, node: int, limit_s: float = math.inf) -> np.ndarray:
        """Drive times (s, float64, inf = unreachable) from every node to ``node``: the same
        floats as :meth:`drive_s`. Times above ``limit_s`` may be given as inf
        (:class:`RouterDrive` on LRU tables; dense rows are whole)."""
        return self.dense.times_to[node]

    def row_from(self, node: int, limit_s: float = math.inf) -> np.ndarray:
        """As :meth:`row_to`, the drive times from ``node`` to every node."""
        return np.frombuffer(self.times[node])

    def rows_at(self, node: int, limit_s: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`row_to`, :meth:`row_from`) of ``node``."""
        return self.row_to(node, limit_s), self.row_from(node, limit_s)

    def pickup_bounds(self, vehicles: list[DrtVehicle], now_s: float, pickup: int, latest_s: float):
        """(bound, index, start, drive to pick-up) of the vehicles whose pick-up bound (s) is
        within ``latest_s`` (less ``BOUND_SLACK_S``), in index order."""
        limit = latest_s + BOUND_SLACK_S
        if self.grid is not None and len(vehicles) >= GRID_MIN:
            slots = self.grid.candidates(drt_fleet(vehicles), pickup, now_s, limit)
            return self._bounds_of(vehicles, slots, now_s, pickup, limit)
        if len(vehicles) >= FLEET_ARRAYS_MIN:
            fleet = drt_fleet(vehicles)
            free = fleet.free_s
            start = np.where(free >= now_s, free, now_s)
            reach = self.dense.times_to[pickup][fleet.nodes]
            bound = start + reach
            ok = np.flatnonzero(bound <= limit)
            return list(
                zip(
                    bound[ok].tolist(),
                    ok.tolist(),
                    start[ok].tolist(),
                    reach[ok].tolist(),
                    strict=True,
                )
            )
        return self._bounds_of(vehicles, range(len(vehicles)), now_s, pickup, limit)

    def _bounds_of(self, vehicles, indices, now_s: float, pickup: int, limit: float) -> list:
        times, found = self.times, []
        for index in indices:
            vehicle = vehicles[index]
            free = vehicle._free_s
            start = free if free >= now_s else now_s
            reach = times[vehicle._node][pickup]
            bound = start + reach
            if bound <= limit:
                found.append((bound, index, start, reach))
        return found

    def local_tables(self, node_lists: list[list[int]]) -> list[list[tuple]]:
        """For each list of nodes, the drive times between them (row a, column b)."""
        times, tables = self.times, []
        for nodes in node_lists:
            columns = itemgetter(*nodes)  # a row's entries at ``nodes``, as a tuple
            tables.append([columns(times[a]) for a in nodes])
        return tables


class RouterDrive:
    """Drive times (s, inf = unreachable) asked of the router (networks without dense tables);
    ``grid`` as for :class:`DenseDrive`."""

    def __init__(self, router, profile: str, grid: PickupGrid | None = None):
        self.router, self.profile, self.grid = router, profile, grid
        #: all-pairs tables: a row is the matrix's own cells (LRU rows are Dijkstra runs from
        #: either end, which may round a pair differently: tables are asked for then)
        self.rows_exact = router.storage(profile) == "all_pairs"
        #: (node, reverse, period) -> (limit covered s, row)
        self._rows: dict[tuple[int, bool, int], tuple[float, np.ndarray]] = {}
        self._legs: dict[tuple[int, int, int], float] = {}

    def drive_s(self, origin: int, dest: int) -> float:
        """Drive time from node ``origin`` to ``dest``, s: the router's one-pair query (on LRU
        tables a search that stops at ``dest``, the floats of the whole row)."""
        time_s = self.router.try_travel_time_s(self.profile, origin, dest)
        return math.inf if time_s is None else time_s

    def period(self) -> int:
        """The router's time-of-day period now (its tables, hence the drive times, change
        with it)."""
        return self.router.period_index()

    def row_to(self, node: int, limit_s: float = math.inf):
        """As :meth:`DenseDrive.row_to`: the router's row or, on LRU tables, its region within
        ``limit_s`` (one Dijkstra run stopped there:
        :meth:`~mobisim.network.router.Router.times_within_s`; inf beyond it). All-pairs
        tables: a :class:`~mobisim.network.router.TimesRow`, the matrix's own cells read when
        indexed (``row[nodes]``, the only use the dispatchers make of a row)."""
        return self._row(node, True, limit_s)

    def row_from(self, node: int, limit_s: float = math.inf):
        """As :meth:`row_to`, the drive times from ``node`` to every node."""
        return self._row(node, False, limit_s)

    def rows_at(self, node: int, limit_s: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """(:meth:`row_to`, :meth:`row_from`) of ``node``."""
        return self.row_to(node, limit_s), self.row_from(node, limit_s)

    def _row(self, node: int, reverse: bool, limit_s: float):
        """One row, kept with the limit it covers (the last ``ROWS_KEPT``: a request asks for
        its pick-up's and drop-off's more than once); a kept row of a larger limit serves a
        smaller one (its times beyond the smaller limit are exact, not inf)."""
        exact = self.rows_exact or limit_s == math.inf
        key = (node, reverse, self.period())
        kept = self._rows.get(key)
        if kept is not None and (kept[0] >= limit_s or kept[0] == math.inf):
            return kept[1]
        if exact:
            # all-pairs: the matrix's cells read where indexed (a quote reads a few hundred of
            # the N: the fleet's positions, the plans' stops); LRU: the whole row
            row = self.router.times_row_s(self.profile, node, reverse)
            limit_s = math.inf
        else:
            row = self.router.times_within_s(self.profile, node, limit_s, reverse=reverse)
        self._rows.pop(key, None)
        if len(self._rows) >= ROWS_KEPT:
            self._rows.pop(next(iter(self._rows)))
        self._rows[key] = (limit_s, row)
        return row

    def leg_within_s(self, origin: int, dest: int, limit_s: float) -> float:
        """Drive time (s) from ``origin`` to ``dest`` when at most ``limit_s``, else inf (a
        little above the limit it may be given): the router's one-pair search stopped at the
        limit (:meth:`~mobisim.network.router.Router.try_travel_time_within_s`)."""
        time_s = self.router.try_travel_time_within_s(self.profile, origin, dest, limit_s)
        return math.inf if time_s is None else time_s

    def leg_s(self, origin: int, dest: int) -> float:
        """:meth:`drive_s` remembered per pair and period (a plan's legs are asked again each
        time the plan changes; the memory is cleared at 500,000 pairs)."""
        key = (origin, dest, self.period())
        time_s = self._legs.get(key)
        if time_s is None:
            if len(self._legs) >= 500_000:
                self._legs.clear()
            time_s = self._legs[key] = self.drive_s(origin, dest)
        return time_s

    def pickup_bounds(self, vehicles: list[DrtVehicle], now_s: float, pickup: int, latest_s: float):
        """As :meth:`DenseDrive.pickup_bounds`, with one router query."""
        limit = latest_s + BOUND_SLACK_S
        if self.grid is not None and len(vehicles) >= GRID_MIN:
            fleet = drt_fleet(vehicles)
            slots = np.asarray(self.grid.candidates(fleet, pickup, now_s, limit), dtype=np.int64)
            if not len(slots):
                return []
            anchors, free = fleet.nodes[slots], fleet.free_s[slots]
        else:
            slots = np.arange(len(vehicles))
            anchors = np.fromiter((v.node for v in vehicles), dtype=np.int64, count=len(vehicles))
            free = np.fromiter((v.free_s for v in vehicles), dtype=float, count=len(vehicles))
        reach = self.router.travel_times_s(self.profile, anchors, pickup)
        reach = np.where(np.isnan(reach), np.inf, reach)
        start = np.where(free >= now_s, free, now_s)
        bound = start + reach
        ok = np.flatnonzero(bound <= limit)
        return list(
            zip(
                bound[ok].tolist(),
                slots[ok].tolist(),
                start[ok].tolist(),
                reach[ok].tolist(),
                strict=True,
            )
        )

    def local_tables(self, node_lists: list[list[int]]) -> list:
        """As :meth:`DenseDrive.local_tables`, with one router query for the pairs within each
        list (sum of n² pairs, not the square of every list's nodes together). LRU tables: each
        cell is asked of the router when first read (:class:`PairRows`; a check reads a few)."""
        if not node_lists:
            return []
        if not self.rows_exact:
            return [PairRows(self, nodes) for nodes in node_lists]
        origins = np.concatenate([np.repeat(nodes, len(nodes)) for nodes in node_lists])
        dests = np.concatenate([np.tile(nodes, len(nodes)) for nodes in node_lists])
        flat = self.router.travel_times_s(self.profile, origins, dests)
        flat = np.where(np.isnan(flat), np.inf, flat).tolist()
        tables, at = [], 0
        for nodes in node_lists:
            n = len(nodes)
            tables.append([flat[at + a * n : at + (a + 1) * n] for a in range(n)])
            at += n * n
        return tables


class PairRows:
    """A table of drive times (s) between ``nodes`` (``table[a][b]``, positions in ``nodes``)
    whose cells are :meth:`RouterDrive.leg_s` queries made on first read."""

    __slots__ = ("_rows",)

    def __init__(self, drive: RouterDrive, nodes: list[int]):
        self._rows = [_PairRow(drive, origin, nodes) for origin in nodes]

    def __getitem__(self, a: int) -> _PairRow:
        return self._rows[a]

    def __len__(self) -> int:
        return len(self._rows)


class _PairRow:
    __slots__ = ("_cells", "_drive", "_nodes", "_origin")

    def __init__(self, drive: RouterDrive, origin: int, nodes: list[int]):
        self._drive, self._origin, self._nodes = drive, origin, nodes
        self._cells: dict[int, float] = {}

    def __getitem__(self, b: int) -> float:
        time_s = self._cells.get(b)
        if time_s is None:
            dest = self._nodes[b]
            time_s = 0.0 if dest == self._origin else self._drive.leg_s(self._origin, dest)
            self._cells[b] = time_s
        return time_s

    def __len__(self) -> int:
        return len(self._nodes)


# ------------------------------------------------------------------ one vehicle
def fast_best_insertion(
    vehicle: DrtVehicle,
    request: DrtRequest,
    now_s: float,
    times_s,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> Insertion | None:
    """Twin of :func:`~mobisim.services.drt_timing.reference_best_insertion`.

    ``times_s[a][b]``: drive times (s, inf = unreachable) between the nodes [anchor, plan
    stops..., pick-up, drop-off], in that order.
    """
    party, cap = request.party, vehicle.capacity
    windows = plan_windows(vehicle)
    n = len(windows.nodes)
    T = times_s
    P, D = n + 1, n + 2
    # max(a, b) as a conditional (no NaN here: unreachable is inf, a drop-off's earliest is -inf)
    earliest, latest, deltas = windows.earliest_s, windows.latest_s, windows.deltas
    free_s = vehicle.free_s
    start_s = free_s if free_s >= now_s else now_s
    old_dep, load_after = [], []
    dep, prev, load = start_s, 0, vehicle.anchor_load
    for k in range(n):
        arrive = dep + T[prev][k + 1]
        dep = (arrive if arrive >= earliest[k] else earliest[k]) + stop_s
        load += deltas[k]
        old_dep.append(dep)
        load_after.append(load)
        prev = k + 1

    def suffix_ok(dep_s: float, prev_idx: int, first: int) -> bool:
        for k in range(first, n):
            t = dep_s + T[prev_idx][k + 1]
            if t < earliest[k]:
                t = earliest[k]
            if t > latest[k]:
                return False
            dep_s = t + stop_s
            if dep_s <= old_dep[k]:
                return True  # delay absorbed: the rest of the plan is as before
            prev_idx = k + 1
        return True

    check_energy = vehicle.battery is not None and energy_ok is not None
    ready_s, latest_pickup_s = request.ready_s, request.latest_pickup_s
    latest_dropoff_s = request.latest_dropoff_s
    from_pickup, from_dropoff = T[P], T[D]
    best: Insertion | None = None
    best_key = None  # (cost, pick-up time) of ``best``
    for i in range(n + 1):
        dep_before = old_dep[i - 1] if i else start_s
        from_prev = T[i]  # from plan[i-1] (the anchor when i = 0)
        load_before = load_after[i - 1] if i else vehicle.anchor_load
        if dep_before > latest_pickup_s:
            break  # later positions only pick up later
        if load_before + party > cap:
            continue
        to_pickup = from_prev[P]
        t_p = dep_before + to_pickup
        if t_p < ready_s:
            t_p = ready_s
        if t_p > latest_pickup_s:
            continue
        next_i = i + 1 if i < n else None
        pickup_added = to_pickup + (
            from_pickup[next_i] - from_prev[next_i] if next_i is not None else 0.0
        )
        run_dep, run_prev = t_p + stop_s, P
        for j in range(i, n + 1):
            if j > i:  # extend the prefix with plan[j-1], now after the pick-up
                k = j - 1
                if load_after[k] + party > cap:
                    break
                t = run_dep + T[run_prev][k + 1]
                if t < earliest[k]:
                    t = earliest[k]
                if t > latest[k]:
                    break
                run_dep, run_prev = t + stop_s, k + 1
            t_d = run_dep + T[run_prev][D]
            if t_d > latest_dropoff_s:
                continue
            next_j = j + 1 if j < n else None
            if j == i:  # drive_timing.insertion_cost_s, same terms in the same order
                cost = to_pickup + from_pickup[D]
                if next_j is not None:
                    cost += from_dropoff[next_j] - from_prev[next_j]
            else:
                cost = pickup_added + T[run_prev][D]
                if next_j is not None:
                    cost += from_dropoff[next_j] - T[run_prev][next_j]
            if best_key is not None and (cost, t_p) >= best_key:
                continue
            if not suffix_ok(t_d + stop_s, D, j):
                continue
            if check_energy and not energy_ok(vehicle, new_route(vehicle, request, i, j)):
                continue
            best_key = (cost, t_p)
            best = Insertion(vehicle, i, j, t_p, t_d, cost, vehicle.version, now_s)
    return best


# ------------------------------------------------------------------ cost bound of a busy vehicle
class RouteGeometry:
    """What :func:`busy_cost_bounds` reads of a vehicle's route (anchor, then the plan's stops),
    as of ``key`` = (plan version, anchor node, drive source, its period): the route's ``nodes``,
    the drive time (s) of the leg that leaves each (``legs``, and as Python floats ``legs_s``; 0
    after the last stop) and the drive times between every two of them (``table``, as
    :meth:`DenseDrive.local_tables`). ``slack`` keeps the last :func:`plan_slack` of the route."""

    __slots__ = ("key", "legs", "legs_s", "nodes", "positions", "slack", "table")

    def __init__(self, key: tuple, nodes: np.ndarray, legs_s: list[float], table):
        self.key, self.nodes, self.table = key, nodes, table
        self.legs_s, self.legs = legs_s, np.array(legs_s, dtype=np.float64)
        self.slack: PlanSlack | None = None
        self.positions: tuple | None = None  # see slack_positions()


def route_geometry(vehicle: DrtVehicle, drive) -> RouteGeometry:
    """The :class:`RouteGeometry` of ``vehicle``'s route, worked out again only when its plan,
    anchor node or the drive source's period changed (one table query for the legs)."""
    key = (vehicle.version, vehicle._node, drive, drive.period())
    geometry = vehicle.route_geometry
    if geometry is None or geometry.key != key:
        route = [vehicle._node, *plan_windows(vehicle).nodes]
        if drive.rows_exact:
            table = drive.local_tables([route])[0]
            legs = [table[k][k + 1] for k in range(len(route) - 1)]
        else:  # LRU tables: the legs only, each asked once (see RouterDrive.leg_s)
            table = None
            legs = [drive.leg_s(a, b) for a, b in pairwise(route)]
        legs.append(0.0)
        geometry = RouteGeometry(key, np.array(route, dtype=np.int64), legs, table)
        vehicle.route_geometry = geometry
    return geometry


class StackedRoutes(NamedTuple):
    """Several vehicles' routes (:class:`RouteGeometry`) end to end, for NumPy over all of them:
    each route's ``sizes`` (nodes: anchor and plan stops), ``starts`` and ``lasts`` (indices of
    its first and last node), the ``nodes`` and each node's ``onward_nodes`` (the next node of
    its route; the node itself at a route's last, where callers mask it out)."""

    sizes: np.ndarray
    starts: np.ndarray
    lasts: np.ndarray
    nodes: np.ndarray
    onward_nodes: np.ndarray


def stacked_routes(geometries: list[RouteGeometry]) -> StackedRoutes:
    """The :class:`StackedRoutes` of ``geometries``."""
    sizes = np.fromiter((len(g.nodes) for g in geometries), dtype=np.int64, count=len(geometries))
    starts = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    lasts = starts + sizes - 1
    nodes = np.concatenate([g.nodes for g in geometries])
    onward_nodes = np.empty_like(nodes)
    onward_nodes[:-1] = nodes[1:]
    onward_nodes[lasts] = nodes[lasts]
    return StackedRoutes(sizes, starts, lasts, nodes, onward_nodes)


class PlanSlack(NamedTuple):
    """A busy vehicle's plan timed from ``start_s`` with ``stop_s`` of dwell, as
    :func:`fast_best_insertion` times the old plan: arrival at and departure from each stop (s),
    and ``slack_s``: how much later (s) the vehicle could arrive at each stop with that stop and
    every later one still in time (:func:`plan_slack`)."""

    start_s: float
    stop_s: float
    arrive_s: list[float]
    depart_s: list[float]
    slack_s: list[float]


def plan_slack(vehicle: DrtVehicle, geometry: RouteGeometry, start_s: float, stop_s: float):
    """The :class:`PlanSlack` of ``vehicle``'s plan (kept on ``geometry`` for its last
    ``start_s``).

    A delay d (s) at the arrival at stop k is what the reference tolerates (the old plan's stops
    all in time after it, or the delay absorbed first) exactly when d <= slack_k, with
    wait_k = max(0, earliest_k - arrive_k) (the vehicle would have waited that long there) and

        slack_k = min(latest_k - arrive_k, wait_k + max(0, slack_{k+1})),  slack_{n} = inf:

    the stop must be reached by its latest time, and the delay that goes on past it is
    d - wait_k, or none at all when d <= wait_k (the reference's ``suffix_ok`` stops there: the
    rest of the plan is as before)."""
    cached = geometry.slack
    if cached is not None and cached.start_s == start_s and cached.stop_s == stop_s:
        return cached
    windows = plan_windows(vehicle)
    earliest, latest = windows.earliest_s, windows.latest_s
    n = len(earliest)
    arrive, depart = [], []
    dep = start_s
    for k in range(n):  # the old plan's times, as fast_best_insertion works them out
        at = dep + geometry.legs_s[k]
        dep = (at if at >= earliest[k] else earliest[k]) + stop_s
        arrive.append(at)
        depart.append(dep)
    slack = [0.0] * n
    onward = math.inf  # max(0, slack of the next stop); nothing after the last one
    for k in range(n - 1, -1, -1):
        wait = earliest[k] - arrive[k]
        in_time = latest[k] - arrive[k]
        absorbed = (wait if wait > 0.0 else 0.0) + onward
        slack[k] = in_time if in_time <= absorbed else absorbed
        onward = slack[k] if slack[k] > 0.0 else 0.0
    geometry.slack = PlanSlack(start_s, stop_s, arrive, depart, slack)
    return geometry.slack


def pickup_cannot_fit(
    vehicle: DrtVehicle,
    request: DrtRequest,
    now_s: float,
    geometry: RouteGeometry,
    to_pickup: list[float],
    from_pickup: list[float],
    stop_s: float,
) -> bool:
    """True when no insertion of ``request`` into the busy ``vehicle``'s plan is feasible, read
    from the drive times between the route's nodes (anchor, plan stops) and the pick-up only:
    ``to_pickup[i]`` from route node i, ``from_pickup[i]`` to it. False means "maybe": the
    vehicle is then examined in full (:func:`fast_best_insertion`).

    Every pick-up position i (after route node i) is ruled out when the pick-up cannot be made
    in time there (the checks of :func:`fast_best_insertion`, same arithmetic) or when the
    pick-up alone delays the next plan stop by more than its :func:`plan_slack`: d = t_p +
    stop_s + drive(pick-up -> stop) - old arrival. Any insertion with the pick-up there delays
    that stop at least as much (with the drop-off right after the pick-up, by d + stop_s at
    least, by the triangle inequality), and a larger delay never makes a later stop easier. The
    slack is raised by ``COST_SLACK_S`` before the comparison, for the float32 rounding of
    stored drive times (where the triangle inequality can fail by a few rounding steps) and the
    different order of float sums. A pick-up after the last stop delays nothing: the vehicle is
    examined when that position can make the pick-up in time."""
    free = vehicle._free_s
    start = free if free >= now_s else now_s
    plan = plan_slack(vehicle, geometry, start, stop_s)
    deltas = plan_windows(vehicle).deltas
    party, capacity = request.party, vehicle.capacity
    ready_s, latest_pickup_s = request.ready_s, request.latest_pickup_s
    n = len(plan.arrive_s)
    dep, load = start, vehicle.anchor_load
    for i in range(n + 1):
        if dep > latest_pickup_s:
            return True  # later positions only pick up later
        if load + party <= capacity:
            t_p = dep + to_pickup[i]
            if t_p < ready_s:
                t_p = ready_s
            if t_p <= latest_pickup_s:
                if i == n:
                    return False
                delay = t_p + stop_s + from_pickup[i + 1] - plan.arrive_s[i]
                if delay <= plan.slack_s[i] + COST_SLACK_S:
                    return False
        if i < n:
            dep, load = plan.depart_s[i], load + deltas[i]
    return True


def slack_positions(vehicle: DrtVehicle, geometry: RouteGeometry, plan: PlanSlack) -> np.ndarray:
    """What :func:`pickup_cannot_fit` reads of ``plan`` for each pick-up position i (after route
    node i), as one (4, n + 1) float64 array: the departure from route node i (s), the load
    there (persons), the next stop's old arrival (s; 0 after the last stop) and its slack (s; inf
    after the last stop). Kept on ``geometry`` for its last ``plan`` and anchor load."""
    kept = geometry.positions
    if kept is not None and kept[0] is plan and kept[1] == vehicle.anchor_load:
        return kept[2]
    loads = [vehicle.anchor_load]
    for delta in plan_windows(vehicle).deltas:
        loads.append(loads[-1] + delta)
    positions = np.array(
        [
            [plan.start_s, *plan.depart_s],
            loads,
            [*plan.arrive_s, 0.0],
            [*plan.slack_s, math.inf],
        ],
        dtype=np.float64,
    )
    geometry.positions = (plan, vehicle.anchor_load, positions)
    return positions


def pickup_fit_mask(
    vehicles: list[DrtVehicle],
    request: DrtRequest,
    now_s: float,
    drive,
    rows: RequestRows,
    stop_s: float,
) -> np.ndarray:
    """NumPy twin of :func:`pickup_cannot_fit` for many busy vehicles at once: True where the
    vehicle may take ``request`` (``not pickup_cannot_fit``), False where it cannot, with the
    same arithmetic on the same floats for every position of every vehicle. On rows stopped at a
    limit (LRU tables, :class:`RequestRows`) the drive times from the pick-up beyond the limit
    are taken as the limit, below the real ones: the mask then rules out no vehicle the
    one-vehicle test keeps (it may keep a few that test rules out)."""
    geometries = [route_geometry(vehicle, drive) for vehicle in vehicles]
    blocks = []
    for vehicle, geometry in zip(vehicles, geometries, strict=True):
        free = vehicle._free_s
        start = free if free >= now_s else now_s
        blocks.append(
            slack_positions(vehicle, geometry, plan_slack(vehicle, geometry, start, stop_s))
        )
    dep, load, next_arrive, next_slack = np.concatenate(blocks, axis=1)
    sizes, starts, lasts, nodes, next_nodes = stacked_routes(geometries)
    from_pickup = rows.rows[1]
    if rows.row_limits[1] != math.inf:
        from_pickup = np.minimum(from_pickup, rows.row_limits[1])
    capacity = np.repeat(
        np.fromiter((v.capacity for v in vehicles), dtype=np.float64, count=len(vehicles)), sizes
    )
    latest_pickup_s = request.latest_pickup_s
    t_p = np.maximum(dep + rows.rows[0][nodes], request.ready_s)
    delay = t_p + stop_s + from_pickup[next_nodes] - next_arrive
    fits = delay <= next_slack + COST_SLACK_S
    fits[lasts] = True  # a pick-up after the last stop delays nothing
    fits &= (dep <= latest_pickup_s) & (load + request.party <= capacity) & (t_p <= latest_pickup_s)
    return np.logical_or.reduceat(fits, starts)


def busy_times(
    vehicle: DrtVehicle, request: DrtRequest, now_s: float, drive, rows: RequestRows, stop_s: float
) -> list | None:
    """The drive times :func:`fast_best_insertion` reads for ``vehicle`` (:func:`busy_table`), or
    None when :func:`pickup_cannot_fit` rules the vehicle out without them."""
    geometry = route_geometry(vehicle, drive)
    to_pickup, from_pickup = rows.cells(0, geometry.nodes), rows.cells(1, geometry.nodes)
    if pickup_cannot_fit(vehicle, request, now_s, geometry, to_pickup, from_pickup, stop_s):
        return None
    return busy_table(geometry, rows, to_pickup, from_pickup)


def busy_cost_bounds(
    vehicles: list[DrtVehicle],
    request: DrtRequest,
    drive,
    now_s: float,
    rows: RequestRows | None = None,
) -> np.ndarray:
    """A lower bound (s) on the cost of every insertion of ``request`` into each vehicle (with a
    plan), less ``COST_SLACK_S``: the search may skip a vehicle whose bound exceeds the best cost
    found, and misses nothing.

    Proof. Let the route be r_0 (anchor), r_1 .. r_n, p the pick-up, q the drop-off, d the drive
    times (fastest paths: d(a, c) <= d(a, b) + d(b, c)). With
    P_i = d(r_i, p) + d(p, r_{i+1}) - d(r_i, r_{i+1}) (P_n = d(r_n, p)) and Q_j the same with q,
    :func:`~mobisim.services.drt_timing.insertion_cost_s` is, for the pick-up after r_i and the
    drop-off after r_j:

    * j > i: exactly P_i + Q_j, each term >= 0 by the triangle inequality, so >= max(P_i, Q_j);
    * j = i: d(r_i, p) + d(p, q) + d(q, r_{i+1}) - d(r_i, r_{i+1}) (the last two terms absent
      when i = n), >= P_i as d(p, q) + d(q, r_{i+1}) >= d(p, r_{i+1}), and >= Q_i as
      d(r_i, p) + d(p, q) >= d(r_i, q).

    So every insertion costs >= min_i min(max(P_i, Q_i), P_i + min_{j > i} Q_j), computed here
    from one row of drive times to and one from each of p and q (:class:`RequestRows`),
    for every busy vehicle at once. The suffix minimum over j > i runs over all vehicles
    together with each vehicle's Q clipped to +-SEGMENT_S / 4 (clipping lowers a bound, never
    raises it above Q) and raised by SEGMENT_S times its rank: a later vehicle's values are then
    above every value of an earlier one and do not reach into it. The slack covers the float32 rounding of stored times (the triangle
    inequality holds for the exact path sums, within a few rounding steps for stored ones).
    Rows stopped at a limit L (LRU tables, :class:`RequestRows`) give min(d, L) for each time,
    still a lower bound of it (P_i and Q_j are then taken as at least 0, which they are).
    """
    geometries = [route_geometry(vehicle, drive) for vehicle in vehicles]
    sizes, starts, lasts, nodes, onward_nodes = stacked_routes(geometries)
    legs = np.concatenate([g.legs for g in geometries])
    added = []  # P then Q, every position of every vehicle
    if rows is None:
        limits = None if drive.rows_exact else leg_limits(request, vehicles, now_s)
        rows = RequestRows(drive, request, limits)
    for k in (0, 2):
        to_node, from_node = rows.rows[k], rows.rows[k + 1]
        if rows.row_limits[k] != math.inf:  # times beyond a row's limit may be inf: cap them
            to_node = np.minimum(to_node, rows.row_limits[k])
        if rows.row_limits[k + 1] != math.inf:
            from_node = np.minimum(from_node, rows.row_limits[k + 1])
        onward = from_node[onward_nodes]
        onward[lasts] = 0.0
        # >= 0 by the triangle inequality; with capped times the sum can fall below it
        added.append(np.maximum(to_node[nodes] + onward - legs, 0.0))
    p_added, q_added = added
    # min over j > i of Q_j within each vehicle (inf after its last stop): a suffix minimum
    # run backwards over all vehicles, each vehicle's values raised by SEGMENT_S times its rank
    # so that a later vehicle's values never reach into an earlier one's (see segment_rank)
    rank = np.repeat(np.arange(len(sizes), dtype=np.float64), sizes) * SEGMENT_S
    q_clipped = np.clip(q_added, -SEGMENT_S / 4, SEGMENT_S / 4) + rank
    q_after = np.empty_like(q_clipped)
    q_after[:-1] = np.minimum.accumulate(q_clipped[:0:-1])[::-1]
    q_after -= rank
    q_after[lasts] = np.inf
    pair = np.minimum(np.maximum(p_added, q_added), p_added + q_after)
    return np.minimum.reduceat(pair, starts) - COST_SLACK_S


def busy_table(
    geometry: RouteGeometry,
    rows: RequestRows,
    to_pickup: list[float] | None = None,
    from_pickup: list[float] | None = None,
) -> list:
    """The drive times between [anchor, plan stops..., pick-up, drop-off] (as
    :meth:`DenseDrive.local_tables` gives them) put together from the route's cached table and
    the rows to and from the pick-up and drop-off (:class:`RequestRows`, same floats);
    ``to_pickup`` / ``from_pickup``: those rows' cells at the route's nodes, when already read."""
    nodes = geometry.nodes
    pickup, dropoff = rows.ends[0], rows.ends[2]
    ends = np.array([pickup, dropoff], dtype=np.int64)
    col_p = rows.cells(0, nodes) if to_pickup is None else to_pickup
    col_d = rows.cells(2, nodes)
    if from_pickup is None:
        from_pickup = rows.cells(1, nodes)
    from_p = [*from_pickup, *rows.cells(1, ends)]
    # from the drop-off back to the pick-up is never driven: its cell is read as it is
    from_d = [*rows.cells(3, nodes), *rows.rows[3][ends].tolist()]
    if geometry.table is None:  # LRU tables: fast_best_insertion reads consecutive legs only
        n = len(nodes)
        legs = geometry.legs_s
        table = []
        for k in range(n):
            row = [math.inf] * n
            if k + 1 < n:
                row[k + 1] = legs[k]
            row[k] = 0.0
            table.append([*row, col_p[k], col_d[k]])
    else:
        table = [[*row, tp, td] for row, tp, td in zip(geometry.table, col_p, col_d, strict=True)]
    table.append(from_p)
    table.append(from_d)
    return table


# ------------------------------------------------------------------ the fleet
def fast_insert(
    request: DrtRequest,
    vehicles: list[DrtVehicle],
    now_s: float,
    drive: DenseDrive | RouterDrive,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
    approx_k: int | None = None,
) -> Insertion | None:
    """Twin of :func:`~mobisim.services.drt_timing.reference_insert` (exact unless
    ``approx_k`` is given: then only the ``approx_k`` vehicles with the lowest pick-up bound,
    ties by list order, are examined).

    The vehicles that can make the pick-up in time are examined in order of a lower bound on
    their cost: an idle vehicle's exact cost (drive to the pick-up + the ride), a busy one's
    :func:`busy_cost_bounds`. The search stops when
    the next bound exceeds the best cost found: no vehicle left can beat it (nor tie: a tie needs
    an equal cost, and the bound is below the cost)."""
    if not vehicles:
        return None
    from mobisim.services import drt_insertion_small as small  # imports this module

    if approx_k is None and len(vehicles) < small.SMALL_FLEET_MAX:  # plain Python is faster
        return small.small_insert(request, vehicles, now_s, drive, stop_s, energy_ok)
    pickup, dropoff = request.pickup_node, request.dropoff_node
    latest = request.latest_pickup_s
    ready, latest_dropoff = request.ready_s, request.latest_dropoff_s
    ride = drive.drive_s(pickup, dropoff)
    # empty plans: the one position pair of the reference, same arithmetic, exact cost
    idle: list[tuple] | _IdleQueue = []  # (cost, pick-up time, vehicle id, vehicle, drop-off)
    busy: list[DrtVehicle] = []
    if approx_k is None:
        idle, busy = _fleet_candidates(request, vehicles, now_s, drive, stop_s, ride)
    else:
        reachable = drive.pickup_bounds(vehicles, now_s, pickup, latest)
        if len(reachable) > approx_k:
            reachable = sorted(reachable)[:approx_k]  # by bound, then index
        for bound, index, _start, to_pickup in reachable:
            vehicle = vehicles[index]
            if vehicle.plan:
                busy.append(vehicle)
                continue
            t_p = bound if bound >= ready else ready
            t_d = t_p + stop_s + ride
            if t_p <= latest and t_d <= latest_dropoff:
                idle.append((to_pickup + ride, t_p, vehicle.vehicle_id, vehicle, t_d))
        idle.sort()  # vehicle ids are unique: the tuples never compare past the id
    if busy:
        limits = None if drive.rows_exact else leg_limits(request, busy, now_s)
        rows = RequestRows(drive, request, limits)
        fits = pickup_fit_mask(busy, request, now_s, drive, rows, stop_s).tolist()
        busy = [vehicle for vehicle, fit in zip(busy, fits, strict=True) if fit]
    if busy:
        bounds = busy_cost_bounds(busy, request, drive, now_s, rows)
        order = np.argsort(bounds, kind="stable").tolist()
        busy_bounds = bounds[order].tolist()
        busy = [busy[k] for k in order]
    else:
        busy_bounds = []

    def busy_option(k: int) -> Insertion | None:
        times = busy_times(busy[k], request, now_s, drive, rows, stop_s)
        if times is None:
            return None
        return fast_best_insertion(busy[k], request, now_s, times, stop_s, energy_ok)

    return search_in_bound_order(request, now_s, idle, busy_bounds, busy_option, energy_ok)


def search_in_bound_order(
    request: DrtRequest,
    now_s: float,
    idle,
    busy_bounds: list[float],
    busy_option: Callable[[int], Insertion | None],
    energy_ok: EnergyCheck | None,
) -> Insertion | None:
    """The search both fast paths share (this module's and :mod:`drt_insertion_small`'s):
    the idle candidates (``idle``: (exact cost, pick-up time, vehicle id, vehicle, drop-off
    time), sorted) and the busy ones (``busy_bounds``: lower bounds on their cost, sorted;
    ``busy_option(k)`` examines the k-th) are visited in one order of cost or bound, and the
    search stops when the next one exceeds the best cost found. Ties between vehicles go by
    :func:`decision_key`, as in the reference."""
    pickup, dropoff, party = request.pickup_node, request.dropoff_node, request.party
    best: Insertion | None = None
    best_cost = math.inf
    at_idle = at_busy = 0
    while at_idle < len(idle) or at_busy < len(busy_bounds):
        idle_cost = idle[at_idle][0] if at_idle < len(idle) else math.inf
        busy_bound = busy_bounds[at_busy] if at_busy < len(busy_bounds) else math.inf
        if busy_bound <= idle_cost:
            if busy_bound > best_cost:
                break  # sorted by bound, below the cost: no vehicle left beats ``best``
            option = busy_option(at_busy)
            at_busy += 1
        else:
            if idle_cost > best_cost:
                break  # idle costs are exact and sorted, busy bounds are higher still
            cost, t_p, _vehicle_id, vehicle, t_d = idle[at_idle]
            at_idle += 1
            if vehicle.anchor_load + party > vehicle.capacity:
                continue
            if not (
                vehicle.battery is None
                or energy_ok is None
                or energy_ok(vehicle, [vehicle.node, pickup, dropoff])
            ):
                continue
            option = Insertion(vehicle, 0, 0, t_p, t_d, cost, vehicle.version, now_s)
        if option is not None and (best is None or decision_key(option) < decision_key(best)):
            best, best_cost = option, option.cost_s
    return best


def reach_limit_s(request: DrtRequest, now_s: float) -> float:
    """How far (s) rows of drive times around a request must be exact: a vehicle leaves at
    ``now_s`` at the earliest, so one further than the time left to the latest pick-up (plus 1 s
    for rounding) cannot make it."""
    return max(0.0, request.latest_pickup_s - now_s) + 1.0


class LegLimits(NamedTuple):
    """How long (s) each leg to or from the request's pick-up and drop-off can be in a feasible
    new plan of any of a set of vehicles, plus 1 s for rounding: rows of drive times stopped
    there (LRU tables) hold every such leg, and a longer one (inf in those rows) makes the plan
    infeasible, as in the reference. A vehicle leaves at ``now_s`` at the earliest, the pick-up
    at ``max(now_s, ready_s)`` at the earliest (the vehicle waits for the rider), and every stop
    is served by its latest time. With L the latest of the drop-off's and of every plan stop's
    latest times and ``start = max(now_s, ready_s)``:

    * ``to_pickup_s``: latest pick-up - now (the same as :func:`reach_limit_s`);
    * ``from_pickup_s`` (to the drop-off or the next plan stop): L - start;
    * ``to_dropoff_s`` (from the pick-up or a plan stop after it): latest drop-off - start;
    * ``from_dropoff_s`` (to the next plan stop): L - start.
    """

    to_pickup_s: float
    from_pickup_s: float
    to_dropoff_s: float
    from_dropoff_s: float


def leg_limits(request: DrtRequest, vehicles: list[DrtVehicle], now_s: float) -> LegLimits:
    """The :class:`LegLimits` of ``request`` for new plans of ``vehicles`` at ``now_s``."""
    latest = request.latest_dropoff_s
    for vehicle in vehicles:
        stops_latest = plan_windows(vehicle).latest_s
        if stops_latest:
            latest = max(latest, max(stops_latest))
    start_s = max(now_s, request.ready_s)
    onward_s = max(0.0, latest - start_s) + 1.0
    return LegLimits(
        reach_limit_s(request, now_s),
        onward_s,
        max(0.0, request.latest_dropoff_s - start_s) + 1.0,
        onward_s,
    )


class RequestRows:
    """Drive times (s) to and from a request's pick-up and drop-off: four rows of ``drive``
    (:meth:`DenseDrive.row_to` / ``row_from``), ``rows[k]`` for k = 0 to the pick-up, 1 from
    it, 2 to the drop-off, 3 from it.

    With ``limits`` (LRU tables) the row to the pick-up is stopped at its limit (the pick-up's
    reach) and the other three at ``NEAR_ROWS_FACTOR`` times that radius, below their own
    limits: on a large town those are whole-town runs, and most legs a plan drives near the
    request are shorter. A cell beyond its row's radius but within its :class:`LegLimits` (a
    feasible plan may drive it) is asked of the router when a table reads it (:meth:`cells`);
    the cost bounds read the rows as they are (a time capped at the radius is below the real
    one, so the bounds stay bounds). ``limits`` None: whole rows."""

    __slots__ = ("drive", "ends", "leg_limits", "row_limits", "rows")

    def __init__(self, drive, request: DrtRequest, limits: LegLimits | None):
        self.drive = drive
        pickup, dropoff = request.pickup_node, request.dropoff_node
        self.ends = (pickup, pickup, dropoff, dropoff)
        if limits is None:
            self.leg_limits, self.row_limits = (math.inf,) * 4, [math.inf] * 4
        else:
            near_s = NEAR_ROWS_FACTOR * limits.to_pickup_s
            self.leg_limits = tuple(limits)
            self.row_limits = [limits.to_pickup_s, *(min(lim, near_s) for lim in limits[1:])]
        self.rows = [
            (drive.row_to if k % 2 == 0 else drive.row_from)(self.ends[k], self.row_limits[k])
            for k in range(4)
        ]

    def cells(self, k: int, nodes) -> list[float]:
        """``rows[k]`` at ``nodes`` as Python floats, each exact up to ``leg_limits[k]`` (inf
        beyond it or unreachable). The row to the drop-off is run again to its leg limit when
        a cell lies beyond its radius (pair by pair that would be one search per plan stop);
        the rows from the pick-up and drop-off are asked pair by pair (one search from their
        end, kept and grown as far as the cells need)."""
        values = self.rows[k][nodes].tolist()
        if k == 2 and self.row_limits[2] < self.leg_limits[2] and math.inf in values:
            self.row_limits[2] = self.leg_limits[2]
            self.rows[2] = self.drive.row_to(self.ends[2], self.leg_limits[2])
            values = self.rows[2][nodes].tolist()
        if self.row_limits[k] < self.leg_limits[k]:
            end, limit_s = self.ends[k], self.leg_limits[k]
            for at, time_s in enumerate(values):
                if time_s == math.inf:
                    node = int(nodes[at])
                    a, b = (node, end) if k % 2 == 0 else (end, node)
                    values[at] = self.drive.leg_within_s(a, b, limit_s)
        return values


def _fleet_candidates(
    request: DrtRequest, vehicles: list[DrtVehicle], now_s: float, drive, stop_s: float, ride: float
) -> tuple[_IdleQueue, list[DrtVehicle]]:
    """The vehicles that can make the pick-up in time, with NumPy over the whole fleet (one row
    of drive times to the pick-up, :meth:`DenseDrive.rows_at`): idle ones as (cost, pick-up
    time, vehicle id, vehicle, drop-off time) sorted by cost (exact: drive to the pick-up + the
    ride; those that would break the pick-up or drop-off limit left out), and busy ones in list
    order. The arithmetic is the reference's (max, then sums in the same order)."""
    fleet = drt_fleet(vehicles)
    to_pickup = drive.row_to(request.pickup_node, reach_limit_s(request, now_s))
    free = fleet.free_s
    start = np.where(free >= now_s, free, now_s)
    reach = to_pickup[fleet.nodes]
    bound = start + reach
    ok = bound <= request.latest_pickup_s + BOUND_SLACK_S
    busy = [vehicles[k] for k in np.flatnonzero(ok & fleet.busy).tolist()]
    slots = np.flatnonzero(ok & ~fleet.busy)
    t_p = np.maximum(bound[slots], request.ready_s)
    t_d = t_p + stop_s + ride
    keep = (t_p <= request.latest_pickup_s) & (t_d <= request.latest_dropoff_s)
    slots, t_p, t_d = slots[keep], t_p[keep], t_d[keep]
    cost = reach[slots] + ride
    order = np.argsort(cost, kind="stable")
    return _IdleQueue(vehicles, cost[order], t_p[order], slots[order], t_d[order]), busy


class _IdleQueue:
    """Idle candidates sorted by cost, made into (cost, pick-up time, vehicle id, vehicle,
    drop-off time) tuples of Python floats only when read (the search reads a few)."""

    __slots__ = ("cost", "slots", "t_d", "t_p", "vehicles")

    def __init__(self, vehicles, cost, t_p, slots, t_d):
        self.vehicles, self.cost, self.t_p, self.slots, self.t_d = vehicles, cost, t_p, slots, t_d

    def __len__(self) -> int:
        return len(self.cost)

    def __getitem__(self, k: int) -> tuple:
        vehicle = self.vehicles[int(self.slots[k])]
        return (
            float(self.cost[k]),
            float(self.t_p[k]),
            vehicle.vehicle_id,
            vehicle,
            float(self.t_d[k]),
        )


# ------------------------------------------------------------------ every vehicle (batch)
def fast_options(
    request: DrtRequest,
    vehicles: list[DrtVehicle],
    now_s: float,
    drive: DenseDrive | RouterDrive,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> list[Insertion]:
    """Twin of :func:`~mobisim.services.drt_timing.reference_options`: each vehicle's cheapest
    feasible insertion of ``request`` (vehicles that cannot serve it left out), in list order.
    Vehicles past the pick-up bound are skipped without a look (they cannot make it)."""
    if not vehicles:
        return []
    pickup, dropoff = request.pickup_node, request.dropoff_node
    reachable = drive.pickup_bounds(vehicles, now_s, pickup, request.latest_pickup_s)
    candidates = [
        vehicles[index] for _bound, index, _start, _reach in sorted(reachable, key=_index)
    ]
    node_lists = [[v.node, *plan_windows(v).nodes, pickup, dropoff] for v in candidates]
    options = []
    for vehicle, times in zip(candidates, drive.local_tables(node_lists), strict=True):
        option = fast_best_insertion(vehicle, request, now_s, times, stop_s, energy_ok)
        if option is not None:
            options.append(option)
    return options


def _index(bound_entry: tuple) -> int:
    return bound_entry[1]

"""DRT dispatch and idle-vehicle policies (pluggable, chosen by name in the scenario file).

Every policy is registered under ``drt_dispatch`` or ``drt_idle`` in
:data:`mobisim.scenario.registry.POLICIES` (the one table of names).

``InsertionDispatch`` (``insertion``) gives each request the cheapest feasible insertion over the
whole fleet: the timing model, the limits and the cost are those of
:mod:`mobisim.services.drt_timing` (the readable reference), found fast by
:mod:`mobisim.services.drt_insertion_fast` (its twin, exact). A request is rejected only when no
vehicle can serve it within its limits, unless the approximation ``approx_candidates_k`` is set.
``BatchAssignment`` (``batch``) collects the open requests and assigns them every
``batch_interval_s`` by solving the assignment problem over every request's insertion options.
Idle policies say where an idle vehicle goes: ``StayPolicy`` (``stay``),
``ReturnToDepotPolicy`` (``return_to_depot``), ``ZoneDemandRebalancing`` (``zone_rebalancing``),
``NearestBaseAfterIdle`` (``nearest_base_after_idle``). An idle policy is built from the service
and answers ``target_node(vehicle, now_s)`` (where to drive, or None to stay),
``recheck_after_s(vehicle, now_s)`` (when to ask again, or None: when dispatched) and
``note_request(node, now_s)`` (a request was made).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mobisim.scenario import registry
from mobisim.services.drt_insertion_fast import (
    DENSE_MAX_NODES,
    FLEET_ARRAYS_MIN,
    DenseDrive,
    DenseLegs,
    RouterDrive,
    dense_legs,
    fast_insert,
    fast_options,
)
from mobisim.services.drt_plan import (
    DrtFleet,
    DrtRequest,
    DrtVehicle,
    Insertion,
    PlanStop,
    PlanWindows,
    drt_fleet,
    insert_stops,
    party_of,
    plan_windows,
)

__all__ = [
    "DENSE_MAX_NODES",
    "FLEET_ARRAYS_MIN",
    "BatchAssignment",
    "DenseLegs",
    "DrtFleet",
    "DrtRequest",
    "DrtVehicle",
    "Insertion",
    "InsertionDispatch",
    "NearestBaseAfterIdle",
    "PlanStop",
    "PlanWindows",
    "ReturnToDepotPolicy",
    "StayPolicy",
    "ZoneDemandRebalancing",
    "dense_legs",
    "drt_fleet",
    "insert_stops",
    "known_policies",
    "optimal_assignment",
    "party_of",
    "plan_windows",
    "resolve_policy",
]


class InsertionDispatch:
    """Cheapest feasible insertion over the fleet (exact; see the module docstring), at once for
    each request (``batch_interval_s`` None: not a batch policy).

    Parameters
    ----------
    service : DrtService
        Gives ``router``, ``profile`` (routing profile name), ``dense`` (the profile's
        :class:`DenseLegs` or None), ``config`` (``stop_s``, ``approx_candidates_k``) and
        ``energy_ok(vehicle, nodes)`` (battery check).
    """

    batch_interval_s: float | None = None

    def __init__(self, service):
        self.stop_s = float(service.config.stop_s)
        self.approx_k = service.config.approx_candidates_k
        self.energy_ok = service.energy_ok
        dense = service.dense
        self.drive = (
            DenseDrive(dense) if dense is not None else RouterDrive(service.router, service.profile)
        )

    def insert(
        self, request: DrtRequest, vehicles: list[DrtVehicle], now_s: float
    ) -> Insertion | None:
        """The cheapest feasible insertion of ``request`` at ``now_s`` (s), or None when no
        vehicle can serve it (with ``approx_candidates_k``: none of the K examined)."""
        return fast_insert(
            request, vehicles, now_s, self.drive, self.stop_s, self.energy_ok, self.approx_k
        )


class BatchAssignment(InsertionDispatch):
    """``batch``: every ``batch_interval_s`` the open requests are assigned together.

    Each open request's options are every vehicle's cheapest feasible insertion into its current
    plan (pooling kept: riders on board or assigned keep their limits). The round solves the
    assignment problem over them with :func:`scipy.optimize.linear_sum_assignment` (FleetPy's
    batch assignment): at most one new request per vehicle and round, the most requests served,
    and among those the least added drive time in total (:func:`optimal_assignment`). A request
    not assigned stays open for the next round. Quotes (:meth:`insert`) are the cheapest
    insertion at the time of asking, as with ``insertion``.
    """

    def __init__(self, service):
        super().__init__(service)
        self.batch_interval_s = float(service.config.batch_interval_s)

    def assign(
        self, requests: list[DrtRequest], vehicles: list[DrtVehicle], now_s: float
    ) -> list[tuple[DrtRequest, Insertion]]:
        """The (request, insertion) pairs of this round at ``now_s`` (s), one per vehicle at most;
        requests left out stay open."""
        options = [
            fast_options(request, vehicles, now_s, self.drive, self.stop_s, self.energy_ok)
            for request in requests
        ]
        return [(requests[row], option) for row, option in optimal_assignment(options)]


def optimal_assignment(options: list[list[Insertion]]) -> list[tuple[int, Insertion]]:
    """(row, insertion) of the optimal assignment of requests (rows) to vehicles: each request
    at most one of its ``options``, each vehicle at most one request; the most requests
    assigned, then the least total cost (s). Sorted by row.

    Infeasible pairs cost more than every feasible cost together, so the solver of the
    (rectangular) assignment problem first maximises the pairs it can make feasible.
    """
    vehicles: dict[int, int] = {}  # vehicle id -> column, in order of first appearance
    for row_options in options:
        for option in row_options:
            vehicles.setdefault(option.vehicle.vehicle_id, len(vehicles))
    rows = [row for row, row_options in enumerate(options) if row_options]
    if not rows:
        return []
    total_s = sum(option.cost_s for row_options in options for option in row_options)
    infeasible_s = 2.0 * total_s + 1.0
    cost = np.full((len(rows), len(vehicles)), infeasible_s)
    chosen: dict[tuple[int, int], Insertion] = {}
    for r, row in enumerate(rows):
        for option in options[row]:
            column = vehicles[option.vehicle.vehicle_id]
            cost[r, column] = option.cost_s
            chosen[r, column] = option
    assigned = []
    for r, column in zip(*linear_sum_assignment(cost), strict=True):
        option = chosen.get((int(r), int(column)))
        if option is not None:
            assigned.append((rows[int(r)], option))
    return sorted(assigned, key=lambda pair: pair[0])


# ---------------------------------------------------------------------- idle policies
class StayPolicy:
    """Idle vehicles stay where they are until dispatched."""

    recheck_s: float | None = None

    def __init__(self, service):
        self.service = service

    def note_request(self, node: int, now_s: float) -> None:
        """A request was made at ``node`` (index) at ``now_s`` (s); staying ignores it."""

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """Where the idle ``vehicle`` should drive at ``now_s`` (s): nowhere."""
        return None

    def recheck_after_s(self, vehicle: DrtVehicle, now_s: float) -> float | None:
        """How long (s) the idle ``vehicle`` waits before asking :meth:`target_node` again
        (None: until dispatched); ``recheck_s`` for every vehicle unless a policy says more."""
        return self.recheck_s


class ReturnToDepotPolicy(StayPolicy):
    """Idle vehicles drive back to their depot (their starting node)."""

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The vehicle's depot node, unless it is there already."""
        return None if vehicle.node == vehicle.depot_node else vehicle.depot_node


class NearestBaseAfterIdle(StayPolicy):
    """Idle vehicles stay where they fall idle; after ``idle_after_min`` without work they drive
    to the nearest base (HIVE's default behaviour: ``dispatcher.idle_time_out_seconds``).

    The bases are ``idle_bases`` (none given: the depots; no depots either: the vehicle's own
    start node). Nearest means the shortest drive from where the vehicle stands, the first of
    equals in the list. The idle time counts from when the vehicle last changed plan or position
    (fell idle, came back from charging): being dispatched, even for a moment, starts it again.
    A vehicle at a base waits there until dispatched.
    """

    #: float tolerance of the idle clock, s
    CLOCK_EPS_S = 1e-6

    def __init__(self, service):
        super().__init__(service)
        self.after_s = float(service.config.idle_after_min) * 60.0
        self.bases = None if service.base_nodes is None else [int(n) for n in service.base_nodes]
        #: vehicle id -> (idle since s, plan version then)
        self.idle_from: dict[int, tuple[float, int]] = {}

    def _idle_since_s(self, vehicle: DrtVehicle, now_s: float) -> float:
        """Since when (s) the vehicle has stood idle with an unchanged plan."""
        since = self.idle_from.get(vehicle.vehicle_id)
        if since is None or since[1] != vehicle.version:
            since = self.idle_from[vehicle.vehicle_id] = (now_s, vehicle.version)
        return since[0]

    def _bases_of(self, vehicle: DrtVehicle) -> list[int]:
        return [vehicle.depot_node] if self.bases is None else self.bases

    def nearest_base(self, vehicle: DrtVehicle) -> int | None:
        """The base node the vehicle reaches soonest (None: no base reachable)."""
        best, best_s = None, float("inf")
        for base in self._bases_of(vehicle):
            leg = self.service.try_leg(vehicle.node, base)
            if leg is not None and leg[0] < best_s:
                best, best_s = base, leg[0]
        return best

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The nearest base once the vehicle has been idle ``idle_after_min``; else None."""
        since_s = self._idle_since_s(vehicle, now_s)
        if now_s - since_s < self.after_s - self.CLOCK_EPS_S:
            return None
        base = self.nearest_base(vehicle)
        return None if base == vehicle.node else base

    def recheck_after_s(self, vehicle: DrtVehicle, now_s: float) -> float | None:
        """The idle time left before the vehicle should leave for a base (None: it is at a
        base, or its time is up and no base could be reached)."""
        if vehicle.node in self._bases_of(vehicle):
            return None
        left_s = self._idle_since_s(vehicle, now_s) + self.after_s - now_s
        return left_s if left_s > self.CLOCK_EPS_S else None


class ZoneDemandRebalancing(StayPolicy):
    """Idle vehicles move toward zones with many recent requests per idle vehicle.

    The service area is cut into square zones of ``rebalance_zone_m`` (m); requests of the last
    ``rebalance_window_min`` count as demand. An idle vehicle moves to the zone with the most
    demand per idle vehicle there (itself counted as arriving) when that beats staying by at least
    one request (so vehicles do not shuttle between equal zones), and re-checks every
    ``rebalance_interval_min`` while idle.
    """

    #: a move must gain at least this many recent requests per idle vehicle (no ping-pong)
    MIN_GAIN = 1.0

    def __init__(self, service):
        super().__init__(service)
        cfg = service.config
        self.window_s = cfg.rebalance_window_min * 60.0
        self.recheck_s = cfg.rebalance_interval_min * 60.0
        nodes = service.ctx.network.nodes
        area = service.area_nodes
        x = nodes["x_m"].to_numpy()[area]
        y = nodes["y_m"].to_numpy()[area]
        size = float(cfg.rebalance_zone_m)
        cells = np.stack([np.floor(x / size), np.floor(y / size)], axis=1).astype(np.int64)
        keys, zone = np.unique(cells, axis=0, return_inverse=True)
        zone = zone.ravel()
        self.zone_of = np.full(len(nodes), -1, dtype=np.int64)
        self.zone_of[area] = zone
        centre_x, centre_y = (keys[:, 0] + 0.5) * size, (keys[:, 1] + 0.5) * size
        dist2 = (x - centre_x[zone]) ** 2 + (y - centre_y[zone]) ** 2
        order = np.lexsort((dist2, zone))
        first = np.unique(zone[order], return_index=True)[1]
        self.zone_node = area[order[first]]  # node nearest each zone's centre
        self.recent: deque[tuple[float, int]] = deque()
        self.demand: Counter[int] = Counter()

    def note_request(self, node: int, now_s: float) -> None:
        """Count a request at ``node`` (index) at ``now_s`` (s) in its zone's recent demand."""
        zone = int(self.zone_of[node])
        if zone >= 0:
            self.recent.append((now_s, zone))
            self.demand[zone] += 1

    def _forget(self, now_s: float) -> None:
        while self.recent and self.recent[0][0] < now_s - self.window_s:
            _, zone = self.recent.popleft()
            self.demand[zone] -= 1

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The node of the zone with most recent demand per idle vehicle, or None to stay."""
        self._forget(now_s)
        if not +self.demand:
            return None
        idle = Counter(
            int(self.zone_of[v.node])
            for v in self.service.vehicles
            if not v.plan and v is not vehicle
        )
        here = int(self.zone_of[vehicle.node])
        stay_score = self.demand.get(here, 0) / (1 + idle.get(here, 0)) if here >= 0 else -1.0
        zone, count = max(
            ((z, c / (1 + idle.get(z, 0))) for z, c in self.demand.items() if c > 0),
            key=lambda item: (item[1], -item[0]),
        )
        if zone == here or count < stay_score + self.MIN_GAIN:
            return None
        return int(self.zone_node[zone])


def known_policies(kind: str) -> list[str]:
    """Names a scenario may give for ``kind`` (``drt_dispatch`` or ``drt_idle``), sorted."""
    return sorted(registry.POLICIES.get(kind, {}))


def resolve_policy(kind: str, name: str) -> Any:
    """The policy class registered as ``name`` for ``kind`` (``drt_dispatch`` or ``drt_idle``)
    in :data:`mobisim.scenario.registry.POLICIES`; KeyError listing the known names otherwise."""
    if name not in registry.POLICIES.get(kind, {}):
        known = ", ".join(known_policies(kind))
        raise KeyError(f"unknown {kind} policy {name!r}; expected one of: {known}")
    return registry.policy(kind, name)

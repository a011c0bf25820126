"""DRT dispatch and idle-vehicle policies (pluggable, chosen by name in the scenario file).

Every policy is registered under ``drt_dispatch`` or ``drt_idle`` in
:data:`mobisim.scenario.registry.POLICIES` (the one table of names).

The dispatch protocol is narrow: a :class:`Dispatcher` is built from the service's settings and
answers ``dispatch(requests, fleet, now_s)`` with :class:`Assignment` s (request, vehicle id,
plan positions). ``fleet`` is a read-only :class:`FleetView`: :class:`VehicleView` snapshots of
the plans and positions, the drive times of the service's profile and the exact insertion
search. The service checks every assignment with the reference timing model
(:func:`mobisim.services.drt_timing.reference_insertion_at`) and refuses one that breaks a limit
(:class:`DispatchError`); see docs/services-transit.md, "Writing a dispatcher".

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

import math
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mobisim.scenario import registry
from mobisim.services.drt_insertion_fast import (
    DENSE_MAX_NODES,
    FLEET_ARRAYS_MIN,
    DenseLegs,
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
from mobisim.services.drt_timing import reference_insertion_at

__all__ = [
    "DENSE_MAX_NODES",
    "FLEET_ARRAYS_MIN",
    "Assignment",
    "BatchAssignment",
    "DenseLegs",
    "DispatchError",
    "Dispatcher",
    "DrtFleet",
    "DrtRequest",
    "DrtVehicle",
    "FleetView",
    "Insertion",
    "InsertionDispatch",
    "NearestBaseAfterIdle",
    "PlanStop",
    "PlanWindows",
    "ReturnToDepotPolicy",
    "StayPolicy",
    "StopView",
    "VehicleView",
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


# ---------------------------------------------------------------------- dispatch protocol
@dataclass(frozen=True, slots=True)
class StopView:
    """A stop of a vehicle's plan as a dispatcher sees it: trip, node (index), pick-up or
    drop-off, earliest and latest service (s; a drop-off's earliest is -inf), persons."""

    trip_id: int
    node: int
    pickup: bool
    earliest_s: float
    latest_s: float
    party: int


@dataclass(frozen=True, slots=True)
class VehicleView:
    """A vehicle as a dispatcher sees it (a snapshot; changing it changes nothing).

    ``node`` and ``free_s`` are its anchor: where and when (s) its committed action ends (inf
    while it charges: it takes no work then); ``anchor_load`` persons are on board then;
    ``plan`` is the stops still to serve, in order.
    """

    vehicle_id: int
    node: int
    free_s: float
    capacity: int
    anchor_load: int
    plan: tuple[StopView, ...]

    @property
    def idle(self) -> bool:
        """Has the vehicle no stop to serve and can it take work (not charging)?"""
        return not self.plan and self.free_s != math.inf


@dataclass(frozen=True, slots=True)
class Assignment:
    """A plan change a dispatcher returns: put ``request``'s pick-up before
    ``plan[pickup_index]`` and its drop-off before ``plan[dropoff_index]`` of vehicle
    ``vehicle_id``'s plan (indices in the plan as it stands, 0 <= pickup <= dropoff <= stops;
    for a second assignment to the same vehicle in one list, its plan after the first).
    ``cost_s`` is the added drive (s) as the dispatcher found it, for information: the service
    works out times and cost again with the reference timing model."""

    request: DrtRequest
    vehicle_id: int
    pickup_index: int
    dropoff_index: int
    cost_s: float = math.nan


class DispatchError(RuntimeError):
    """A dispatcher returned a plan change the service refuses (it breaks a limit)."""


class FleetView:
    """What a dispatcher may read of the fleet: the vehicles (:attr:`vehicles`, snapshots), the
    drive times of the service's profile (:meth:`drive_s`, from the router's dense tables when
    it has them, else router queries) and the exact insertion search
    (:meth:`best_insertion`, :meth:`options`: the fast twin of
    :mod:`mobisim.services.drt_timing`; :meth:`insertion_at`: one given insertion checked by
    the reference) and the nodes' coordinates (:attr:`node_xy_m`). No method changes a plan.

    Parameters
    ----------
    vehicles : list[DrtVehicle]
        The service's fleet (read, never changed here).
    drive : DenseDrive | RouterDrive
        Drive-time source of the service's profile.
    stop_s : float
        Dwell at every stop, s.
    energy_ok : callable
        ``energy_ok(vehicle, nodes)``: can the battery drive ``nodes`` and keep its reserve?
    xy_m : ndarray or None
        Projected node coordinates (n_nodes x 2, m) for straight-line rules (:attr:`node_xy_m`).
    """

    def __init__(self, vehicles: list[DrtVehicle], drive, stop_s: float, energy_ok, xy_m=None):
        self._vehicles = vehicles
        self._drive = drive
        self.stop_s = stop_s
        self._energy_ok = energy_ok
        #: projected coordinates of every node (rows by node index; x, y in m), or None
        self.node_xy_m = xy_m

    @property
    def vehicles(self) -> tuple[VehicleView, ...]:
        """Every vehicle as a :class:`VehicleView`, in fleet order (made on each call)."""
        return tuple(
            VehicleView(
                v.vehicle_id,
                v.node,
                v.free_s,
                v.capacity,
                v.anchor_load,
                tuple(
                    StopView(
                        s.request.trip_id,
                        s.node,
                        s.pickup,
                        s.earliest_s,
                        s.latest_s,
                        s.request.party,
                    )
                    for s in v.plan
                ),
            )
            for v in self._vehicles
        )

    def drive_s(self, origin: int, dest: int) -> float:
        """Fastest drive from node ``origin`` to ``dest`` (indices), s (inf: unreachable)."""
        return self._drive.drive_s(origin, dest)

    def state(self) -> tuple:
        """Everything of the fleet an insertion reads, as one comparable tuple: each vehicle's
        plan version (bumped on every plan change), anchor node, free time, load at the anchor
        and battery charge, and the drive source's time-of-day period. Equal states at two
        moments: the same vehicles, plans and drive times, only the clock moved on."""
        return (
            self._drive.period(),
            *(
                (
                    v.version,
                    v._node,
                    v._free_s,
                    v.anchor_load,
                    None if v.battery is None else getattr(v.battery, "soc_kwh", v.battery),
                )
                for v in self._vehicles
            ),
        )

    def drive_among(self, nodes: list[int]):
        """A ``drive_s(a, b)`` for nodes among ``nodes`` only, from one table query (the same
        times as :meth:`drive_s`)."""
        table = self._drive.local_tables([nodes])[0]
        position = {node: k for k, node in enumerate(nodes)}
        return lambda a, b: table[position[a]][position[b]]

    @staticmethod
    def _assignment(request: DrtRequest, insertion: Insertion) -> Assignment:
        return Assignment(
            request,
            insertion.vehicle.vehicle_id,
            insertion.pickup_index,
            insertion.dropoff_index,
            insertion.cost_s,
        )

    def best_insertion(
        self, request: DrtRequest, now_s: float, approx_candidates_k: int | None = None
    ) -> Assignment | None:
        """The cheapest feasible insertion of ``request`` over the fleet at ``now_s`` (s), or
        None when no vehicle can serve it (exact; with ``approx_candidates_k``: among the K
        vehicles of best pick-up bound only)."""
        found = fast_insert(
            request,
            self._vehicles,
            now_s,
            self._drive,
            self.stop_s,
            self._energy_ok,
            approx_candidates_k,
        )
        return None if found is None else self._assignment(request, found)

    def insertion_at(
        self,
        request: DrtRequest,
        vehicle_id: int,
        pickup_index: int,
        dropoff_index: int,
        now_s: float,
    ) -> Assignment | None:
        """The assignment of ``request`` to vehicle ``vehicle_id`` at the given plan positions
        if the reference timing model finds it feasible at ``now_s`` (s), else None."""
        vehicle = next(v for v in self._vehicles if v.vehicle_id == vehicle_id)
        nodes = [vehicle.node, *(stop.node for stop in vehicle.plan)]
        nodes += [request.pickup_node, request.dropoff_node]
        found = reference_insertion_at(
            vehicle,
            request,
            pickup_index,
            dropoff_index,
            now_s,
            self.drive_among(list(dict.fromkeys(nodes))),
            self.stop_s,
            self._energy_ok,
        )
        return self._assignment(request, found) if isinstance(found, Insertion) else None

    def options(self, request: DrtRequest, now_s: float) -> list[Assignment]:
        """Every vehicle's cheapest feasible insertion of ``request`` at ``now_s`` (s), the
        vehicles that cannot serve it left out, in fleet order."""
        found = fast_options(
            request, self._vehicles, now_s, self._drive, self.stop_s, self._energy_ok
        )
        return [self._assignment(request, option) for option in found]


class Dispatcher(ABC):
    """Base of DRT dispatchers: built from the service's :class:`~mobisim.services.drt.DrtConfig`;
    :meth:`dispatch` returns :class:`Assignment` s for open requests.

    ``batch_interval_s`` None: the service asks :meth:`dispatch` with one request at a time, when
    it is booked (and, with ``queue_requests``, again for each waiting one when a vehicle frees
    up). A number: requests stay open and every ``batch_interval_s`` the service asks with all
    of them. :meth:`quote` answers an offer (what the rider is told before booking).
    """

    batch_interval_s: float | None = None
    #: True: requests are planned without pick-up or arrival limits and cancelled at
    #: :meth:`cancel_s` even while a vehicle drives to them (HIVE; see drt_hive)
    cancel_en_route: bool = False

    def __init__(self, config):
        self.config = config

    def rejection_holds_while_fleet_unchanged(self) -> bool:
        """Does a request this dispatcher found no vehicle for stay without one at any later
        moment at which :meth:`FleetView.state` is unchanged? Then a queued request is not
        dispatched again until the fleet changed (the service's re-match). False unless a
        dispatcher says so (its decisions may depend on the clock in other ways)."""
        return False

    def arrival_takes_effect_s(self, arrival_s: float, origin_s: float) -> float:
        """When (s) a vehicle's arrival at ``arrival_s`` takes effect (a time-stepped model
        rounds it up to its next step after ``origin_s``); event-driven: at once."""
        return arrival_s

    def cancel_s(self, request: DrtRequest, max_wait_s: float, origin_s: float) -> float:
        """When (s) ``request`` is cancelled if not picked up (with :attr:`cancel_en_route`):
        ``max_wait_s`` after it is ready."""
        return request.ready_s + max_wait_s

    @abstractmethod
    def dispatch(
        self, requests: list[DrtRequest], fleet: FleetView, now_s: float
    ) -> list[Assignment]:
        """The plan changes for ``requests`` at ``now_s`` (s); a request left out is not served
        now (rejected, or kept open by queueing or batch rounds). Every dispatcher defines it."""

    def quote(self, request: DrtRequest, fleet: FleetView, now_s: float) -> Assignment | None:
        """The insertion an offer for ``request`` quotes (None: no vehicle): what
        :meth:`dispatch` would do with it alone; batch dispatchers quote the cheapest
        insertion now."""
        if self.batch_interval_s is not None:
            return fleet.best_insertion(request, now_s)
        return next(iter(self.dispatch([request], fleet, now_s)), None)


class InsertionDispatch(Dispatcher):
    """Cheapest feasible insertion over the fleet (exact; see the module docstring), at once for
    each request (``approx_candidates_k`` set: among the K vehicles of best pick-up bound)."""

    def dispatch(
        self, requests: list[DrtRequest], fleet: FleetView, now_s: float
    ) -> list[Assignment]:
        """Each request's cheapest insertion into the current plans (one request per call)."""
        found = (
            fleet.best_insertion(request, now_s, self.config.approx_candidates_k)
            for request in requests
        )
        return [assignment for assignment in found if assignment is not None]

    def rejection_holds_while_fleet_unchanged(self) -> bool:
        """True for the exact search (no ``approx_candidates_k``): with the same plans, anchors,
        free times, charge and drive times, a later clock only makes every vehicle leave later
        (``max(free, now)``), so every stop of every insertion is reached no earlier, under the
        same limits, capacity and energy need: no insertion infeasible before becomes feasible.
        (With K candidates the K vehicles of best pick-up bound can change as the clock passes
        their free times.) Not for a subclass with its own :meth:`dispatch`."""
        exact = self.config.approx_candidates_k is None
        return exact and type(self).dispatch is InsertionDispatch.dispatch


class BatchAssignment(Dispatcher):
    """``batch``: every ``batch_interval_s`` the open requests are assigned together.

    Each open request's options are every vehicle's cheapest feasible insertion into its current
    plan (pooling kept: riders on board or assigned keep their limits). The round solves the
    assignment problem over them with :func:`scipy.optimize.linear_sum_assignment` (FleetPy's
    batch assignment): at most one new request per vehicle and round, the most requests served,
    and among those the least added drive time in total (:func:`optimal_assignment`). A request
    not assigned stays open for the next round. Quotes are the cheapest insertion at the time
    of asking, as with ``insertion``.
    """

    def __init__(self, config):
        super().__init__(config)
        self.batch_interval_s = float(config.batch_interval_s)

    def dispatch(
        self, requests: list[DrtRequest], fleet: FleetView, now_s: float
    ) -> list[Assignment]:
        """The assignments of this round at ``now_s`` (s), one per vehicle at most, in request
        order; requests left out stay open."""
        options = [fleet.options(request, now_s) for request in requests]
        return [option for _, option in optimal_assignment(options)]


def optimal_assignment(options: list[list[Assignment]]) -> list[tuple[int, Assignment]]:
    """(row, insertion) of the optimal assignment of requests (rows) to vehicles: each request
    at most one of its ``options``, each vehicle at most one request; the most requests
    assigned, then the least total cost (s). Sorted by row.

    Infeasible pairs cost more than every feasible cost together, so the solver of the
    (rectangular) assignment problem first maximises the pairs it can make feasible.
    """
    vehicles: dict[int, int] = {}  # vehicle id -> column, in order of first appearance
    for row_options in options:
        for option in row_options:
            vehicles.setdefault(option.vehicle_id, len(vehicles))
    rows = [row for row, row_options in enumerate(options) if row_options]
    if not rows:
        return []
    total_s = sum(option.cost_s for row_options in options for option in row_options)
    infeasible_s = 2.0 * total_s + 1.0
    cost = np.full((len(rows), len(vehicles)), infeasible_s)
    chosen: dict[tuple[int, int], Assignment] = {}
    for r, row in enumerate(rows):
        for option in options[row]:
            column = vehicles[option.vehicle_id]
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

    def retires(self, vehicle: DrtVehicle, now_s: float) -> bool:
        """Does the idle ``vehicle`` leave service where it stands at ``now_s`` (s), for the
        rest of the run (no policy here does; HIVE's emulation does at a base)?"""
        return False


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

"""DRT dispatch and idle-vehicle policies (pluggable, chosen by name in the scenario file).

Timing model shared by the planner and the vehicles (a plan forecasts the vehicle exactly): a vehicle's
plan starts at its *anchor* (the node where its committed action ends and the time it ends); each
stop is reached by the fastest path of the service's profile, served at ``max(arrival, earliest)``
(riders board or alight at that moment), and left ``stop_s`` later.

Constraints held for every rider on board or assigned [T3][T14]:
pick-up ≤ ready + max wait; drop-off ≤ ready + α·direct + β (the whole travel time, wait
included, as MATSim's ``maxTravelTime``); the load never exceeds the capacity.

``InsertionDispatch`` inserts a request's pick-up and drop-off into one vehicle's stop list at
the feasible positions adding the least drive time, trying only the ``candidates_k`` vehicles that
could reach the pick-up soonest. Idle policies say where an idle vehicle goes: ``StayPolicy``,
``ReturnToDepotPolicy``, ``ZoneDemandRebalancing``.

Speed: on a network with the router's all-pairs tables and at most ``DENSE_MAX_NODES`` nodes, the
drive times and distances of the service's profile are copied once into one float64 row per node
(:class:`DenseLegs`, shared by the services that move alike), so that an insertion reads plain
floats instead of making NumPy calls on arrays of a few elements; the values are those of the
router's vectorised queries, so the plans are the same. Larger networks query the router per
request.
"""

from __future__ import annotations

import math
import weakref
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from mobisim.scenario import registry

#: networks with at most this many nodes get :class:`DenseLegs` (8 n² bytes per table: 32 MB
#: for times and as much for distances at 2,000 nodes); larger ones query the router per request
DENSE_MAX_NODES = 2000

#: fleets of at least this many vehicles pick their insertion candidates with NumPy over a
#: :class:`DrtFleet` (a few calls whatever the fleet); smaller ones in a plain loop (faster there)
FLEET_ARRAYS_MIN = 48


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
    is beyond ``DENSE_MAX_NODES`` or the router does not keep all-pairs tables."""
    if router.n_nodes > DENSE_MAX_NODES or getattr(router, "mode", None) != "all_pairs":
        return None
    prof = router.profiles[profile]
    key = (prof.view, prof.speed_kmh, prof.speed_cap_kmh)
    tables = _DENSE.setdefault(router, {})
    legs = tables.get(key)
    if legs is None:
        legs = tables[key] = DenseLegs(router, profile)
    return legs


@dataclass(eq=False, slots=True)
class DrtRequest:
    """A ride to plan: nodes, party, time window (s after midnight), direct drive (s, m)."""

    trip_id: int
    pickup_node: int
    dropoff_node: int
    party: int
    arrival_s: float  # the rider is at the pick-up node from then on
    ready_s: float  # earliest pick-up (arrival, or later for a pre-booked ride)
    latest_pickup_s: float
    latest_dropoff_s: float
    direct_s: float
    direct_m: float
    done: Any = None  # the SimPy event of the booking
    pickup_s: float = math.nan


@dataclass(eq=False, slots=True)
class PlanStop:
    """A pick-up or drop-off of one request in a vehicle's plan."""

    request: DrtRequest
    pickup: bool

    @property
    def node(self) -> int:
        """Node index of the stop."""
        return self.request.pickup_node if self.pickup else self.request.dropoff_node

    @property
    def earliest_s(self) -> float:
        """Earliest service time, s (pick-ups wait for the ready time)."""
        return self.request.ready_s if self.pickup else -math.inf

    @property
    def latest_s(self) -> float:
        """Latest service time, s."""
        return self.request.latest_pickup_s if self.pickup else self.request.latest_dropoff_s


@dataclass(eq=False)
class DrtVehicle:
    """A DRT vehicle: anchor (node, free time s), load at the anchor, plan, riders on board."""

    vehicle_id: int
    capacity: int
    node: int
    free_s: float
    depot_node: int
    plan: list[PlanStop] = field(default_factory=list)
    onboard: list[DrtRequest] = field(default_factory=list)
    anchor_load: int = 0  # persons on board once the committed stop is served
    load: int = 0  # persons on board now
    version: int = 0  # bumped on every plan change (offers quoted on an older version are stale)
    wake: Any = None  # SimPy event the idle vehicle waits for
    idle_since_s: float | None = None
    battery: Any = None
    vt: Any = None  # its VehicleType when it has a battery
    windows: PlanWindows | None = field(default=None, repr=False)  # see plan_windows()

    #: the :class:`DrtFleet` mirroring ``node`` and ``free_s`` (None until one is made) and the
    #: vehicle's index in it; ``node`` and ``free_s`` are properties over ``_node``, ``_free_s``
    _fleet = None
    _slot = -1


def _set_node(vehicle: DrtVehicle, node: int) -> None:
    vehicle._node = node
    fleet = vehicle._fleet
    if fleet is not None:
        fleet.nodes[vehicle._slot] = node


def _set_free_s(vehicle: DrtVehicle, free_s: float) -> None:
    vehicle._free_s = free_s
    fleet = vehicle._fleet
    if fleet is not None:
        fleet.free_s[vehicle._slot] = free_s


# properties set after the dataclass is made (in the class body they would be field defaults);
# the getters are C attrgetters: reads cost about as much as plain attributes
DrtVehicle.node = property(  # type: ignore[assignment]
    attrgetter("_node"), _set_node, doc="Anchor node (index): where the committed action ends."
)
DrtVehicle.free_s = property(  # type: ignore[assignment]
    attrgetter("_free_s"), _set_free_s, doc="Anchor time, s: when the committed action ends."
)


class DrtFleet:
    """The anchor nodes and free times of a list of vehicles as NumPy arrays (slot = index in
    the list), kept in step by the vehicles' ``node`` and ``free_s`` setters.

    A vehicle mirrors into one fleet at a time: making a fleet of it invalidates its previous
    one. The list may grow (then :func:`drt_fleet` makes a new fleet), not change in place.
    """

    __slots__ = ("free_s", "nodes", "valid", "vehicles")

    def __init__(self, vehicles: list[DrtVehicle]):
        self.vehicles = vehicles
        self.valid = True
        for slot, vehicle in enumerate(vehicles):
            old = vehicle._fleet
            if old is not None and old is not self:
                old.valid = False
            vehicle._fleet, vehicle._slot = self, slot
        self.nodes = np.array([v._node for v in vehicles], dtype=np.int64)
        self.free_s = np.array([v._free_s for v in vehicles], dtype=np.float64)


def drt_fleet(vehicles: list[DrtVehicle]) -> DrtFleet:
    """The :class:`DrtFleet` of ``vehicles`` (non-empty), made again only when the list is not
    the one it mirrors, grew, or one of its vehicles joined another fleet since."""
    fleet = vehicles[0]._fleet
    if (
        fleet is None
        or not fleet.valid
        or fleet.vehicles is not vehicles
        or len(fleet.nodes) != len(vehicles)
    ):
        fleet = DrtFleet(vehicles)
    return fleet


@dataclass(eq=False, slots=True)
class PlanWindows:
    """What an insertion reads of a vehicle's plan, stop by stop, as of plan ``version``: node,
    earliest and latest service time (s; a drop-off's earliest is -inf), load change (persons)."""

    version: int
    nodes: list[int]
    earliest_s: list[float]
    latest_s: list[float]
    deltas: list[int]


def plan_windows(vehicle: DrtVehicle) -> PlanWindows:
    """The :class:`PlanWindows` of ``vehicle``'s plan, worked out again only when its version
    changed (every plan change bumps it)."""
    windows = vehicle.windows
    if windows is None or windows.version != vehicle.version:
        nodes, earliest, latest, deltas = [], [], [], []
        for stop in vehicle.plan:  # PlanStop.node, earliest_s, latest_s and party_of, spelt out
            req = stop.request
            if stop.pickup:
                nodes.append(req.pickup_node)
                earliest.append(req.ready_s)
                latest.append(req.latest_pickup_s)
                deltas.append(req.party)
            else:
                nodes.append(req.dropoff_node)
                earliest.append(-math.inf)
                latest.append(req.latest_dropoff_s)
                deltas.append(-req.party)
        windows = PlanWindows(vehicle.version, nodes, earliest, latest, deltas)
        vehicle.windows = windows
    return windows


@dataclass(slots=True)
class Insertion:
    """Where to insert a request: vehicle, positions in its plan, planned times (s), added drive (s)."""

    vehicle: DrtVehicle
    pickup_index: int
    dropoff_index: int
    pickup_s: float
    dropoff_s: float
    cost_s: float
    version: int
    quoted_s: float


def insert_stops(vehicle: DrtVehicle, request: DrtRequest, insertion: Insertion) -> None:
    """Put the request's pick-up and drop-off into the vehicle's plan at the insertion's positions."""
    plan, i, j = vehicle.plan, insertion.pickup_index, insertion.dropoff_index
    vehicle.plan = [
        *plan[:i],
        PlanStop(request, True),
        *plan[i:j],
        PlanStop(request, False),
        *plan[j:],
    ]
    vehicle.version += 1


class InsertionDispatch:
    """Cheapest feasible insertion over the K vehicles nearest (by time) to the pick-up.

    Parameters
    ----------
    service : DrtService
        Gives ``router``, ``profile`` (routing profile name), ``config`` (``stop_s``,
        ``candidates_k``) and ``energy_ok(vehicle, nodes, start_s)`` (battery check).
    """

    def __init__(self, service):
        self.router = service.router
        self.profile = service.profile
        self.stop_s = float(service.config.stop_s)
        self.k = int(service.config.candidates_k)
        self.energy_ok = service.energy_ok
        self._dense: DenseLegs | bool | None = False  # False: not looked up yet

    @property
    def dense(self) -> DenseLegs | None:
        """The profile's :class:`DenseLegs` (None on large networks); built on first use."""
        if self._dense is False:
            self._dense = dense_legs(self.router, self.profile)
        return self._dense

    def insert(
        self, request: DrtRequest, vehicles: list[DrtVehicle], now_s: float
    ) -> Insertion | None:
        """The cheapest feasible insertion of ``request`` at ``now_s`` (s), or None.

        Vehicles are ranked by a lower bound of their pick-up time (anchor time + drive to the
        pick-up); those that cannot make the latest pick-up are dropped, the ``k`` first kept.
        """
        if not vehicles:
            return None
        dense = self.dense
        if dense is not None:
            return self._insert_dense(request, vehicles, now_s, dense.times_inf)
        anchors = np.fromiter((v.node for v in vehicles), dtype=np.int64, count=len(vehicles))
        free = np.fromiter((v.free_s for v in vehicles), dtype=float, count=len(vehicles))
        reach_s = self.router.travel_times_s(self.profile, anchors, request.pickup_node)
        bound_s = np.maximum(free, now_s) + reach_s
        ok = np.flatnonzero(bound_s <= request.latest_pickup_s)  # NaN compares False
        if ok.size > self.k:
            ok = ok[np.argpartition(bound_s[ok], self.k - 1)[: self.k]]
        candidates = [vehicles[int(i)] for i in ok[np.argsort(bound_s[ok], kind="stable")]]
        if not candidates:
            return None
        # one router query for every pair of nodes the candidates' insertions may need
        nodes = [request.pickup_node, request.dropoff_node]
        for vehicle in candidates:
            nodes.append(vehicle.node)
            nodes.extend(stop.node for stop in vehicle.plan)
        unique, position = np.unique(np.asarray(nodes, dtype=np.int64), return_inverse=True)
        matrix = self.router.travel_times_s(self.profile, unique[:, None], unique[None, :])
        matrix = np.where(np.isnan(matrix), np.inf, matrix).tolist()
        position = position.ravel().tolist()
        options, at = [], 2
        for vehicle in candidates:
            size = 1 + len(vehicle.plan)
            local = [*position[at : at + size], position[0], position[1]]
            at += size
            times = [[row[b] for b in local] for row in [matrix[a] for a in local]]
            option = self.best_for_vehicle(vehicle, request, now_s, times)
            if option is not None:
                options.append(option)
        return self._first_with_energy(options, request)

    def _first_with_energy(self, options: list[Insertion], request: DrtRequest) -> Insertion | None:
        """The cheapest option (cost, pick-up time, vehicle id) whose vehicle has the energy."""
        options.sort(key=lambda o: (o.cost_s, o.pickup_s, o.vehicle.vehicle_id))
        for option in options:
            if option.vehicle.battery is None or self.energy_ok(
                option.vehicle, self._new_nodes(option, request)
            ):
                return option
        return None

    def _insert_dense(
        self,
        request: DrtRequest,
        vehicles: list[DrtVehicle],
        now_s: float,
        times,
    ) -> Insertion | None:
        """:meth:`insert` on nested-list drive times (inf = unreachable): same candidates, same
        insertions, no NumPy call unless bounds tie at the K-th place (fleets of
        ``FLEET_ARRAYS_MIN`` or more: the candidates by :meth:`_reachable_arrays`)."""
        pickup, latest = request.pickup_node, request.latest_pickup_s
        k = self.k
        if len(vehicles) >= FLEET_ARRAYS_MIN:
            reachable = self._reachable_arrays(request, vehicles, now_s)
            if not reachable:
                return None
        else:
            # (bound, index, start, drive to the pick-up) of the vehicles that can make the
            # pick-up; start = max(free, now) and bound = start + drive, as best_for_vehicle has
            reachable = []
            for index, vehicle in enumerate(vehicles):
                free = vehicle._free_s
                start = free if free >= now_s else now_s
                reach = times[vehicle._node][pickup]
                bound = start + reach
                if bound <= latest:
                    reachable.append((bound, index, start, reach))
            if not reachable:
                return None
        if len(reachable) > k:
            ranked = sorted(reachable)  # by bound, then index
            if ranked[k][0] > ranked[k - 1][0]:  # the K nearest are one set whatever the ties
                reachable = ranked[:k]
            else:  # a tie across the K-th place: the set np.argpartition picks
                picked = np.argpartition(np.asarray([c[0] for c in reachable]), k - 1)[:k]
                reachable = [reachable[int(i)] for i in picked]
        dropoff, ready = request.dropoff_node, request.ready_s
        latest_dropoff, party, stop_s = request.latest_dropoff_s, request.party, self.stop_s
        ride = times[pickup][dropoff]
        # (cost, pick-up time, vehicle id, ...): the order _first_with_energy sorts by
        options: list[tuple] = []
        for bound, index, start_s, to_pickup in reachable:
            vehicle = vehicles[index]
            if vehicle.plan:
                nodes = [vehicle.node, *plan_windows(vehicle).nodes, pickup, dropoff]
                columns = itemgetter(*nodes)  # a row's entries at ``nodes``, as a tuple
                local = [columns(times[a]) for a in nodes]
                option = self.best_for_vehicle(vehicle, request, now_s, local)
                if option is not None:
                    options.append((option.cost_s, option.pickup_s, vehicle.vehicle_id, option))
                continue
            # empty plan: best_for_vehicle's one position pair, same arithmetic
            if start_s > latest or vehicle.anchor_load + party > vehicle.capacity:
                continue
            t_p = bound if bound >= ready else ready  # max(start + drive, ready)
            if t_p > latest:
                continue
            t_d = t_p + stop_s + ride
            if t_d > latest_dropoff:
                continue
            options.append((to_pickup + ride, t_p, vehicle.vehicle_id, None, vehicle, t_d))
        options.sort()  # vehicle ids are unique: the tuples never compare past the id
        for option in options:
            insertion = option[3]
            if insertion is None:
                cost_s, t_p, _, _, vehicle, t_d = option
                insertion = Insertion(vehicle, 0, 0, t_p, t_d, cost_s, vehicle.version, now_s)
            if insertion.vehicle.battery is None or self.energy_ok(
                insertion.vehicle, self._new_nodes(insertion, request)
            ):
                return insertion
        return None

    def _reachable_arrays(
        self, request: DrtRequest, vehicles: list[DrtVehicle], now_s: float
    ) -> list[tuple]:
        """:meth:`_insert_dense`'s candidates worked out with NumPy over the :class:`DrtFleet`:
        (bound, index, start, drive to the pick-up) of at most ``k`` of the vehicles that can
        make the pick-up, the ``k`` np.argpartition picks by bound when more can (the K nearest
        by (bound, index) when no bounds tie across the K-th place). The same floats as the
        loop: start = max(free, now) as a conditional (free is never NaN), bound = start +
        drive (IEEE addition, inf when unreachable)."""
        fleet = drt_fleet(vehicles)
        free = fleet.free_s
        start = np.where(free >= now_s, free, now_s)
        reach = self.dense.times_to[request.pickup_node][fleet.nodes]
        bound = start + reach
        ok = np.flatnonzero(bound <= request.latest_pickup_s)
        if ok.size > self.k:
            ok = ok[np.argpartition(bound[ok], self.k - 1)[: self.k]]
        return list(
            zip(
                bound[ok].tolist(), ok.tolist(), start[ok].tolist(), reach[ok].tolist(), strict=True
            )
        )

    @staticmethod
    def _new_nodes(option: Insertion, request: DrtRequest) -> list[int]:
        vehicle = option.vehicle
        nodes = [s.node for s in vehicle.plan]
        nodes.insert(option.dropoff_index, request.dropoff_node)
        nodes.insert(option.pickup_index, request.pickup_node)
        return [vehicle.node, *nodes]

    def best_for_vehicle(
        self,
        vehicle: DrtVehicle,
        request: DrtRequest,
        now_s: float,
        times_s: list[list[float]] | None = None,
    ) -> Insertion | None:
        """The feasible insertion into ``vehicle``'s plan adding the least drive time, or None.

        Parameters
        ----------
        vehicle, request : the vehicle and the request to insert.
        now_s : float
            Clock, s after midnight.
        times_s : list of lists (or of tuples), optional
            Drive times (s; inf = unreachable) between the nodes [anchor, plan stops..., pick-up,
            drop-off], in that order; queried from the router when not given.
        """
        party, cap, stop_s = request.party, vehicle.capacity, self.stop_s
        windows = plan_windows(vehicle)
        n = len(windows.nodes)
        if times_s is None:
            nodes = np.array(
                [vehicle.node, *windows.nodes, request.pickup_node, request.dropoff_node]
            )
            matrix = self.router.travel_times_s(self.profile, nodes[:, None], nodes[None, :])
            times_s = np.where(np.isnan(matrix), np.inf, matrix).tolist()
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
        best: Insertion | None = None

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

        ready_s, latest_pickup_s = request.ready_s, request.latest_pickup_s
        latest_dropoff_s = request.latest_dropoff_s
        from_pickup, from_dropoff = T[P], T[D]
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
                if j == i:
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
                best_key = (cost, t_p)
                best = Insertion(vehicle, i, j, t_p, t_d, cost, vehicle.version, now_s)
        return best


def party_of(stop: PlanStop) -> int:
    """Change of load at ``stop``: +party at a pick-up, −party at a drop-off (persons)."""
    return stop.request.party if stop.pickup else -stop.request.party


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


class ReturnToDepotPolicy(StayPolicy):
    """Idle vehicles drive back to their depot (their starting node)."""

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The vehicle's depot node, unless it is there already."""
        return None if vehicle.node == vehicle.depot_node else vehicle.depot_node


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


#: local fallbacks for the policy names (the scenario registry's entries win when present)
DISPATCH_POLICIES = {"insertion": InsertionDispatch}
IDLE_POLICIES = {
    "stay": StayPolicy,
    "return_to_depot": ReturnToDepotPolicy,
    "zone_rebalancing": ZoneDemandRebalancing,
}


def known_policies(kind: str) -> list[str]:
    """Names a scenario may give for ``kind`` (``drt_dispatch`` or ``drt_idle``), sorted."""
    local = DISPATCH_POLICIES if kind == "drt_dispatch" else IDLE_POLICIES
    return sorted({*registry.POLICIES.get(kind, {}), *local})


def resolve_policy(kind: str, name: str) -> Any:
    """The policy class registered as ``name`` for ``kind`` (``drt_dispatch`` or ``drt_idle``).

    Looks in :data:`mobisim.scenario.registry.POLICIES` first, then in this module's tables;
    KeyError listing the known names otherwise.
    """
    registered = registry.POLICIES.get(kind, {})
    if name in registered:
        return registry.policy(kind, name)
    local = DISPATCH_POLICIES if kind == "drt_dispatch" else IDLE_POLICIES
    if name in local:
        return local[name]
    known = sorted({*registered, *local})
    raise KeyError(f"unknown {kind} policy {name!r}; expected one of: {', '.join(known)}")

"""What a DRT plan is made of: requests, plan stops, vehicles, insertions.

A vehicle's plan starts at its *anchor*: the node where its committed action ends (``node``) and
the time it ends (``free_s``, s after midnight), with ``anchor_load`` persons on board then. The
plan is the ordered list of pick-ups and drop-offs still to serve. How a plan is timed and what
an insertion costs is :mod:`mobisim.services.drt_timing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


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


def party_of(stop: PlanStop) -> int:
    """Change of load at ``stop``: +party at a pick-up, −party at a drop-off (persons)."""
    return stop.request.party if stop.pickup else -stop.request.party


class DrtVehicle:
    """A DRT vehicle: anchor (node, free time s), load at the anchor, plan, riders on board.

    ``node`` and ``free_s`` are properties so that the :class:`DrtFleet` the vehicle belongs to
    (if any) mirrors them in NumPy arrays for the candidate search of large fleets.
    """

    def __init__(
        self, vehicle_id: int, capacity: int, node: int, free_s: float, depot_node: int
    ) -> None:
        self.vehicle_id = vehicle_id
        self.capacity = capacity  # places, persons
        self.depot_node = depot_node
        self._fleet: DrtFleet | None = None
        self._slot = -1  # index in ``_fleet``
        self._node = node
        self._free_s = free_s
        self._plan: list[PlanStop] = []
        self.onboard: list[DrtRequest] = []
        self.anchor_load = 0  # persons on board once the committed stop is served
        self.load = 0  # persons on board now
        self.version = 0  # bumped on every plan change (offers quoted on an older one are stale)
        self.wake: Any = None  # SimPy event the idle vehicle waits for
        self.idle_since_s: float | None = None
        self.battery: Any = None
        self.vt: Any = None  # its VehicleType when it has a battery
        self.windows: PlanWindows | None = None  # see plan_windows()
        self.route_geometry: Any = None  # see drt_insertion_fast.route_geometry()

    @property
    def node(self) -> int:
        """Anchor node (index): where the committed action ends."""
        return self._node

    @node.setter
    def node(self, node: int) -> None:
        self._node = node
        fleet = self._fleet
        if fleet is not None:
            if fleet.cells is not None:  # keep the fleet's grid index in step
                cell_of = fleet.cell_of_node
                old, new = cell_of[fleet.nodes[self._slot]], cell_of[node]
                if old != new:
                    fleet.cells[old].discard(self._slot)
                    fleet.cells.setdefault(new, set()).add(self._slot)
            fleet.nodes[self._slot] = node

    @property
    def plan(self) -> list[PlanStop]:
        """The stops still to serve, in order. Give a new list to change it (``vehicle.plan =
        ...``), never change the list in place: the :class:`DrtFleet` mirrors whether it is
        empty (idle vehicles and busy ones are searched apart)."""
        return self._plan

    @plan.setter
    def plan(self, plan: list[PlanStop]) -> None:
        self._plan = plan
        if self._fleet is not None:
            self._fleet.busy[self._slot] = bool(plan)

    @property
    def free_s(self) -> float:
        """Anchor time, s: when the committed action ends."""
        return self._free_s

    @free_s.setter
    def free_s(self, free_s: float) -> None:
        self._free_s = free_s
        if self._fleet is not None:
            self._fleet.free_s[self._slot] = free_s

    def __repr__(self) -> str:
        return (
            f"DrtVehicle(id={self.vehicle_id}, node={self._node}, free_s={self._free_s}, "
            f"load={self.anchor_load}, stops={len(self.plan)})"
        )


class DrtFleet:
    """The anchor nodes, free times and whether the plan is non-empty (``busy``) of a list of
    vehicles as NumPy arrays (slot = index in the list), kept in step by the vehicles' ``node``,
    ``free_s`` and ``plan`` setters.

    A vehicle mirrors into one fleet at a time: making a fleet of it invalidates its previous
    one. The list may grow (then :func:`drt_fleet` makes a new fleet), not change in place.
    """

    __slots__ = ("busy", "cell_of_node", "cells", "free_s", "nodes", "valid", "vehicles")

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
        self.busy = np.array([bool(v._plan) for v in vehicles], dtype=bool)
        #: grid cell -> slots of the vehicles anchored in it (see :meth:`index_cells`)
        self.cells: dict[int, set[int]] | None = None
        self.cell_of_node: np.ndarray | None = None

    def index_cells(self, cell_of_node: np.ndarray) -> dict[int, set[int]]:
        """The slots of the vehicles anchored in each grid cell (``cell_of_node[node]``), built
        on first use for that grid and kept in step by the vehicles' ``node`` setter."""
        if self.cells is None or self.cell_of_node is not cell_of_node:
            self.cell_of_node = cell_of_node
            cells: dict[int, set[int]] = {}
            for slot, cell in enumerate(cell_of_node[self.nodes].tolist()):
                cells.setdefault(cell, set()).add(slot)
            self.cells = cells
        return self.cells


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
        plan = vehicle.plan
        windows = PlanWindows(
            vehicle.version,
            [stop.node for stop in plan],
            [stop.earliest_s for stop in plan],
            [stop.latest_s for stop in plan],
            [party_of(stop) for stop in plan],
        )
        vehicle.windows = windows
    return windows


@dataclass(slots=True)
class Insertion:
    """Where to insert a request: vehicle, positions in its plan (the pick-up goes before
    ``plan[pickup_index]``, the drop-off before ``plan[dropoff_index]`` of the old plan),
    planned pick-up and drop-off times (s), added drive (s), plan version and quote time (s)."""

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


def new_route(vehicle: DrtVehicle, request: DrtRequest, pickup_index: int, dropoff_index: int):
    """Nodes the vehicle drives through after the insertion: anchor, then every stop."""
    nodes = [stop.node for stop in vehicle.plan]
    nodes.insert(dropoff_index, request.dropoff_node)
    nodes.insert(pickup_index, request.pickup_node)
    return [vehicle.node, *nodes]

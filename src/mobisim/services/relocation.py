"""The relocation operator of a shared fleet: when a tour starts, which vehicles it moves.

Shared by car-sharing (staff drivers) and micromobility (vans). The operator's day: wait until
its relocation policy says a tour may start, plan moves from lots above target (their initial
stock) to lots below, nearest first by drive time (:func:`plan_moves`), and hand them to its
crews; the services say how a move is done (a staff driver for cars, vans for devices).

When a tour starts is a policy registered by name (``mobisim.scenario.registry.POLICIES
["relocation"]``), chosen with ``relocation.policy`` / ``crews.policy`` in the scenario file:

``none``
    No tours.
``schedule`` (:class:`ScheduledTours`)
    A tour at the start of the operator's hours, then one every ``interval_min``.
``threshold`` (:class:`ThresholdTours`)
    A tour when a lot falls to ``trigger_share`` of its target (or a device ends a ride low, see
    :meth:`Operator.alert`), at least ``interval_min`` after the last one.

A policy is a class built with the :class:`Operator` whose ``until_next_tour()`` is a SimPy
sub-story returning when the next tour may start; ``runs = False`` means no tours at all.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from pydantic import Field, field_validator

from mobisim.scenario import registry
from mobisim.scenario.base import ClockTime, StrictModel
from mobisim.services.sharing_fleet import Fleet, Lot, SharedVehicle
from mobisim.units import min_to_s


class OperationsConfig(StrictModel):
    """When and how the operator moves vehicles between stations/zones (relocation, crews)."""

    policy: str = Field(
        default="none",
        description="When tours start (a registered relocation policy): none: no relocation; "
        "schedule: a tour every interval_min; threshold: a tour when a station/zone falls to "
        "trigger_share of its target stock.",
    )
    interval_min: float = Field(
        default=60.0,
        gt=0,
        description="schedule: minutes between tours; threshold: least minutes between tours (A).",
    )
    trigger_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="threshold: a station/zone at or below this share of its target starts a tour (A).",
    )
    start: ClockTime | None = Field(
        default=None, description="First tour at the earliest (default: the period start)."
    )
    end: ClockTime | None = Field(
        default=None, description="No tour starts after this (default: the period end)."
    )
    crews: int = Field(
        default=1, ge=1, description="Crews (staff drivers or vans) working at once."
    )
    max_moves_per_tour: int = Field(
        default=10, ge=1, description="Vehicles moved per tour at most, all crews together (A)."
    )
    handling_min: float = Field(
        default=2.0,
        ge=0,
        description="Time per vehicle taken, parked or battery swapped, min (A).",
    )

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, name: str) -> str:
        known = sorted(registry.POLICIES["relocation"])
        if name not in known:
            raise ValueError(f"expected one of: {', '.join(known)} (got {name!r})")
        return name


def plan_moves(
    stock: np.ndarray,
    target: np.ndarray,
    free: np.ndarray,
    drive_s: np.ndarray,
    max_moves: int,
) -> list[tuple[int, int]]:
    """Greedy relocation plan: one vehicle at a time, to the lot most below target, from the nearest lot above.

    Parameters
    ----------
    stock : int array
        Usable vehicles standing at each lot now.
    target : int array
        Stock each lot should have.
    free : int array
        Free spaces per lot (-1: no limit).
    drive_s : 2-D float array
        Drive time from lot i to lot j, s (NaN: unreachable).
    max_moves : int
        Moves planned at most.

    Returns a list of ``(from_lot, to_lot)`` index pairs, one per vehicle moved.
    """
    stock, target = stock.astype(np.int64).copy(), target.astype(np.int64)
    free = np.where(free < 0, np.iinfo(np.int64).max // 2, free).astype(np.int64)
    moves: list[tuple[int, int]] = []
    while len(moves) < max_moves:
        deficit = np.where(free > 0, target - stock, 0)
        to = int(np.argmax(deficit))
        surplus = stock - target
        sources = np.flatnonzero((surplus > 0) & ~np.isnan(drive_s[:, to]))
        if deficit[to] <= 0 or sources.size == 0:
            break
        source = int(sources[np.argmin(drive_s[sources, to])])
        moves.append((source, to))
        stock[source] -= 1
        stock[to] += 1
        free[to] -= 1
        free[source] += 1
    return moves


class RelocationPolicy(Protocol):
    """When the operator's next tour may start (built with its :class:`Operator`)."""

    runs: bool  # False: no tours at all

    def until_next_tour(self):
        """SimPy sub-story (``yield from``): returns when the next tour may start."""

    def alert(self) -> None:
        """Something needs the crews now (a device ended a ride with a low battery)."""


class NoTours:
    """``none``: the operator never tours."""

    runs = False

    def __init__(self, operator: Operator):
        self.operator = operator

    def until_next_tour(self):
        """Never returns a tour (not called: ``runs`` is False)."""
        yield self.operator.env.event()

    def alert(self) -> None:
        """Nothing to wake."""


class ScheduledTours(NoTours):
    """``schedule``: a tour at the start of the operator's hours, then every ``interval_min``."""

    runs = True

    def until_next_tour(self):
        """Wait ``interval_min`` after the last tour (the first starts at once)."""
        operator = self.operator
        if operator.last_tour_s > -math.inf:
            yield operator.env.timeout(min_to_s(operator.config.interval_min))


class ThresholdTours(NoTours):
    """``threshold``: a tour when a lot falls to ``trigger_share`` of its target or a crew is
    alerted, at least ``interval_min`` after the last tour."""

    runs = True

    def __init__(self, operator: Operator):
        super().__init__(operator)
        self.wake = operator.env.event()
        operator.fleet.on_change.append(self._check)

    def _check(self, lot: Lot) -> None:
        """Wake the operator when ``lot`` falls to its trigger share."""
        share = self.operator.config.trigger_share
        if lot.target > 0 and lot.stock <= share * lot.target:
            self.alert()

    def alert(self) -> None:
        """Wake the operator (once per tour)."""
        if not self.wake.triggered:
            self.wake.succeed()

    def until_next_tour(self):
        """Wait to be woken, then until ``interval_min`` after the last tour."""
        operator, env = self.operator, self.operator.env
        yield self.wake
        self.wake = env.event()
        earliest_s = operator.last_tour_s + min_to_s(operator.config.interval_min)
        if env.now < earliest_s:
            yield env.timeout(earliest_s - env.now)


class Operator:
    """The relocation operator of one service: its policy says when a tour starts; it plans the
    moves and hands them to the service's crews.

    Parameters
    ----------
    config : OperationsConfig
        Policy, interval, trigger share, hours, crews, moves per tour.
    fleet : Fleet
        The service's fleet (lots, standing vehicles).
    profile : str
        Router profile of the crews' driving (``car``).
    work : callable(crew_index, moves) -> generator
        The service's crew story for a list of ``(vehicle, from_lot, to_lot)`` moves.
    usable : callable(vehicle) -> bool
        Whether a standing vehicle may be moved (charged enough, not reserved).
    sources : list of Lot
        Lots that only give vehicles (target 0, never a destination), e.g. a depot whose
        charged devices go back out; ``usable`` decides which of their vehicles may go.
    pending : callable() -> bool, optional
        Whether the crews have work besides moves (battery swaps, devices to collect): a tour
        then runs even without moves.
    """

    def __init__(
        self,
        config: OperationsConfig,
        fleet: Fleet,
        profile: str,
        work,
        usable,
        sources: list[Lot] | None = None,
        pending=None,
    ):
        self.config = config
        self.fleet = fleet
        self.profile = profile
        self.work = work
        self.usable = usable
        self.pending = pending
        self.lots = list(fleet.lots) + list(sources or [])
        ctx = fleet.ctx
        self.start_s = ctx.period_start_s if config.start is None else config.start
        self.end_s = ctx.period_end_s if config.end is None else config.end
        self.env = ctx.env
        self.tours = 0
        self.last_tour_s = -math.inf  # when the last tour started, s
        lot_nodes = np.array([lot.node for lot in self.lots])
        self.drive_s = ctx.router.travel_times_s(profile, lot_nodes[:, None], lot_nodes[None, :])
        self.policy: RelocationPolicy = registry.policy("relocation", config.policy)(self)

    def start(self) -> None:
        """Start the operator's day (nothing when its policy makes no tours)."""
        if self.policy.runs:
            self.env.process(self._day())

    def alert(self) -> None:
        """Tell the policy something needs the crews now (e.g. a device's battery ran low)."""
        self.policy.alert()

    def _day(self):
        """The operator's day: wait for the next tour, plan it, let the crews work."""
        env = self.env
        if env.now < self.start_s:
            yield env.timeout(self.start_s - env.now)
        while env.now <= self.end_s:
            yield from self.policy.until_next_tour()
            if env.now > self.end_s:
                return
            self.last_tour_s = env.now
            chunks = self.plan()
            if any(chunks) or (self.pending is not None and self.pending()):
                self.tours += 1
                yield env.all_of([env.process(self.work(i, c)) for i, c in enumerate(chunks)])

    def plan(self) -> list[list[tuple[SharedVehicle, Lot, Lot]]]:
        """This tour's moves, split between the crews (a list of moves per crew)."""
        lots = self.lots
        movable = [[v for v in lot.store.items if self.usable(v)] for lot in lots]
        stock = np.array([len(m) for m in movable])
        target = np.array([lot.target for lot in lots])
        free = np.array([lot.free_spaces for lot in lots])
        pairs = plan_moves(stock, target, free, self.drive_s, self.config.max_moves_per_tour)
        chunks: list[list[tuple[SharedVehicle, Lot, Lot]]] = [[] for _ in range(self.config.crews)]
        for k, (i, j) in enumerate(pairs):
            chunks[k % self.config.crews].append((movable[i].pop(), lots[i], lots[j]))
        return chunks

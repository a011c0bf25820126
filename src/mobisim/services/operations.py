"""Shared fleets: how a rental goes, and how the operator moves the vehicles.

Shared by car-sharing (:mod:`mobisim.services.carsharing`) and shared bikes, e-bikes, e-scooters
and segways (:mod:`mobisim.services.micromobility`). Where the vehicles stand (lots, stations,
zones, the depot) and the events of standing and charging are in
:mod:`mobisim.services.sharing_fleet`.

A rental (:class:`SharingService`). At the offer, the nearest usable vehicle within ``max_walk_m``
of the origin (network walk, 1.2 m/s [T1]) and the end point: the station nearest the destination
with a free space (one way, docked) or the destination itself (free-floating, dockless; inside the
service area). The renter's story::

    book    -> with a reservation (reservation_min > 0) the vehicle leaves the pool now and is
               held up to reservation_min while the renter walks; without, it stays in the pool
    arrive  -> take the vehicle (another usable one at the same place if it was taken: the
               reservation lapsed or there was none); none left: outcome no_vehicle_on_arrival
    ride    -> vehicle_leg "occupied" on the mode's router profile, battery drawn per leg
    park    -> dock/park; a full station sends the renter on to the next station nearest the
               destination with a free space (an extra leg, a longer egress walk in the outcome)

Vehicles are usable when their state of charge is at least ``min_soc_share`` of capacity plus the
energy of the ride (:func:`mobisim.energy.consumption.leg_energy_kwh`), so a battery never goes
below empty.

The operator (:class:`OperationsConfig`, :func:`plan_moves`). On a schedule or when a lot's stock
falls to ``trigger_share`` of its target (its initial stock), it plans moves from lots above
target to lots below, nearest first by drive time, and hands them to its crews; the services say
how a move is done (a staff driver for cars, vans for devices).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np
import simpy
from pydantic import Field

from mobisim.energy.consumption import leg_energy_kwh
from mobisim.errors import SimulationError
from mobisim.scenario.base import ClockTime, StrictModel
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.services.sharing_fleet import Fleet, Lot, SharedVehicle
from mobisim.units import METRES_PER_KM, SECONDS_PER_MINUTE, min_to_s

WALK_PROFILE = "walk"


class OperationsConfig(StrictModel):
    """When and how the operator moves vehicles between stations/zones (relocation, crews)."""

    policy: Literal["none", "schedule", "threshold"] = Field(
        default="none",
        description="none: no relocation; schedule: a tour every interval_min; threshold: a tour "
        "when a station/zone falls to trigger_share of its target stock.",
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


@dataclass(slots=True)
class RentalPlan:
    """What an offer promises (kept in ``Offer.handle``): the vehicle, where it is, where it ends."""

    vehicle: SharedVehicle
    lot: Lot | None  # where the vehicle stands at the offer
    node: int  # its node at the offer
    end_lot: Lot | None  # station to dock at; None: park at end_node (free-floating / held)
    end_node: int
    profile: str


# ---------------------------------------------------------------------------------- relocation
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


class Operator:
    """The relocation policy of one service: decides when a tour starts and which moves it makes.

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
        self.wake = ctx.env.event()
        self.tours = 0
        lot_nodes = np.array([lot.node for lot in self.lots])
        self.drive_s = ctx.router.travel_times_s(profile, lot_nodes[:, None], lot_nodes[None, :])
        if config.policy == "threshold":
            fleet.on_change.append(self._check)

    def start(self) -> None:
        """Start the policy process (nothing with policy ``none``)."""
        if self.config.policy != "none":
            self.fleet.ctx.env.process(self._policy())

    def _check(self, lot: Lot) -> None:
        """Threshold policy: wake the operator when ``lot`` falls to its trigger share."""
        low = lot.target > 0 and lot.stock <= self.config.trigger_share * lot.target
        if low and not self.wake.triggered:
            self.wake.succeed()

    def alert(self) -> None:
        """Wake a threshold operator now (e.g. a device's battery ran low)."""
        if self.config.policy == "threshold" and not self.wake.triggered:
            self.wake.succeed()

    def _policy(self):
        """The operator's day: wait for the next tour (schedule or trigger), plan it, let crews work."""
        env, cfg = self.fleet.ctx.env, self.config
        interval_s = min_to_s(cfg.interval_min)
        if env.now < self.start_s:
            yield env.timeout(self.start_s - env.now)
        last_s = -math.inf
        while env.now <= self.end_s:
            if cfg.policy == "schedule":
                if last_s > -math.inf:
                    yield env.timeout(interval_s)
            else:
                yield self.wake
                self.wake = env.event()
                if env.now < last_s + interval_s:
                    yield env.timeout(last_s + interval_s - env.now)
            if env.now > self.end_s:
                return
            last_s = env.now
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


# ---------------------------------------------------------------------------------- the rental
class SharingService(Service):
    """One-way station and free-floating rentals (see the module docstring).

    Subclasses set ``self.fleet``, ``self.stations`` (True: dock at stations), ``self.zone_of``
    (free-floating: zone index of every node, -1 outside the service area), ``self.max_walk_m``,
    ``self.reservation_s`` and ``self.min_soc_share``, and implement :meth:`kinds` and
    :meth:`fare_krw`.
    """

    fleet: Fleet
    stations: bool
    zone_of: np.ndarray | None = None
    max_walk_m: float
    reservation_s: float
    min_soc_share: float

    def __init__(self, config, ctx):
        super().__init__(config, ctx)
        #: (origin node, max_walk_m) -> node -> walk m of the nodes within the walk
        self._walkable: dict[tuple[int, float], dict[int, float]] = {}
        #: destination node -> the stations by walk from them to it (:meth:`dock_near`)
        self._docks_by_walk: dict[int, list[Lot]] = {}

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def kinds(self) -> list[str]:
        """Vehicle kinds offered (one offer per kind), e.g. ``["car"]`` or ``["escooter"]``."""

    @abstractmethod
    def fare_krw(self, kind: str, ride_s: float, ride_m: float) -> float:
        """Fare of a ride of ``kind`` lasting ``ride_s`` (s) over ``ride_m`` (m), KRW."""

    def mode_of(self, kind: str) -> str:
        """Mode label of ``kind`` in results."""
        return self.mode

    # ------------------------------------------------------------------ offers
    def ride_kwh(self, vehicle: SharedVehicle, ride_s: float, ride_m: float, pax: int) -> float:
        """Battery energy of a ride of ``ride_s`` (s) over ``ride_m`` (m) with ``pax`` on board, kWh."""
        if vehicle.battery is None:
            return 0.0
        return leg_energy_kwh(vehicle.vt, ride_m, ride_s, pax)

    def end_point(self, trip: Trip) -> tuple[Lot | None, int, str]:
        """Where a ride for ``trip`` ends now: (station or None, node, unavailable reason or "")."""
        if self.stations:
            lot = self.dock_near(trip.dest_node)
            if lot is None:
                return None, -1, "no_free_space"
            return lot, lot.node, ""
        if self.zone_of[trip.dest_node] < 0:
            return None, -1, "destination_outside_service_area"
        return None, trip.dest_node, ""

    def dock_near(self, dest: int, exclude: Lot | None = None) -> Lot | None:
        """The station nearest node ``dest`` (network walk) with a free space now; None if all full.

        Of stations as near as each other, the first in file order; unreachable ones come last.
        """
        for lot in self._docks_by_walk_to(dest):
            if lot is not exclude and lot.has_space():
                return lot
        return None

    def _docks_by_walk_to(self, dest: int) -> list[Lot]:
        """The stations sorted by network walk from them to node ``dest`` (stable: file order
        among equals, the unreachable last); worked out once per destination."""
        dest = int(dest)
        docks = self._docks_by_walk.get(dest)
        if docks is None:
            lots = self.fleet.lots
            walk_m = self.ctx.router.distances_m(WALK_PROFILE, [lot.node for lot in lots], dest)
            order = np.argsort(np.where(np.isnan(walk_m), np.inf, walk_m), kind="stable")
            docks = self._docks_by_walk[dest] = [lots[i] for i in order.tolist()]
        return docks

    def _walkable_from(self, origin: int) -> dict[int, float]:
        """Node -> walk m of every node within ``max_walk_m`` of node ``origin`` (worked out once
        per origin)."""
        key = (int(origin), self.max_walk_m)
        near = self._walkable.get(key)
        if near is None:
            router = self.ctx.router
            walk_m = router.distances_m(WALK_PROFILE, key[0], np.arange(router.n_nodes))
            nodes = np.flatnonzero(walk_m <= self.max_walk_m)  # NaN (unreachable) compares False
            near = dict(zip(nodes.tolist(), walk_m[nodes].tolist(), strict=True))
            self._walkable[key] = near
        return near

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer per vehicle kind: walk to the nearest usable vehicle, ride, park, walk.

        Parameters
        ----------
        trip : Trip
            Origin and destination node indices, party size.
        now_s : float
            Clock, s after midnight.

        Unavailable reasons: ``no_vehicle_within_walk`` (nothing usable within ``max_walk_m``),
        ``no_free_space`` (every station full), ``no_station_within_walk_of_destination`` (the
        station to dock at is more than ``max_walk_m`` from the destination),
        ``destination_outside_service_area``, ``no_path``. Times in s, distances in m, fare in KRW. No side effects.
        """
        end_lot, end_node, reason = self.end_point(trip)
        if reason:
            return [unavailable(self.name, self.mode_of(k), reason) for k in self.kinds()]
        return [self.offer_for(trip, now_s, k, end_lot, end_node) for k in self.kinds()]

    def offer_for(
        self, trip: Trip, now_s: float, kind: str, end_lot: Lot | None, end_node: int, rides=1
    ) -> Offer:
        """The offer of the nearest usable ``kind`` vehicle riding to ``end_node``.

        Parameters
        ----------
        trip : Trip
            The trip (origin, destination, party size).
        now_s : float
            Clock, s after midnight.
        kind : str
            Vehicle kind (router profile).
        end_lot, end_node : Lot or None, int
            Station to dock at (None: park at the node) and its node index.
        rides : int
            Rides of this length the battery must hold besides the reserve (2: a round trip).
        """
        mode, router = self.mode_of(kind), self.ctx.router
        near = self._walkable_from(trip.origin_node)
        for _, vehicle in self.fleet.pooled_near(kind, near):
            leg = router.try_leg(kind, vehicle.node, end_node)
            if leg is None:
                continue
            need = rides * self.ride_kwh(vehicle, leg[0], leg[1], trip.party_size)
            if not self.fleet.can_ride(vehicle, need, self.min_soc_share, now_s):
                continue
            egress = router.try_leg(WALK_PROFILE, end_node, trip.dest_node)
            if egress is None:
                return unavailable(self.name, mode, "no_path")
            if egress[1] > self.max_walk_m:  # the station nearest the destination is too far
                return unavailable(self.name, mode, "no_station_within_walk_of_destination")
            access = router.try_leg(WALK_PROFILE, trip.origin_node, vehicle.node)
            plan = RentalPlan(vehicle, vehicle.lot, vehicle.node, end_lot, end_node, kind)
            return Offer(
                self.name,
                mode,
                True,
                access_walk_m=access[1],
                access_walk_s=access[0],
                in_vehicle_s=leg[0],
                egress_walk_m=egress[1],
                egress_walk_s=egress[0],
                distance_m=leg[1],
                fare_krw=self.fare_krw(kind, leg[0], leg[1]),
                access_node=vehicle.node,
                egress_node=end_node,
                handle=plan,
            )
        return unavailable(self.name, mode, "no_vehicle_within_walk")

    # ------------------------------------------------------------------ the renter's story
    def request(self, trip: Trip, offer: Offer) -> simpy.Event:
        """Book the offered vehicle; the event fires when it is parked (or none was left).

        Parameters
        ----------
        trip : Trip
            The renter's trip.
        offer : Offer
            An available offer of this service (its ``handle`` is the :class:`RentalPlan`).
        """
        done = self.ctx.env.event()
        plan: RentalPlan = offer.handle
        reserved = self.reservation_s > 0 and self._still_there(plan.vehicle, plan)
        if reserved:  # held from the booking on
            self.fleet.reserve(plan.vehicle, trip.trip_id)
        self.ctx.env.process(self._rental(trip, offer, done, reserved))
        return done

    def _rental(self, trip: Trip, offer: Offer, done: simpy.Event, reserved: bool):
        """Walk to the vehicle (held if reserved), take it, ride, park: the renter's story."""
        vehicle = yield from self.reach(trip, offer, reserved)
        if vehicle is None:
            reason = "no_vehicle_on_arrival"
            self.ctx.log.emit(
                self.ctx.env.now, "reject", self.name, trip_id=trip.trip_id, detail=reason
            )
            done.succeed(RideOutcome(False, reason, wait_s=0.0))
            return
        outcome = yield from self.ride(trip, vehicle, offer.handle)
        done.succeed(outcome)

    def reach(self, trip: Trip, offer: Offer, reserved: bool):
        """Walk ``offer.access_walk_s`` (s); returns the vehicle taken on arrival (None: none left).

        ``reserved``: the planned vehicle is held for ``reservation_s`` from the booking; a
        longer walk finds it back in the pool (maybe taken by someone else).
        """
        env, plan = self.ctx.env, offer.handle
        vehicle = plan.vehicle
        walk_s = offer.access_walk_s
        if reserved:
            yield env.timeout(min(walk_s, self.reservation_s))
            if walk_s <= self.reservation_s:
                self.fleet.take(vehicle, trip.trip_id)
                return vehicle
            self.fleet.release(vehicle)  # the reservation lapses before the renter arrives
            walk_s -= self.reservation_s
        if walk_s > 0:
            yield env.timeout(walk_s)
        vehicle = self._claim(trip, plan)
        if vehicle is not None:
            self.fleet.take(vehicle, trip.trip_id)
        return vehicle

    @staticmethod
    def _still_there(vehicle: SharedVehicle, plan: RentalPlan) -> bool:
        return vehicle.holder == -1 and vehicle.lot is plan.lot and vehicle.node == plan.node

    def _claim(self, trip: Trip, plan: RentalPlan) -> SharedVehicle | None:
        """On arrival: the planned vehicle if still there and usable, else another at that node."""
        here = [plan.vehicle] if self._still_there(plan.vehicle, plan) else []
        here += [v for v in self.fleet.pooled_at(plan.profile, plan.node) if v is not plan.vehicle]
        for vehicle in here:
            leg = self.ctx.router.try_leg(plan.profile, vehicle.node, plan.end_node)
            if leg is None:
                continue
            need = self.ride_kwh(vehicle, leg[0], leg[1], trip.party_size)
            if self.fleet.can_ride(vehicle, need, self.min_soc_share, self.ctx.env.now):
                return vehicle
        return None

    def drive(
        self, vehicle: SharedVehicle, to_node: int, profile: str, state: str, pax: int, trip_id=-1
    ):
        """Move ``vehicle`` to node ``to_node`` (a SimPy sub-story); returns (time s, distance m).

        Parameters
        ----------
        vehicle : SharedVehicle
            The moving vehicle (its battery pays the leg).
        to_node : int
            Destination node index.
        profile : str
            Router profile (``car`` or the device type).
        state : str
            ``vehicle_leg`` state: occupied, repositioning, ...
        pax : int
            People on board (0: an empty move).
        trip_id : int
            The trip riding it (-1: none).
        """
        env = self.ctx.env
        ride_s, ride_m = self.ctx.router.leg(profile, vehicle.node, to_node)
        start_s, from_node = env.now, vehicle.node
        if ride_s > 0:
            yield env.timeout(ride_s)
        if vehicle.battery is not None:
            vehicle.battery.draw(leg_energy_kwh(vehicle.vt, ride_m, ride_s, pax))
        self.ctx.log.emit(
            start_s,
            "vehicle_leg",
            self.name,
            trip_id=trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=from_node,
            to_node=to_node,
            distance_m=ride_m,
            duration_s=ride_s,
            pax=pax,
            state=state,
        )
        vehicle.node = to_node
        return ride_s, ride_m

    def ride(self, trip: Trip, vehicle: SharedVehicle, plan: RentalPlan):
        """Ride to the planned end; dock (the next free station if full) or park; the outcome."""
        start_s = self.ctx.env.now
        self._pickup(trip, vehicle)
        pax = trip.party_size
        ride_s, ride_m = yield from self.drive(
            vehicle, plan.end_node, plan.profile, "occupied", pax, trip.trip_id
        )
        if self.stations:
            lot = plan.end_lot
            while not lot.has_space():  # full: on to the next station nearest the destination
                lot = self.dock_near(trip.dest_node, exclude=lot) or self._any_space(lot)
                more_s, more_m = yield from self.drive(
                    vehicle, lot.node, plan.profile, "occupied", pax, trip.trip_id
                )
                ride_s, ride_m = ride_s + more_s, ride_m + more_m
        else:
            lot = self.fleet.lots[int(self.zone_of[vehicle.node])]
        self.fleet.place(vehicle, lot, vehicle.node)
        return self._dropoff(trip, vehicle, start_s, ride_m, plan.profile)

    def _any_space(self, full: Lot) -> Lot:
        lot = self.dock_near(full.node, exclude=full)
        if lot is None:
            raise SimulationError(f"{self.name}: every station is full (more vehicles than spaces)")
        return lot

    def _pickup(self, trip: Trip, vehicle: SharedVehicle) -> None:
        self.ctx.log.emit(
            self.ctx.env.now,
            "pickup",
            self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            value=0.0,
        )

    def _dropoff(
        self, trip: Trip, vehicle: SharedVehicle, start_s: float, ride_m: float, kind: str
    ) -> RideOutcome:
        """Log the drop-off now; the outcome (ride since ``start_s`` s, ``ride_m`` m) and egress walk."""
        now = self.ctx.env.now
        self.ctx.log.emit(
            now,
            "dropoff",
            self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            value=now - start_s,
        )
        walk = self.ctx.router.try_leg(WALK_PROFILE, vehicle.node, trip.dest_node) or (0.0, 0.0)
        return RideOutcome(
            True,
            wait_s=0.0,
            in_vehicle_s=now - start_s,
            distance_m=ride_m,
            fare_krw=self.fare_krw(kind, now - start_s, ride_m),
            vehicle_id=vehicle.vehicle_id,
            egress_node=vehicle.node,
            egress_walk_m=walk[1],
            egress_walk_s=walk[0],
        )

    def finish(self, end_s: float) -> None:
        """Close the last dwell (parked or charging) of every standing or held vehicle at ``end_s`` (s)."""
        self.fleet.finish(end_s)


def fare_krw(
    unlock_krw: float, per_min_krw: float, per_km_krw: float, ride_s: float, ride_m: float
) -> float:
    """A time-and-distance fare, KRW: unlock fee + per minute × ``ride_s`` (s) + per km × ``ride_m`` (m)."""
    return (
        unlock_krw + per_min_krw * ride_s / SECONDS_PER_MINUTE + per_km_krw * ride_m / METRES_PER_KM
    )

"""Shared fleets: how a rental goes.

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

The operator that moves vehicles between lots is in :mod:`mobisim.services.relocation`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
import simpy

from mobisim.errors import SimulationError
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.services.sharing_fleet import Fleet, Lot, SharedVehicle
from mobisim.services.vehicle import Motion
from mobisim.units import METRES_PER_KM, SECONDS_PER_MINUTE

WALK_PROFILE = "walk"


@dataclass(slots=True)
class RentalPlan:
    """What an offer promises (kept in ``Offer.handle``): the vehicle, where it is, where it ends."""

    vehicle: SharedVehicle
    lot: Lot | None  # where the vehicle stands at the offer
    node: int  # its node at the offer
    end_lot: Lot | None  # station to dock at; None: park at end_node (free-floating / held)
    end_node: int
    profile: str


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
        self.motion = Motion(ctx, self.name)

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
        return Motion.leg_kwh(vehicle, ride_m, ride_s, pax)

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
            # a search stopped at the walk limit, not the whole network (Router.distances_within_m)
            walk_m = router.distances_within_m(WALK_PROFILE, key[0], self.max_walk_m)
            nodes = np.flatnonzero(walk_m <= self.max_walk_m)  # inf (beyond) compares False
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
                service=self.name,
                mode=mode,
                available=True,
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
            self.ctx.log.reject(
                self.ctx.env.now, service=self.name, trip_id=trip.trip_id, reason=reason
            )
            done.succeed(RideOutcome(served=False, reason=reason, wait_s=0.0))
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
        ride_s, ride_m = self.ctx.router.leg(profile, vehicle.node, to_node)
        yield from self.motion.drive(
            vehicle, to_node, ride_s, ride_m, state=state, pax=pax, trip_id=trip_id
        )
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
        self.ctx.log.pickup(
            self.ctx.env.now,
            service=self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            wait_s=0.0,
        )

    def _dropoff(
        self, trip: Trip, vehicle: SharedVehicle, start_s: float, ride_m: float, kind: str
    ) -> RideOutcome:
        """Log the drop-off now; the outcome (ride since ``start_s`` s, ``ride_m`` m) and egress walk."""
        now = self.ctx.env.now
        self.ctx.log.dropoff(
            now,
            service=self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            in_vehicle_s=now - start_s,
        )
        walk = self.ctx.router.try_leg(WALK_PROFILE, vehicle.node, trip.dest_node) or (0.0, 0.0)
        return RideOutcome(
            served=True,
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

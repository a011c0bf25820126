"""An on-call van: one van per service, called to the door, one party at a time.

The example of docs/contributing.md "Adding a service" (tests/test_contributing.py runs it).
Register it with one line in ``mobisim/scenario/registry.py``::

    "on_call_van": "on_call_van:OnCallVanService",

and use it in a scenario as ``{name: van, type: on_call_van, depot_place: town_centre}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import simpy
from pydantic import Field

from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.services.vehicle import Motion
from mobisim.units import min_to_s

PROFILE = "car"  # the router profile the van drives on (edge speeds of the drive view)


class OnCallVanConfig(ServiceConfig):
    """``type: on_call_van``: one van driven to the door on request."""

    type: Literal["on_call_van"] = "on_call_van"
    depot_place: str = Field(description="Named place where the van waits at the start.")
    fare_krw: float = Field(default=3000.0, ge=0, description="Fare per ride, KRW (A).")
    max_wait_min: float = Field(default=20.0, gt=0, description="Longest wait offered, min (A).")


@dataclass
class Van:
    """What :class:`~mobisim.services.vehicle.Motion` needs of a vehicle."""

    vehicle_id: int
    node: int
    battery: Any = None  # a petrol van: no battery to draw from
    vt: Any = None
    idle_since_s: float = 0.0


class OnCallVanService(Service):
    """Call the van to your door; it drives you to your destination (no pooling)."""

    type_name = "on_call_van"
    Config = OnCallVanConfig
    mode = "van"

    def __init__(self, config: OnCallVanConfig, ctx):
        super().__init__(config, ctx)
        self.motion = Motion(ctx, self.name, leg_detail="petrol_car")
        self.turns = simpy.Resource(ctx.env, capacity=1)  # one party in the van at a time
        self.van: Van | None = None
        self.free_s, self.free_node = ctx.period_start_s, -1  # when and where the van is free

    def start(self) -> None:
        node = self.ctx.network.place_node(self.config.depot_place)
        vehicle_id = self.ctx.new_vehicle(self.name, "petrol_car", capacity_pax=4)
        self.van = Van(vehicle_id, node, idle_since_s=self.ctx.env.now)
        self.free_node = node

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        router = self.ctx.router
        to_door = router.try_leg(PROFILE, self.free_node, trip.origin_node)
        ride = router.try_leg(PROFILE, trip.origin_node, trip.dest_node)
        if to_door is None or ride is None:
            return [unavailable(self.name, self.mode, "no_drive_path")]
        wait_s = max(self.free_s - now_s, 0.0) + to_door[0]
        if wait_s > min_to_s(self.config.max_wait_min):
            return [unavailable(self.name, self.mode, "wait_exceeds_max_wait")]
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                wait_s=wait_s,
                in_vehicle_s=ride[0],
                distance_m=ride[1],
                fare_krw=self.config.fare_krw,
                access_node=trip.origin_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer) -> simpy.Event:
        env = self.ctx.env
        self.ctx.log.request(
            env.now, service=self.name, trip_id=trip.trip_id, node=trip.origin_node
        )
        self.free_s = max(self.free_s, env.now) + offer.wait_s + offer.in_vehicle_s
        self.free_node = trip.dest_node
        done = env.event()  # must always fire: here the van always comes
        env.process(self._serve(trip, done))
        return done

    def _serve(self, trip: Trip, done: simpy.Event):
        """The van's story for one call: wait its turn, drive to the door, drive the party."""
        env, van, log, router = self.ctx.env, self.van, self.ctx.log, self.ctx.router
        booked_s = env.now
        with self.turns.request() as turn:
            yield turn
            if env.now > van.idle_since_s:  # every stand is logged (the fleet-state KPIs)
                self.motion.log_stand(
                    van, van.idle_since_s, env.now - van.idle_since_s, state="idle"
                )
            if van.node != trip.origin_node:
                time_s, distance_m = router.leg(PROFILE, van.node, trip.origin_node)
                yield from self.motion.drive(
                    van, trip.origin_node, time_s, distance_m, state="to_pickup", pax=0
                )
            at = {"service": self.name, "trip_id": trip.trip_id, "vehicle_id": van.vehicle_id}
            wait_s, pickup_s = env.now - booked_s, env.now
            log.pickup(env.now, node=van.node, wait_s=wait_s, **at)  # value = the outcome's wait
            log.board(env.now, node=van.node, pax=trip.party_size, **at)
            time_s, distance_m = router.leg(PROFILE, trip.origin_node, trip.dest_node)
            yield from self.motion.drive(
                van, trip.dest_node, time_s, distance_m, state="occupied",
                pax=trip.party_size, trip_id=trip.trip_id,
            )  # fmt: skip
            log.alight(env.now, node=van.node, pax=0, **at)
            log.dropoff(env.now, node=van.node, in_vehicle_s=env.now - pickup_s, **at)
            van.idle_since_s = env.now
        done.succeed(
            RideOutcome(
                served=True,
                wait_s=wait_s,
                in_vehicle_s=env.now - pickup_s,
                distance_m=distance_m,
                fare_krw=self.config.fare_krw,
                vehicle_id=van.vehicle_id,
                egress_node=trip.dest_node,
            )
        )

    def finish(self, end_s: float) -> None:
        van = self.van
        if van is not None and end_s > van.idle_since_s and not self.turns.users:
            self.motion.log_stand(van, van.idle_since_s, end_s - van.idle_since_s, state="idle")

"""The private car: the baseline the shared services compete with.

Drive time on the drive network (router ``car`` profile), plus a parking search at the destination
and a walk from the parking place. The fare is the out-of-pocket cost: fuel per km and a parking fee.
A car used on the way out comes back on the return trip (``trip.tour_state``); a car left at home
cannot be used on the way back. Fuel use follows from the logged ``vehicle_leg`` rows (vehicle
type ``petrol_car``, 7.5 L/100 km [F3][F4]).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.units import min_to_s

WALK_SPEED_MPS = 1.2  # [T1]


class PrivateCarConfig(ServiceConfig):
    """``type: private_car``."""

    type: Literal["private_car"] = "private_car"
    vehicle_type: str = Field(default="petrol_car", description="Energy profile of private cars.")
    parking_search_min: float = Field(
        default=2.0,
        ge=0,
        description="Time to find a parking place at the destination, min (assumption A).",
    )
    parking_walk_m: float = Field(
        default=100.0,
        ge=0,
        description="Walk from the parking place to the destination, m (assumption A).",
    )
    fuel_cost_krw_per_km: float = Field(
        default=128.0,
        ge=0,
        description="Fuel cost, KRW/km (7.5 L/100 km [F3] × ~1,700 KRW/L, assumption A).",
    )
    parking_fee_krw: float = Field(default=0.0, ge=0, description="Parking fee per trip, KRW.")


class PrivateCarService(Service):
    """Drive your own car."""

    type_name = "private_car"
    Config = PrivateCarConfig
    mode = "car"

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer if the person has a car here and a drive path exists."""
        if not trip.car_available:
            return [unavailable(self.name, self.mode, "no_car_available")]
        if trip.leg_index > 0 and trip.tour_state.get("private_car") != "with_person":
            return [unavailable(self.name, self.mode, "car_left_at_home")]
        leg = self.ctx.router.try_leg("car", trip.origin_node, trip.dest_node)
        if leg is None:
            return [unavailable(self.name, self.mode, "no_drive_path")]
        drive_s, distance_m = leg
        cfg = self.config
        return [
            Offer(
                self.name,
                self.mode,
                True,
                in_vehicle_s=drive_s + min_to_s(cfg.parking_search_min),
                egress_walk_m=cfg.parking_walk_m,
                egress_walk_s=cfg.parking_walk_m / WALK_SPEED_MPS,
                distance_m=distance_m,
                fare_krw=cfg.fuel_cost_krw_per_km * distance_m / 1000.0 + cfg.parking_fee_krw,
                access_node=trip.origin_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """Drive now; the event fires on arrival at the parking place."""
        return self.ctx.env.process(self._drive(trip, offer))

    def _drive(self, trip: Trip, offer: Offer):
        env, log = self.ctx.env, self.ctx.log
        start_s = env.now
        yield env.timeout(offer.in_vehicle_s)
        log.emit(
            start_s,
            "vehicle_leg",
            self.name,
            trip_id=trip.trip_id,
            node=trip.origin_node,
            to_node=trip.dest_node,
            distance_m=offer.distance_m,
            duration_s=offer.in_vehicle_s,
            pax=trip.party_size,
            state="occupied",
            detail=self.config.vehicle_type,
        )
        # the car stays with its driver: it is there for the way back, and must be driven back
        trip.tour_state["private_car"] = "with_person"
        trip.tour_state["must_use"] = self.name
        return RideOutcome(
            served=True,
            wait_s=0.0,
            in_vehicle_s=offer.in_vehicle_s,
            distance_m=offer.distance_m,
            fare_krw=offer.fare_krw,
            egress_node=trip.dest_node,
        )

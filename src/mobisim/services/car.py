"""The private car: the baseline the shared services compete with.

A car trip is: walk to the car (``access_walk_m``), drive the fastest path of the router's ``car``
profile (edge speeds of the drive view), search a parking place (``parking_search_min``), walk from
it to the destination (``parking_walk_m``); walking at 1.2 m/s [T1]. The same on every leg (the
car stands as near to home as to work). The fare is the out-of-pocket cost: fuel per km plus a
parking fee.

The car belongs to the tour: a car driven on the way out stands at the destination and must be
driven back (``trip.tour_state["must_use"]``, read by the commuter), and a car left at home is not
available on the way back. Each drive is one ``vehicle_leg`` row (vehicle_id -1: private cars are
not registered vehicles; ``detail`` = vehicle type, ``petrol_car`` by default, 7.5 L/100 km
[F3][F4]) so that energy and CO2 follow from the events alone. The leg's duration includes the
parking search; its distance is the path's (the search distance is not known and not counted).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.network.router import WALK_SPEED_MPS
from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, Service, Trip, unavailable
from mobisim.services.own_vehicle import ride_own_vehicle
from mobisim.units import METRES_PER_KM, min_to_s

#: router profile of private cars (edge speeds on the drive view)
CAR_PROFILE = "car"
#: ``trip.tour_state`` key: where the private car is ("with_person" once driven on this tour)
CAR_STATE = "private_car"


class PrivateCarConfig(ServiceConfig):
    """``type: private_car``: drive your own car (only trips with ``car_available``)."""

    type: Literal["private_car"] = "private_car"
    vehicle_type: str = Field(
        default="petrol_car",
        description="Energy profile of the cars, a vehicle type of mobisim.energy (petrol car 7.5 L/100 km [F3][F4]).",
    )
    access_walk_m: float = Field(
        default=50.0,
        ge=0,
        description="Walk from the door to the car, m (assumption A: apartment-block parking).",
    )
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
        description="Fuel cost, KRW/km (7.5 L/100 km [F3][F4] x about 1,700 KRW/L, assumption A).",
    )
    parking_fee_krw: float = Field(
        default=0.0, ge=0, description="Parking fee per trip, KRW (0: free parking)."
    )


class PrivateCarService(Service):
    """Drive your own car from door to door (with a walk at each end)."""

    type_name = "private_car"
    Config = PrivateCarConfig
    mode = "car"

    def __init__(self, config: PrivateCarConfig, ctx):
        super().__init__(config, ctx)
        # the same on every trip: worked out once (walks in s at 1.2 m/s [T1], search in s)
        self._access_walk_s = config.access_walk_m / WALK_SPEED_MPS
        self._egress_walk_s = config.parking_walk_m / WALK_SPEED_MPS
        self._search_s = min_to_s(config.parking_search_min)
        self._fuel_krw_per_m = config.fuel_cost_krw_per_km / METRES_PER_KM

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer if the person has a car here and a drive path exists.

        Parameters
        ----------
        trip : Trip
            The trip: origin/destination node indices, ``car_available``, ``leg_index`` and
            ``tour_state`` (is the car with the person?).
        now_s : float
            Clock, s after midnight (drive times do not depend on it: no congestion).

        Unavailable reasons: ``no_car_available``, ``car_left_at_home`` (a later leg of a tour
        whose earlier legs did not use the car), ``no_drive_path``. Times in s, distances in m,
        fare in KRW.
        """
        if not trip.car_available:
            return [unavailable(self.name, self.mode, "no_car_available")]
        if trip.leg_index > 0 and trip.tour_state.get(CAR_STATE) != "with_person":
            return [unavailable(self.name, self.mode, "car_left_at_home")]
        leg = self.ctx.router.try_leg(CAR_PROFILE, trip.origin_node, trip.dest_node)
        if leg is None:
            return [unavailable(self.name, self.mode, "no_drive_path")]
        drive_s, distance_m = leg
        cfg = self.config
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                access_walk_m=cfg.access_walk_m,
                access_walk_s=self._access_walk_s,
                in_vehicle_s=drive_s + self._search_s,
                egress_walk_m=cfg.parking_walk_m,
                egress_walk_s=self._egress_walk_s,
                distance_m=distance_m,
                fare_krw=self._fuel_krw_per_m * distance_m + cfg.parking_fee_krw,
                access_node=trip.origin_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """The driver walks to the car, drives and parks; the event fires on parking.

        Parameters
        ----------
        trip : Trip
            The trip being driven.
        offer : Offer
            The offer made by :meth:`offers` (access walk, drive + search time s, distance m).

        Returns a SimPy timeout firing ``access_walk_s + in_vehicle_s`` from now with the
        :class:`RideOutcome`; on firing, the drive is logged and the car stays with the driver.
        """
        return ride_own_vehicle(
            self,
            trip,
            offer,
            pax=trip.party_size,
            vehicle_type=self.config.vehicle_type,
            state_key=CAR_STATE,
            fare_krw=offer.fare_krw,
        )

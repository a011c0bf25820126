"""Car-sharing: station-based round trip, station-based one way, and free-floating.

Schemes (``scheme``):

- ``round_trip``: take a car at a station; keep it through the activity (it stands at the
  destination, held, ``vehicle_dwell`` state ``parked``) and drive it back on the return leg; it
  goes back to the station it came from. The car travels with the tour in
  ``trip.tour_state["sharing_vehicle.<service>"]`` and the return leg is bound to this service
  (``tour_state["must_use"]``): its offer is the held car. A later leg of the tour keeps the car
  until a leg ends where the rental began (home), which returns it. New rentals start only on the
  first leg of a tour (``round_trip_starts_the_tour`` otherwise), and need charge for the way out
  and back.
- ``one_way``: take a car at a station, return it at the station nearest the destination with a
  free space (full on arrival: the next one, the longer walk in the outcome).
- ``free_floating``: take a car within walking distance, park it at the destination if inside
  the service area (the union of ``zones``, named places of the network).

Offers walk (1.2 m/s [T1]) to the nearest usable car within ``max_walk_m`` (300 m, A, DEFAULTS
§6.2), optionally reserved for ``reservation_min``, drive on the ``car`` router profile (edge
speeds) and charge ``unlock_fee_krw`` + ``fare_per_min_krw`` per minute (the round trip: the whole
rental, the activity included, on the way back) + ``fare_per_km_krw`` per km. Electric cars
(``vehicle_type``, ``ev_car`` by default [C1]-[C6]) carry a battery; a car below
``min_soc_share`` plus the energy of the ride (twice for a round trip) is not offered; cars charge
while parked at stations with ``charge_kw`` > 0 (:mod:`mobisim.services.sharing_fleet`).

Relocation (``relocation``, one way and free-floating): a staff driver takes a car from a
station/zone above its target (the initial stock) to one below, driving it empty
(``vehicle_leg`` state ``repositioning``); the staff's own trips between moves are not simulated.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import simpy
from pydantic import Field, model_validator

from mobisim.errors import ScenarioError, SimulationError
from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import MUST_USE, Offer, RideOutcome, Trip, unavailable
from mobisim.services.relocation import OperationsConfig, Operator
from mobisim.services.rental import RentalPlan, SharingService, fare_krw
from mobisim.services.sharing_fleet import (
    Fleet,
    Lot,
    SharedVehicle,
    StationConfig,
    apportion,
    station_nodes,
    zone_partition,
)
from mobisim.units import min_to_s

CAR_PROFILE = "car"


class CarsharingConfig(ServiceConfig):
    """``type: carsharing``: shared cars, round trip, one way or free-floating."""

    type: Literal["carsharing"] = "carsharing"
    scheme: Literal["round_trip", "one_way", "free_floating"] = Field(
        default="round_trip",
        description="round_trip: back to the same station; one_way: to any station; "
        "free_floating: parked anywhere in the service area.",
    )
    stations: list[StationConfig] = Field(
        default_factory=list,
        description="Stations (round_trip, one_way): name, location, vehicles, spaces, charge_kw.",
    )
    vehicles: int = Field(
        default=0, ge=0, description="free_floating: fleet size (stations give their own)."
    )
    zones: dict[str, float] | None = Field(
        default=None,
        description="free_floating: initial distribution, weights over named places/zones; "
        "their union is the service area (default: every place of the network, its weight).",
    )
    vehicle_type: str = Field(
        default="ev_car",
        description="Energy vehicle type of the cars (ev_car: Kona class, 0.17 kWh/km plug, "
        "64 kWh [C1]-[C6]; petrol_car for combustion cars).",
    )
    initial_soc_share: float = Field(
        default=0.8, ge=0, le=1, description="Electric cars' charge at the start, share (A)."
    )
    min_soc_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Charge a car must keep after the ride, share; below it is not offered (A).",
    )
    max_walk_m: float = Field(
        default=300.0, gt=0, description="Longest walk to a car, m (A, DEFAULTS §6.2)."
    )
    reservation_min: float = Field(
        default=15.0,
        ge=0,
        description="A booked car is held this long for the walking renter, min (0: no hold; A).",
    )
    unlock_fee_krw: float = Field(default=0.0, ge=0, description="Fee per rental, KRW (A).")
    fare_per_min_krw: float = Field(
        default=150.0,
        ge=0,
        description="Rental per minute, KRW (A: order of Korean car-sharing tariffs per 10 min).",
    )
    fare_per_km_krw: float = Field(
        default=200.0, ge=0, description="Driving fee per km, KRW (A: Korean car-sharing order)."
    )
    relocation: OperationsConfig = Field(
        default_factory=OperationsConfig,
        description="Relocation policy (one_way, free_floating): schedule or threshold, staff.",
    )
    mode_label: str = Field(default="carsharing", description="Mode name in results.")

    @model_validator(mode="after")
    def _fleet_given(self) -> CarsharingConfig:
        if self.scheme == "free_floating":
            if self.vehicles < 1:
                raise ValueError(
                    f"scheme free_floating expects vehicles >= 1 (got {self.vehicles})"
                )
        else:
            if not self.stations:
                raise ValueError(f"scheme {self.scheme} expects a non-empty 'stations' list")
            missing = [s.name for s in self.stations if s.vehicles is None]
            if missing:
                raise ValueError(f"stations {missing}: expected 'vehicles' (cars at the start)")
        return self


class CarsharingService(SharingService):
    """Shared cars (see the module docstring)."""

    type_name = "carsharing"
    Config = CarsharingConfig
    mode = "carsharing"

    def __init__(self, config: CarsharingConfig, ctx):
        super().__init__(config, ctx)
        self.mode = config.mode_label
        self.key = f"sharing_vehicle.{self.name}"
        self.max_walk_m = config.max_walk_m
        self.reservation_s = min_to_s(config.reservation_min)
        self.min_soc_share = config.min_soc_share
        self.stations = config.scheme != "free_floating"
        key = f"services.{self.name}"
        env = ctx.env
        if self.stations:
            nodes = station_nodes(ctx.network, config.stations, f"{key}.stations")
            lots = [
                Lot(
                    s.name,
                    int(n),
                    simpy.FilterStore(env, s.spaces),
                    s.spaces,
                    s.vehicles,
                    s.charge_kw,
                )
                for s, n in zip(config.stations, nodes, strict=True)
            ]
        else:
            names, refs, self.weights, self.zone_of = zone_partition(
                ctx.network, config.zones, f"{key}.zones"
            )
            counts = apportion(config.vehicles, self.weights)
            lots = [
                Lot(name, int(ref), simpy.FilterStore(env), None, int(count))
                for name, ref, count in zip(names, refs, counts, strict=True)
            ]
        self.fleet = Fleet(self.name, ctx, lots)
        self.vt = self.fleet.vehicle_type(config.vehicle_type)
        if config.relocation.policy != "none" and config.scheme == "round_trip":
            raise ScenarioError(
                None, [(f"{key}.relocation.policy", "round-trip cars always return: expected none")]
            )
        self.operator = Operator(
            config.relocation, self.fleet, CAR_PROFILE, self._staff, self._movable
        )

    def kinds(self) -> list[str]:
        """One kind: ``car``."""
        return [CAR_PROFILE]

    def fare_krw(self, kind: str, ride_s: float, ride_m: float) -> float:
        """Unlock fee + per minute × ``ride_s`` (s) + per km × ``ride_m`` (m), KRW."""
        cfg = self.config
        return fare_krw(
            cfg.unlock_fee_krw, cfg.fare_per_min_krw, cfg.fare_per_km_krw, ride_s, ride_m
        )

    # ------------------------------------------------------------------ set-up
    def start(self) -> None:
        """Park the fleet: cars at their stations, or spread over the zones by weight at random nodes."""
        cfg, rng = self.config, self.ctx.rng
        for index, lot in enumerate(self.fleet.lots):
            own_nodes = None if self.stations else np.flatnonzero(self.zone_of == index)
            for _ in range(lot.target):
                node = lot.node if own_nodes is None else int(rng.choice(own_nodes))
                car = self.fleet.add_vehicle(
                    CAR_PROFILE, self.vt, cfg.initial_soc_share, home=lot.name
                )
                if cfg.scheme == "round_trip":
                    car.home = lot
                self.fleet.place(car, lot, node)
            if lot.target == 0:
                self.fleet.log_stock(lot)
        self.operator.start()

    # ------------------------------------------------------------------ offers
    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """The held car of the tour, or the nearest usable car within the walk (see the module doc).

        Parameters
        ----------
        trip : Trip
            The trip; ``tour_state`` holds a round-trip car of an earlier leg.
        now_s : float
            Clock, s after midnight.

        Unavailable reasons as :meth:`SharingService.offers`, plus ``round_trip_starts_the_tour``.
        """
        held = trip.tour_state.get(self.key)
        if held is not None:
            return [self._held_offer(trip, held, now_s)]
        if self.config.scheme != "round_trip":
            return super().offers(trip, now_s)
        if trip.leg_index > 0:
            return [unavailable(self.name, self.mode, "round_trip_starts_the_tour")]
        return [self.offer_for(trip, now_s, CAR_PROFILE, None, trip.dest_node, rides=2)]

    def _held_offer(self, trip: Trip, car: SharedVehicle, now_s: float) -> Offer:
        """The held round-trip car: walk to it, drive home (or on), the rental's fare so far."""
        router = self.ctx.router
        back = trip.dest_node == car.rental_origin
        end_node = car.home.node if back else trip.dest_node
        access = router.try_leg("walk", trip.origin_node, car.node)
        leg = router.try_leg(CAR_PROFILE, car.node, end_node)
        egress = router.try_leg("walk", end_node, trip.dest_node)
        if access is None or leg is None or egress is None:
            return unavailable(self.name, self.mode, "no_path")
        rental_s = now_s + access[0] - car.billed_until_s + leg[0]
        return Offer(
            service=self.name,
            mode=self.mode,
            available=True,
            access_walk_m=access[1],
            access_walk_s=access[0],
            in_vehicle_s=leg[0],
            egress_walk_m=egress[1],
            egress_walk_s=egress[0],
            distance_m=leg[1],
            fare_krw=self.fare_krw(CAR_PROFILE, rental_s, leg[1]) - self.config.unlock_fee_krw,
            access_node=car.node,
            egress_node=end_node,
            handle=RentalPlan(
                car, None, car.node, car.home if back else None, end_node, CAR_PROFILE
            ),
        )

    # ------------------------------------------------------------------ the renter's story
    def reach(self, trip: Trip, offer: Offer, reserved: bool):
        """Walk to the car; a held round-trip car is always there (it is the renter's)."""
        plan: RentalPlan = offer.handle
        if plan.vehicle.holder == trip.person_id and plan.lot is None:
            if offer.access_walk_s > 0:
                yield self.ctx.env.timeout(offer.access_walk_s)
            self.fleet.take(plan.vehicle, trip.trip_id)
            return plan.vehicle
        return (yield from super().reach(trip, offer, reserved))

    def ride(self, trip: Trip, vehicle: SharedVehicle, plan: RentalPlan):
        """One way / free-floating: the shared story. Round trip: drive, then hold or return the car."""
        if self.config.scheme != "round_trip":
            return (yield from super().ride(trip, vehicle, plan))
        env = self.ctx.env
        start_s = env.now
        first_leg = self.key not in trip.tour_state
        if first_leg:
            vehicle.billed_until_s, vehicle.rental_origin = start_s, trip.origin_node
        self._pickup(trip, vehicle)
        _, ride_m = yield from self.drive(
            vehicle, plan.end_node, CAR_PROFILE, "occupied", trip.party_size, trip.trip_id
        )
        if plan.end_lot is not None:  # back where the rental began: the car goes home
            if not plan.end_lot.has_space():
                raise SimulationError(
                    f"{self.name}: the home space of car {vehicle.vehicle_id} is taken"
                )
            self.fleet.place(vehicle, plan.end_lot, plan.end_lot.node)
            trip.tour_state.pop(self.key, None)
        else:  # the renter keeps the car through the activity
            self.fleet.hold_at(vehicle, vehicle.node, trip.person_id)
            trip.tour_state[self.key] = vehicle
            trip.tour_state[MUST_USE] = self.name
        outcome: RideOutcome = self._dropoff(trip, vehicle, start_s, ride_m, CAR_PROFILE)
        # billed per leg: the minutes since the last leg ended (the activity) and this leg's km
        outcome.fare_krw = self.fare_krw(CAR_PROFILE, env.now - vehicle.billed_until_s, ride_m)
        if not first_leg:
            outcome.fare_krw -= self.config.unlock_fee_krw
        vehicle.billed_until_s = env.now
        return outcome

    # ------------------------------------------------------------------ relocation
    def _movable(self, car: SharedVehicle) -> bool:
        """A standing, unreserved car with more than the minimum charge."""
        return car.holder == -1 and self.fleet.can_ride(
            car, 0.0, self.min_soc_share, self.ctx.env.now
        )

    def _staff(self, crew: int, moves: list[tuple[SharedVehicle, Lot, Lot]]):
        """A staff driver's tour: drive each car of ``moves`` empty to its deficit station/zone."""
        env, handling_s = self.ctx.env, min_to_s(self.config.relocation.handling_min)
        for car, source, target in moves:
            leg = self.ctx.router.try_leg(CAR_PROFILE, car.node, target.node)
            if car.lot is not source or car.holder != -1 or leg is None:
                continue  # rented or moved meanwhile
            if not self.fleet.can_ride(
                car, self.ride_kwh(car, *leg, 0), self.min_soc_share, env.now
            ):
                continue
            self.fleet.take(car, -2 - crew)
            if handling_s > 0:
                yield env.timeout(handling_s)
            yield from self.drive(car, target.node, CAR_PROFILE, "repositioning", 0)
            if not target.has_space():  # filled meanwhile: the nearest station with a space
                target = self.dock_near(target.node) or self._any_space(target)
                yield from self.drive(car, target.node, CAR_PROFILE, "repositioning", 0)
            self.fleet.place(car, target, car.node)
            if handling_s > 0:
                yield env.timeout(handling_s)

"""The private bicycle or e-bike: a mode people own, like the private car.

Whether a person owns one is drawn once per person from ``ownership_share`` of the person's demand
group (``default_ownership_share`` for groups not listed), on the service's own random stream, the
first time the person travels. A bike trip is: walk to the bike (``access_walk_m``), unlock it
(``unpark_min``), ride the shortest path of the router's ``bike`` profile (15 km/h [T2][T3]) or
``ebike`` profile (18 km/h, A) on the bike view, lock it at the destination (``park_min``) and walk
from the rack (``parking_walk_m``); walking at 1.2 m/s [T1]. Rides longer than ``max_ride_m`` are
not offered. Riding your own bike costs no fare.

The bike belongs to the tour, as the private car does (:mod:`mobisim.services.car`): a bike ridden
on the way out stands at the destination and must be ridden back (``trip.tour_state["must_use"]``,
read by the commuter), and a bike left at home is not available on the way back. Each ride is one
``vehicle_leg`` row with vehicle_id -1 (private bikes are not registered vehicles) and ``detail``
= the vehicle type, ``bike`` (0 kWh/km [M1]) or ``e_bike`` (8 Wh/km at the plug [M1][M4][M5]), so
that energy follows from the events alone. The system KPI ``private_car_km`` leaves these rows out
(:data:`BIKE_VEHICLE_TYPES`). The mode labels are ``private_bike`` and ``private_ebike``: value of
time and constant are set per mode in ``mode_choice`` (docs/services-sharing.md, "Private
bicycles", gives sourced values).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mobisim.network.router import WALK_SPEED_MPS
from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, Service, Trip, unavailable
from mobisim.services.own_vehicle import ride_own_vehicle
from mobisim.units import min_to_s

#: kind of bike -> (router profile, vehicle type of mobisim.energy, mode label)
KINDS: dict[str, tuple[str, str, str]] = {
    "bike": ("bike", "bike", "private_bike"),
    "ebike": ("ebike", "e_bike", "private_ebike"),
}
#: values of time of riding one's own bike, KRW/h, used unless ``mode_choice.vot_krw_per_h``
#: names the mode: cycling time weighs 1.5 x car time (MATSim Kelheim: -3 util/h on top of the
#: -6 util/h of time not spent performing [T3][T13]; cyclists value time above other modes [BE12])
#: times the car's 9,700 KRW/h [T8]; the e-bike's assist takes the effort away: the car's value (A)
VOT_KRW_PER_H: dict[str, float] = {"private_bike": 1.5 * 9700.0, "private_ebike": 9700.0}
#: mode constants, utils (1 util = 1,000 KRW), used unless ``mode_choice.asc`` names the mode:
#: Kelheim's bike constant -0.906 EUR [T3] at about 1,430 KRW/EUR (A); calibrate per city (a
#: cycling city's constant is higher)
ASC: dict[str, float] = {"private_bike": -1.3, "private_ebike": -1.3}
#: vehicle types of private bikes: their vehicle_id -1 legs are no car km
BIKE_VEHICLE_TYPES = frozenset(vehicle_type for _, vehicle_type, _ in KINDS.values())
#: mode labels of private bikes (private modes, not shared services, in the KPIs)
BIKE_MODES = frozenset(mode for _, _, mode in KINDS.values())


class PrivateBikeConfig(ServiceConfig):
    """``type: private_bike``: ride your own bicycle or e-bike (persons who own one)."""

    type: Literal["private_bike"] = "private_bike"
    kind: Literal["bike", "ebike"] = Field(
        default="bike",
        description="bike (router profile bike, 15 km/h [T2][T3], 0 kWh/km [M1]) or ebike (profile ebike, 18 km/h A, 8 Wh/km [M1][M4][M5]).",
    )
    ownership_share: dict[str, float] = Field(
        default_factory=dict,
        description="Share of the persons of a demand group who own this bike, 0-1, by group name (groups not listed: default_ownership_share).",
    )
    default_ownership_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Ownership share of groups not in ownership_share, 0-1 (assumption A).",
    )
    access_walk_m: float = Field(
        default=20.0,
        ge=0,
        description="Walk from the door to the bike, m (assumption A: a rack or storeroom at the building).",
    )
    unpark_min: float = Field(
        default=0.5,
        ge=0,
        description="Time to unlock and take out the bike, min (assumption A).",
    )
    park_min: float = Field(
        default=1.0,
        ge=0,
        description="Time to find a rack and lock the bike at the destination, min (assumption A).",
    )
    parking_walk_m: float = Field(
        default=30.0,
        ge=0,
        description="Walk from the rack to the destination, m (assumption A).",
    )
    max_ride_m: float = Field(
        default=15000.0,
        gt=0,
        description="Longest ride offered, m (assumption A: an hour at 15 km/h).",
    )

    @field_validator("ownership_share")
    @classmethod
    def _shares(cls, shares: dict[str, float]) -> dict[str, float]:
        bad = {group: v for group, v in shares.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"expected shares between 0 and 1 (got {bad})")
        return shares

    def check_groups(self, groups: set[str] | None) -> list[tuple[str, str]]:
        """Problems (key path, message) of ``ownership_share`` against the demand's ``groups``.

        ``groups`` is None when the groups are not known before the run (a trip table).
        """
        if groups is None:
            return []
        known = ", ".join(sorted(groups))
        return [
            (
                f"services.{self.name}.ownership_share.{group}",
                f"unknown demand group {group!r}; expected one of: {known}",
            )
            for group in sorted(set(self.ownership_share) - groups)
        ]


class PrivateBikeService(Service):
    """Ride your own bicycle or e-bike from door to door (with a walk at each end)."""

    type_name = "private_bike"
    Config = PrivateBikeConfig
    mode = "private_bike"

    def __init__(self, config: PrivateBikeConfig, ctx):
        super().__init__(config, ctx)
        self.profile, self.vehicle_type, self.mode = KINDS[config.kind]
        self.state_key = f"private_bike.{self.name}"  # ``trip.tour_state``: "with_person"
        # the same on every trip: walks in s at 1.2 m/s [T1], lock and unlock in s
        self._access_walk_s = config.access_walk_m / WALK_SPEED_MPS
        self._egress_walk_s = config.parking_walk_m / WALK_SPEED_MPS
        self._unpark_s = min_to_s(config.unpark_min)
        self._park_s = min_to_s(config.park_min)
        #: person_id -> owns a bike (drawn on the person's first trip)
        self._owners: dict[int, bool] = {}

    def owns_bike(self, trip: Trip) -> bool:
        """Does the person of ``trip`` own this bike? Drawn once per person, then remembered."""
        owns = self._owners.get(trip.person_id)
        if owns is None:
            share = self.config.ownership_share.get(trip.group, self.config.default_ownership_share)
            owns = bool(self.ctx.rng.random() < share)
            self._owners[trip.person_id] = owns
        return owns

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer if the person owns a bike, has it here and a ride path exists.

        Parameters
        ----------
        trip : Trip
            The trip: person, group, origin/destination node indices, ``leg_index`` and
            ``tour_state`` (is the bike with the person?).
        now_s : float
            Clock, s after midnight (riding times do not depend on it).

        Unavailable reasons: ``no_bike_owned``, ``bike_left_at_home`` (a later leg of a tour
        whose earlier legs did not use the bike), ``no_bike_path``, ``too_far_to_ride`` (longer
        than ``max_ride_m``). Times in s, distances in m, no fare.
        """
        if not self.owns_bike(trip):
            return [unavailable(self.name, self.mode, "no_bike_owned")]
        if trip.leg_index > 0 and trip.tour_state.get(self.state_key) != "with_person":
            return [unavailable(self.name, self.mode, "bike_left_at_home")]
        leg = self.ctx.router.try_leg(self.profile, trip.origin_node, trip.dest_node)
        if leg is None:
            return [unavailable(self.name, self.mode, "no_bike_path")]
        ride_s, distance_m = leg
        if distance_m > self.config.max_ride_m:
            return [unavailable(self.name, self.mode, "too_far_to_ride")]
        cfg = self.config
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                access_walk_m=cfg.access_walk_m,
                access_walk_s=self._access_walk_s,
                in_vehicle_s=self._unpark_s + ride_s + self._park_s,
                egress_walk_m=cfg.parking_walk_m,
                egress_walk_s=self._egress_walk_s,
                distance_m=distance_m,
                access_node=trip.origin_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """The rider walks to the bike, unlocks it, rides and locks it; the event fires on locking.

        Parameters
        ----------
        trip : Trip
            The trip being ridden.
        offer : Offer
            The offer made by :meth:`offers` (access walk, unlock + ride + lock time s, distance m).

        Returns a SimPy timeout firing ``access_walk_s + in_vehicle_s`` from now with the
        :class:`RideOutcome`; on firing, the ride is logged and the bike stays with its rider.
        """
        return ride_own_vehicle(
            self, trip, offer, pax=1, vehicle_type=self.vehicle_type, state_key=self.state_key
        )

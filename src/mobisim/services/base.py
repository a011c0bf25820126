"""The service protocol: how a service offers itself to a commuter and serves a request.

A commuter's story (see :mod:`mobisim.engine.commuter`) uses only this protocol::

    offers = [o for s in services for o in s.offers(trip, env.now)]
    choice = mode_choice.rank(trip, offers, rng)[0]
    ride = choice_service.request(trip, choice)     # booked now; a SimPy event
    yield from walk(access)                          # commuter walks to the access point
    outcome = yield ride                             # fires at drop-off, or when refused / gave up
    yield from walk(egress)

A service therefore implements ``offers`` (cheap, no side effects except an optional reservation
held in ``Offer.handle``) and ``request`` (returns a SimPy event whose value is a
:class:`RideOutcome`; it must always fire, with ``served=False`` and a reason when the ride fails).
The service knows the commuter reaches the access point at ``request time + offer.access_walk_s``.
"""

from __future__ import annotations

import functools
import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

#: ``trip.tour_state`` key naming the service the next leg of the tour must use (a service sets
#: it, e.g. the private car driven out must come back; the commuter reads it at departure)
MUST_USE = "must_use"

if TYPE_CHECKING:  # imports for type checkers only; the runtime layering stays downward
    import numpy as np
    import simpy

    from mobisim.events import EventLog
    from mobisim.network.graph import Network
    from mobisim.network.router import Router
    from mobisim.scenario.base import ServiceConfig


@dataclass(slots=True)
class Trip:
    """One trip of one person, as the engine hands it to services and mode choice.

    All times in seconds after midnight, all places as node indices of the network.
    """

    trip_id: int
    person_id: int
    group: str
    purpose: str
    origin_node: int
    dest_node: int
    depart_s: float
    party_size: int = 1
    car_available: bool = True
    allowed_modes: frozenset[str] | None = None  # None = every mode
    tour_id: int = -1  # trips of one person's day that belong together (out and back)
    leg_index: int = 0  # 0 = outbound, 1 = return, ...
    #: state carried along a tour, e.g. {"carsharing_vehicle": 12} for a round-trip car
    tour_state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Offer:
    """What a service can do for a trip at a time. All durations in s, distances in m, fares in KRW."""

    service: str
    mode: str
    available: bool
    reason: str = ""  # why not available ("no_vehicle_within_walk", "outside_service_hours", ...)
    access_walk_m: float = 0.0
    access_walk_s: float = 0.0
    wait_s: float = 0.0
    in_vehicle_s: float = 0.0
    egress_walk_m: float = 0.0
    egress_walk_s: float = 0.0
    distance_m: float = 0.0  # in-vehicle (or riding / driving) distance
    fare_krw: float = 0.0
    access_node: int = -1
    egress_node: int = -1
    handle: Any = None  # private to the service (a reserved vehicle, a planned insertion ...)
    #: extra weighted time mode choice adds, in-vehicle s (an intermodal chain's transfer penalty)
    penalty_ivt_s: float = 0.0

    @property
    def door_to_door_s(self) -> float:
        """Expected door-to-door time, seconds."""
        return self.access_walk_s + self.wait_s + self.in_vehicle_s + self.egress_walk_s


@functools.lru_cache(maxsize=4096)
def unavailable(service: str, mode: str, reason: str) -> Offer:
    """An offer that says 'not available' and why (counted by availability KPIs).

    The same refusal is the same object (built once: a day makes hundreds of thousands of them);
    nothing may change an unavailable offer.
    """
    return Offer(service=service, mode=mode, available=False, reason=reason)


@dataclass(slots=True)
class RideOutcome:
    """How a request ended. The value of the event returned by :meth:`Service.request`."""

    served: bool
    reason: str = ""  # when not served: "rejected", "no_vehicle", "gave_up_max_wait", ...
    wait_s: float = math.nan
    in_vehicle_s: float = math.nan
    distance_m: float = math.nan
    fare_krw: float = 0.0
    vehicle_id: int = -1
    egress_node: int = -1  # where the commuter gets off / parks (may differ from the offer)
    egress_walk_m: float = math.nan  # if the service changed it (e.g. dock full -> next station)
    egress_walk_s: float = math.nan


@dataclass
class ServiceContext:
    """What the engine hands to every service: shared clock, router, log and its own random stream."""

    env: simpy.Environment
    network: Network
    router: Router
    log: EventLog
    rng: np.random.Generator
    period_start_s: float
    period_end_s: float
    energy: Any = None  # mobisim.energy context (vehicle types, chargers); None when energy is off
    vehicle_ids: itertools.count = field(default_factory=itertools.count)
    vehicles: list[dict[str, Any]] = field(default_factory=list)

    def new_vehicle(self, service: str, vehicle_type: str, **attributes: Any) -> int:
        """Register a vehicle/device and return its run-unique integer id.

        ``attributes`` (capacity, home station, battery_kwh ...) become columns of vehicles.parquet.
        """
        vehicle_id = next(self.vehicle_ids)
        self.vehicles.append(
            {
                "vehicle_id": vehicle_id,
                "service": service,
                "vehicle_type": vehicle_type,
                **attributes,
            }
        )
        return vehicle_id


class Service(ABC):
    """Base class of every service. Subclasses set ``type_name``, ``Config`` and ``mode``."""

    type_name: ClassVar[str]
    Config: ClassVar[type[ServiceConfig]]
    mode: str = ""  # label used for mode shares (e.g. "shuttle", "drt", "escooter")

    def __init__(self, config: ServiceConfig, ctx: ServiceContext):
        self.config = config
        self.ctx = ctx
        self.name = config.name

    def start(self) -> None:  # noqa: B027 - optional hook
        """Spawn the service's vehicle processes. Called once before the clock starts."""

    @abstractmethod
    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """Offers for ``trip`` at ``now_s`` (available or not, with a reason). No side effects."""

    @abstractmethod
    def request(self, trip: Trip, offer: Offer) -> simpy.Event:
        """Book the ride now; the event fires with a :class:`RideOutcome` when it ends."""

    def finish(self, end_s: float) -> None:  # noqa: B027 - optional hook
        """Close open states at the end of the run (e.g. log the last idle dwell up to ``end_s``)."""

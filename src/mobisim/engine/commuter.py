"""The commuter: one SimPy process per person-day, living each trip as a story.

    at the departure time, ask every service for offers, keep those the trip may use;
    rank them (mode-choice policy), book the first, walk to the access point, wait and ride,
    walk to the destination, record;
    if the service fails, ask the next service of the ranking again, from where the commuter now
    stands; when none is left, do what the scenario's ``mode_choice.fallback`` says.

Every trip ends in exactly one status: ``completed`` (the first choice served it), ``fallback``
(served after the first choice failed, or by the scenario's fallback mode; ``fallback_reason`` says
why) or ``unserved`` (no path, ``mode_choice.fallback: unserved``, or a forced walk longer than
``mode_choice.acceptable_walk_m``: the person walks, but no service carried the trip). A person's trips run one after the other: a return leg starts at its
departure time, or on arrival if the way out ended later.

A service can bind the next leg of a tour to itself (the car driven out must come back): it sets
``trip.tour_state["must_use"] = <service name>``; the next leg then takes that service's offer
first when it has one (the other offers stay behind it as fallbacks).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mobisim.engine.chains import (
    CHAIN_MODE,
    PARK_AND_RIDE_STATE,
    WITH_PERSON,
    ChainPlan,
    is_chain,
)
from mobisim.events import EventLog
from mobisim.services.base import MUST_USE, Offer, RideOutcome, Service, Trip
from mobisim.services.car import CAR_STATE

#: router profile of each scenario fallback (``mode_choice.fallback``); the mode is "<name>_fallback"
FALLBACK_PROFILES = {"walk": "walk", "car": "car"}
#: vehicle type logged for the scenario's car fallback leg (a lift or a taxi: a petrol car [F3])
FALLBACK_CAR_TYPE = "petrol_car"


@dataclass(slots=True)
class TripRecord:
    """The outcome columns of one trip in trips.parquet (times s, distances m, fares KRW)."""

    mode: str = ""
    service: str = ""
    status: str = ""
    fallback_reason: str = ""
    offered_walk_s: float = math.nan
    offered_wait_s: float = math.nan
    offered_in_vehicle_s: float = math.nan
    access_walk_s: float = 0.0
    wait_s: float = 0.0
    in_vehicle_s: float = 0.0
    egress_walk_s: float = 0.0
    door_to_door_s: float = math.nan
    distance_m: float = 0.0
    fare_krw: float = 0.0
    arrival_s: float = math.nan
    n_offers_available: int = 0
    #: chain columns (trips.parquet has them only with ``chains.enabled``): legs ridden, the
    #: access device's mode ("" without one) and the main leg's mode
    legs: int = 1
    access_mode: str = ""
    main_mode: str = ""

    def keep_offered(self, offer: Offer) -> None:
        """Keep what the first choice offered (s): the walk to it, and the service's promise."""
        self.offered_walk_s, self.offered_wait_s = offer.access_walk_s, offer.wait_s
        self.offered_in_vehicle_s = offer.in_vehicle_s

    def keep_ride(self, offer: Offer, outcome: RideOutcome) -> tuple[int, float, float]:
        """Record the served ride of ``offer``; returns where and how far the commuter walks
        from it: (egress node, walk m, walk s), the offer's unless the service changed them."""
        egress_m, egress_s = outcome.egress_walk_m, outcome.egress_walk_s
        if math.isnan(egress_s):  # the service kept the offer's egress
            egress_m, egress_s = offer.egress_walk_m, offer.egress_walk_s
        if not math.isnan(outcome.wait_s):
            self.wait_s += outcome.wait_s
        self.mode, self.service = offer.mode, offer.service
        self.in_vehicle_s = 0.0 if math.isnan(outcome.in_vehicle_s) else outcome.in_vehicle_s
        self.egress_walk_s = egress_s
        self.distance_m = 0.0 if math.isnan(outcome.distance_m) else outcome.distance_m
        self.fare_krw = outcome.fare_krw
        return outcome.egress_node, egress_m, egress_s


@dataclass(slots=True)
class CommuterWorld:
    """What commuters share: clock, services, policy, log, random stream, router, records.

    ``fallback`` is the scenario's ``mode_choice.fallback`` (walk | car | unserved);
    ``acceptable_walk_m`` the longest forced walk still counted as served, m; ``records`` maps
    trip_id to its :class:`TripRecord`, filled as trips start.
    """

    env: object
    services: list[Service]
    policy: object
    log: EventLog
    rng: np.random.Generator  # or a UniformBlocks over it (mobisim.engine.draws)
    router: object
    fallback: str
    records: dict[int, TripRecord]
    acceptable_walk_m: float = 5000.0
    #: a fare policy between the offers and the choice (mobisim.engine.fares), None = fares as quoted
    fares: Any = None
    by_name: dict[str, Service] = dataclasses.field(default_factory=dict)
    #: the chain composer when ``chains.enabled`` (mobisim.engine.chains.ChainComposer), else None
    chains: Any = None
    #: (service, reason) -> number of trips the service refused at departure (``refusals.parquet``)
    refusals: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {service.name: service for service in self.services}


def person_day(world: CommuterWorld, trips: list[Trip]):
    """A person's day: their trips in departure order (a return can depend on the way out)."""
    env = world.env
    for trip in trips:
        depart_s, now_s = trip.depart_s, env.now
        if depart_s > now_s:
            yield env.timeout(depart_s - now_s)
        yield from make_trip(world, trip)


def usable_offers(
    services: list[Service],
    trip: Trip,
    now_s: float,
    refusals: dict[tuple[str, str], int] | None = None,
) -> tuple[list[Offer], str]:
    """The available offers of ``services`` that ``trip`` may use, and the first refusal reason.

    Parameters
    ----------
    services : list of Service
        The services to ask, in scenario order.
    trip : Trip
        The trip as it stands now (its origin may be an access point reached on the way).
    now_s : float
        Clock, s after midnight.
    refusals : dict, optional
        Counts each unavailable offer as ``(service, reason) -> trips`` (availability KPIs).

    Offers of modes outside ``trip.allowed_modes`` count as refused (``mode_not_allowed``).
    """
    allowed = trip.allowed_modes
    usable: list[Offer] = []
    reason = ""
    for service in services:
        for offer in service.offers(trip, now_s):
            if not offer.available:
                reason = reason or offer.reason
                if refusals is not None:
                    key = (offer.service, offer.reason)
                    refusals[key] = refusals.get(key, 0) + 1
            elif allowed is None or offer.mode in allowed:
                usable.append(offer)
            else:
                reason = reason or "mode_not_allowed"
    return usable, reason


def make_trip(world: CommuterWorld, trip: Trip):
    """One trip: choose, walk, wait, ride, walk; fall back down the ranking when a service fails."""
    env, log = world.env, world.log
    record = world.records[trip.trip_id] = TripRecord()
    start_s = env.now
    ranked, reason = _first_choice(world, trip, start_s)
    record.n_offers_available = len(ranked)
    log.trip_start(
        start_s,
        trip_id=trip.trip_id,
        origin_node=trip.origin_node,
        dest_node=trip.dest_node,
        n_offers=len(ranked),
    )
    here, failed = trip, set()
    for position, planned in enumerate(ranked):
        offer = planned if position == 0 else _ask_again(world, here, planned.service, failed)
        if offer is None:
            continue
        if position == 0:
            record.keep_offered(offer)
        log.mode_choice(
            env.now,
            service=offer.service,
            trip_id=trip.trip_id,
            mode=offer.mode,
            wait_s=offer.wait_s,
            in_vehicle_s=offer.in_vehicle_s,
            access_node=offer.access_node,
            egress_node=offer.egress_node,
        )
        if is_chain(offer):  # a device to the stop, the main ride, a walk (engine.chains)
            served, here_now = yield from _ride_chain(world, trip, here, offer, record)
            if not served:  # a leg failed: on down the ranking from where the commuter is
                failed.add(offer.service)
                here = here_now
                continue
            status = "completed" if position == 0 else "fallback"
            _end(world, trip, record, start_s, record.service, status)
            return
        ride = world.by_name[offer.service].request(here, offer)  # booked now: the ride's event
        if offer.access_walk_s > 0:  # to the stop, the vehicle, or (walking) the destination
            yield _access_walk(world, here, offer)
            record.access_walk_s += offer.access_walk_s
        outcome: RideOutcome = yield ride  # fires at drop-off / parking, or when refused
        if not outcome.served:
            failed.add(offer.service)
            here = _failed(world, here, offer, outcome, record)
            continue
        egress_node, egress_m, egress_s = record.keep_ride(offer, outcome)
        record.legs, record.access_mode, record.main_mode = 1, "", offer.mode
        if world.fares is not None:  # what the commuter paid (an E-mileage member: less)
            record.fare_krw = world.fares.paid(trip.person_id, offer.service, record.fare_krw)
        if egress_s > 0:
            yield _walk(world, trip, egress_node, trip.dest_node, egress_m, egress_s, "egress")
        status = "completed" if position == 0 else "fallback"
        _end(world, trip, record, start_s, offer.service, status)
        return
    record.fallback_reason = record.fallback_reason or reason or "no_offer"
    yield from _scenario_fallback(world, here, record, start_s)


def _ride_chain(world: CommuterWorld, trip: Trip, here: Trip, offer: Offer, record: TripRecord):
    """Ride a chain offer: the device to the stop (parked there by its service), the main
    service re-asked at the stop, its ride, the walk on. Returns (served, the trip from where
    the commuter stands); the trip's record holds both legs (times s, distances m, fares KRW)."""
    plan: ChainPlan = offer.handle
    access = plan.access_offer
    site = world.chains.sites[plan.park_site] if plan.park_site >= 0 else None
    if site is not None and not plan.fetch_car:  # park-and-ride: a space held from the choice
        if not site.has_space():
            refused = RideOutcome(served=False, reason="park_and_ride_full", wait_s=0.0)
            return False, _failed(world, here, access, refused, record)
        site.parked.put(1)
    ride = world.by_name[plan.access_service].request(plan.access_trip, access)
    if access.access_walk_s > 0:
        yield _access_walk(world, here, access)
        record.access_walk_s += access.access_walk_s
    outcome: RideOutcome = yield ride
    if not outcome.served:  # the device was taken meanwhile, the battery ran low ...
        if site is not None and not plan.fetch_car:
            site.parked.get(1)
        return False, _failed(world, here, access, outcome, record)
    if site is not None and not plan.fetch_car:  # the car waits at the site for the way back
        trip.tour_state[PARK_AND_RIDE_STATE] = plan.park_site
    parked_node, walk_m, walk_s = record.keep_ride(access, outcome)
    if world.fares is not None:
        record.fare_krw = world.fares.paid(trip.person_id, access.service, record.fare_krw)
    access_ivt_s, access_m, access_krw = record.in_vehicle_s, record.distance_m, record.fare_krw
    record.egress_walk_s = 0.0
    if walk_s > 0:  # from where the device is parked to the stop
        yield _walk(world, trip, parked_node, plan.stop_node, walk_m, walk_s, "access")
        record.access_walk_s += walk_s
    at_stop = dataclasses.replace(here, origin_node=plan.stop_node)
    if plan.fetch_car:  # at the park-and-ride site: the car is there
        at_stop.tour_state[CAR_STATE] = WITH_PERSON
    mains = [
        o
        for o in usable_offers([world.by_name[plan.main_service]], at_stop, world.env.now)[0]
        if o.mode == plan.main_offer.mode
    ]
    if not mains:
        refused = RideOutcome(served=False, reason="chain_main_refused", wait_s=0.0)
        return False, _failed(world, at_stop, plan.main_offer, refused, record)
    main = _rank(world, at_stop, mains)[0] if len(mains) > 1 else mains[0]
    ride = world.by_name[plan.main_service].request(at_stop, main)
    if plan.fetch_car:  # the car leaves the site
        site.parked.get(1)
        trip.tour_state.pop(PARK_AND_RIDE_STATE, None)
    if main.access_walk_s > 0:
        yield _access_walk(world, at_stop, main)
        record.access_walk_s += main.access_walk_s
    outcome = yield ride
    if not outcome.served:
        return False, _failed(world, at_stop, main, outcome, record)
    egress_node, egress_m, egress_s = record.keep_ride(main, outcome)
    if world.fares is not None:
        record.fare_krw = world.fares.paid(trip.person_id, main.service, record.fare_krw)
    record.mode, record.legs = CHAIN_MODE, 2
    record.access_mode, record.main_mode = access.mode, main.mode
    record.in_vehicle_s += access_ivt_s
    record.distance_m += access_m
    record.fare_krw += access_krw
    if egress_s > 0:
        yield _walk(world, trip, egress_node, trip.dest_node, egress_m, egress_s, "egress")
    return True, at_stop


def _access_walk(world, here: Trip, offer: Offer):
    """The walk from where the commuter stands to the offer's access point (see :func:`_walk`)."""
    purpose = "direct" if offer.mode == "walk" else "access"
    return _walk(
        world,
        here,
        here.origin_node,
        offer.access_node,
        offer.access_walk_m,
        offer.access_walk_s,
        purpose,
    )


def _walk(
    world,
    trip: Trip,
    from_node: int,
    to_node: int,
    distance_m: float,
    duration_s: float,
    purpose: str,
):
    """Log a walk of ``distance_m`` (m) in ``duration_s`` (s, > 0) from ``from_node`` to
    ``to_node`` as a ``walk`` of ``purpose``; returns the timeout to wait while walking."""
    world.log.walk(
        world.env.now,
        trip_id=trip.trip_id,
        from_node=from_node,
        to_node=to_node,
        distance_m=distance_m,
        duration_s=duration_s,
        purpose=purpose,
    )
    return world.env.timeout(duration_s)


def _first_choice(world: CommuterWorld, trip: Trip, now_s: float) -> tuple[list[Offer], str]:
    """The ranked usable offers at departure; a service the tour is bound to goes first."""
    bound = trip.tour_state.pop(MUST_USE, None)
    offers, reason = usable_offers(world.services, trip, now_s, world.refusals)
    if world.chains is not None:  # intermodal chains beside the single-mode offers
        offers = offers + world.chains.offers(trip, now_s)
    if not offers:
        return [], reason
    ranked = _rank(world, trip, offers)
    if bound is not None:
        ranked = [o for o in ranked if o.service == bound] + [
            o for o in ranked if o.service != bound
        ]
    return ranked, reason


def _ask_again(
    world: CommuterWorld, here: Trip, service_name: str, failed: set[str]
) -> Offer | None:
    """The service's best usable offer now, from where the commuter stands; None if it has none
    or has failed this trip already."""
    if service_name in failed or service_name not in world.by_name:  # (a chain: once only)
        return None
    offers, _ = usable_offers([world.by_name[service_name]], here, world.env.now)
    if len(offers) > 1:
        offers = _rank(world, here, offers)
    return offers[0] if offers else None


def _rank(world: CommuterWorld, trip: Trip, offers: list[Offer]) -> list[Offer]:
    """The policy's ranking of ``offers``, weighed at the fares the commuter would pay; returns
    the services' own offers (a service gets back the offer it made)."""
    if world.fares is None:
        return world.policy.rank(trip, offers, world.rng)
    seen = world.fares.seen(trip.person_id, offers)
    own = {id(s): o for s, o in zip(seen, offers, strict=True)}
    return [own[id(s)] for s in world.policy.rank(trip, seen, world.rng)]


def _failed(world, here: Trip, offer: Offer, outcome: RideOutcome, record: TripRecord) -> Trip:
    """Record a failed ride (reason, time waited); returns the trip from where the commuter stands."""
    if not math.isnan(outcome.wait_s):
        record.wait_s += outcome.wait_s
    record.fallback_reason = record.fallback_reason or outcome.reason or "not_served"
    world.log.fallback(
        world.env.now,
        service=offer.service,
        trip_id=here.trip_id,
        reason=outcome.reason,
        waited_s=outcome.wait_s,
    )
    if 0 <= offer.access_node != here.origin_node:
        return dataclasses.replace(here, origin_node=offer.access_node)
    return here


def _end(world, trip: Trip, record: TripRecord, start_s: float, service: str, status: str):
    """Close the record (arrival now) and log ``trip_end``."""
    now_s = world.env.now
    record.status, record.arrival_s = status, now_s
    record.door_to_door_s = now_s - start_s
    world.log.trip_end(
        now_s,
        trip_id=trip.trip_id,
        node=trip.dest_node,
        status=status,
        service=service,
        door_to_door_s=record.door_to_door_s,
        distance_m=record.distance_m,
        fare_krw=record.fare_krw,
        reason=record.fallback_reason,
    )


def _scenario_fallback(world: CommuterWorld, here: Trip, record: TripRecord, start_s: float):
    """No offer left: walk or be driven (``mode_choice.fallback``) from where the commuter is.

    Unserved when the fallback is ``unserved``, the network has no such path, or the forced walk
    is longer than ``world.acceptable_walk_m`` (walked all the same: the person gets there).
    """
    env, log = world.env, world.log
    profile = FALLBACK_PROFILES.get(world.fallback)
    leg = world.router.try_leg(profile, here.origin_node, here.dest_node) if profile else None
    if leg is None:
        record.status = "unserved"
        log.trip_end(
            env.now,
            trip_id=here.trip_id,
            node=here.origin_node,
            status="unserved",
            distance_m=record.distance_m,
            fare_krw=record.fare_krw,
            reason=record.fallback_reason,
        )
        return
    time_s, distance_m = leg
    status = "fallback"
    if profile == "walk":
        if time_s > 0:
            yield _walk(
                world, here, here.origin_node, here.dest_node, distance_m, time_s, "fallback"
            )
        record.access_walk_s += time_s
        if distance_m > world.acceptable_walk_m:
            status = "unserved"
    else:
        log.vehicle_leg(
            env.now,
            service="",
            vehicle_id=-1,
            trip_id=here.trip_id,
            from_node=here.origin_node,
            to_node=here.dest_node,
            distance_m=distance_m,
            duration_s=time_s,
            pax=here.party_size,
            state="occupied",
            detail=FALLBACK_CAR_TYPE,
        )
        yield env.timeout(time_s)
        record.in_vehicle_s = time_s
    record.mode, record.distance_m = f"{world.fallback}_fallback", distance_m
    _end(world, here, record, start_s, "", status)

"""The commuter: one SimPy process per person-day, living each trip as a story.

    at the departure time, ask every service for offers
    choose (mode-choice policy), book the ride, walk to the access point, wait and ride,
    walk to the destination, record; if the service fails, fall back to the next offer.

Every trip ends in exactly one status: ``completed`` (first choice served), ``fallback`` (served
after the first choice failed, or by the scenario's fallback mode) or ``unserved``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from mobisim.events import EventLog
from mobisim.services.base import Offer, RideOutcome, Service, Trip

WALK_SPEED_MPS = 1.2  # [T1]


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
    offered_egress_s: float = math.nan
    access_walk_s: float = 0.0
    wait_s: float = 0.0
    in_vehicle_s: float = 0.0
    egress_walk_s: float = 0.0
    door_to_door_s: float = math.nan
    distance_m: float = 0.0
    fare_krw: float = 0.0
    arrival_s: float = math.nan
    n_offers_available: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class CommuterWorld:
    """What commuters share: the clock, the services, the policy, the log and their random stream."""

    env: object
    services: list[Service]
    policy: object
    log: EventLog
    rng: np.random.Generator
    router: object
    fallback: str  # walk | car | unserved
    records: dict[int, TripRecord]


def _allowed(trip: Trip, offer: Offer) -> bool:
    return trip.allowed_modes is None or offer.mode in trip.allowed_modes


def person_day(world: CommuterWorld, trips: list[Trip]):
    """A person's day: the trips of one tour, in time order (a return can depend on the way out)."""
    env = world.env
    for trip in trips:
        if trip.depart_s > env.now:
            yield env.timeout(trip.depart_s - env.now)
        yield from make_trip(world, trip)


def make_trip(world: CommuterWorld, trip: Trip):
    """One trip: choose, walk, wait, ride, walk; fall back when a service fails."""
    env, log = world.env, world.log
    record = world.records[trip.trip_id] = TripRecord()
    start_s = env.now
    log.emit(
        start_s, "trip_start", trip_id=trip.trip_id, node=trip.origin_node, to_node=trip.dest_node
    )
    here = trip
    tried: set[str] = set()
    must_use = trip.tour_state.pop("must_use", None)
    first = True
    while True:
        offers = [
            o
            for service in world.services
            if service.name not in tried and (must_use is None or service.name == must_use)
            for o in service.offers(here, env.now)
        ]
        available = [o for o in offers if o.available and _allowed(trip, o)]
        record.reasons.extend(o.reason for o in offers if not o.available and o.reason)
        if first:
            record.n_offers_available = len(available)
        if not available:
            yield from _scenario_fallback(world, here, record, start_s, first)
            return
        choice = world.policy.rank(here, available, world.rng)[0]
        if first:
            record.offered_walk_s, record.offered_wait_s = choice.access_walk_s, choice.wait_s
            record.offered_in_vehicle_s, record.offered_egress_s = (
                choice.in_vehicle_s,
                choice.egress_walk_s,
            )
        log.emit(
            env.now,
            "mode_choice",
            choice.service,
            trip_id=trip.trip_id,
            detail=choice.mode,
            value=len(available),
        )
        service = next(s for s in world.services if s.name == choice.service)
        ride = service.request(here, choice)
        if choice.access_walk_s > 0:
            kind = "direct" if choice.mode == "walk" else "access"
            log.emit(
                env.now,
                "walk",
                trip_id=trip.trip_id,
                node=here.origin_node,
                to_node=choice.access_node,
                distance_m=choice.access_walk_m,
                duration_s=choice.access_walk_s,
                detail=kind,
            )
            yield env.timeout(choice.access_walk_s)
            record.access_walk_s += choice.access_walk_s
        outcome: RideOutcome = yield ride
        if outcome.served:
            yield from _finish(
                world, trip, record, choice, outcome, start_s, "completed" if first else "fallback"
            )
            return
        tried.add(choice.service)
        record.fallback_reason = outcome.reason
        log.emit(env.now, "fallback", choice.service, trip_id=trip.trip_id, detail=outcome.reason)
        if not math.isnan(outcome.wait_s):
            record.wait_s += outcome.wait_s
        if choice.access_node >= 0 and choice.access_node != here.origin_node:
            here = dataclasses.replace(here, origin_node=choice.access_node)
        first = False
        must_use = None


def _finish(world, trip, record, choice, outcome, start_s, status):
    env, log = world.env, world.log
    egress_s = (
        outcome.egress_walk_s if not math.isnan(outcome.egress_walk_s) else choice.egress_walk_s
    )
    egress_m = (
        outcome.egress_walk_m if not math.isnan(outcome.egress_walk_m) else choice.egress_walk_m
    )
    if egress_s > 0:
        log.emit(
            env.now,
            "walk",
            trip_id=trip.trip_id,
            node=outcome.egress_node,
            to_node=trip.dest_node,
            distance_m=egress_m,
            duration_s=egress_s,
            detail="egress",
        )
        yield env.timeout(egress_s)
    record.mode, record.service, record.status = choice.mode, choice.service, status
    record.wait_s += 0.0 if math.isnan(outcome.wait_s) else outcome.wait_s
    record.in_vehicle_s = 0.0 if math.isnan(outcome.in_vehicle_s) else outcome.in_vehicle_s
    record.egress_walk_s = egress_s
    record.distance_m = (
        choice.access_walk_m
        if choice.mode == "walk"
        else (0.0 if math.isnan(outcome.distance_m) else outcome.distance_m)
    )
    record.fare_krw = outcome.fare_krw
    record.arrival_s = env.now
    record.door_to_door_s = env.now - start_s
    log.emit(
        env.now,
        "trip_end",
        choice.service,
        trip_id=trip.trip_id,
        node=trip.dest_node,
        state=status,
        duration_s=record.door_to_door_s,
        detail=record.fallback_reason,
    )


def _scenario_fallback(world, here: Trip, record: TripRecord, start_s: float, first: bool):
    """No offer left: walk or drive (as the scenario says) from where the commuter is, or give up."""
    env, log = world.env, world.log
    reason = record.fallback_reason or (record.reasons[0] if record.reasons else "no_offer")
    record.fallback_reason = reason
    profile = {"walk": "walk", "car": "car"}.get(world.fallback)
    leg = world.router.try_leg(profile, here.origin_node, here.dest_node) if profile else None
    if leg is None:
        record.status, record.mode = "unserved", ""
        log.emit(
            env.now,
            "trip_end",
            trip_id=here.trip_id,
            node=here.origin_node,
            state="unserved",
            detail=reason,
        )
        return
    time_s, distance_m = leg
    log.emit(
        env.now,
        "walk" if profile == "walk" else "fallback",
        trip_id=here.trip_id,
        node=here.origin_node,
        to_node=here.dest_node,
        distance_m=distance_m,
        duration_s=time_s,
        detail="fallback",
    )
    yield env.timeout(time_s)
    record.mode, record.service, record.status = f"{world.fallback}_fallback", "", "fallback"
    if profile == "walk":
        record.access_walk_s += time_s
    else:
        record.in_vehicle_s = time_s
    record.distance_m = distance_m
    record.arrival_s = env.now
    record.door_to_door_s = env.now - start_s
    log.emit(
        env.now,
        "trip_end",
        trip_id=here.trip_id,
        node=here.dest_node,
        state="fallback",
        duration_s=record.door_to_door_s,
        detail=reason,
    )

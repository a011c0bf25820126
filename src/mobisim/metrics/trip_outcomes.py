"""The outcome columns of trips.parquet, rebuilt from events.parquet alone.

The engine writes each trip's outcome as it happens (``mobisim.engine.commuter.TripRecord``) and
every step of it as an event; this module reads the steps back, so that any KPI can start from
the event table and a check can compare the two (``tests/test_trip_outcomes.py`` does, on the
demo). One pass over the trip events, in the order they were written:

- ``trip_end``: status, fallback reason, final service, door-to-door time, distance, fare (and
  the arrival time, when the trip arrived);
- ``trip_start``: the number of offers available;
- ``mode_choice``: the mode of each attempt (the served attempt's is the trip's mode), and the
  first choice's promised wait and in-vehicle time; its access walk is the first attempt's
  ``walk`` rows of purpose access/direct; a scenario fallback's mode is ``walk_fallback`` (a
  ``walk`` row of purpose ``fallback``) or ``car_fallback`` (a private ``vehicle_leg`` with no
  service);
- ``walk`` rows: access (access, direct, fallback) and egress walking times;
- ``pickup`` values and ``fallback`` durations: the time waited (served and failed attempts);
- ``dropoff`` value (a ride) or a private ``vehicle_leg`` duration (a car): the in-vehicle time.

``direct_s`` (the unshared car drive time) is a property of the network, not an outcome: it is
not rebuilt here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

#: the trips.parquet columns rebuilt here, in trips.parquet order
OUTCOME_COLUMNS = (
    "mode",
    "service",
    "status",
    "fallback_reason",
    "offered_walk_s",
    "offered_wait_s",
    "offered_in_vehicle_s",
    "access_walk_s",
    "wait_s",
    "in_vehicle_s",
    "egress_walk_s",
    "door_to_door_s",
    "distance_m",
    "fare_krw",
    "arrival_s",
    "n_offers_available",
)
_KINDS = (
    "trip_start",
    "mode_choice",
    "walk",
    "pickup",
    "dropoff",
    "fallback",
    "vehicle_leg",
    "trip_end",
)


@dataclass
class _Trip:
    """What the events say of one trip so far (times s, distances m, fares KRW)."""

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
    attempts: int = 0  # mode_choice rows so far
    fallback_mode: str = ""


def trip_outcomes(events: pd.DataFrame) -> pd.DataFrame:
    """The outcome columns of trips.parquet (:data:`OUTCOME_COLUMNS`), one row per trip that
    has a ``trip_end`` event, indexed by ``trip_id`` (sorted), from ``events`` alone."""
    rows = events[events["event"].isin(_KINDS) & (events["trip_id"] >= 0)]
    trips: dict[int, _Trip] = {}
    columns = ("event", "trip_id", "time_s", "service", "vehicle_id", "duration_s", "distance_m")
    columns += ("value", "state", "detail")
    for kind, tid, time_s, service, vehicle, duration_s, distance_m, value, state, detail in zip(
        *(rows[c].tolist() for c in columns), strict=True
    ):
        trip = trips.setdefault(tid, _Trip())
        if kind == "trip_start":
            trip.n_offers_available = int(value)
        elif kind == "mode_choice":
            trip.attempts += 1
            trip.mode = detail
            if trip.attempts == 1:
                trip.offered_wait_s, trip.offered_in_vehicle_s = value, duration_s
                trip.offered_walk_s = 0.0
        elif kind == "walk":
            if detail == "egress":
                trip.egress_walk_s = duration_s
            else:
                trip.access_walk_s += duration_s
                if detail in ("access", "direct") and trip.attempts == 1:
                    trip.offered_walk_s += duration_s
                if detail == "fallback":
                    trip.fallback_mode = "walk_fallback"
        elif kind == "pickup":
            trip.wait_s += value
        elif kind == "fallback":
            if not math.isnan(duration_s):
                trip.wait_s += duration_s
        elif kind == "dropoff":
            trip.in_vehicle_s = value
        elif kind == "vehicle_leg" and vehicle == -1:  # a private car (or the car fallback)
            trip.in_vehicle_s = duration_s
            if not service:
                trip.fallback_mode = "car_fallback"
        elif kind == "trip_end":
            trip.status, trip.fallback_reason, trip.service = state, detail, service
            trip.door_to_door_s, trip.distance_m, trip.fare_krw = duration_s, distance_m, value
            if not math.isnan(duration_s):
                trip.arrival_s = time_s
            if not service:  # no service carried it: a scenario fallback, or nothing
                trip.mode = trip.fallback_mode
    ended = {tid: trip for tid, trip in trips.items() if trip.status}
    frame = pd.DataFrame([asdict(trip) for trip in ended.values()], index=list(ended))
    frame.index.name = "trip_id"
    if frame.empty:
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS)).rename_axis("trip_id")
    frame["n_offers_available"] = frame["n_offers_available"].astype("int64")
    return frame.loc[:, list(OUTCOME_COLUMNS)].sort_index()

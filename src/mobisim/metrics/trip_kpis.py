"""Trip-side KPIs: shares, mode shares, waits, walks, ride and door-to-door times, detours, fares.

Pure functions of trips.parquet (one row per trip, outcome columns as in docs/architecture.md).
Definitions and units: docs/kpis.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mobisim.metrics.common import (
    DEVICE_MODES,
    WALK_MODES,
    as_str,
    hour_key,
    is_shared_mode,
    mean,
    median,
    percentile,
    ratio,
    total,
)


def served_mask(trips: pd.DataFrame) -> pd.Series:
    """Trips that reached their destination (status completed or fallback)."""
    return as_str(trips["status"]) != "unserved"


def shared_rides(trips: pd.DataFrame) -> pd.DataFrame:
    """Served trips whose final mode is a shared service (the base of wait, access and fare KPIs)."""
    return trips[served_mask(trips) & is_shared_mode(trips["mode"])]


def detour_factors(rides: pd.DataFrame) -> pd.Series:
    """Per ride: in-vehicle time / direct drive time (``direct_s``); empty when the column is absent.

    ``direct_s`` (s) is the unshared car drive time origin → destination; rows with a zero or
    missing direct time are left out, and so are rides on personal devices (:data:`DEVICE_MODES`:
    a slower bike is not a detour).
    """
    if "direct_s" not in rides.columns or rides.empty:
        return pd.Series(dtype=float)
    rides = rides[~as_str(rides["mode"]).isin(DEVICE_MODES)]
    direct = rides["direct_s"].astype(float)
    ok = direct > 0
    return rides.loc[ok, "in_vehicle_s"].astype(float) / direct[ok]


def mode_shares(trips: pd.DataFrame) -> dict[str, float]:
    """Share of all trips by final mode; unserved trips count as mode ``unserved`` (shares sum to 1)."""
    modes = as_str(trips["mode"]).where(served_mask(trips), "unserved").replace("", "unserved")
    n = len(trips)
    return {str(mode): ratio(count, n) for mode, count in sorted(modes.value_counts().items())}


def trip_kpis(trips: pd.DataFrame) -> dict[str, Any]:
    """KPIs of a set of trips (all trips, one mode, one group or one hour).

    Parameters
    ----------
    trips : trips.parquet rows (times in s, distances in m, fares in KRW).

    Returns a dict: counts, shares of all trips (0..1), time statistics in s over the trips they
    concern (door-to-door over served trips; in-vehicle over served trips that rode a vehicle;
    wait, access and egress walk and detour over shared rides), distances in m and km, fares in KRW.
    """
    n = len(trips)
    status = as_str(trips["status"])
    served = trips[served_mask(trips)]
    rides = shared_rides(trips)
    riding = served[~as_str(served["mode"]).isin(WALK_MODES)]
    detours = detour_factors(rides)
    offers = trips["n_offers_available"] if "n_offers_available" in trips else pd.Series([])
    return {
        "trips": n,
        "served": len(served),
        "completed_share": ratio((status == "completed").sum(), n),
        "fallback_share": ratio((status == "fallback").sum(), n),
        "unserved_share": ratio((status == "unserved").sum(), n),
        "served_share": ratio(len(served), n),
        "mode_share": mode_shares(trips),
        "shared_rides": len(rides),
        "shared_ride_share": ratio(len(rides), n),
        "door_to_door_mean_s": mean(served["door_to_door_s"]),
        "door_to_door_median_s": median(served["door_to_door_s"]),
        "door_to_door_p95_s": percentile(served["door_to_door_s"], 95),
        "in_vehicle_mean_s": mean(riding["in_vehicle_s"]),
        "wait_mean_s": mean(rides["wait_s"]),
        "wait_median_s": median(rides["wait_s"]),
        "wait_p95_s": percentile(rides["wait_s"], 95),
        "access_walk_mean_s": mean(rides["access_walk_s"]),
        "egress_walk_mean_s": mean(rides["egress_walk_s"]),
        "detour_factor_mean": mean(detours),
        "detour_factor_p95": percentile(detours, 95),
        "distance_mean_m": mean(served["distance_m"]),
        "passenger_km": total(riding["distance_m"]) / 1000.0,
        "fare_revenue_krw": total(rides["fare_krw"]),
        "user_cost_krw": total(served["fare_krw"]),
        "offers_available_mean": mean(offers.astype(float)),
        "no_offer_share": ratio((offers == 0).sum(), len(offers)),
    }


def hourly_kpis(trips: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per hour of desired departure ("07" = 07:00-07:59): demand, service and time KPIs.

    Parameters
    ----------
    trips : trips.parquet rows; ``depart_s`` in seconds after midnight.
    """
    if trips.empty:
        return {}
    # the masks row by row once, then each hour's rows in table order (as a groupby would give)
    hours = np.asarray(trips["depart_s"].map(hour_key).to_numpy(), dtype=str)
    served_all = served_mask(trips).to_numpy(dtype=bool)
    shared_all = served_all & is_shared_mode(trips["mode"]).to_numpy(dtype=bool)
    wait, door = trips["wait_s"], trips["door_to_door_s"]
    order = np.argsort(hours, kind="stable")
    keys, starts = np.unique(hours[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    out = {}
    for hour, start, end in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True):
        rows = order[start:end]
        served = rows[served_all[rows]]
        rides = rows[shared_all[rows]]
        ride_waits = wait.take(rides)
        out[str(hour)] = {
            "trips": len(rows),
            "served": len(served),
            "unserved": len(rows) - len(served),
            "served_share": ratio(len(served), len(rows)),
            "shared_rides": len(rides),
            "wait_mean_s": mean(ride_waits),
            "wait_p95_s": percentile(ride_waits, 95),
            "door_to_door_mean_s": mean(door.take(served)),
        }
    return out


def empty_trip_kpis() -> dict[str, Any]:
    """The KPIs of no trips at all (a declared group or mode without trips): counts 0, ratios NaN."""
    columns = [
        "trip_id",
        "status",
        "mode",
        "service",
        "depart_s",
        "door_to_door_s",
        "in_vehicle_s",
        "wait_s",
        "access_walk_s",
        "egress_walk_s",
        "distance_m",
        "fare_krw",
        "n_offers_available",
    ]
    return trip_kpis(pd.DataFrame({c: pd.Series(dtype=float) for c in columns}))

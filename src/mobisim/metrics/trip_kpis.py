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
    """Served trips: status completed or fallback.

    A trip is served when a mode the scenario offers carried it, or when it walked no further
    than the acceptable walk (``mode_choice.acceptable_walk_m``; default the walk service's
    ``max_walk_m``, 5 km). A forced walk beyond it arrives but is ``unserved``
    (:func:`forced_walk_mask`), and so is a trip that never arrived.
    """
    return as_str(trips["status"]) != "unserved"


def forced_walk_mask(trips: pd.DataFrame) -> pd.Series:
    """Unserved trips that walked all the way anyway (mode ``walk_fallback``, status unserved):
    no service carried them and the walk was longer than the acceptable walk."""
    return (as_str(trips["status"]) == "unserved") & (as_str(trips["mode"]) == "walk_fallback")


def unserved_by_reason(trips: pd.DataFrame) -> dict[str, int]:
    """Unserved trips by ``fallback_reason`` (why no service carried them: ``too_far_to_walk``,
    ``no_offer``, a service's refusal ...); a missing reason counts as ``unspecified``."""
    reasons = unserved_reasons(trips[~served_mask(trips)])
    return {str(r): int(n) for r, n in sorted(reasons.value_counts().items())}


def unserved_reasons(unserved: pd.DataFrame) -> pd.Series:
    """Each unserved trip's ``fallback_reason``, ``unspecified`` when there is none."""
    if "fallback_reason" in unserved:
        return as_str(unserved["fallback_reason"]).replace("", "unspecified")
    return pd.Series(["unspecified"] * len(unserved), index=unserved.index, dtype=object)


def shared_rides(trips: pd.DataFrame) -> pd.DataFrame:
    """Served trips whose final mode is a shared service (the base of wait, access and fare KPIs)."""
    return trips[served_mask(trips) & is_shared_mode(trips["mode"])]


def passenger_km(trips: pd.DataFrame) -> float:
    """Σ distance of the served trips that rode a vehicle (not walking), km: walking is not
    passenger-km."""
    served = trips[served_mask(trips)]
    riding = served[~as_str(served["mode"]).isin(WALK_MODES)]
    return total(riding["distance_m"]) / 1000.0


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
    concern (door-to-door over served trips and, labelled ``_all``, over every trip that arrived,
    forced walks included; in-vehicle over served trips that rode a vehicle; wait, access and
    egress walk and detour over shared rides), distances in m and km, fares in KRW.
    """
    n = len(trips)
    status = as_str(trips["status"])
    served = trips[served_mask(trips)]
    forced = trips[forced_walk_mask(trips)]
    arrived_door = trips["door_to_door_s"].dropna()
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
        "unserved": n - len(served),
        "unserved_by_reason": unserved_by_reason(trips),
        "forced_walks": len(forced),
        "forced_walk_share": ratio(len(forced), n),
        "forced_walk_door_to_door_mean_s": mean(forced["door_to_door_s"]),
        "forced_walk_distance_mean_m": mean(forced["distance_m"]),
        "mode_share": mode_shares(trips),
        "shared_rides": len(rides),
        "shared_ride_share": ratio(len(rides), n),
        "door_to_door_served_mean_s": mean(served["door_to_door_s"]),
        "door_to_door_served_median_s": median(served["door_to_door_s"]),
        "door_to_door_served_p95_s": percentile(served["door_to_door_s"], 95),
        "door_to_door_all_mean_s": mean(arrived_door),
        "door_to_door_all_median_s": median(arrived_door),
        "door_to_door_all_p95_s": percentile(arrived_door, 95),
        "in_vehicle_mean_s": mean(riding["in_vehicle_s"]),
        "wait_mean_s": mean(rides["wait_s"]),
        "wait_median_s": median(rides["wait_s"]),
        "wait_p95_s": percentile(rides["wait_s"], 95),
        "access_walk_mean_s": mean(rides["access_walk_s"]),
        "egress_walk_mean_s": mean(rides["egress_walk_s"]),
        "detour_factor_mean": mean(detours),
        "detour_factor_p95": percentile(detours, 95),
        "distance_mean_m": mean(served["distance_m"]),
        "passenger_km": passenger_km(trips),
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
    forced_all = forced_walk_mask(trips).to_numpy(dtype=bool)
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
            "forced_walks": int(forced_all[rows].sum()),
            "door_to_door_served_mean_s": mean(door.take(served)),
            "door_to_door_all_mean_s": mean(door.take(rows)),
        }
    return out


def empty_trip_kpis() -> dict[str, Any]:
    """The KPIs of no trips at all (a declared group or mode without trips): counts 0, ratios NaN."""
    columns = [
        "trip_id",
        "status",
        "fallback_reason",
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


#: separates origin and destination zone in the keys of ``by_od`` ("Town centre -> Industrial park")
OD_SEPARATOR = " -> "


def zone_labels(trips: pd.DataFrame, end: str) -> pd.Series:
    """The zone of each trip's ``end`` ("origin" or "dest"): its named place (``<end>_place``),
    else ``node <index>`` for a trip given by node or coordinates."""
    if f"{end}_node" not in trips:
        nodes = pd.Series("unknown", index=trips.index, dtype=object)
    else:
        nodes = "node " + trips[f"{end}_node"].astype("int64").astype(str)
    place = f"{end}_place"
    if place not in trips:
        return nodes
    names = as_str(trips[place])
    return names.where(names != "", nodes)


def od_unserved_kpis(trips: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Who is left without service, by origin → destination zone: for each zone pair with at
    least one unserved trip, ``trips``, ``unserved``, ``unserved_share``, ``forced_walks``, the
    forced walks' mean door-to-door time (s) and distance (m), and ``unserved_by_reason``.

    Keys are ``"<origin zone> -> <destination zone>"`` (:func:`zone_labels`), sorted.
    """
    if trips.empty:
        return {}
    keys = zone_labels(trips, "origin") + OD_SEPARATOR + zone_labels(trips, "dest")
    unserved = ~served_mask(trips)
    chosen = keys.isin(set(keys[unserved]))
    forced = forced_walk_mask(trips)
    # one pass per column over the chosen pairs (a pair's rows: ``keys == key``)
    frame = pd.DataFrame(
        {
            "key": keys[chosen],
            "unserved": unserved[chosen],
            "forced": forced[chosen],
            "door_s": trips.loc[chosen, "door_to_door_s"].where(forced[chosen]),
            "distance_m": trips.loc[chosen, "distance_m"].where(forced[chosen]),
        }
    )
    sums = frame.groupby("key", sort=True).agg(
        trips=("unserved", "size"),
        unserved=("unserved", "sum"),
        forced_walks=("forced", "sum"),
        door_s=("door_s", "mean"),
        distance_m=("distance_m", "mean"),
    )
    reasons = trips[chosen & unserved]
    reason_of = pd.Series(unserved_reasons(reasons), index=reasons.index)
    by_reason = reason_of.groupby(keys[reasons.index]).value_counts()
    out = {}
    for key, row in sums.iterrows():
        n, n_unserved = int(row["trips"]), int(row["unserved"])
        counts = by_reason.loc[key]
        out[str(key)] = {
            "trips": n,
            "unserved": n_unserved,
            "unserved_share": ratio(n_unserved, n),
            "forced_walks": int(row["forced_walks"]),
            "forced_walk_door_to_door_mean_s": float(row["door_s"]),
            "forced_walk_distance_mean_m": float(row["distance_m"]),
            "unserved_by_reason": {str(r): int(c) for r, c in sorted(counts.items())},
        }
    return out

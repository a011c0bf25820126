"""KPIs as pure functions of a run's saved tables (events, trips, vehicles).

Nothing here reads agent objects: ``mobisim kpis RUN_DIR`` recomputes the same numbers from a result
folder alone. Definitions follow the reference sheet §7 (MATSim DRT [K7], FleetPy [K8]); see
docs/kpis.md. Empty-case rule: a ratio whose denominator is zero is NaN (``null`` in kpis.json),
a count or a sum over nothing is 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

EMPTY_STATES = ("in_service_empty", "to_pickup", "repositioning", "to_charger")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or NaN when the denominator is zero."""
    return float(numerator) / float(denominator) if denominator else math.nan


def _stat(values: pd.Series, fn: str) -> float:
    values = values.dropna()
    if values.empty:
        return math.nan
    if fn == "mean":
        return float(values.mean())
    if fn == "median":
        return float(values.median())
    return float(np.percentile(values.to_numpy(), float(fn[1:])))


def trip_kpis(trips: pd.DataFrame) -> dict[str, Any]:
    """Trip-side KPIs of a trips table (one row per trip, with outcome columns).

    Shares are of all trips; wait statistics are over served trips that waited for a vehicle
    service (wait_s > 0 or a non-walk, non-car mode); times in s, distances in m, fares in KRW.
    """
    n = len(trips)
    served = trips[trips["status"] != "unserved"]
    counts = trips["mode"].where(trips["status"] != "unserved", "unserved").value_counts()
    shared = served[~served["mode"].isin(["walk", "car", "walk_fallback", "car_fallback"])]
    return {
        "trips": n,
        "completed_share": ratio((trips["status"] == "completed").sum(), n),
        "fallback_share": ratio((trips["status"] == "fallback").sum(), n),
        "unserved_share": ratio((trips["status"] == "unserved").sum(), n),
        "served_share": ratio(len(served), n),
        "mode_share": {str(mode): ratio(c, n) for mode, c in sorted(counts.items())},
        "door_to_door_mean_s": _stat(served["door_to_door_s"], "mean"),
        "door_to_door_median_s": _stat(served["door_to_door_s"], "median"),
        "door_to_door_p95_s": _stat(served["door_to_door_s"], "p95"),
        "in_vehicle_mean_s": _stat(served["in_vehicle_s"], "mean"),
        "access_walk_mean_s": _stat(served["access_walk_s"], "mean"),
        "egress_walk_mean_s": _stat(served["egress_walk_s"], "mean"),
        "wait_mean_s": _stat(shared["wait_s"], "mean"),
        "wait_median_s": _stat(shared["wait_s"], "median"),
        "wait_p95_s": _stat(shared["wait_s"], "p95"),
        "distance_mean_m": _stat(served["distance_m"], "mean"),
        "passenger_km": float(served["distance_m"].sum() / 1000.0),
        "fare_revenue_krw": float(shared["fare_krw"].sum()),
    }


def vehicle_kpis(events: pd.DataFrame, service: str | None = None) -> dict[str, Any]:
    """Vehicle-side KPIs from ``vehicle_leg`` rows of shared fleets (vehicle_id >= 0).

    km by state, empty share (km with nobody on board / all km), occupancy (passenger-km per
    vehicle-km, distance-weighted [K7][K8]).
    """
    legs = events[(events["event"] == "vehicle_leg") & (events["vehicle_id"] >= 0)]
    if service is not None:
        legs = legs[legs["service"] == service]
    km = legs["distance_m"].fillna(0) / 1000.0
    by_state = km.groupby(legs["state"].astype(str)).sum()
    total = float(km.sum())
    pax = legs["pax"].clip(lower=0)
    return {
        "vehicle_km": total,
        "vehicle_km_by_state": {str(k): float(v) for k, v in sorted(by_state.items())},
        "empty_share": ratio(float(km[(pax == 0)].sum()), total),
        "occupancy_pax": ratio(float((km * pax).sum()), total),
        "vehicles_moving": int(legs["vehicle_id"].nunique()),
    }


def service_kpis(events: pd.DataFrame, trips: pd.DataFrame, service: str) -> dict[str, Any]:
    """KPIs of one service: requests, rejections, the trips it served and its vehicles."""
    ev = events[events["service"] == service]
    requests = int((ev["event"] == "mode_choice").sum())
    rejected = int(ev["event"].isin(["reject", "give_up"]).sum())
    served = trips[(trips["service"] == service) & (trips["status"] != "unserved")]
    out = {
        "requests": requests,
        "rejected": rejected,
        "served": len(served),
        "rejection_rate": ratio(rejected, rejected + len(served)),
        "wait_mean_s": _stat(served["wait_s"], "mean"),
        "wait_p95_s": _stat(served["wait_s"], "p95"),
        "in_vehicle_mean_s": _stat(served["in_vehicle_s"], "mean"),
        "passenger_km": float(served["distance_m"].sum() / 1000.0),
        "fare_revenue_krw": float(served["fare_krw"].sum()),
    }
    out.update(vehicle_kpis(events, service))
    return out


def hourly_kpis(trips: pd.DataFrame) -> dict[str, Any]:
    """Per departure hour: trips, served share, mean door-to-door and mean wait (s)."""
    hour = (trips["depart_s"] // 3600).astype(int)
    out = {}
    for h, part in trips.groupby(hour):
        served = part[part["status"] != "unserved"]
        out[f"{h:02d}"] = {
            "trips": len(part),
            "served_share": ratio(len(served), len(part)),
            "door_to_door_mean_s": _stat(served["door_to_door_s"], "mean"),
            "wait_mean_s": _stat(served["wait_s"], "mean"),
        }
    return out


def compute_kpis(
    tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """All KPIs of a run: ``system``, ``by_mode``, ``by_group``, ``by_service``, ``by_hour``.

    ``tables`` needs ``events`` and ``trips``; ``meta`` is copied into the result unchanged.
    """
    events, trips = tables["events"], tables["trips"]
    system = trip_kpis(trips)
    system.update(vehicle_kpis(events))
    services = sorted(s for s in trips["service"].dropna().unique() if s) + sorted(
        s for s in events.loc[events["vehicle_id"] >= 0, "service"].dropna().unique() if s
    )
    return {
        "meta": dict(meta or {}),
        "system": system,
        "by_mode": {str(m): trip_kpis(part) for m, part in trips.groupby("mode") if m},
        "by_group": {str(g): trip_kpis(part) for g, part in trips.groupby("group")},
        "by_service": {s: service_kpis(events, trips, s) for s in dict.fromkeys(services)},
        "by_hour": hourly_kpis(trips),
    }

"""Vehicle-side KPIs: vehicle-km by state, empty share, occupancy, pooling, utilisation.

Pure functions of the ``vehicle_leg`` / ``vehicle_dwell`` / ``board`` / ``alight`` rows of the event
table and of vehicles.parquet. Definitions follow MATSim DRT [K7] and FleetPy [K8]; docs/kpis.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mobisim.metrics.common import (
    EMPTY_DRIVE_STATES,
    IN_SERVICE_STATES,
    as_str,
    event_rows,
    ratio,
    total,
)


def legs_of(events: pd.DataFrame, service: str | None = None, shared_only: bool = False):
    """The ``vehicle_leg`` rows (of one service; of registered vehicles only when ``shared_only``)."""
    legs = event_rows(events, ("vehicle_leg",))
    if service is not None:
        legs = legs[as_str(legs["service"]) == service]
    if shared_only:
        legs = legs[legs["vehicle_id"] >= 0]
    return legs


def state_rows(events: pd.DataFrame, service: str | None = None) -> pd.DataFrame:
    """Legs and dwells of registered vehicles (vehicle_id ≥ 0) with time_s, duration_s, state."""
    rows = event_rows(events, ("vehicle_leg", "vehicle_dwell"))
    rows = rows[rows["vehicle_id"] >= 0]
    if service is not None:
        rows = rows[as_str(rows["service"]) == service]
    return rows


def km_by_state(legs: pd.DataFrame) -> dict[str, float]:
    """Vehicle-km of ``legs`` by state (km)."""
    km = legs["distance_m"].fillna(0.0) / 1000.0
    grouped = km.groupby(as_str(legs["state"])).sum()
    return {str(state): float(value) for state, value in sorted(grouped.items())}


def hours_by_state(rows: pd.DataFrame) -> dict[str, float]:
    """Vehicle-hours of legs and dwells by state (h)."""
    hours = rows["duration_s"].fillna(0.0) / 3600.0
    grouped = hours.groupby(as_str(rows["state"])).sum()
    return {str(state): float(value) for state, value in sorted(grouped.items())}


def pooled_trips(events: pd.DataFrame, service: str | None = None) -> tuple[int, int]:
    """(pooled rides, boarded rides) from ``board``/``alight`` rows.

    A ride is pooled when, at some moment between its boarding and its alighting, another trip is on
    the same vehicle [K7]. Rows are taken in time order, ties in emission order.
    """
    rows = event_rows(events, ("board", "alight"))
    if service is not None:
        rows = rows[as_str(rows["service"]) == service]
    if rows.empty:
        return 0, 0
    # time order, ties in emission order (a stable sort of the rows as they come)
    order = np.argsort(rows["time_s"].to_numpy(dtype=float), kind="stable")
    boards = (as_str(rows["event"]).to_numpy() == "board")[order].tolist()
    vehicles = rows["vehicle_id"].to_numpy(dtype=np.int64)[order].tolist()
    trip_ids = rows["trip_id"].to_numpy(dtype=np.int64)[order].tolist()
    on_board: dict[int, set[int]] = {}
    pooled: set[int] = set()
    boarded: set[int] = set()
    for board, vehicle, trip in zip(boards, vehicles, trip_ids, strict=True):
        riders = on_board.get(vehicle)
        if riders is None:
            riders = on_board[vehicle] = set()
        if board:
            boarded.add(trip)
            if riders and (len(riders) > 1 or trip not in riders):
                pooled.update(riders)
                pooled.add(trip)
            riders.add(trip)
        else:
            riders.discard(trip)
    return len(pooled), len(boarded)


def fleet_size(vehicles: pd.DataFrame, events: pd.DataFrame, service: str | None = None) -> int:
    """Registered vehicles (of one service) that carry riders: operations vans (any ``crew`` leg) excluded."""
    if vehicles.empty or "vehicle_id" not in vehicles:
        return 0
    return _fleet_size(vehicles, legs_of(events, service, shared_only=True), service)


def _fleet_size(vehicles: pd.DataFrame, shared_legs: pd.DataFrame, service: str | None) -> int:
    """:func:`fleet_size` from the service's legs of registered vehicles (``legs_of(...,
    shared_only=True)``)."""
    if vehicles.empty or "vehicle_id" not in vehicles:
        return 0
    fleet = vehicles
    if service is not None:
        fleet = fleet[as_str(fleet["service"]) == service]
    legs = shared_legs
    crew = set(legs.loc[as_str(legs["state"]) == "crew", "vehicle_id"].astype(int))
    return int((~fleet["vehicle_id"].astype(int).isin(crew)).sum())


def fleet_kpis(
    events: pd.DataFrame,
    vehicles: pd.DataFrame,
    rides: int,
    period: tuple[float, float],
    service: str | None = None,
    shared_only: bool = False,
) -> dict[str, Any]:
    """Vehicle KPIs of one service (or of all shared fleets with ``service=None, shared_only=True``).

    Parameters
    ----------
    events : the event table.
    vehicles : vehicles.parquet (vehicle_id, service, vehicle_type, ...).
    rides : rides served by these vehicles (for rides per vehicle-hour).
    period : (start_s, end_s) of the analysed day, seconds after midnight.
    service : service name, or None for every service.
    shared_only : only registered vehicles (vehicle_id ≥ 0), i.e. leave private cars out.

    Returns vehicle-km (km) in total and by state, empty and repositioning shares of vehicle-km,
    occupancy (pkm / vkm, pax), pooling rate, fleet size, vehicle-hours by state (h),
    utilisation (share) and rides per vehicle-hour and per revenue hour (rides/h).
    """
    legs = legs_of(events, service, shared_only)
    km = legs["distance_m"].fillna(0.0) / 1000.0
    pax = legs["pax"].clip(lower=0)
    vkm = float(km.sum())
    by_state = km_by_state(legs)
    empty_km = float(km[pax == 0].sum())
    pooled, boarded = pooled_trips(events, service)
    hours = hours_by_state(state_rows(events, service))
    in_service_h = sum(v for k, v in hours.items() if k in IN_SERVICE_STATES)
    fleet = _fleet_size(vehicles, legs if shared_only else legs[legs["vehicle_id"] >= 0], service)
    period_h = max(period[1] - period[0], 0.0) / 3600.0
    available_h = fleet * period_h - hours.get("charging", 0.0)
    return {
        "vehicle_km": vkm,
        "vehicle_km_by_state": by_state,
        "empty_km": empty_km,
        "empty_share": ratio(empty_km, vkm),
        "deadhead_share": ratio(sum(by_state.get(s, 0.0) for s in EMPTY_DRIVE_STATES), vkm),
        "repositioning_share": ratio(by_state.get("repositioning", 0.0), vkm),
        "onboard_passenger_km": total(km * pax),
        "occupancy_pax": ratio(float((km * pax).sum()), vkm),
        "pooled_rides": pooled,
        "pooling_rate": ratio(pooled, boarded),
        "fleet_size": fleet,
        "vehicles_moving": int(legs.loc[legs["vehicle_id"] >= 0, "vehicle_id"].nunique()),
        "vehicle_hours_by_state": hours,
        "in_service_h": float(in_service_h),
        "fleet_utilisation": ratio(in_service_h, available_h if available_h > 0 else 0.0),
        "rides_per_vehicle_hour": ratio(rides, fleet * period_h),
        "rides_per_revenue_hour": ratio(rides, in_service_h),
    }

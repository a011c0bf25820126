"""KPIs as pure functions of a run's saved tables (events, trips, vehicles, energy tables).

Nothing here reads agent objects: ``mobisim kpis RUN_DIR`` recomputes the same numbers from a result
folder alone. Definitions follow the reference sheet §7 (MATSim DRT [K7], FleetPy [K8], MaaSSim
[K9]); see docs/kpis.md. Empty-case rule: a ratio whose denominator is zero, and a statistic over
no values, is NaN (``null`` in kpis.json); a count or a sum over nothing is 0.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mobisim.metrics.charging import charging_kpis
from mobisim.metrics.common import (
    NO_VEHICLE_MARKERS,
    as_str,
    event_rows,
    period_s,
    ratio,
    reuse_event_rows,
)
from mobisim.metrics.economics import e_mileage_kpis, service_economics, system_economics
from mobisim.metrics.energy import energy_kpis
from mobisim.metrics.fleet import fleet_kpis
from mobisim.metrics.intermodal import intermodal_kpis
from mobisim.metrics.stations import station_kpis, station_summary
from mobisim.metrics.transit import line_kpis
from mobisim.metrics.trip_kpis import (
    empty_trip_kpis,
    hourly_kpis,
    od_unserved_kpis,
    served_mask,
    trip_kpis,
)
from mobisim.services.private_bike import BIKE_VEHICLE_TYPES

#: the scopes of the KPI dict, in order
SCOPES = ("system", "by_service", "by_mode", "by_group", "by_hour", "by_od", "by_station")


def service_names(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> list[str]:
    """Services to report: declared in ``meta["services"]``, chosen, serving, or owning vehicles."""
    events, trips = tables["events"], tables["trips"]
    vehicles = tables.get("vehicles", pd.DataFrame())
    names = set(meta.get("services") or [])
    names |= set(as_str(trips["service"]).unique())
    names |= set(as_str(event_rows(events, ("mode_choice",))["service"]).unique())
    if "service" in vehicles:
        names |= set(as_str(vehicles["service"]).unique())
    return sorted(n for n in names if n)


def request_kpis(
    events: pd.DataFrame,
    trips: pd.DataFrame,
    service: str,
    refusals: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Requests, served rides, failed requests by reason, rejection rate and sharing availability.

    A request is a ``mode_choice`` of the service; a failed request is a ``fallback`` row of the
    service (refused, gave up, no vehicle left ...); a ride is a served trip whose final service it is.
    ``refusals`` (refusals.parquet: service, reason, trips) counts the trips the service made no
    offer to at departure; those with no vehicle in reach count against ``vehicle_found_share``
    (the share of commuters who asked and found a vehicle, [K7]).
    """
    mine = event_rows(events, ("mode_choice", "fallback"))
    mine = mine[as_str(mine["service"]) == service]
    kinds = as_str(mine["event"])
    requests = int((kinds == "mode_choice").sum())
    reasons = as_str(mine.loc[kinds == "fallback", "detail"]).replace("", "unspecified")
    rejected = len(reasons)
    no_vehicle = sum(any(marker in r for marker in NO_VEHICLE_MARKERS) for r in reasons)
    served = int((served_mask(trips) & (as_str(trips["service"]) == service)).sum())
    refused: dict[str, int] = {}
    if refusals is not None and len(refusals):
        mine_refused = refusals[as_str(refusals["service"]) == service]
        refused = {
            str(r): int(n)
            for r, n in zip(mine_refused["reason"], mine_refused["trips"], strict=True)
        }
    refused_no_vehicle = sum(
        n for r, n in refused.items() if any(marker in r for marker in NO_VEHICLE_MARKERS)
    )
    return {
        "requests": requests,
        "served": served,
        "rejected": rejected,
        "rejected_by_reason": {str(k): int(v) for k, v in sorted(reasons.value_counts().items())},
        "rejection_rate": ratio(rejected, rejected + served),
        "request_served_share": ratio(served, requests),
        "refused_at_departure": sum(refused.values()),
        "refused_at_departure_by_reason": dict(sorted(refused.items())),
        "vehicle_found_share": ratio(requests - no_vehicle, requests + refused_no_vehicle),
    }


def service_kpis(
    tables: dict[str, pd.DataFrame],
    service: str,
    period: tuple[float, float],
    economics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every KPI of one service: its requests, the trips it served, its vehicles, its energy and,
    with ``economics`` (``meta["economics"]``, :mod:`mobisim.metrics.economics`), its costs."""
    events, trips = tables["events"], tables["trips"]
    vehicles = tables.get("vehicles", pd.DataFrame())
    mine = trips[as_str(trips["service"]) == service]
    out = request_kpis(events, trips, service, tables.get("refusals"))
    ride_kpis = trip_kpis(mine) if len(mine) else empty_trip_kpis()
    for key in (
        "wait_mean_s",
        "wait_median_s",
        "wait_p95_s",
        "access_walk_mean_s",
        "egress_walk_mean_s",
        "in_vehicle_mean_s",
        "door_to_door_served_mean_s",
        "detour_factor_mean",
        "passenger_km",
        "fare_revenue_krw",
        "user_cost_krw",
    ):
        out[key] = ride_kpis[key]
    out.update(fleet_kpis(events, vehicles, out["served"], period, service=service))
    out.update(charging_kpis(events, service))
    out.update(energy_kpis(tables, service, out["vehicle_km"], out["passenger_km"]))
    out.update(line_kpis(events, service))  # stop-based lines only (transit, fixed routes)
    out.update(service_economics(tables, economics or {}, service, out))
    return out


def system_kpis(tables: dict[str, pd.DataFrame], period: tuple[float, float]) -> dict[str, Any]:
    """System-wide KPIs: every trip; the shared fleets (vehicle_id ≥ 0); all energy."""
    events, trips = tables["events"], tables["trips"]
    vehicles = tables.get("vehicles", pd.DataFrame())
    out = trip_kpis(trips)
    shared_rides = out["shared_rides"]
    out.update(fleet_kpis(events, vehicles, shared_rides, period, shared_only=True))
    legs = event_rows(events, ("vehicle_leg",))
    # private cars only: private bikes (also vehicle_id -1) are no car km
    private = legs[(legs["vehicle_id"] < 0) & ~as_str(legs["detail"]).isin(BIKE_VEHICLE_TYPES)]
    out["private_car_km"] = float(private["distance_m"].fillna(0.0).sum()) / 1000.0
    out.update(charging_kpis(events))
    out.update(
        energy_kpis(tables, None, out["vehicle_km"] + out["private_car_km"], out["passenger_km"])
    )
    out.update(intermodal_kpis(events, trips))  # transfers, ridership by line, access modes
    return out


def compute_kpis(
    tables: dict[str, pd.DataFrame], meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """All KPIs of a run: ``system``, ``by_service``, ``by_mode``, ``by_group``, ``by_hour``,
    ``by_od`` (origin -> destination zones with unserved trips), ``by_station``.

    Parameters
    ----------
    tables : ``events`` and ``trips`` (required), ``vehicles`` and energy tables (optional), as
        saved in a run folder.
    meta : run metadata, copied into ``meta`` unchanged. Used keys: ``period_start_s`` and
        ``period_end_s`` (s after midnight; default: the span of the events), ``groups`` and
        ``services`` (declared names: they are reported even with no trips), ``economics`` (the
        resolved prices of :func:`mobisim.metrics.economics.economics_params`; without it no
        cost KPIs).

    Returns a nested, JSON-serialisable dict of floats, ints and dicts (NaN = not defined).
    """
    with reuse_event_rows():
        return _compute_kpis(tables, dict(meta or {}))


def _compute_kpis(tables: dict[str, pd.DataFrame], meta: dict[str, Any]) -> dict[str, Any]:
    trips = tables["trips"]
    period = period_s(meta, tables["events"])
    groups = sorted(set(as_str(trips["group"]).unique()) | set(meta.get("groups") or []))
    by_group = {}
    for group in groups:
        part = trips[as_str(trips["group"]) == group]
        by_group[group] = trip_kpis(part) if len(part) else empty_trip_kpis()
    modes = as_str(trips["mode"])
    stations = station_kpis(tables["events"], period)
    system = system_kpis(tables, period)
    system.update(station_summary(stations))
    economics = meta.get("economics") or {}
    by_service = {
        s: service_kpis(tables, s, period, economics) for s in service_names(tables, meta)
    }
    system.update(system_economics(by_service, economics))
    system.update(e_mileage_kpis(trips, economics))
    return {
        "meta": meta,
        "system": system,
        "by_service": by_service,
        "by_mode": {str(m): trip_kpis(trips[modes == m]) for m in sorted(set(modes.unique())) if m},
        "by_group": by_group,
        "by_hour": hourly_kpis(trips),
        "by_od": od_unserved_kpis(trips),
        "by_station": stations,
    }


#: units by KPI name suffix (the longest matching suffix wins); names carry their unit
UNIT_SUFFIXES = {
    "_share": "share",
    "_rate": "share",
    "_utilisation": "share",
    "_s": "s",
    "_h": "h",
    "_m": "m",
    "_km": "km",
    "_kwh": "kWh",
    "_kw": "kW",
    "_krw": "KRW",
    "_kg": "kg",
    "_pax": "pax",
    "_kwh_per_vkm": "kWh/vkm",
    "_kwh_per_pkm": "kWh/pkm",
    "_g_per_vkm": "g/vkm",
    "_g_per_pkm": "g/pkm",
    "_per_vehicle_hour": "rides/h",
    "_per_revenue_hour": "rides/h",
    "_vehicle_h": "h",
    "_by_item_annual_krw": "KRW/year",
    "_annual_krw": "KRW/year",
    "_factor_mean": "ratio",
    "_factor_p95": "ratio",
    "_km_by_state": "km",
    "_hours_by_state": "h",
    "_available_mean": "offers",
    "stock_mean": "vehicles",
}


def unit_of(kpi: str) -> str:
    """The unit of a KPI from its name (``wait_mean_s`` → "s", ``mode_share.car`` → "share", counts → "count")."""
    name = kpi.split(".")[0]
    matches = [suffix for suffix in UNIT_SUFFIXES if name.endswith(suffix)]
    return UNIT_SUFFIXES[max(matches, key=len)] if matches else "count"


def _flatten(prefix: str, value: Any, out: list[tuple[str, float]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, bool | int | float):
        out.append((prefix, float(value)))
    elif value is None:
        out.append((prefix, math.nan))


def kpis_long(kpis: dict[str, Any]) -> pd.DataFrame:
    """The KPI dict as a tidy table: columns scope, key, kpi, value (float, NaN = undefined), unit.

    ``scope`` is one of :data:`SCOPES`; ``key`` the service / mode / group / hour / station name
    ("" for system); ``kpi`` the dotted KPI name (``mode_share.car``). ``meta`` is left out.
    """
    rows = []
    for scope in SCOPES:
        block = kpis.get(scope, {})
        items = [("", block)] if scope == "system" else sorted(block.items())
        for key, values in items:
            flat: list[tuple[str, float]] = []
            _flatten("", values, flat)
            rows.extend((scope, str(key), name, value, unit_of(name)) for name, value in flat)
    return pd.DataFrame(rows, columns=["scope", "key", "kpi", "value", "unit"]).astype(
        {"scope": "string", "key": "string", "kpi": "string", "value": "float64", "unit": "string"}
    )

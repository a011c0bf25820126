"""Energy and CO2 KPIs from the energy tables of a run folder (written by mobisim.energy).

Reads the per-leg energy table (``energy_legs``: one row per vehicle leg with ``service``,
``energy_kwh`` and ``co2_kg``) and the charging table (``energy_charging``: ``energy_kwh`` and the
part of it that came from PV, ``pv_kwh``) when the run wrote them. Without them the energy KPIs
are absent, not zero: a run without energy accounting says nothing about energy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, ratio

#: table names (run folder ``<name>.parquet``) read by this module
LEG_TABLE = "energy_legs"
CHARGING_TABLE = "energy_charging"


def _rows(table: pd.DataFrame | None, service: str | None) -> pd.DataFrame | None:
    if table is None:
        return None
    if service is not None and "service" in table:
        return table[as_str(table["service"]) == service]
    return table


def _sum(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].fillna(0.0).sum()) if column in frame else 0.0


def energy_kpis(
    tables: dict[str, pd.DataFrame],
    service: str | None,
    vehicle_km: float,
    passenger_km: float,
) -> dict[str, Any]:
    """Energy (kWh), CO2 (kg) and their intensities per vehicle-km and passenger-km, PV share.

    Parameters
    ----------
    tables : the run's tables; uses ``energy_legs`` and ``energy_charging`` when present.
    service : one service, or None for the whole system.
    vehicle_km : vehicle-km the energy was used for, km (denominator of the per-vkm KPIs).
    passenger_km : passenger-km carried, km (denominator of the per-pkm KPIs).
    """
    out: dict[str, Any] = {}
    legs = _rows(tables.get(LEG_TABLE), service)
    if legs is not None:
        energy_kwh, co2_kg = _sum(legs, "energy_kwh"), _sum(legs, "co2_kg")
        out.update(
            {
                "energy_kwh": energy_kwh,
                "co2_kg": co2_kg,
                "energy_kwh_per_vkm": ratio(energy_kwh, vehicle_km),
                "energy_kwh_per_pkm": ratio(energy_kwh, passenger_km),
                "co2_g_per_vkm": ratio(co2_kg * 1000.0, vehicle_km),
                "co2_g_per_pkm": ratio(co2_kg * 1000.0, passenger_km),
            }
        )
    charging = _rows(tables.get(CHARGING_TABLE), service)
    if charging is not None:
        pv_kwh = _sum(charging, "pv_kwh")
        out["pv_kwh"] = pv_kwh
        out["solar_share"] = ratio(pv_kwh, _sum(charging, "energy_kwh"))
    return out

"""Energy by mode and the private-car counterfactual, from a run's energy tables.

The counterfactual asks: what if every served trip that rode a shared service had been driven by a
private car instead? Its energy is the shared rides' passenger distance times the run's own private
car energy intensity (kWh per vehicle-km of the car legs in ``energy_legs``), one car per ride.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, ratio, service_modes
from mobisim.metrics.energy import LEG_TABLE
from mobisim.metrics.trip_kpis import passenger_km, shared_rides

#: the trips.parquet mode of private cars
CAR_MODE = "car"
#: label of the counterfactual bar
COUNTERFACTUAL = "all by private car"
#: table of the energy accounting's counterfactual (every trip made driven by private car)
CAR_REFERENCE_TABLE = "energy_counterfactual"
#: optional table of PV generation over the day (time_s, pv_kw)
PV_TABLE = "energy_pv"


def car_kwh_per_km(tables: dict[str, Any]) -> float:
    """Energy intensity of the run's private cars, kWh per vehicle-km (NaN without car legs)."""
    legs = tables.get(LEG_TABLE)
    if legs is None or "service" not in legs:
        return float("nan")
    modes = service_modes(tables["trips"])
    cars = legs[as_str(legs["service"]).map(modes).fillna("") == CAR_MODE]
    distance_km = float(cars["distance_m"].fillna(0).sum()) / 1000.0 if "distance_m" in cars else 0
    return ratio(float(cars["energy_kwh"].fillna(0).sum()), distance_km)


def energy_by_mode(tables: dict[str, Any]) -> pd.Series:
    """Energy (kWh) by mode label, plus the private-car counterfactual of the shared rides.

    Empty when the run has no ``energy_legs`` table. The counterfactual bar is left out when the
    run has no private-car legs to take the intensity from.
    """
    legs = tables.get(LEG_TABLE)
    if legs is None or legs.empty or "service" not in legs:
        return pd.Series(dtype=float)
    modes = service_modes(tables["trips"])
    label = as_str(legs["service"]).map(lambda s: modes.get(s, s))
    out = legs["energy_kwh"].fillna(0.0).groupby(label).sum().astype(float)
    intensity = car_kwh_per_km(tables)
    if intensity == intensity:  # not NaN
        rides = shared_rides(tables["trips"])
        out[COUNTERFACTUAL] = float(rides["distance_m"].fillna(0).sum()) / 1000.0 * intensity
    return out.sort_index()


def pv_profile_kw(tables: dict[str, Any]) -> pd.DataFrame:
    """PV generation over the day (columns time_s, pv_kw) when the run wrote it, else empty."""
    pv = tables.get(PV_TABLE)
    if pv is None or not {"time_s", "pv_kw"} <= set(pv.columns):
        return pd.DataFrame({"time_s": pd.Series(dtype=float), "pv_kw": pd.Series(dtype=float)})
    return pv[["time_s", "pv_kw"]].sort_values("time_s")


def energy_totals(tables: dict[str, Any]) -> dict[str, float]:
    """The day's ``energy_kwh`` and ``co2_kg`` (Σ of ``energy_legs``), ``passenger_km`` (km, as
    the KPI) and ``energy_kwh_per_pkm`` (kWh/pkm): the system energy KPIs of docs/kpis.md, from
    the tables alone. Empty when the run has no ``energy_legs`` table (no energy accounting)."""
    legs = tables.get(LEG_TABLE)
    if legs is None or "energy_kwh" not in legs:
        return {}
    energy_kwh = float(legs["energy_kwh"].fillna(0.0).sum())
    co2_kg = float(legs["co2_kg"].fillna(0.0).sum()) if "co2_kg" in legs else float("nan")
    pkm = passenger_km(tables["trips"])
    return {
        "energy_kwh": energy_kwh,
        "co2_kg": co2_kg,
        "passenger_km": pkm,
        "energy_kwh_per_pkm": ratio(energy_kwh, pkm),
    }


def car_reference(tables: dict[str, Any]) -> dict[str, float]:
    """Every trip the run made driven by private car, one car per trip (the ``all`` row of
    ``energy_counterfactual``, docs/energy.md): ``energy_kwh``, ``co2_kg``, ``passenger_km``
    (= its car-km) and ``energy_kwh_per_pkm``. Empty when the run has no such table."""
    table = tables.get(CAR_REFERENCE_TABLE)
    if table is None or "all" not in set(as_str(table["service"])):
        return {}
    row = table[as_str(table["service"]) == "all"].iloc[0]
    energy_kwh, car_km = float(row["counterfactual_energy_kwh"]), float(row["car_km"])
    return {
        "energy_kwh": energy_kwh,
        "co2_kg": float(row["counterfactual_co2_kg"]),
        "passenger_km": car_km,
        "energy_kwh_per_pkm": ratio(energy_kwh, car_km),
    }

"""Energy by mode and the private-car counterfactual, from a run's energy tables.

The counterfactual asks: what if every served trip that rode a shared service had been driven by a
private car instead? Its energy is the shared rides' passenger distance times the run's own private
car energy intensity (kWh per vehicle-km of the car legs in ``energy_legs``), one car per ride.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, ratio
from mobisim.metrics.energy import LEG_TABLE
from mobisim.metrics.trip_kpis import shared_rides

#: the trips.parquet mode of private cars
CAR_MODE = "car"
#: label of the counterfactual bar
COUNTERFACTUAL = "all by private car"
#: optional table of PV generation over the day (time_s, pv_kw)
PV_TABLE = "energy_pv"


def service_modes(trips: pd.DataFrame) -> dict[str, str]:
    """Each service's mode label, the most frequent final mode of the trips it served."""
    served = trips[as_str(trips["service"]) != ""]
    out = {}
    for service, part in served.groupby(as_str(served["service"]), sort=True):
        out[str(service)] = str(as_str(part["mode"]).value_counts().index[0])
    return out


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

"""Energy and CO2 of a run, as pure functions of its tables (events, vehicles, trips) and config.

``energy_tables`` returns (each a DataFrame, saved as ``<name>.parquet`` in the run folder):

- ``energy_legs``: one row per ``vehicle_leg``/``vehicle_dwell`` row: service, mode, vehicle_id,
  vehicle_type, distance_m, duration_s, pax, state, ``battery_kwh`` (drawn from the pack),
  ``plug_kwh`` (= battery / the service's charging efficiency), ``fuel_l``/``fuel_nm3``,
  ``energy_kwh`` (at the energy boundary: plug kWh for electric, fuel kWh-equivalent for
  combustion), ``co2_kg`` (plug kWh × the service's charging mix factor, or fuel × factor).
- ``energy_charging``: one row per charging session (load_profile.py) with ``energy_kwh`` (= plug
  kWh), its ``pv_kwh`` (PV directly + PV through storage), ``pv_direct_kwh``, ``storage_kwh``,
  ``grid_kwh`` and ``co2_kg``.
- ``energy_load``: per site and load bin (5 min): load, PV, PV used, storage in/out, grid, surplus.
- ``energy_pv``: PV output of all sites per bin (``time_s``, ``pv_kw``).
- ``energy_vehicles``: per vehicle (private cars: one row per service, vehicle_id −1): vkm, pkm,
  kWh battery and plug, litres, CO2, charged kWh, battery states of charge.
- ``energy_groups``: per ``level`` (service | mode | vehicle_type | total) and ``key``: vkm, pkm,
  kWh battery/plug, fuel, energy kWh, CO2, their intensities per vkm and pkm, charged kWh,
  charging peak kW, PV kWh and solar share.
- ``energy_counterfactual``: per service and in total: the trips made (completed or fallback),
  the car km they would have driven, the energy and CO2 of driving them by private car
  (``energy.counterfactual_vehicle_type``, petrol 0.67 kWh/km and 177 gCO2/km by default
  [F1][F3]) against the run's actual energy and CO2, and the saving.
- ``energy_balance``: per tracked electric vehicle: drawn vs charged − change in stored energy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mobisim.energy.consumption import rows_energy
from mobisim.energy.emissions import (
    combustion_intensity,
    electricity_co2_kg,
    fuel_co2_kg,
    fuel_kwh_per_unit,
)
from mobisim.energy.load_profile import (
    service_load_kw,
    session_bins,
    sessions_from_events,
    site_profiles,
)
from mobisim.energy.vehicle_types import VehicleType, get_vehicle_type
from mobisim.errors import SimulationError
from mobisim.scenario.energy_config import EnergyConfig

#: trip statuses counted as trips made (the counterfactual drives them) when a trips table has no
#: arrival times; with them, every trip that arrived is made (served ones and forced walks, which
#: are unserved but still travelled)
MADE = ("completed", "fallback")
#: relative tolerance of the energy balance of every electric vehicle (0.1 %)
BALANCE_TOLERANCE = 1e-3
_SUMS = ("vkm", "pkm", "battery_kwh", "plug_kwh", "fuel_l", "fuel_nm3", "energy_kwh", "co2_kg")


def _str(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "").astype(str)


def _types(names, config: EnergyConfig) -> dict[str, VehicleType]:
    return {n: get_vehicle_type(n, config.vehicle_types) for n in sorted(set(names)) if n}


def service_modes(trips: pd.DataFrame, vehicles: pd.DataFrame) -> dict[str, str]:
    """Mode label of each service: the most frequent mode of its trips (else its name).

    Parameters:
        trips: the trips table (``service``, ``mode``).
        vehicles: the vehicles table (services without trips keep their own name as mode).
    """
    modes: dict[str, str] = {}
    if {"service", "mode"} <= set(trips.columns) and len(trips):
        pairs = pd.DataFrame({"service": _str(trips["service"]), "mode": _str(trips["mode"])})
        pairs = pairs[(pairs["service"] != "") & (pairs["mode"] != "")]
        for service, part in pairs.groupby("service", sort=True):
            modes[str(service)] = str(part["mode"].value_counts().index[0])
    for service in _str(vehicles.get("service", pd.Series(dtype=str))).unique():
        modes.setdefault(str(service), str(service))
    return modes


def vehicle_rows(
    events: pd.DataFrame, vehicles: pd.DataFrame, config: EnergyConfig
) -> pd.DataFrame:
    """The ``vehicle_leg``/``vehicle_dwell`` rows with their vehicle type, battery kWh and fuel.

    Parameters:
        events: the run's event table.
        vehicles: the vehicles table (``vehicle_id``, ``vehicle_type``); rows of vehicle −1
            (private cars) take their type from the event's ``detail``.
        config: the energy section (vehicle type overrides).

    Raises SimulationError if a row's vehicle is not registered and names no type.
    """
    kind = _str(events["event"])
    rows = events[kind.isin(("vehicle_leg", "vehicle_dwell"))]
    by_id = pd.Series(
        _str(vehicles["vehicle_type"]).to_numpy(), index=vehicles["vehicle_id"].to_numpy()
    )
    vtype = rows["vehicle_id"].map(by_id)
    vtype = vtype.where(vtype.notna(), _str(rows["detail"])).fillna("").astype(str)
    missing = rows.loc[vtype == "", "vehicle_id"].unique()
    if len(missing):
        raise SimulationError(
            f"vehicle events of vehicles without a vehicle type (ids {sorted(missing)[:10]}): "
            "register vehicles with ctx.new_vehicle or give the type in `detail`"
        )
    out = pd.DataFrame(
        {
            "time_s": rows["time_s"].to_numpy(float),
            "event": _str(rows["event"]).to_numpy(),
            "service": _str(rows["service"]).to_numpy(),
            "vehicle_id": rows["vehicle_id"].to_numpy(np.int64),
            "vehicle_type": vtype.to_numpy(),
            "distance_m": rows["distance_m"].to_numpy(float),
            "duration_s": rows["duration_s"].to_numpy(float),
            "pax": rows["pax"].to_numpy(np.int64),
            "state": _str(rows["state"]).to_numpy(),
        }
    )
    out["battery_kwh"] = 0.0
    out["fuel"] = 0.0
    for name, vt in _types(out["vehicle_type"], config).items():
        mask = (out["vehicle_type"] == name).to_numpy()
        part = out[mask]
        battery, fuel = rows_energy(
            vt,
            part["event"].to_numpy(),
            part["distance_m"].to_numpy(),
            part["duration_s"].to_numpy(),
            part["pax"].to_numpy(),
            part["state"].to_numpy(),
        )
        out.loc[mask, "battery_kwh"] = battery
        out.loc[mask, "fuel"] = fuel
    return out


def _charging_mix(charging: pd.DataFrame) -> tuple[dict, dict]:
    """Per service: battery kWh per plug kWh, and kgCO2 per plug kWh of its charging."""
    efficiency, factor = {}, {}
    for service, part in charging.groupby("service"):
        plug = float(part["plug_kwh"].sum())
        if plug > 0:
            efficiency[service] = float(part["battery_kwh"].sum()) / plug
            factor[service] = float(part["co2_kg"].sum()) / plug
    return efficiency, factor


def _legs_table(rows, types, modes, charging, config) -> pd.DataFrame:
    efficiency, factor = _charging_mix(charging)
    legs = rows.copy()
    legs.insert(2, "mode", legs["service"].map(lambda s: modes.get(s, s)))
    powertrains = {name: vt.powertrain for name, vt in types.items()}
    powertrain = legs["vehicle_type"].map(powertrains)
    kwh_per_unit = powertrain.map(
        {p: fuel_kwh_per_unit(p, config) for p in set(powertrains.values())}
    )
    co2_per_unit = powertrain.map(
        {p: fuel_co2_kg(p, 1.0, config) for p in set(powertrains.values())}
    )
    eff = legs["service"].map(efficiency).fillna(config.charge_efficiency)
    legs["plug_kwh"] = legs["battery_kwh"] / eff
    legs["fuel_l"] = np.where(powertrain.isin(("petrol", "diesel")), legs["fuel"], 0.0)
    legs["fuel_nm3"] = np.where(powertrain == "cng", legs["fuel"], 0.0)
    fuel_kwh = legs["fuel"] * kwh_per_unit
    fuel_co2 = legs["fuel"] * co2_per_unit
    grid_factor = legs["service"].map(factor).fillna(config.grid_kgco2e_per_kwh)
    legs["energy_kwh"] = legs["plug_kwh"] + fuel_kwh
    legs["co2_kg"] = legs["plug_kwh"] * grid_factor + fuel_co2
    legs["vkm"] = np.where(legs["event"] == "vehicle_leg", legs["distance_m"].fillna(0.0), 0.0)
    legs["vkm"] /= 1000.0
    legs["pkm"] = legs["vkm"] * legs["pax"].clip(lower=0)
    return legs.drop(columns="fuel")


def _vehicles_table(legs, charging, vehicles) -> pd.DataFrame:
    keys = ["vehicle_id", "service", "vehicle_type"]
    per = legs.groupby(keys, as_index=False)[list(_SUMS)].sum()
    charged = charging.groupby("vehicle_id")[["battery_kwh", "plug_kwh"]].sum()
    per["charged_kwh"] = per["vehicle_id"].map(charged["battery_kwh"]).fillna(0.0)
    per["charged_plug_kwh"] = per["vehicle_id"].map(charged["plug_kwh"]).fillna(0.0)
    for column in ("initial_soc_kwh", "final_soc_kwh"):
        if column in vehicles.columns:
            values = pd.Series(vehicles[column].to_numpy(float), index=vehicles["vehicle_id"])
            per[column] = per["vehicle_id"].map(values)
    return per


def _peak_kw(services, loads: dict[str, np.ndarray]) -> float:
    arrays = [loads[s] for s in services if s in loads]
    return float(np.sum(arrays, axis=0).max()) if arrays else 0.0


def _groups_table(legs, charging, loads: dict[str, np.ndarray], modes) -> pd.DataFrame:
    charging = charging.assign(mode=charging["service"].map(lambda s: modes.get(s, s)))
    rows = []
    for level in ("service", "mode", "vehicle_type", "total"):
        keys = ["all"] if level == "total" else sorted(set(legs[level]) | set(charging[level]))
        for key in keys:
            part = legs if level == "total" else legs[legs[level] == key]
            sessions = charging if level == "total" else charging[charging[level] == key]
            plug = float(sessions["plug_kwh"].sum())
            pv = float(sessions["pv_kwh"].sum())
            rows.append(
                {
                    "level": level,
                    "key": key,
                    **{c: float(part[c].sum()) for c in _SUMS},
                    "charged_kwh": float(sessions["battery_kwh"].sum()),
                    "charged_plug_kwh": plug,
                    "charging_peak_kw": _peak_kw(set(sessions["service"]), loads),
                    "pv_kwh": pv,
                    "solar_share": pv / plug if plug > 0 else math.nan,
                }
            )
    out = pd.DataFrame(rows)
    vkm, pkm = out["vkm"].where(out["vkm"] > 0), out["pkm"].where(out["pkm"] > 0)
    out["kwh_per_vkm"] = out["energy_kwh"] / vkm
    out["kwh_per_pkm"] = out["energy_kwh"] / pkm
    out["co2_g_per_vkm"] = 1000.0 * out["co2_kg"] / vkm
    out["co2_g_per_pkm"] = 1000.0 * out["co2_kg"] / pkm
    return out


def intensity_per_km(vt: VehicleType, config: EnergyConfig) -> tuple[float, float]:
    """(kWh per km at the energy boundary, kgCO2 per km) of a vehicle type driven empty.

    Parameters:
        vt: the vehicle type (combustion: fuel energy and tailpipe CO2; electric: plug kWh at
            the default charging efficiency on the grid factor; human: zero).
        config: the energy section (factors).
    """
    if vt.is_combustion:
        return combustion_intensity(vt, config)
    if vt.is_electric:
        plug = vt.kwh_per_km / config.charge_efficiency
        return plug, electricity_co2_kg(plug, 0.0, config)
    return 0.0, 0.0


def _car_distance(trips: pd.DataFrame, car_distance_m) -> np.ndarray:
    own = trips["distance_m"].to_numpy(float) if "distance_m" in trips else np.zeros(len(trips))
    if car_distance_m is None and "car_distance_m" in trips:
        car_distance_m = trips["car_distance_m"]
    if car_distance_m is None:
        return np.nan_to_num(own)
    if isinstance(car_distance_m, pd.Series) and "trip_id" in trips:
        values = trips["trip_id"].map(car_distance_m).to_numpy(float)
    else:
        values = np.asarray(car_distance_m, dtype=float)
    return np.where(np.isfinite(values), values, np.nan_to_num(own))


def car_distances_m(router: Any, trips: pd.DataFrame, profile: str = "car") -> pd.Series:
    """Distance (m) each trip would drive by private car, by trip_id (NaN where unreachable).

    Parameters:
        router: the run's Router (vectorised ``distances_m``).
        trips: the trips table (``trip_id``, ``origin_node``, ``dest_node``, and ``depart_s``
            where the path should be the one of the departure's time-of-day period).
        profile: router profile of private cars.
    """
    origins = trips["origin_node"].to_numpy(np.int64)
    dests = trips["dest_node"].to_numpy(np.int64)
    if "depart_s" in trips:
        depart_s = trips["depart_s"].to_numpy(float)
        distance_m = router.legs_departing(profile, origins, dests, depart_s)[1]
    else:
        distance_m = router.distances_m(profile, origins, dests)
    return pd.Series(np.asarray(distance_m, dtype=float), index=trips["trip_id"].to_numpy())


def _counterfactual_table(trips, groups, config, car_distance_m) -> pd.DataFrame:
    vt = get_vehicle_type(config.counterfactual_vehicle_type, config.vehicle_types)
    kwh_per_km, co2_per_km = intensity_per_km(vt, config)
    if "arrival_s" in trips:
        made = np.isfinite(trips["arrival_s"].to_numpy(float))
    else:
        status = _str(trips["status"]) if "status" in trips else pd.Series("completed", trips.index)
        made = status.isin(MADE).to_numpy()
    frame = pd.DataFrame(
        {
            "service": _str(trips["service"]).to_numpy()[made] if "service" in trips else "",
            "car_km": _car_distance(trips, car_distance_m)[made] / 1000.0,
        }
    )
    per = frame.groupby("service").agg(trips=("car_km", "size"), car_km=("car_km", "sum"))
    actual = groups[groups["level"] == "service"].set_index("key")
    total = groups[groups["level"] == "total"].iloc[0]
    keys = sorted(set(per.index) | set(actual.index))
    rows = []
    for key in [*keys, "all"]:
        source = per.sum() if key == "all" else per.loc[key] if key in per.index else None
        n_trips = int(source["trips"]) if source is not None else 0
        car_km = float(source["car_km"]) if source is not None else 0.0
        row_actual = total if key == "all" else actual.loc[key] if key in actual.index else None
        energy = float(row_actual["energy_kwh"]) if row_actual is not None else 0.0
        co2 = float(row_actual["co2_kg"]) if row_actual is not None else 0.0
        rows.append(
            {
                "service": key,
                "trips": n_trips,
                "car_km": car_km,
                "counterfactual_energy_kwh": car_km * kwh_per_km,
                "counterfactual_co2_kg": car_km * co2_per_km,
                "energy_kwh": energy,
                "co2_kg": co2,
                "energy_saving_kwh": car_km * kwh_per_km - energy,
                "co2_saving_kg": car_km * co2_per_km - co2,
            }
        )
    return pd.DataFrame(rows)


def energy_balance(
    legs: pd.DataFrame, charging: pd.DataFrame, vehicles: pd.DataFrame
) -> pd.DataFrame:
    """Per tracked electric vehicle: drawn, charged and stored energy (kWh) and the residual.

    Parameters:
        legs: ``energy_legs`` (battery kWh drawn per row).
        charging: ``energy_charging`` (battery kWh put in per session).
        vehicles: the vehicles table with ``initial_soc_kwh`` and ``final_soc_kwh`` (vehicles
            without them are not tracked and not checked).

    ``residual_kwh`` = drawn − (charged − (final − initial)); 0 when every kWh is accounted for.
    """
    columns = ["vehicle_id", "drawn_kwh", "charged_kwh", "stored_change_kwh", "residual_kwh"]
    if not {"initial_soc_kwh", "final_soc_kwh"} <= set(vehicles.columns):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    tracked = vehicles[vehicles["initial_soc_kwh"].notna() & vehicles["final_soc_kwh"].notna()]
    ids = tracked["vehicle_id"].to_numpy(np.int64)
    drawn = legs.groupby("vehicle_id")["battery_kwh"].sum()
    charged = charging.groupby("vehicle_id")["battery_kwh"].sum()
    out = pd.DataFrame({"vehicle_id": ids})
    out["drawn_kwh"] = out["vehicle_id"].map(drawn).fillna(0.0).to_numpy(float)
    out["charged_kwh"] = out["vehicle_id"].map(charged).fillna(0.0).to_numpy(float)
    out["stored_change_kwh"] = tracked["final_soc_kwh"].to_numpy(float) - tracked[
        "initial_soc_kwh"
    ].to_numpy(float)
    out["residual_kwh"] = out["drawn_kwh"] - (out["charged_kwh"] - out["stored_change_kwh"])
    return out


def check_energy_balance(
    events: pd.DataFrame,
    vehicles: pd.DataFrame,
    config: EnergyConfig,
    tolerance_share: float = BALANCE_TOLERANCE,
) -> pd.DataFrame:
    """Check drawn = charged − change in stored energy (within 0.1 %) for every electric vehicle.

    Parameters:
        events: the run's event table.
        vehicles: the vehicles table with the battery columns (EnergyContext.annotate).
        config: the energy section.
        tolerance_share: allowed residual as a share of the larger of drawn and charged kWh.

    Returns the balance table; raises SimulationError naming the vehicles that do not balance.
    """
    legs = vehicle_rows(events, vehicles, config)
    types = pd.Series(
        _str(vehicles["vehicle_type"]).to_numpy(), index=vehicles["vehicle_id"].to_numpy()
    )
    sessions = sessions_from_events(events, types, config)
    return _checked(energy_balance(legs, sessions, vehicles), tolerance_share)


def _checked(balance: pd.DataFrame, tolerance_share: float) -> pd.DataFrame:
    scale = np.maximum(balance["drawn_kwh"], balance["charged_kwh"])
    bad = balance[balance["residual_kwh"].abs() > tolerance_share * scale + 1e-6]
    if len(bad):
        lines = [
            f"vehicle {int(r.vehicle_id)}: drew {r.drawn_kwh:.4f} kWh, charged {r.charged_kwh:.4f} "
            f"kWh, stored {r.stored_change_kwh:+.4f} kWh (off by {r.residual_kwh:+.4f} kWh)"
            for r in bad.head(10).itertuples()
        ]
        raise SimulationError(
            f"energy balance fails for {len(bad)} electric vehicles (drawn must equal charged "
            f"- change in stored energy within {tolerance_share:.1%}): " + "; ".join(lines)
        )
    return balance


def energy_tables(
    events: pd.DataFrame,
    vehicles: pd.DataFrame,
    trips: pd.DataFrame,
    config: EnergyConfig,
    car_distance_m: pd.Series | np.ndarray | None = None,
    check_balance: bool = True,
) -> dict[str, pd.DataFrame]:
    """The energy tables of a run (see the module docstring for each table and column).

    Parameters:
        events: the run's event table.
        vehicles: the vehicles table (with battery columns from EnergyContext.annotate when the
            run tracked batteries).
        trips: the trips table with outcomes (``status``, ``service``, ``mode``, ``distance_m``).
        config: the scenario's energy section.
        car_distance_m: each trip's private-car distance, m (Series by trip_id, or an array in
            ``trips`` order; from :func:`car_distances_m`). None: a ``car_distance_m`` column of
            ``trips``, else the trip's own ``distance_m``.
        check_balance: raise SimulationError when an electric vehicle's energy does not balance.
    """
    rows = vehicle_rows(events, vehicles, config)
    types_by_id = pd.Series(
        _str(vehicles["vehicle_type"]).to_numpy(), index=vehicles["vehicle_id"].to_numpy()
    )
    sessions = sessions_from_events(events, types_by_id, config)
    types = _types(set(rows["vehicle_type"]) | set(sessions["vehicle_type"]), config)
    capacities = (
        pd.Series(vehicles["battery_kwh"].to_numpy(float), index=vehicles["vehicle_id"].to_numpy())
        if "battery_kwh" in vehicles
        else types_by_id.map(lambda n: types[n].battery_kwh if n in types else math.nan)
    )
    bin_s = config.load_bin_s
    parts = session_bins(sessions, capacities, types, config, bin_s)
    profile, charging = site_profiles(sessions, parts, config, bin_s)
    charging = charging.rename(columns={"pv_kwh": "pv_direct_kwh"})
    charging["pv_kwh"] = charging["pv_direct_kwh"] + charging["storage_kwh"]
    charging["energy_kwh"] = charging["plug_kwh"]
    charging["co2_kg"] = charging["grid_kwh"] * config.grid_kgco2e_per_kwh + charging["pv_kwh"] * (
        config.pv_kgco2e_per_kwh
    )
    modes = service_modes(trips, vehicles)
    legs = _legs_table(rows, types, modes, charging, config)
    groups = _groups_table(legs, charging, service_load_kw(sessions, parts, bin_s), modes)
    pv = (
        profile.groupby("time_s", as_index=False)["pv_kw"].sum()
        if len(profile)
        else pd.DataFrame({"time_s": pd.Series(dtype=float), "pv_kw": pd.Series(dtype=float)})
    )
    balance = energy_balance(legs, charging, vehicles)
    if check_balance:
        _checked(balance, BALANCE_TOLERANCE)
    return {
        "energy_legs": legs,
        "energy_charging": charging,
        "energy_load": profile,
        "energy_pv": pv,
        "energy_vehicles": _vehicles_table(legs, charging, vehicles),
        "energy_groups": groups,
        "energy_counterfactual": _counterfactual_table(trips, groups, config, car_distance_m),
        "energy_balance": balance,
    }


def energy_summary(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Headline numbers of a run's energy tables (plain floats; H8's KPIs read them).

    Parameters:
        tables: the output of :func:`energy_tables` (or the same tables read from a run folder).

    Keys: ``energy_kwh, battery_kwh, plug_kwh, fuel_l, fuel_nm3, co2_kg, vkm, pkm,
    kwh_per_vkm, kwh_per_pkm, co2_g_per_vkm, co2_g_per_pkm, charged_kwh, charged_plug_kwh,
    charging_peak_kw, pv_kwh, grid_kwh, solar_share, pv_generated_kwh, counterfactual_energy_kwh,
    counterfactual_co2_kg, energy_saving_kwh, co2_saving_kg, co2_saving_share`` and
    ``by_service`` / ``by_mode``: {name: {same energy keys}}.
    """
    groups = tables["energy_groups"]

    def clean(row) -> dict[str, float]:
        return {
            k: float(row[k])
            for k in row.index
            if k not in ("level", "key") and isinstance(row[k], int | float | np.number)
        }

    total = clean(groups[groups["level"] == "total"].iloc[0])
    charging = tables["energy_charging"]
    total["grid_kwh"] = float(charging["grid_kwh"].sum()) if len(charging) else 0.0
    pv = tables.get("energy_pv")
    bin_h = (
        float(np.diff(pv["time_s"].to_numpy()[:2])[0]) / 3600.0
        if pv is not None and len(pv) > 1
        else 0.0
    )
    total["pv_generated_kwh"] = float(pv["pv_kw"].sum()) * bin_h if bin_h else 0.0
    cf = tables["energy_counterfactual"]
    cf_all = cf[cf["service"] == "all"].iloc[0]
    for key in (
        "counterfactual_energy_kwh",
        "counterfactual_co2_kg",
        "energy_saving_kwh",
        "co2_saving_kg",
    ):
        total[key] = float(cf_all[key])
    cf_co2 = total["counterfactual_co2_kg"]
    total["co2_saving_share"] = total["co2_saving_kg"] / cf_co2 if cf_co2 > 0 else math.nan
    for level, name in (("service", "by_service"), ("mode", "by_mode")):
        part = groups[groups["level"] == level]
        total[name] = {str(r["key"]): clean(r) for _, r in part.iterrows()}
    return total

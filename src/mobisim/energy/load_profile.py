"""Charging sessions from the event table, their load over time, and each site's PV/storage/grid split.

A session is a ``charge_start``/``charge_end`` pair of one vehicle (events.py). Its power over
time is rebuilt from the charging curve (charging.py) of the vehicle's battery on the site's plug:
the curve is deterministic, so the state of charge at plug-in, the capacity and the plug power
give back the exact taper. When the site or the vehicle is not known (a battery swap, a site the
scenario does not list) the session's energy is spread evenly over its duration.

Plug energy = battery energy / efficiency of the site (default 0.92 [M1][E3]). Each site's
per-bin load is split over PV, storage and grid by :func:`mobisim.energy.solar.dispatch`; each
session gets the PV and storage shares of the bins it draws in, pro rata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mobisim.energy.charging import ChargeCurve
from mobisim.energy.solar import DAY_S, dispatch, full_load_hours, pv_profile_kw
from mobisim.energy.vehicle_types import VehicleType
from mobisim.scenario.energy_config import EnergyConfig

SESSION_COLUMNS = (
    "site",
    "service",
    "vehicle_id",
    "vehicle_type",
    "start_s",
    "end_s",
    "soc_start_kwh",
    "battery_kwh",
    "efficiency",
    "plug_kwh",
)


def sessions_from_events(
    events: pd.DataFrame, vehicle_types: pd.Series, config: EnergyConfig
) -> pd.DataFrame:
    """One row per finished charging session (columns :data:`SESSION_COLUMNS`).

    Parameters:
        events: the run's event table (``charge_start``/``charge_end`` rows).
        vehicle_types: vehicle type name by vehicle_id (index), from the vehicles table.
        config: the energy section (site efficiencies; default ``charge_efficiency``).

    ``start_s``/``end_s`` are the plug-in/unplug clock times (s); ``battery_kwh`` the energy put
    into the battery; ``plug_kwh`` the energy drawn from the site (battery / efficiency).
    """
    kind = events["event"].astype(str)
    ends = events[kind == "charge_end"]
    if ends.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in SESSION_COLUMNS})
    starts = events[kind == "charge_start"]
    ends = pd.DataFrame(
        {
            "site": ends["detail"].astype(str).to_numpy(),
            "service": ends["service"].astype(str).to_numpy(),
            "vehicle_id": ends["vehicle_id"].to_numpy(np.int64),
            "start_s": (ends["time_s"] - ends["duration_s"].fillna(0.0)).to_numpy(float),
            "end_s": ends["time_s"].to_numpy(float),
            "battery_kwh": ends["value"].fillna(0.0).to_numpy(float),
        }
    )
    lookup = pd.DataFrame(
        {
            "vehicle_id": starts["vehicle_id"].to_numpy(np.int64),
            "plug_in_s": starts["time_s"].to_numpy(float),
            "soc_start_kwh": starts["value"].to_numpy(float),
        }
    ).sort_values("plug_in_s", kind="stable")
    order = ends.sort_values("start_s", kind="stable").index
    matched = pd.merge_asof(
        ends.loc[order].assign(_key=ends.loc[order, "start_s"] + 1e-6),
        lookup.rename(columns={"plug_in_s": "_key"}),
        on="_key",
        by="vehicle_id",
        direction="backward",
    ).drop(columns="_key")
    matched.index = order
    sessions = matched.sort_index()
    efficiency = {s.name: s.efficiency for s in config.charging_sites}
    sessions["vehicle_type"] = sessions["vehicle_id"].map(vehicle_types).fillna("").astype(str)
    sessions["efficiency"] = sessions["site"].map(efficiency).fillna(config.charge_efficiency)
    sessions["plug_kwh"] = sessions["battery_kwh"] / sessions["efficiency"]
    return sessions[list(SESSION_COLUMNS)].reset_index(drop=True)


@dataclass
class SessionBins:
    """Plug-side energy of one session per bin: ``kwh[j]`` falls in bin ``first_bin + j``."""

    first_bin: int
    kwh: np.ndarray


def _curve(
    session, capacity_kwh: float, config: EnergyConfig, vt: VehicleType | None
) -> ChargeCurve | None:
    """The charging curve the site used for ``session`` (None: site or battery unknown)."""
    site = next((s for s in config.charging_sites if s.name == session.site), None)
    if site is None or not capacity_kwh > 0 or not math.isfinite(session.soc_start_kwh):
        return None
    power_kw = site.power_kw
    if vt is not None and vt.max_charge_kw > 0:
        power_kw = min(power_kw, vt.max_charge_kw)
    return ChargeCurve(
        capacity_kwh, power_kw, config.taper_start_share, config.taper_end_power_share
    )


def session_bins(
    sessions: pd.DataFrame,
    capacities_kwh: pd.Series,
    types: dict[str, VehicleType],
    config: EnergyConfig,
    bin_s: float,
) -> list[SessionBins]:
    """Each session's plug energy (kWh) per time bin, following its charging curve.

    Parameters:
        sessions: from :func:`sessions_from_events`.
        capacities_kwh: battery capacity by vehicle_id (index), kWh.
        types: vehicle types by name (for their ``max_charge_kw``).
        config: the energy section (sites, taper).
        bin_s: bin width, s (bins start at midnight).
    """
    out = []
    for row in sessions.itertuples(index=False):
        duration_s = row.end_s - row.start_s
        if duration_s <= 0 or row.battery_kwh <= 0:
            out.append(SessionBins(int(row.end_s // bin_s), np.array([row.plug_kwh])))
            continue
        first, last = int(row.start_s // bin_s), math.ceil(row.end_s / bin_s)
        edges = np.clip(np.arange(first, last + 1) * bin_s, row.start_s, row.end_s) - row.start_s
        cumulative = edges / duration_s * row.battery_kwh  # even spread unless the curve fits
        capacity = float(capacities_kwh.get(row.vehicle_id, math.nan))
        curve = _curve(row, capacity, config, types.get(row.vehicle_type))
        if curve is not None:
            rebuilt = np.minimum(
                curve.soc_after_kwh(row.soc_start_kwh, edges) - row.soc_start_kwh, row.battery_kwh
            )
            if math.isclose(rebuilt[-1], row.battery_kwh, rel_tol=1e-6, abs_tol=1e-9):
                cumulative = rebuilt
        out.append(SessionBins(first, np.diff(cumulative) / row.efficiency))
    return out


def _sum_bins(parts: list[SessionBins], n_bins: int) -> np.ndarray:
    total = np.zeros(n_bins)
    for part in parts:
        stop = min(part.first_bin + len(part.kwh), n_bins)
        total[part.first_bin : stop] += part.kwh[: stop - part.first_bin]
    return total


def n_bins_for(sessions: pd.DataFrame, bin_s: float) -> int:
    """Bins from midnight covering a whole day and the last session's end."""
    last_s = float(sessions["end_s"].max()) if len(sessions) else 0.0
    return math.ceil(max(DAY_S, last_s + 1e-9) / bin_s)


def site_profiles(
    sessions: pd.DataFrame, parts: list[SessionBins], config: EnergyConfig, bin_s: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-site load profile with its PV/storage/grid split, and the sessions with their shares.

    Parameters:
        sessions: from :func:`sessions_from_events`.
        parts: from :func:`session_bins` (same order).
        config: the energy section (sites' PV and storage, PV date, location, monthly hours).
        bin_s: bin width, s.

    Returns ``(profile, sessions)``: the profile has one row per site and bin (``site, time_s``
    and the columns of :func:`mobisim.energy.solar.dispatch`); the sessions gain ``pv_kwh``
    (directly from PV), ``storage_kwh`` (from the stationary battery, charged by PV) and
    ``grid_kwh`` (plug side).
    """
    n_bins = n_bins_for(sessions, bin_s)
    sites = {s.name: s for s in config.charging_sites}
    names = list(sites) + sorted(set(sessions["site"]) - set(sites))
    pv_kwh, storage_kwh = np.zeros(len(sessions)), np.zeros(len(sessions))
    frames = []
    flh = full_load_hours(config.day, config.pv_full_load_h)
    for name in names:
        rows = np.flatnonzero(sessions["site"].to_numpy() == name)
        load_kw = _sum_bins([parts[i] for i in rows], n_bins) / (bin_s / 3600.0)
        site = sites.get(name)
        pv_kw = np.zeros(n_bins)
        if site is not None and site.pv_kwp > 0:
            pv = pv_profile_kw(
                site.pv_kwp,
                flh,
                config.pv_lat,
                config.pv_lon,
                config.day,
                config.utc_offset_h,
                bin_s,
                n_bins * bin_s,
            )
            pv_kw = pv["pv_kw"].to_numpy()
        split = dispatch(
            load_kw,
            pv_kw,
            bin_s,
            site.storage_kwh if site else 0.0,
            site.storage_kw if site else 0.0,
            site.storage_efficiency if site else 1.0,
            site.storage_initial_share if site else 0.0,
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            pv_share = np.where(load_kw > 0, split["pv_used_kw"] / load_kw, 0.0)
            storage_share = np.where(load_kw > 0, split["storage_out_kw"] / load_kw, 0.0)
        for i in rows:
            part = parts[i]
            window = slice(part.first_bin, part.first_bin + len(part.kwh))
            pv_kwh[i] = float(part.kwh @ pv_share[window])
            storage_kwh[i] = float(part.kwh @ storage_share[window])
        split.insert(0, "time_s", np.arange(n_bins) * bin_s)
        split.insert(0, "site", name)
        frames.append(split)
    profile = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    grid_kwh = sessions["plug_kwh"].to_numpy(float) - pv_kwh - storage_kwh
    grid_kwh[np.abs(grid_kwh) < 1e-9] = 0.0  # rounding noise of the pro-rata split
    sessions = sessions.assign(pv_kwh=pv_kwh, storage_kwh=storage_kwh, grid_kwh=grid_kwh)
    return profile, sessions


def service_load_kw(
    sessions: pd.DataFrame, parts: list[SessionBins], bin_s: float
) -> dict[str, np.ndarray]:
    """Plug-side charging load per bin (kW) of each service's vehicles, by service name."""
    n_bins = n_bins_for(sessions, bin_s)
    out = {}
    for service in sorted(set(sessions["service"])):
        rows = np.flatnonzero(sessions["service"].to_numpy() == service)
        out[service] = _sum_bins([parts[i] for i in rows], n_bins) / (bin_s / 3600.0)
    return out

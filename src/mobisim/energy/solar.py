"""PV output over the day and the dispatch of a site's charging load over PV, storage and grid.

PV model. Hourly (here: per load bin) PV power is the month's full-load hours (DEFAULTS §5
vector, [V1]–[V4]) × kWp, spread over the day with a clear-sky shape from solar geometry::

    declination δ = 23.45° · sin(360° · (284 + n) / 365)              (Cooper; n = day of year)
    solar time    = clock time + (lon − 15° · utc_offset) / 15° h + equation of time
    hour angle ω  = 15° · (solar time − 12 h)
    shape(t)      = max(0, sin φ sin δ + cos φ cos δ cos ω)          (cos of the zenith angle)
    PV(t)         = kWp · full-load h · shape(t) / ∫ shape dt          (so the day sums to kWp · h)

Only the shape comes from geometry; the energy comes from the measured full-load hours, which
already carry clouds, temperature and system losses. Past midnight (a period up to 48:00) the
same day repeats.

Dispatch, bin by bin: charging load takes PV first, then the stationary battery (up to its
power and what it holds), then the grid; PV the load does not use charges the stationary battery
(up to its power and room); the rest is surplus (exported or curtailed). The round-trip
efficiency η is split √η on the way in and √η on the way out.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

#: resolution of the solar-geometry integral, s
_GEOMETRY_STEP_S = 60.0
DAY_S = 86_400.0


def declination_rad(day_of_year: int) -> float:
    """Solar declination, radians, for day ``day_of_year`` (1..366) (Cooper's formula)."""
    return math.radians(23.45) * math.sin(2 * math.pi * (284 + day_of_year) / 365.0)


def equation_of_time_min(day_of_year: int) -> float:
    """Equation of time, minutes (apparent − mean solar time), for day ``day_of_year``."""
    b = 2 * math.pi * (day_of_year - 81) / 364.0
    return 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)


def cos_zenith(
    clock_s: np.ndarray, lat_deg: float, lon_deg: float, day: dt.date, utc_offset_h: float
) -> np.ndarray:
    """Cosine of the solar zenith angle, clipped at 0 (sun below the horizon), at clock times.

    Parameters:
        clock_s: local clock times, s after midnight (array).
        lat_deg, lon_deg: site latitude and longitude, degrees.
        day: the date (declination, equation of time).
        utc_offset_h: the clock's time zone, hours after UTC (Korea 9).
    """
    n = day.timetuple().tm_yday
    solar_h = (
        np.asarray(clock_s, dtype=float) / 3600.0
        + (lon_deg - 15.0 * utc_offset_h) / 15.0
        + equation_of_time_min(n) / 60.0
    )
    hour_angle = np.radians(15.0 * (solar_h - 12.0))
    lat, decl = math.radians(lat_deg), declination_rad(n)
    cosz = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * np.cos(hour_angle)
    return np.clip(cosz, 0.0, None)


def full_load_hours(day: dt.date, monthly_h: list[float] | tuple[float, ...]) -> float:
    """PV full-load hours per day (h/day) for the month of ``day`` from a Jan..Dec vector."""
    return float(monthly_h[day.month - 1])


def pv_profile_kw(
    kwp: float,
    full_load_h: float,
    lat_deg: float,
    lon_deg: float,
    day: dt.date,
    utc_offset_h: float = 9.0,
    bin_s: float = 300.0,
    span_s: float = DAY_S,
) -> pd.DataFrame:
    """Mean PV power per bin over ``[0, span_s)``: columns ``time_s`` (bin start) and ``pv_kw``.

    Parameters:
        kwp: installed PV, kWp.
        full_load_h: full-load hours of the day, h (the day's energy is ``kwp × full_load_h`` kWh).
        lat_deg, lon_deg: site latitude and longitude, degrees.
        day: the simulated date.
        utc_offset_h: the clock's time zone, hours after UTC.
        bin_s: bin width, s (must divide a day into whole bins when PV is on).
        span_s: length of the profile, s after midnight (more than a day repeats the day).
    """
    n_bins = math.ceil(span_s / bin_s)
    starts = np.arange(n_bins) * bin_s
    if kwp <= 0 or full_load_h <= 0:
        return pd.DataFrame({"time_s": starts, "pv_kw": np.zeros(n_bins)})
    per_bin = max(round(bin_s / _GEOMETRY_STEP_S), 1)
    step_s = bin_s / per_bin
    samples_per_day = round(DAY_S / step_s)
    mids = (np.arange(samples_per_day) + 0.5) * step_s
    shape = cos_zenith(mids, lat_deg, lon_deg, day, utc_offset_h)
    integral_h = shape.sum() * step_s / 3600.0
    if integral_h <= 0:  # polar night: no sun, no PV
        return pd.DataFrame({"time_s": starts, "pv_kw": np.zeros(n_bins)})
    power_kw = kwp * full_load_h * shape / integral_h
    repeats = math.ceil(n_bins * per_bin / samples_per_day)
    power_kw = np.tile(power_kw, repeats)[: n_bins * per_bin]
    return pd.DataFrame({"time_s": starts, "pv_kw": power_kw.reshape(n_bins, per_bin).mean(axis=1)})


def dispatch(
    load_kw: np.ndarray,
    pv_kw: np.ndarray,
    bin_s: float,
    storage_kwh: float = 0.0,
    storage_kw: float = 0.0,
    storage_efficiency: float = 0.9,
    storage_initial_share: float = 0.0,
) -> pd.DataFrame:
    """Split a site's charging load (plug side) over PV, stationary storage and grid, bin by bin.

    Parameters:
        load_kw: mean charging load per bin (plug side), kW.
        pv_kw: mean PV output per bin, kW (same length).
        bin_s: bin width, s.
        storage_kwh: stationary battery capacity, kWh (0 = none).
        storage_kw: its charge/discharge power limit, kW.
        storage_efficiency: round-trip efficiency (√ on the way in, √ on the way out).
        storage_initial_share: share stored at the start of the first bin.

    Returns one row per bin: ``load_kw, pv_kw, pv_used_kw, storage_in_kw, storage_out_kw,
    grid_kw, surplus_kw, storage_kwh`` (stored at the end of the bin). Per bin,
    load = pv_used + storage_out + grid and pv = pv_used + storage_in + surplus.
    """
    load_kw = np.asarray(load_kw, dtype=float)
    pv_kw = np.asarray(pv_kw, dtype=float)
    hours = bin_s / 3600.0
    leg = math.sqrt(storage_efficiency)
    has_storage = storage_kwh > 0 and storage_kw > 0
    stored = storage_initial_share * storage_kwh
    n = len(load_kw)
    pv_used, s_in, s_out, stored_end = (np.zeros(n) for _ in range(4))
    for i in range(n):
        pv_used[i] = min(load_kw[i], pv_kw[i])
        rest_kw, spare_kw = load_kw[i] - pv_used[i], pv_kw[i] - pv_used[i]
        if has_storage:
            s_out[i] = min(rest_kw, storage_kw, stored * leg / hours)
            stored -= s_out[i] * hours / leg
            s_in[i] = min(spare_kw, storage_kw - s_out[i], (storage_kwh - stored) / (hours * leg))
            s_in[i] = max(s_in[i], 0.0)
            stored += s_in[i] * hours * leg
        stored_end[i] = stored
    grid = load_kw - pv_used - s_out
    return pd.DataFrame(
        {
            "load_kw": load_kw,
            "pv_kw": pv_kw,
            "pv_used_kw": pv_used,
            "storage_in_kw": s_in,
            "storage_out_kw": s_out,
            "grid_kw": np.clip(grid, 0.0, None),
            "surplus_kw": pv_kw - pv_used - s_in,
            "storage_kwh": stored_end,
        }
    )

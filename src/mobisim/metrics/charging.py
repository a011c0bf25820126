"""Charging load from the event table: energy charged and the load profile over the day.

A ``charge_end`` row says ``value`` kWh (battery side) went into vehicle ``vehicle_id`` over the
``duration_s`` seconds before ``time_s``; the power is taken as constant over that time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mobisim.metrics.common import as_str, event_rows

#: width of the bins of the charging load profile, s (15 min, the Korean tariff metering interval)
LOAD_BIN_S = 900.0


def charging_sessions(events: pd.DataFrame) -> pd.DataFrame:
    """One row per finished charging session: service, vehicle_id, start_s, end_s, energy_kwh."""
    rows = event_rows(events, ("charge_end",))
    duration = rows["duration_s"].fillna(0.0).clip(lower=0.0)
    return pd.DataFrame(
        {
            "service": as_str(rows["service"]).to_numpy(),
            "vehicle_id": rows["vehicle_id"].to_numpy(),
            "start_s": (rows["time_s"] - duration).to_numpy(dtype=float),
            "end_s": rows["time_s"].to_numpy(dtype=float),
            "energy_kwh": rows["value"].fillna(0.0).to_numpy(dtype=float),
        }
    )


def charging_load_kw(
    events: pd.DataFrame, bin_s: float = LOAD_BIN_S, service: str | None = None
) -> pd.DataFrame:
    """Mean charging power per time bin: columns ``time_s`` (bin start, s after midnight) and ``load_kw``.

    Parameters
    ----------
    events : the event table (``charge_end`` rows are used).
    bin_s : bin width, s.
    service : only this service's vehicles (None = all).
    """
    sessions = charging_sessions(events)
    if service is not None:
        sessions = sessions[sessions["service"] == service]
    return _load_kw(sessions, bin_s)


def _load_kw(sessions: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """:func:`charging_load_kw` of the rows of :func:`charging_sessions` (already filtered)."""
    if sessions.empty:
        return pd.DataFrame({"time_s": pd.Series(dtype=float), "load_kw": pd.Series(dtype=float)})
    first = np.floor(sessions["start_s"].min() / bin_s) * bin_s
    last = np.ceil(sessions["end_s"].max() / bin_s) * bin_s
    edges = np.arange(first, max(last, first + bin_s) + bin_s / 2, bin_s)
    energy = np.zeros(len(edges) - 1)
    for start, end, kwh in sessions[["start_s", "end_s", "energy_kwh"]].itertuples(index=False):
        if end <= start:  # an instantaneous session: all its energy in its bin
            energy[min(int((end - first) // bin_s), len(energy) - 1)] += kwh
            continue
        overlap = np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0.0, None)
        energy += kwh * overlap / (end - start)
    return pd.DataFrame({"time_s": edges[:-1], "load_kw": energy / (bin_s / 3600.0)})


def charging_kpis(events: pd.DataFrame, service: str | None = None) -> dict[str, float]:
    """Charged energy (kWh, battery side), sessions and the peak 15-min charging load (kW)."""
    sessions = charging_sessions(events)
    if service is not None:
        sessions = sessions[sessions["service"] == service]
    load = _load_kw(sessions, LOAD_BIN_S)
    return {
        "charged_kwh": float(sessions["energy_kwh"].sum()),
        "charging_sessions": len(sessions),
        "charging_peak_kw": float(load["load_kw"].max()) if len(load) else 0.0,
    }

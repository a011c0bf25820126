"""Station KPIs: how long each sharing station (or zone) stood empty or full.

From ``station_stock`` rows: at ``time_s`` the station ``detail`` at ``node`` holds ``value``
vehicles and has ``pax`` free spaces (``pax`` < 0 = no dock limit). The stock is a step function:
each row holds until the station's next row, the last one until the end of the period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mobisim.metrics.common import as_str, event_rows, mean, ratio


def station_key(service: str, name: str) -> str:
    """Key of a station in ``by_station``: ``"<service>/<station name>"`` (just the name without a service)."""
    return f"{service}/{name}" if service else name


def station_kpis(events: pd.DataFrame, period: tuple[float, float]) -> dict[str, dict[str, Any]]:
    """Per station: hours observed, empty and full hours and shares, time-weighted mean stock.

    Parameters
    ----------
    events : the event table (only ``station_stock`` rows are used).
    period : (start_s, end_s) of the day, seconds after midnight; a station is observed from its
        first row to ``end_s`` (or its last row, if later).
    """
    rows = event_rows(events, ("station_stock",))
    if rows.empty:
        return {}
    rows = rows.assign(
        _service=as_str(rows["service"]), _name=as_str(rows["detail"]), _order=range(len(rows))
    ).sort_values(["time_s", "_order"], kind="stable")
    out: dict[str, dict[str, Any]] = {}
    for (service, name), part in rows.groupby(["_service", "_name"], sort=True):
        start = part["time_s"].to_numpy(dtype=float)
        end = np.append(start[1:], max(period[1], start[-1]))
        held_s = end - start
        stock = part["value"].to_numpy(dtype=float)
        free = part["pax"].to_numpy(dtype=float)
        observed_s = float(held_s.sum())
        empty_s = float(held_s[stock <= 0].sum())
        full_s = float(held_s[(free == 0)].sum())
        out[station_key(str(service), str(name))] = {
            "node": int(part["node"].iloc[-1]),
            "observed_h": observed_s / 3600.0,
            "empty_h": empty_s / 3600.0,
            "full_h": full_s / 3600.0,
            "empty_share": ratio(empty_s, observed_s),
            "full_share": ratio(full_s, observed_s),
            "stock_mean": ratio(float((stock * held_s).sum()), observed_s),
        }
    return out


def station_summary(stations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """System view: number of stations and the mean of their empty and full shares."""
    frame = pd.DataFrame(list(stations.values()))
    if frame.empty:
        frame = pd.DataFrame({"empty_share": [], "full_share": []}, dtype=float)
    return {
        "stations": len(stations),
        "station_empty_share_mean": mean(frame["empty_share"]),
        "station_full_share_mean": mean(frame["full_share"]),
    }

"""Line KPIs of stop-based services (transit lines, fixed routes) as pure functions of the events.

- **Ridership by stop**: ``board`` and ``alight`` rows of the service counted by node (one row
  per boarding party: a party of three is one boarding, as one ``board`` row).
- **Denied boardings**: ``denied_boarding`` rows (a rider left at the stop by a full vehicle;
  the same rider denied by two vehicles counts twice), and the riders denied at least once.
- **Load profile**: the ``vehicle_leg`` rows of the service between stops, grouped by
  (from_node, to_node): runs, mean and peak persons on board, passenger-km.

Nothing here reads agent objects: the numbers follow from events.parquet alone.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, event_rows, ratio

#: vehicle states of a leg run in service between two stops (not to a charger or depot)
SERVICE_LEG_STATES = ("occupied", "in_service_empty")


def _of_service(events: pd.DataFrame, kinds: tuple[str, ...], service: str) -> pd.DataFrame:
    rows = event_rows(events, kinds)
    return rows[as_str(rows["service"]) == service]


def ridership_by_stop(events: pd.DataFrame, service: str) -> pd.DataFrame:
    """Boardings and alightings of ``service`` by stop node: columns node, boardings, alightings.

    Sorted by node; a node with only boardings has 0 alightings and the other way round.
    """
    rows = _of_service(events, ("board", "alight"), service)
    kinds = as_str(rows["event"])
    boards = rows.loc[kinds == "board", "node"].astype("int64").value_counts()
    alights = rows.loc[kinds == "alight", "node"].astype("int64").value_counts()
    table = pd.DataFrame({"boardings": boards, "alightings": alights}).fillna(0).astype("int64")
    table.index.name = "node"
    return table.sort_index().reset_index()


def denied_boardings(events: pd.DataFrame, service: str) -> dict[str, Any]:
    """Denied boardings of ``service``: rows, riders denied at least once, by stop node."""
    rows = _of_service(events, ("denied_boarding",), service)
    by_node = rows["node"].astype("int64").value_counts().sort_index()
    return {
        "denied_boardings": len(rows),
        "riders_denied": int(rows["trip_id"].nunique()),
        "denied_boardings_by_stop": {str(int(n)): int(c) for n, c in by_node.items()},
    }


def load_profile(events: pd.DataFrame, service: str) -> pd.DataFrame:
    """Persons on board between consecutive stops of ``service``.

    Columns from_node, to_node, runs (legs driven), load_mean_pax, load_max_pax, passenger_km;
    in order of the first time each leg was driven (the running order of the line).
    """
    legs = _of_service(events, ("vehicle_leg",), service)
    legs = legs[as_str(legs["state"]).isin(SERVICE_LEG_STATES)]
    columns = ["from_node", "to_node", "runs", "load_mean_pax", "load_max_pax", "passenger_km"]
    if not len(legs):
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "time_s": legs["time_s"].to_numpy(),
            "from_node": legs["node"].astype("int64").to_numpy(),
            "to_node": legs["to_node"].astype("int64").to_numpy(),
            "pax": legs["pax"].astype("int64").to_numpy(),
            "pkm": (legs["pax"] * legs["distance_m"].fillna(0.0) / 1000.0).to_numpy(),
        }
    )
    grouped = frame.groupby(["from_node", "to_node"], sort=False)
    out = grouped.agg(
        first_s=("time_s", "min"),
        runs=("pax", "size"),
        load_mean_pax=("pax", "mean"),
        load_max_pax=("pax", "max"),
        passenger_km=("pkm", "sum"),
    )
    out = out.sort_values("first_s", kind="stable").reset_index()
    return out[columns]


def line_kpis(events: pd.DataFrame, service: str) -> dict[str, Any]:
    """The line KPIs of ``service`` (empty when it has no ``board`` or ``denied_boarding`` rows:
    a service that does not board riders at stops).

    Keys: boardings, alightings, boardings_by_stop / alightings_by_stop ({node: count}),
    denied_boardings, riders_denied, denied_boardings_by_stop, denied_boarding_share (denied rows
    per boarding attempt: denied / (boardings + denied)), load_peak_pax, load_profile_pax
    ({"from->to": mean persons on board}).
    """
    stops = ridership_by_stop(events, service)
    denied = denied_boardings(events, service)
    if not len(stops) and not denied["denied_boardings"]:
        return {}
    profile = load_profile(events, service)
    boardings = int(stops["boardings"].sum())
    return {
        "boardings": boardings,
        "alightings": int(stops["alightings"].sum()),
        "boardings_by_stop": {
            str(n): int(b) for n, b in zip(stops["node"], stops["boardings"], strict=True)
        },
        "alightings_by_stop": {
            str(n): int(a) for n, a in zip(stops["node"], stops["alightings"], strict=True)
        },
        **denied,
        "denied_boarding_share": ratio(
            denied["denied_boardings"], boardings + denied["denied_boardings"]
        ),
        "load_peak_pax": int(profile["load_max_pax"].max()) if len(profile) else math.nan,
        "load_profile_pax": {
            f"{int(r.from_node)}->{int(r.to_node)}": float(r.load_mean_pax)
            for r in profile.itertuples()
        },
    }

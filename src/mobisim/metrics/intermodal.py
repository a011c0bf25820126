"""Intermodal KPIs: transfers, transfer wait, ridership by line, access modes of the main modes.

Pure functions of the saved tables (events.parquet, trips.parquet):

- **Ride legs** of a trip are its ``pickup`` rows (a shared or public vehicle taken: a shuttle,
  a transit line, DRT, a shared device or car), in time order. Private cars and bikes log no
  pickup and are no ride leg.
- **Transfers** of a served trip: its ride legs minus one (0 for a trip of one leg), over the
  served trips with at least one ride leg. A chain scooter -> shuttle is one transfer.
- **Transfer wait**: the ``pickup`` wait (``value``, s: from reaching the stop or the vehicle to
  boarding it) of every ride leg after a trip's first: the wait at the transfer point.
- **Ridership by line**: ``board`` rows by service (one row per boarding party), and the table
  of boardings and alightings by (service, stop node) over every stop-based service.
- **Access-mode shares**: of the served trips of each main mode, the share reached by each
  access mode (``trips.access_mode``; ``walk`` when the trip had no access vehicle, and for
  every trip when the run had no chain columns). Main modes reported: the modes of the
  stop-based services (those with ``board`` rows) and every main mode a chain used.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, event_rows, mean, median, percentile, ratio
from mobisim.metrics.trip_kpis import served_mask

#: the access mode of a trip that reached its main mode on foot
WALK_ACCESS = "walk"


def ride_legs(events: pd.DataFrame) -> pd.DataFrame:
    """One row per ride leg (``pickup`` row): trip_id, leg (1, 2, ... in time order), service,
    time_s, node, wait_s."""
    rows = event_rows(events, ("pickup",))
    legs = pd.DataFrame(
        {
            "trip_id": rows["trip_id"].astype("int64").to_numpy(),
            "service": as_str(rows["service"]).to_numpy(),
            "time_s": rows["time_s"].astype(float).to_numpy(),
            "node": rows["node"].astype("int64").to_numpy(),
            "wait_s": rows["value"].astype(float).to_numpy(),
        }
    )
    legs = legs.sort_values(["trip_id", "time_s"], kind="stable").reset_index(drop=True)
    legs.insert(1, "leg", legs.groupby("trip_id").cumcount().astype("int64") + 1)
    return legs


def transfer_kpis(events: pd.DataFrame, trips: pd.DataFrame) -> dict[str, Any]:
    """Transfers and transfer waits of the served trips.

    Keys: ``vehicle_trips`` (served trips with at least one ride leg), ``transfers`` (sum of
    ride legs minus one), ``transfers_per_trip_mean`` (transfers / vehicle_trips),
    ``trips_with_transfer_share``, ``transfer_wait_mean_s`` / ``_median_s`` / ``_p95_s`` (the
    waits of the legs after the first), ``transfers_by_service`` (transfers onto each service).
    """
    served_ids = set(trips.loc[served_mask(trips), "trip_id"].astype("int64"))
    legs = ride_legs(events)
    legs = legs[legs["trip_id"].isin(served_ids)]
    per_trip = legs.groupby("trip_id")["leg"].max()
    onward = legs[legs["leg"] > 1]
    transfers = int((per_trip - 1).sum())
    return {
        "vehicle_trips": len(per_trip),
        "transfers": transfers,
        "transfers_per_trip_mean": ratio(transfers, len(per_trip)),
        "trips_with_transfer_share": ratio(int((per_trip > 1).sum()), len(per_trip)),
        "transfer_wait_mean_s": mean(onward["wait_s"]),
        "transfer_wait_median_s": median(onward["wait_s"]),
        "transfer_wait_p95_s": percentile(onward["wait_s"], 95),
        "transfers_by_service": {
            str(s): int(n) for s, n in sorted(onward["service"].value_counts().items())
        },
    }


def ridership_table(events: pd.DataFrame) -> pd.DataFrame:
    """Boardings and alightings by (service, node) over every service with ``board`` or
    ``alight`` rows: columns service, node, boardings, alightings; sorted by service, node."""
    rows = event_rows(events, ("board", "alight"))
    frame = pd.DataFrame(
        {
            "service": as_str(rows["service"]).to_numpy(),
            "node": rows["node"].astype("int64").to_numpy(),
            "boardings": (as_str(rows["event"]) == "board").to_numpy().astype("int64"),
            "alightings": (as_str(rows["event"]) == "alight").to_numpy().astype("int64"),
        }
    )
    table = frame.groupby(["service", "node"], as_index=False)[["boardings", "alightings"]].sum()
    return table.astype({"boardings": "int64", "alightings": "int64"})


def boardings_by_line(events: pd.DataFrame) -> dict[str, int]:
    """``board`` rows by service ({line: boardings}), sorted by name."""
    table = ridership_table(events)
    per_line = table.groupby("service")["boardings"].sum()
    return {str(s): int(n) for s, n in per_line.items()}


def access_mode_shares(events: pd.DataFrame, trips: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{main mode: {access mode: share of the main mode's served trips}} (shares sum to 1).

    Main mode and access mode come from ``trips.main_mode`` / ``trips.access_mode`` (chains on);
    without those columns every trip's main mode is its ``mode`` and its access is a walk.
    """
    served = trips[served_mask(trips)]
    if "main_mode" in served:
        main = as_str(served["main_mode"]).where(as_str(served["main_mode"]) != "", served["mode"])
        access = as_str(served["access_mode"]).replace("", WALK_ACCESS)
    else:
        main = as_str(served["mode"])
        access = pd.Series(WALK_ACCESS, index=served.index, dtype="string")
    main = as_str(main)
    stop_services = set(ridership_table(events)["service"])
    modes = set(main[as_str(served["service"]).isin(stop_services)])
    modes |= set(main[access != WALK_ACCESS])
    out: dict[str, dict[str, float]] = {}
    for mode in sorted(m for m in modes if m):
        counts = access[main == mode].value_counts()
        n = int(counts.sum())
        out[mode] = {str(a): float(c) / n for a, c in sorted(counts.items())} if n else {}
    return out


def intermodal_kpis(events: pd.DataFrame, trips: pd.DataFrame) -> dict[str, Any]:
    """The system-level intermodal KPIs: :func:`transfer_kpis`, ``boardings_by_line``,
    ``access_mode_share`` ({main mode: {access mode: share}})."""
    out = transfer_kpis(events, trips)
    out["boardings_by_line"] = boardings_by_line(events)
    out["access_mode_share"] = access_mode_shares(events, trips)
    return out

"""Trips read from a table (CSV or Parquet) instead of a synthetic population.

Columns (one row per trip; see docs/demand.md):

* ``depart`` — clock time "HH:MM[:SS]" or seconds after midnight (required);
* the origin as ``origin_place`` (a named place), ``origin_node`` (node index) or
  ``origin_lat`` + ``origin_lon``; the destination likewise with ``dest_``;
* optional: ``trip_id``, ``person_id``, ``group``, ``purpose``, ``party_size``, ``car_available``.

Bad rows — unknown place, unparsable or out-of-period time, a point too far from the network,
origin equal to destination — are reported with their row numbers (row 1 = the first data row,
i.e. line 2 of a CSV file). ``on_bad_rows: error`` raises DemandError listing them;
``drop`` drops them and counts them per reason in the report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.errors import DemandError, SnapError
from mobisim.units import parse_clock_s

MAX_LISTED = 20


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet trip table; DemandError if missing or unreadable."""
    if not path.exists():
        raise DemandError(f"{path}: trip table not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DemandError(f"{path}: cannot read the trip table ({exc})") from None


def _clock(value) -> float:
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        return parse_clock_s(text)


def _text(value) -> str:
    """A cell as stripped text; missing values (None, NaN, empty) as ""."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _end_nodes(
    frame: pd.DataFrame, prefix: str, network, max_snap_m: float, bad: dict[int, str], path: Path
) -> np.ndarray:
    n = len(frame)
    nodes = np.full(n, -1, dtype=np.int64)
    names = network.places.set_index("name")["node"].to_dict() if len(network.places) else {}
    place_col, node_col = f"{prefix}_place", f"{prefix}_node"
    lat_col, lon_col = f"{prefix}_lat", f"{prefix}_lon"
    if not any(c in frame for c in (place_col, node_col, lat_col)):
        raise DemandError(
            f"{path}: expected a column {place_col}, {node_col} or {lat_col}+{lon_col}"
        )
    for i in range(n):
        row = frame.iloc[i]
        place, node = _text(row.get(place_col)), _text(row.get(node_col))
        if place:
            if place not in names:
                bad.setdefault(i, f"unknown {prefix} place {place!r}")
                continue
            nodes[i] = int(names[place])
        elif node:
            try:
                value = int(float(node))
            except ValueError:
                bad.setdefault(i, f"{node_col} is not a number ({node!r})")
                continue
            if not 0 <= value < network.n_nodes:
                bad.setdefault(
                    i, f"{node_col} {value} is not a node index (0..{network.n_nodes - 1})"
                )
                continue
            nodes[i] = value
        else:
            try:
                lat, lon = float(row[lat_col]), float(row[lon_col])
            except (KeyError, TypeError, ValueError):
                bad.setdefault(i, f"no {prefix} given (place, node or lat/lon)")
                continue
            try:
                node_i, snap_m = network.snap(lat, lon)
            except SnapError as exc:
                bad.setdefault(i, f"{prefix} ({lat}, {lon}) is too far from the network: {exc}")
                continue
            if snap_m > max_snap_m:
                bad.setdefault(
                    i,
                    f"{prefix} ({lat}, {lon}) is {snap_m:.0f} m from the network (max {max_snap_m:.0f} m)",
                )
                continue
            nodes[i] = node_i
    return nodes


def load_trip_table(
    path: Path,
    network,
    period_start_s: float,
    period_end_s: float,
    on_bad_rows: str = "error",
    default_group: str = "table",
    max_snap_m: float = 500.0,
) -> tuple[pd.DataFrame, dict]:
    """Trips from a table, in the contract's columns, and a report of dropped rows per reason.

    Parameters
    ----------
    path : CSV or Parquet file.
    network : the Network (named places, nodes, snapping).
    period_start_s, period_end_s : the simulated period, s; departures outside are bad rows.
    on_bad_rows : "error" or "drop".
    default_group : group of rows without a ``group`` value.
    max_snap_m : largest allowed distance from a lat/lon point to its node, m.
    """
    frame = read_table(path).reset_index(drop=True)
    if "depart" not in frame:
        raise DemandError(
            f"{path}: missing required column 'depart' (columns: {', '.join(frame.columns)})"
        )
    bad: dict[int, str] = {}
    depart = np.full(len(frame), np.nan)
    for i, value in enumerate(frame["depart"]):
        try:
            depart[i] = _clock(value)
        except ValueError:
            bad.setdefault(i, f"depart {value!r} is not a clock time")
            continue
        if not period_start_s <= depart[i] < period_end_s:
            bad.setdefault(i, f"depart {value} is outside the period")
    origin = _end_nodes(frame, "origin", network, max_snap_m, bad, path)
    dest = _end_nodes(frame, "dest", network, max_snap_m, bad, path)
    for i in np.flatnonzero((origin == dest) & (origin >= 0)):
        bad.setdefault(int(i), "origin equals destination")
    report = {"rows_read": len(frame), "dropped": {}}
    if bad:
        if on_bad_rows == "error":
            lines = [f"row {i + 1}: {reason}" for i, reason in sorted(bad.items())[:MAX_LISTED]]
            more = (
                f"\n... and {len(bad) - MAX_LISTED} more bad rows" if len(bad) > MAX_LISTED else ""
            )
            raise DemandError(
                f"{path}: {len(bad)} bad rows (row 1 = first data row):\n" + "\n".join(lines) + more
            )
        for reason in bad.values():
            key = (
                reason.split(" ")[0]
                if reason.startswith("depart")
                else reason.split("(")[0].strip()
            )
            report["dropped"][key] = report["dropped"].get(key, 0) + 1
        report["dropped_rows"] = [i + 1 for i in sorted(bad)][:1000]
    keep = np.array([i not in bad for i in range(len(frame))], dtype=bool)

    def column(name, default, cast):
        if name in frame and len(frame):
            values = frame[name].replace("", np.nan) if frame[name].dtype == object else frame[name]
            return values.fillna(default).astype(cast).to_numpy()
        return np.full(len(frame), default, dtype=cast)

    trips = pd.DataFrame(
        {
            "person_id": column("person_id", -1, np.int64),
            "tour_id": -1,
            "leg_index": 0,
            "group": column("group", default_group, object),
            "purpose": column("purpose", "", object),
            "origin_node": origin,
            "dest_node": dest,
            "origin_place": column("origin_place", "", object),
            "dest_place": column("dest_place", "", object),
            "depart_s": depart,
            "party_size": column("party_size", 1, np.int64),
            "car_available": np.array(
                [
                    str(v).lower() not in ("0", "false", "no")
                    for v in column("car_available", "true", object)
                ]
            ),
            "allowed_modes": "",
            "source_row": np.arange(1, len(frame) + 1),
        }
    )[keep].reset_index(drop=True)
    # each row without a person is its own person; tours chain a person's trips in time order
    missing = trips["person_id"] < 0
    trips.loc[missing, "person_id"] = 10_000_000 + trips.index[missing]
    trips["tour_id"] = pd.factorize(trips["person_id"])[0].astype(np.int64)
    trips = trips.sort_values(["tour_id", "depart_s"], kind="stable")
    trips["leg_index"] = trips.groupby("tour_id").cumcount().astype(np.int64)
    return trips.drop(columns="source_row").reset_index(drop=True), report

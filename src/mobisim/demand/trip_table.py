"""Trips read from a table (CSV or Parquet) instead of a synthetic population.

Columns (one row per trip; see docs/demand.md):

* ``depart`` (required): clock time "HH:MM[:SS]" or seconds after midnight;
* the origin as ``origin_place`` (a named place), ``origin_node`` (node index) or
  ``origin_lat`` + ``origin_lon`` (degrees, snapped to the nearest node); the destination
  likewise with ``dest_``. A row may use any one of the columns present (place, then node, then
  lat/lon is the order looked at);
* optional: ``trip_id`` (whole number, unique; default: the data row number), ``person_id``,
  ``group``, ``purpose``, ``party_size`` (>= 1), ``car_available`` (true/false/yes/no/1/0),
  ``allowed_modes`` (comma list). A person's rows form one tour in departure order.

Row numbers count data rows from 1: row 1 is the first row under the header, i.e. line 2 of a
CSV file or spreadsheet row 2. Bad rows (codes in ``REASONS``) are all listed with every problem
they have (``on_bad_rows: error``, DemandError, the first ``MAX_LISTED``) or dropped and counted
by their first problem (``on_bad_rows: drop``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.errors import DemandError, SnapError
from mobisim.units import format_clock, parse_clock_s

MAX_LISTED = 20
MAX_ROWS_IN_REPORT = 1000
ROWS_NOTE = "row N = N-th data row (line N+1 of a CSV file or spreadsheet, after the header)"

#: reason code -> what it means (the keys of ``report["dropped"]``)
REASONS = {
    "bad_time": "depart is not a clock time",
    "outside_period": "depart is outside the simulated period",
    "missing_location": "no origin or destination given (place, node or lat/lon)",
    "unknown_place": "a place name the network does not have",
    "unknown_node": "a node that is not a node index of the network",
    "too_far_to_snap": "a lat/lon point farther than max_snap_m from the network",
    "origin_equals_destination": "origin and destination are the same node",
    "bad_value": "trip_id, person_id, party_size or car_available cannot be read",
    "duplicate_trip_id": "a trip_id already used on an earlier row",
}
OPTIONAL = (
    "trip_id",
    "person_id",
    "group",
    "purpose",
    "party_size",
    "car_available",
    "allowed_modes",
)
TRUE, FALSE = {"", "1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (all cells as text) or Parquet trip table; DemandError if missing or unreadable."""
    if not path.is_file():
        raise DemandError(f"{path}: trip table not found (demand.trip_table.file)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True)
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:
        raise DemandError(f"{path}: cannot read the trip table ({exc})") from None


def texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The cells of ``column`` as stripped text ("" for a missing column, None, NaN or blank).

    Whole floats print without ".0" (Parquet stores an int column with gaps as floats).
    """
    if column not in frame:
        return np.full(len(frame), "", dtype=object)
    series = frame[column]
    missing = series.isna().to_numpy()
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float)
        whole = ~missing & np.isfinite(values) & (np.round(values) == values)
        text = series.astype(str).to_numpy(dtype=object)
        text[whole] = values[whole].astype(np.int64).astype(str)
    else:
        text = series.astype(object).where(~missing, "").astype(str).str.strip()
        text = text.to_numpy(dtype=object)
    text[missing] = ""
    return text


def _whole(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values as int64, ok mask) of text cells holding whole numbers; blanks are not ok."""
    numbers = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(float)
    ok = np.isfinite(numbers) & (np.round(numbers) == numbers)
    return np.where(ok, numbers, -1).astype(np.int64), ok


class _Problems:
    """Problems per row (0-based index): all messages, and the code of the first one."""

    def __init__(self, n: int):
        self.first = np.full(n, "", dtype=object)
        self.messages: dict[int, list[str]] = {}

    def add(self, rows, code: str, message) -> None:
        for i in np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows:
            i = int(i)
            if not self.first[i]:
                self.first[i] = code
            self.messages.setdefault(i, []).append(message(i) if callable(message) else message)

    @property
    def bad(self) -> np.ndarray:
        return self.first != ""


def _depart_s(frame, start_s: float, end_s: float, problems: _Problems) -> np.ndarray:
    cells = texts(frame, "depart")
    parsed: dict[str, float] = {}
    for text in set(cells):
        try:
            parsed[text] = float(text) if _is_number(text) else parse_clock_s(text)
        except ValueError:
            parsed[text] = np.nan
    depart = np.array([parsed[c] for c in cells], dtype=float)
    problems.add(np.isnan(depart), "bad_time", lambda i: f"depart {cells[i]!r} is not a clock time")
    period = f"{format_clock(start_s)}–{format_clock(end_s)}"
    outside = ~np.isnan(depart) & ((depart < start_s) | (depart >= end_s))
    problems.add(
        outside, "outside_period", lambda i: f"depart {cells[i]} is outside the period {period}"
    )
    return depart


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _end_nodes(frame, prefix: str, network, max_snap_m: float, problems, path) -> np.ndarray:
    """Node index of each row's origin or destination (``prefix``), -1 where it is bad."""
    place_col, node_col, lat_col, lon_col = (
        f"{prefix}_{s}" for s in ("place", "node", "lat", "lon")
    )
    if (lat_col in frame) != (lon_col in frame):
        missing = lon_col if lat_col in frame else lat_col
        raise DemandError(f"{path}: missing column {missing!r} (needed with its pair)")
    if not any(c in frame for c in (place_col, node_col, lat_col)):
        raise DemandError(
            f"{path}: missing required column {place_col!r}, {node_col!r} or "
            f"{lat_col!r}+{lon_col!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    n = len(frame)
    nodes = np.full(n, -1, dtype=np.int64)
    place, node_text = texts(frame, place_col), texts(frame, node_col)
    lat_text, lon_text = texts(frame, lat_col), texts(frame, lon_col)
    by_place = place != ""
    by_node = ~by_place & (node_text != "")
    by_point = ~by_place & ~by_node & ((lat_text != "") | (lon_text != ""))
    problems.add(
        ~(by_place | by_node | by_point),
        "missing_location",
        f"no {prefix} given ({place_col}, {node_col} or {lat_col}+{lon_col})",
    )
    names = dict(zip(network.places["name"].astype(str), network.places["node"], strict=True))
    known = np.array([p in names for p in place], dtype=bool)
    problems.add(
        by_place & ~known, "unknown_place", lambda i: f"unknown {prefix} place {place[i]!r}"
    )
    for i in np.flatnonzero(by_place & known):
        nodes[i] = int(names[place[i]])
    values, whole = _whole(node_text)
    in_range = whole & (values >= 0) & (values < network.n_nodes)
    problems.add(
        by_node & ~in_range,
        "unknown_node",
        lambda i: f"{node_col} {node_text[i]} is not a node index (0..{network.n_nodes - 1})",
    )
    nodes[by_node & in_range] = values[by_node & in_range]
    lats = pd.to_numeric(pd.Series(lat_text, dtype=object), errors="coerce").to_numpy(float)
    lons = pd.to_numeric(pd.Series(lon_text, dtype=object), errors="coerce").to_numpy(float)
    finite = np.isfinite(lats) & np.isfinite(lons)
    problems.add(
        by_point & ~finite,
        "missing_location",
        lambda i: f"{prefix} lat/lon ({lat_text[i]!r}, {lon_text[i]!r}) are not numbers",
    )
    rows = np.flatnonzero(by_point & finite)
    snapped, snap_m = _snap(network, lats[rows], lons[rows])
    far = snap_m > max_snap_m
    problems.add(
        rows[far],
        "too_far_to_snap",
        lambda i: (
            f"{prefix} ({lats[i]}, {lons[i]}) is {_distance(network, lats[i], lons[i])} from the "
            f"network (max_snap_m {max_snap_m:.0f} m)"
        ),
    )
    nodes[rows[~far]] = snapped[~far]
    return nodes


def _snap(network, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest nodes and snap distances (m); inf where the network refuses to snap the point."""
    if len(lats) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    try:
        nodes, snap_m = network.snap_many(lats, lons)
        return np.asarray(nodes, dtype=np.int64), np.asarray(snap_m, dtype=float)
    except SnapError:
        pass  # some point is too far: find which, one by one
    nodes, snap_m = np.full(len(lats), -1, dtype=np.int64), np.full(len(lats), np.inf)
    for k, (lat, lon) in enumerate(zip(lats, lons, strict=True)):
        try:
            nodes[k], snap_m[k] = network.snap(float(lat), float(lon))
        except SnapError:
            continue
    return nodes, snap_m


def _distance(network, lat: float, lon: float) -> str:
    """Distance (text, m) from a point to the nearest node, for messages."""
    if (
        hasattr(network, "nodes")
        and {"x_m", "y_m"} <= set(network.nodes)
        and hasattr(network, "projector")
    ):
        x, y = network.projector.to_xy_m([lat], [lon])
        d = np.hypot(network.nodes["x_m"].to_numpy() - x[0], network.nodes["y_m"].to_numpy() - y[0])
        return f"{d.min():.0f} m"
    return "too far"


def _optional(frame, n: int, default_group: str, problems: _Problems) -> dict[str, np.ndarray]:
    """The optional columns, parsed; bad cells recorded as ``bad_value``."""
    out: dict[str, np.ndarray] = {}
    trip_text = texts(frame, "trip_id")
    if "trip_id" in frame:
        trip_id, ok = _whole(trip_text)
        problems.add(~ok, "bad_value", lambda i: f"trip_id {trip_text[i]!r} is not a whole number")
        first_row, valid = np.arange(n), np.flatnonzero(ok)
        first_row[valid] = pd.Series(valid).groupby(trip_id[valid]).transform("min").to_numpy()
        repeated = first_row != np.arange(n)
        problems.add(
            repeated,
            "duplicate_trip_id",
            lambda i: f"trip_id {trip_id[i]} repeats row {first_row[i] + 1}",
        )
        out["trip_id"] = trip_id
    else:
        out["trip_id"] = np.arange(1, n + 1, dtype=np.int64)
    person_text = texts(frame, "person_id")
    person, ok = _whole(person_text)
    given = person_text != ""
    problems.add(
        given & ~ok, "bad_value", lambda i: f"person_id {person_text[i]!r} is not a whole number"
    )
    out["person_id"] = np.where(given & ok, person, -1)
    party_text = texts(frame, "party_size")
    party, ok = _whole(np.where(party_text == "", "1", party_text))
    problems.add(
        ~ok | (party < 1),
        "bad_value",
        lambda i: f"party_size {party_text[i]!r} is not a whole number >= 1",
    )
    out["party_size"] = np.maximum(party, 1)
    car_text = np.array([c.lower() for c in texts(frame, "car_available")], dtype=object)
    known = np.isin(car_text, sorted(TRUE | FALSE))
    problems.add(
        ~known, "bad_value", lambda i: f"car_available {car_text[i]!r} is not true/false/yes/no/1/0"
    )
    out["car_available"] = np.isin(car_text, sorted(TRUE))
    group = texts(frame, "group")
    out["group"] = np.where(group == "", default_group, group)
    purpose = texts(frame, "purpose")
    out["purpose"] = np.where(purpose == "", out["group"], purpose)
    modes = texts(frame, "allowed_modes")
    out["allowed_modes"] = np.array(
        [",".join(m.strip() for m in s.split(",") if m.strip()) for s in modes], dtype=object
    )
    return out


def load_trip_table(
    path: Path,
    network,
    period_start_s: float,
    period_end_s: float,
    on_bad_rows: str = "error",
    default_group: str = "table",
    max_snap_m: float = 500.0,
) -> tuple[pd.DataFrame, dict]:
    """Trips from a table, in the contract's columns (unsorted), and a report for the manifest.

    Parameters
    ----------
    path : CSV or Parquet file.
    network : the Network (``places``, ``n_nodes``, ``snap``/``snap_many``).
    period_start_s, period_end_s : the simulated period, s after midnight; a departure must be
        at or after the start and before the end.
    on_bad_rows : "error" (DemandError listing the bad rows) or "drop" (dropped and counted).
    default_group : group of rows without a ``group`` value.
    max_snap_m : largest allowed distance from a lat/lon point to its node, m.

    Raises DemandError for a missing or unreadable file, a missing required column, or (with
    ``on_bad_rows: error``) any bad row.
    """
    frame = read_table(path)
    if "depart" not in frame:
        raise DemandError(
            f"{path}: missing required column 'depart' (columns: {', '.join(map(str, frame.columns))})"
        )
    n = len(frame)
    problems = _Problems(n)
    depart = _depart_s(frame, period_start_s, period_end_s, problems)
    origin = _end_nodes(frame, "origin", network, max_snap_m, problems, path)
    dest = _end_nodes(frame, "dest", network, max_snap_m, problems, path)
    same = (origin == dest) & (origin >= 0)
    problems.add(
        same, "origin_equals_destination", lambda i: f"origin equals destination (node {origin[i]})"
    )
    extra = _optional(frame, n, default_group, problems)
    bad = problems.bad
    known_cols = {"depart", *OPTIONAL} | {
        f"{p}_{s}" for p in ("origin", "dest") for s in ("place", "node", "lat", "lon")
    }
    report: dict = {
        "rows_read": n,
        "rows_kept": int(n - bad.sum()),
        "bad_rows": int(bad.sum()),
        "row_numbering": ROWS_NOTE,
        "dropped": {},
        "ignored_columns": [str(c) for c in frame.columns if c not in known_cols],
    }
    if bad.any():
        if on_bad_rows == "error":
            raise DemandError(_bad_rows_message(path, problems))
        codes, counts = np.unique(problems.first[bad].astype(str), return_counts=True)
        report["dropped"] = {str(c): int(k) for c, k in zip(codes, counts, strict=True)}
        report["dropped_rows"] = (np.flatnonzero(bad) + 1)[:MAX_ROWS_IN_REPORT].tolist()
    keep = ~bad
    place_of = {"origin": texts(frame, "origin_place"), "dest": texts(frame, "dest_place")}
    trips = pd.DataFrame(
        {
            "trip_id": extra["trip_id"][keep],
            "person_id": extra["person_id"][keep],
            "group": extra["group"][keep],
            "purpose": extra["purpose"][keep],
            "origin_node": origin[keep],
            "dest_node": dest[keep],
            "origin_place": place_of["origin"][keep],
            "dest_place": place_of["dest"][keep],
            "depart_s": depart[keep],
            "party_size": extra["party_size"][keep],
            "car_available": extra["car_available"][keep],
            "allowed_modes": extra["allowed_modes"][keep],
        }
    )
    return _tours(trips), report


def _tours(trips: pd.DataFrame) -> pd.DataFrame:
    """Give rows without a person their own person id; a person's rows form one tour in time order."""
    missing = (trips["person_id"] < 0).to_numpy()
    start = int(trips["person_id"].max()) + 1 if (~missing).any() else 0
    person = trips["person_id"].to_numpy().copy()
    person[missing] = start + np.arange(int(missing.sum()))
    trips["person_id"] = person.astype(np.int64)
    trips["tour_id"] = pd.factorize(trips["person_id"])[0].astype(np.int64)
    order = trips.sort_values(["tour_id", "depart_s", "trip_id"], kind="stable").index
    trips["leg_index"] = 0
    trips.loc[order, "leg_index"] = trips.loc[order].groupby("tour_id").cumcount().to_numpy()
    trips["leg_index"] = trips["leg_index"].astype(np.int64)
    return trips


def _bad_rows_message(path: Path, problems: _Problems) -> str:
    rows = sorted(problems.messages)
    lines = [f"row {i + 1}: {'; '.join(problems.messages[i])}" for i in rows[:MAX_LISTED]]
    if len(rows) > MAX_LISTED:
        lines.append(f"... and {len(rows) - MAX_LISTED} more bad rows")
    codes, counts = np.unique(problems.first[problems.bad].astype(str), return_counts=True)
    summary = ", ".join(f"{c} {k}" for c, k in zip(codes, counts, strict=True))
    return (
        f"{path}: {len(rows)} bad rows ({ROWS_NOTE}; set demand.trip_table.on_bad_rows: drop "
        f"to drop them):\n" + "\n".join(lines) + f"\nby reason: {summary}"
    )

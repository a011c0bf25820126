"""One entry point for demand: the trips table of a scenario, from a population or a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.demand.population import empty_trips, generate_population
from mobisim.demand.trip_table import REASONS, load_trip_table
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation

#: the trips table's columns, in order (docs/architecture.md "Demand")
TRIP_COLUMNS = (
    "trip_id",
    "person_id",
    "tour_id",
    "leg_index",
    "group",
    "purpose",
    "origin_node",
    "dest_node",
    "origin_place",
    "dest_place",
    "depart_s",
    "party_size",
    "car_available",
    "allowed_modes",
)
INT_COLUMNS = ("trip_id", "person_id", "tour_id", "leg_index", "origin_node", "dest_node")
TEXT_COLUMNS = ("group", "purpose", "origin_place", "dest_place", "allowed_modes")


def build_trips(
    config: DemandConfig,
    network,
    streams: RandomStreams,
    period_start_s: float = 0.0,
    period_end_s: float = 24 * 3600.0,
    base_dir: Path | str = ".",
    max_snap_m: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The trips table (columns ``TRIP_COLUMNS``) and a report for the manifest.

    Parameters
    ----------
    config : the scenario's ``demand`` section; with neither ``synthetic`` nor ``trip_table``
        the default synthetic population is generated.
    network : the Network (places, zones, snapping).
    streams : the run's random streams (synthetic demand uses ``demand.population`` and
        ``demand.<group>``).
    period_start_s, period_end_s : the scenario's period, s after midnight. Table rows departing
        outside it are bad rows; synthetic departures are redrawn inside it.
    base_dir : folder a relative ``trip_table.file`` is read from (the scenario file's folder).
    max_snap_m : largest distance from a table's lat/lon point to its node, m (default: the
        network's ``max_snap_m``, else 500).

    Rows are sorted by ``depart_s`` then ``trip_id``. Synthetic trips are numbered 0..n-1 in that
    order; table trips keep the table's ``trip_id`` (default: the data row number). Raises
    DemandError for unusable demand input (see docs/demand.md).
    """
    if config.trip_table is not None:
        snap_limit = max_snap_m if max_snap_m is not None else getattr(network, "max_snap_m", 500.0)
        trips, report = load_trip_table(
            Path(base_dir) / config.trip_table.file,
            network,
            period_start_s,
            period_end_s,
            on_bad_rows=config.trip_table.on_bad_rows,
            default_group=config.trip_table.default_group,
            max_snap_m=float(snap_limit),
        )
        report = {"source": "trip_table", "file": config.trip_table.file, **report}
        trips = trips.sort_values(["depart_s", "trip_id"], kind="stable")
    else:
        synthetic = config.synthetic or SyntheticPopulation()
        trips, report = generate_population(
            synthetic, network, streams, period_start_s, period_end_s
        )
        report = {"source": "synthetic", **report}
        trips = trips.sort_values(["depart_s", "tour_id", "leg_index"], kind="stable")
        trips.insert(0, "trip_id", np.arange(len(trips), dtype=np.int64))
    trips = _typed(trips.reset_index(drop=True) if len(trips) else _empty())
    report["trips"] = len(trips)
    return trips, report


def _empty() -> pd.DataFrame:
    frame = empty_trips()
    frame.insert(0, "trip_id", pd.Series(dtype=np.int64))
    return frame


def _typed(trips: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns, in order, with their dtypes."""
    out = trips[list(TRIP_COLUMNS)].copy()
    for name in (*INT_COLUMNS, "party_size"):
        out[name] = out[name].astype(np.int64)
    for name in TEXT_COLUMNS:
        out[name] = out[name].astype(str)
    out["depart_s"] = out["depart_s"].astype(float)
    out["car_available"] = out["car_available"].astype(bool)
    return out


def demand_warnings(report: dict) -> list[str]:
    """What demand left out, in plain sentences, from the demand report of a run (the
    ``demand`` entry of manifest.json, as :func:`build_trips` returns it); empty when nothing was.

    Trip table: rows dropped (count per reason, ``on_bad_rows: drop``) and columns ignored.
    Synthetic population: tours dropped because origin and destination fell on one node, groups
    and external flows whose destination or entry kinds the network lacks (a flow with no entry
    place sends nobody), departure times clipped to the period.
    """
    lines = []
    dropped = report.get("dropped") or {}
    if report.get("source") == "trip_table":
        if dropped:
            total = sum(dropped.values())
            reasons = ", ".join(
                f"{n} {code} ({REASONS.get(code, code)})" for code, n in sorted(dropped.items())
            )
            lines.append(
                f"trip table {report.get('file', '')}: {total} of {report.get('rows_read', '?')} "
                f"rows dropped: {reasons}; row numbers in manifest.json demand.dropped_rows"
            )
        if report.get("ignored_columns"):
            lines.append(
                f"trip table {report.get('file', '')}: columns ignored (not trip-table columns): "
                + ", ".join(report["ignored_columns"])
            )
        return lines
    same = int(dropped.get("origin_equals_destination", 0))
    if same:
        lines.append(f"demand: {same} tours dropped: origin and destination are the same node")
    external = report.get("external") or {}
    for name, kinds in (report.get("skipped_kinds") or {}).items():
        if name in external and external[name].get("persons", 0) == 0:
            lines.append(
                f"demand flow '{name}' dropped, it sends nobody: the network has no entry place "
                f"of kind {', '.join(kinds)}"
            )
            continue
        lines.append(
            f"demand '{name}': place kinds skipped (the network has no place of that kind): "
            + ", ".join(kinds)
        )
    if report.get("clipped_times"):
        lines.append(
            f"demand: {report['clipped_times']} times clipped to the period (drawn outside it "
            "after every redraw)"
        )
    return lines

"""One entry point for demand: the trips table of a scenario, from a population or a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.demand.population import empty_trips, generate_population
from mobisim.demand.trip_table import load_trip_table
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation

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


def build_trips(
    config: DemandConfig,
    network,
    streams: RandomStreams,
    period_start_s: float = 0.0,
    period_end_s: float = 24 * 3600.0,
    base_dir: Path | str = ".",
    max_snap_m: float = 500.0,
) -> tuple[pd.DataFrame, dict]:
    """The trips table (docs/architecture.md "Demand") and a report for the manifest.

    With neither ``synthetic`` nor ``trip_table`` set, a default synthetic population is used.
    Rows are sorted by departure time (then tour and leg) and numbered ``trip_id`` 0..n-1.
    """
    if config.trip_table is not None:
        trips, report = load_trip_table(
            Path(base_dir) / config.trip_table.file,
            network,
            period_start_s,
            period_end_s,
            on_bad_rows=config.trip_table.on_bad_rows,
            default_group=config.trip_table.default_group,
            max_snap_m=max_snap_m,
        )
        report["source"] = "trip_table"
    else:
        synthetic = config.synthetic or SyntheticPopulation()
        trips, report = generate_population(
            synthetic, network, streams, period_start_s, period_end_s
        )
        report["source"] = "synthetic"
    if trips.empty:
        trips = empty_trips()
    trips = trips.sort_values(["depart_s", "tour_id", "leg_index"], kind="stable").reset_index(
        drop=True
    )
    trips.insert(0, "trip_id", np.arange(len(trips), dtype=np.int64))
    trips["group"] = trips["group"].astype(str)
    report["trips"] = len(trips)
    return trips[list(TRIP_COLUMNS)], report

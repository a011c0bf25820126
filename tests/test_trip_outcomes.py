"""trips.parquet's outcome columns are a function of events.parquet: rebuilt, they are equal."""

from __future__ import annotations

import pandas as pd
import pytest

import mobisim
from mobisim.engine.simulation import OUTCOME_COLUMNS
from mobisim.metrics.trip_outcomes import OUTCOME_COLUMNS as REBUILT
from mobisim.metrics.trip_outcomes import trip_outcomes


def test_every_outcome_column_but_the_network_drive_time_is_rebuilt():
    assert [c for c in OUTCOME_COLUMNS if c != "direct_s"] == list(REBUILT)


@pytest.mark.parametrize("scenario", ["demo.yaml", "chungbuk/drt-2030.yaml"])
def test_the_trips_table_rebuilt_from_the_events_equals_trips_parquet(
    scenario, repo_root, tmp_path
):
    overrides = {"outputs.charts": False, "outputs.dir": str(tmp_path)}
    if scenario.startswith("chungbuk"):
        overrides["demand.synthetic.residents"] = 3000
        overrides["demand.synthetic.households"] = 1100
    result = mobisim.run(mobisim.load_scenario(repo_root / "scenarios" / scenario, overrides))
    saved = pd.read_parquet(result.run_dir / "trips.parquet").set_index("trip_id").sort_index()
    events = pd.read_parquet(result.run_dir / "events.parquet")
    rebuilt = trip_outcomes(events)
    assert len(rebuilt) == len(saved)
    expected = saved.loc[:, list(REBUILT)]
    statuses = set(expected["status"])
    assert {"completed", "fallback", "unserved"} <= statuses  # every path is exercised
    pd.testing.assert_frame_equal(rebuilt, expected, check_exact=True, check_dtype=False)

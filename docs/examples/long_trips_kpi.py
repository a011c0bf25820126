"""A KPI: the share of served trips longer than an hour door to door, by group.

The example of docs/contributing.md "Adding a KPI" (tests/test_contributing.py runs it). A KPI
is a pure function of the saved tables of a run (here trips.parquet); it never reaches into the
simulation.
"""

from __future__ import annotations

import pandas as pd

SERVED = ("completed", "fallback")


def long_trip_share_by_group(trips: pd.DataFrame, threshold_s: float = 3600.0) -> pd.Series:
    """Share (0..1) of each group's served trips whose door-to-door time exceeds ``threshold_s`` (s).

    Parameters
    ----------
    trips : DataFrame
        trips.parquet: ``group``, ``status``, ``door_to_door_s`` (s).
    threshold_s : float
        Door-to-door time above which a trip counts as long, s.
    """
    served = trips[trips["status"].isin(SERVED)]
    return (served["door_to_door_s"] > threshold_s).groupby(served["group"]).mean()

"""Small helpers every KPI module shares: the empty-case rule, statistics, mode and state sets.

Empty-case rule (docs/kpis.md): a ratio whose denominator is zero, and a mean / median /
percentile over no values, is NaN (``null`` in kpis.json); a count or a sum over nothing is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd

from mobisim.services.private_bike import BIKE_MODES

#: modes that are not a shared service: no operator, no wait, no fare revenue
PRIVATE_MODES = frozenset({"", "walk", "car", "walk_fallback", "car_fallback", *BIKE_MODES})
#: modes in which nobody rides a vehicle (in-vehicle time is meaningless)
WALK_MODES = frozenset({"walk", "walk_fallback"})
#: vehicle states with nobody on board while driving
EMPTY_DRIVE_STATES = ("in_service_empty", "to_pickup", "repositioning", "to_charger", "crew")
#: vehicle states that count as time in service (fleet utilisation, revenue hours) [K8]
IN_SERVICE_STATES = frozenset({"occupied", "in_service_empty", "to_pickup", "dwell"})
#: modes ridden on a personal device (the commuter rides it; no detour against the car)
DEVICE_MODES = frozenset({"bike", "ebike", "escooter", "segway"})
#: fallback reasons that mean "no vehicle was there" (sharing availability)
NO_VEHICLE_MARKERS = ("no_vehicle", "no_bike", "no_scooter", "no_device", "empty_station")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` as a float, or NaN when the denominator is zero (or NaN)."""
    if not denominator or (isinstance(denominator, float) and math.isnan(denominator)):
        return math.nan
    return float(numerator) / float(denominator)


def mean(values: pd.Series) -> float:
    """Mean of the non-null values, NaN when there are none."""
    values = values.dropna()
    return float(values.mean()) if len(values) else math.nan


def median(values: pd.Series) -> float:
    """Median of the non-null values, NaN when there are none."""
    values = values.dropna()
    return float(values.median()) if len(values) else math.nan


def percentile(values: pd.Series, q: float) -> float:
    """The ``q``-th percentile (0..100, linear interpolation as numpy) of the non-null values, NaN when none."""
    values = values.dropna()
    return float(np.percentile(values.to_numpy(dtype=float), q)) if len(values) else math.nan


def total(values: pd.Series) -> float:
    """Sum of the non-null values as a float (0.0 over nothing)."""
    return float(values.fillna(0).sum())


def as_str(values: pd.Series) -> pd.Series:
    """A string column with nulls as "" (pandas string / object / pyarrow columns alike)."""
    if _STR_DTYPE is not None and values.dtype == _STR_DTYPE and not values.hasnans:
        return values  # already what the conversion gives (pandas ≥ 3 "str" columns)
    return values.astype("string").fillna("").astype(str)


def _str_dtype():
    """The dtype :func:`as_str` returns when it is a pandas string dtype (pandas ≥ 3), else None."""
    dtype = pd.Series(["a", None]).astype("string").fillna("").astype(str).dtype
    return dtype if isinstance(dtype, pd.StringDtype) else None


_STR_DTYPE = _str_dtype()


#: within :func:`reuse_event_rows`: (id of an events table, kinds) -> (that table, its rows)
_EVENT_ROWS: ContextVar[dict | None] = ContextVar("mobisim_event_rows", default=None)


@contextmanager
def reuse_event_rows() -> Iterator[None]:
    """Within the block :func:`event_rows` filters each events table once per set of kinds
    (compute_kpis asks for the same rows a dozen times); the tables must not change meanwhile."""
    token = _EVENT_ROWS.set({})
    try:
        yield
    finally:
        _EVENT_ROWS.reset(token)


def event_rows(events: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """The rows of ``events`` whose ``event`` is one of ``kinds``, in table order."""
    memo = _EVENT_ROWS.get()
    key = (id(events), kinds)
    if memo is not None:
        hit = memo.get(key)
        if hit is not None and hit[0] is events:
            return hit[1]
    rows = events[as_str(events["event"]).isin(kinds)]
    if memo is not None:
        memo[key] = (events, rows)  # holding the table keeps its id from being reused
    return rows


def hour_key(time_s: float) -> str:
    """Hour-of-day key "07" for a clock time in seconds after midnight (past midnight: "24", "25")."""
    return f"{int(time_s // 3600):02d}"


def is_shared_mode(modes: pd.Series) -> pd.Series:
    """Boolean mask: the mode is a shared service (not walk, private car or their fallbacks)."""
    return ~as_str(modes).isin(PRIVATE_MODES)


def period_s(meta: dict, events: pd.DataFrame) -> tuple[float, float]:
    """The analysed period (start_s, end_s): from ``meta`` when given, else the span of the events."""
    start = meta.get("period_start_s")
    end = meta.get("period_end_s")
    if start is None or end is None:
        if events.empty:
            return 0.0, 0.0
        finish = events["time_s"] + events["duration_s"].fillna(0)
        start = float(events["time_s"].min()) if start is None else start
        end = float(finish.max()) if end is None else end
    return float(start), float(end)


def service_modes(trips: pd.DataFrame) -> dict[str, str]:
    """Service name -> the mode label most of its trips carry (``trips.mode``; a tie goes to the
    mode name sorting last), for the services that carried trips; {} without those columns."""
    if trips.empty or not {"service", "mode"} <= set(trips.columns):
        return {}
    pairs = pd.DataFrame({"service": as_str(trips["service"]), "mode": as_str(trips["mode"])})
    pairs = pairs[(pairs["service"] != "") & (pairs["mode"] != "")]
    if pairs.empty:
        return {}
    counts = pairs.value_counts().reset_index().sort_values(["service", "count", "mode"])
    return {str(k): str(v) for k, v in counts.groupby("service")["mode"].last().items()}

"""The typed, columnar event log every agent and service writes to.

Following ridepy, the simulation *emits events* and every KPI is a pure function of the saved
event table (plus the trips and vehicles tables derived from it). Agents never compute KPIs.

One row per event, fixed columns (unused ones keep their null value):

=============  ========  ==================================================================
column         dtype     meaning
=============  ========  ==================================================================
time_s         float64   simulated time of the event, seconds after midnight
event          string    event kind, one of :data:`EVENT_KINDS`
service        string    service name from the scenario ("" when none)
trip_id        int64     trip the event concerns (-1 when none)
vehicle_id     int64     vehicle / device the event concerns (-1 when none); unique per run
node           int64     node index where the event happens / a leg starts (-1 when none)
to_node        int64     node index where a leg ends (-1 when none)
distance_m     float64   distance of a leg, metres (NaN when none)
duration_s     float64   duration of a leg / dwell / wait, seconds (NaN when none)
pax            int64     passengers on board after the event (-1 when not a vehicle event)
state          string    vehicle state of a leg or dwell, or final trip status
value          float64   a number whose meaning depends on ``event`` (see EVENT_KINDS)
detail         string    free text: a reason, a mode, a station name
=============  ========  ==================================================================
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

NAN = math.nan

#: Event kinds and what their columns mean. KPI code relies on these definitions.
EVENT_KINDS: dict[str, str] = {
    # commuter side
    "trip_start": "trip_id leaves (desired departure); node=origin, to_node=destination",
    "mode_choice": "trip_id chose service; detail=mode; value=number of available offers",
    "walk": "trip_id walks node->to_node; distance_m, duration_s; detail=access|egress|direct|transfer",
    "request": "trip_id asks service for a ride/vehicle at node",
    "reject": "service refused trip_id; detail=reason",
    "give_up": "trip_id stopped waiting for service after duration_s; detail=reason",
    "pickup": "trip_id picked up (or took a vehicle) at node; vehicle_id; value=wait_s",
    "dropoff": "trip_id dropped off (or parked vehicle) at node; vehicle_id; value=in_vehicle_s",
    "fallback": "trip_id falls back from service; detail=reason",
    "trip_end": "trip_id finished; state=completed|fallback|unserved; service=final mode's service; detail=reason",
    # vehicle side
    "vehicle_leg": "vehicle_id drives node->to_node starting at time_s; distance_m, duration_s, pax on board, state",
    "vehicle_dwell": "vehicle_id stands at node for duration_s; state=dwell|layover|idle|charging|parked",
    "board": "trip_id boards vehicle_id at node; pax=load after boarding",
    "alight": "trip_id alights vehicle_id at node; pax=load after alighting",
    "denied_boarding": "trip_id could not board full vehicle_id at node",
    "charge_start": "vehicle_id starts charging at node; detail=site; value=state of charge kWh",
    "charge_end": "vehicle_id stops charging; value=energy charged kWh (battery side); duration_s",
    "station_stock": "station/zone at node now holds value vehicles; detail=station name; pax=free spaces",
    "battery_swap": "crew vehicle_id swapped the battery of a device at node; value=device vehicle_id",
}

#: Vehicle states used in ``vehicle_leg``/``vehicle_dwell`` rows (KPIs group vehicle-km by these).
VEHICLE_STATES = (
    "occupied",  # at least one passenger on board (or a commuter driving/riding it)
    "in_service_empty",  # running a fixed route with nobody on board
    "to_pickup",  # empty drive to pick someone up
    "repositioning",  # empty rebalancing / relocation / return to depot
    "to_charger",  # empty drive to a charging site
    "crew",  # operations van tour (micromobility crews)
    "dwell",
    "layover",
    "idle",
    "charging",
    "parked",
)

_INT_COLS = ("trip_id", "vehicle_id", "node", "to_node", "pax")
_STR_COLS = ("event", "service", "state", "detail")
COLUMNS = (
    "time_s",
    "event",
    "service",
    "trip_id",
    "vehicle_id",
    "node",
    "to_node",
    "distance_m",
    "duration_s",
    "pax",
    "state",
    "value",
    "detail",
)

ARROW_SCHEMA = pa.schema(
    [
        ("time_s", pa.float64()),
        ("event", pa.string()),
        ("service", pa.string()),
        ("trip_id", pa.int64()),
        ("vehicle_id", pa.int64()),
        ("node", pa.int64()),
        ("to_node", pa.int64()),
        ("distance_m", pa.float64()),
        ("duration_s", pa.float64()),
        ("pax", pa.int64()),
        ("state", pa.string()),
        ("value", pa.float64()),
        ("detail", pa.string()),
    ]
)


#: values per event-log row (the length of :data:`COLUMNS`)
N_COLUMNS = len(COLUMNS)


class EventLog:
    """Append-only event log: one flat list of values, :data:`N_COLUMNS` per row, cheap to fill.

    ``emit`` extends the list with one row. ``append(row)`` is the keyword-free form for the
    hottest paths (the commuter's story, the private car): ``row`` is a full 13-tuple ordered as
    :data:`COLUMNS`, unused columns holding the null values of :meth:`emit` (-1, NaN, ""); it is
    the list's own ``extend``, so it skips the keyword parsing of ``emit``, about half its cost.

    A flat list rather than a list of row tuples: the rows then leave no long-lived container
    objects behind for the cyclic garbage collector to scan during the run (hundreds of
    thousands a day), and :meth:`to_frame` takes each column as one slice.
    """

    __slots__ = ("_values", "append")

    def __init__(self) -> None:
        self._values: list = []
        self.append = self._values.extend

    def emit(
        self,
        time_s: float,
        event: str,
        service: str = "",
        trip_id: int = -1,
        vehicle_id: int = -1,
        node: int = -1,
        to_node: int = -1,
        distance_m: float = NAN,
        duration_s: float = NAN,
        pax: int = -1,
        state: str = "",
        value: float = NAN,
        detail: str = "",
    ) -> None:
        """Record one event (see the module docstring for the meaning of each column)."""
        self._values.extend(
            (
                time_s,
                event,
                service,
                trip_id,
                vehicle_id,
                node,
                to_node,
                distance_m,
                duration_s,
                pax,
                state,
                value,
                detail,
            )
        )

    def __len__(self) -> int:
        return len(self._values) // N_COLUMNS

    def to_frame(self) -> pd.DataFrame:
        """The events as a DataFrame with the fixed column dtypes, in emission order.

        Raises ValueError if a row was appended with the wrong number of values.
        """
        values = self._values
        if len(values) % N_COLUMNS:
            raise ValueError(
                f"event log holds {len(values)} values, not whole rows of {N_COLUMNS} "
                f"(a row appended with EventLog.append had the wrong length)"
            )
        return _columns_frame([values[i::N_COLUMNS] for i in range(N_COLUMNS)])


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Build the canonical events DataFrame from row tuples (ordered as :data:`COLUMNS`)."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    return _columns_frame(cols)


def _columns_frame(cols: list) -> pd.DataFrame:
    """The canonical events DataFrame from one sequence of values per column of :data:`COLUMNS`."""
    data = {}
    for name, values in zip(COLUMNS, cols, strict=True):
        if name in _INT_COLS:
            data[name] = np.asarray(values, dtype=np.int64)
        elif name in _STR_COLS:
            data[name] = _string_array(values)
        else:
            data[name] = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _string_array(values) -> pd.api.extensions.ExtensionArray:
    """``pd.array(values, dtype="string")``; Arrow builds it straight from the str objects.

    Arrow's conversion of a sequence of str is about twice as fast as pandas' (which first checks
    and converts every value to str); any other value (None, NaN, a number) takes pandas' way.
    """
    if not len(values):
        return pd.array([], dtype="string")
    try:
        arrow = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.array(values, dtype="string")
    if arrow.null_count:  # None: let pandas decide (its missing-value rules)
        return pd.array(values, dtype="string")
    return pd.array(arrow, dtype="string")


def write_events(frame: pd.DataFrame, path: str | Path) -> None:
    """Write an events frame as Parquet with the fixed schema (deterministic bytes for equal input)."""
    table = pa.Table.from_pandas(frame, schema=ARROW_SCHEMA, preserve_index=False)
    pq.write_table(table, path, compression="zstd")


def read_events(path: str | Path) -> pd.DataFrame:
    """Read an events Parquet file back into the canonical frame."""
    frame = pq.read_table(path).to_pandas()
    for name in _STR_COLS:
        frame[name] = frame[name].astype("string")
    return frame

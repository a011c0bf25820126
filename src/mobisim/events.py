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

Writing: one method of :class:`EventLog` per event kind, with keyword-only arguments named
after what they mean (``log.walk(now_s, trip_id=..., from_node=..., purpose="access")``); each
method is the one place where its kind's values meet their columns, so a row can never shift a
column. Reading: :meth:`EventLog.to_frame` (the table), :meth:`EventLog.rows` (one
:class:`Event` per row).

Checked logs (the test suite runs with them): every row is checked when it is written — its kind
is known, it has one value per column, each column holds a value of its type, the columns its
kind uses hold a value and the others their null value, vehicle states and trip statuses are
known ones — and a bad row raises :class:`EventRowError` naming the kind. Set the environment
variable ``MOBISIM_CHECK_EVENTS=1`` (``tests/conftest.py`` does) or pass ``checked=True``.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mobisim.errors import SimulationError

NAN = math.nan

#: Event kinds and what their columns mean. KPI code relies on these definitions.
EVENT_KINDS: dict[str, str] = {
    # commuter side
    "trip_start": "trip_id leaves (desired departure); node=origin, to_node=destination; value=number of available offers",
    "mode_choice": "trip_id chose service; detail=mode; the offer's promise: value=wait s, duration_s=in-vehicle s, node=access, to_node=egress",
    "walk": "trip_id walks node->to_node; distance_m, duration_s; detail=access|egress|direct|transfer|fallback",
    "request": "trip_id asks service for a ride/vehicle at node",
    "reject": "service refused trip_id; detail=reason",
    "give_up": "trip_id stopped waiting for service after duration_s; detail=reason",
    "pickup": "trip_id picked up (or took a vehicle) at node; vehicle_id; value=wait_s",
    "dropoff": "trip_id dropped off (or parked vehicle) at node; vehicle_id; value=in_vehicle_s",
    "fallback": "trip_id falls back from service; detail=reason; duration_s=time waited for it (NaN: none)",
    "trip_end": "trip_id finished; state=completed|fallback|unserved; service=final mode's service; duration_s=door to door; distance_m=trip distance; value=fare KRW; detail=reason",
    # vehicle side
    "vehicle_leg": "vehicle_id drives node->to_node starting at time_s; distance_m, duration_s, pax on board, state; detail=vehicle type (private cars) or a note",
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

#: Final statuses of a trip (the ``state`` of ``trip_end``).
TRIP_STATUSES = ("completed", "fallback", "unserved")

#: What a ``walk`` row's ``detail`` says the walk is.
WALK_PURPOSES = ("access", "egress", "direct", "transfer", "fallback")

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


class Event(NamedTuple):
    """One row of the event log, columns as in the module docstring (null values as defaults)."""

    time_s: float
    event: str
    service: str = ""
    trip_id: int = -1
    vehicle_id: int = -1
    node: int = -1
    to_node: int = -1
    distance_m: float = NAN
    duration_s: float = NAN
    pax: int = -1
    state: str = ""
    value: float = NAN
    detail: str = ""


#: The null value of each column (what a column the kind does not use holds).
NULLS: dict[str, object] = dict(Event._field_defaults)

#: The columns each kind fills (besides time_s and event): "req" must hold a value, "opt" may
#: hold one or its null. Every other column holds its null value. The checked log enforces it.
KIND_COLUMNS: dict[str, dict[str, str]] = {
    "trip_start": {"trip_id": "req", "node": "req", "to_node": "req", "value": "req"},
    "mode_choice": {
        "service": "req",
        "trip_id": "req",
        "node": "opt",
        "to_node": "opt",
        "duration_s": "req",
        "value": "req",
        "detail": "req",
    },
    "walk": {
        "trip_id": "req",
        "node": "req",
        "to_node": "req",
        "distance_m": "req",
        "duration_s": "req",
        "detail": "req",
    },
    "request": {"service": "req", "trip_id": "req", "node": "opt", "to_node": "opt"},
    "reject": {"service": "req", "trip_id": "req", "node": "opt", "detail": "req"},
    "give_up": {
        "service": "req",
        "trip_id": "req",
        "node": "opt",
        "duration_s": "req",
        "detail": "req",
    },
    "pickup": {
        "service": "req",
        "trip_id": "req",
        "vehicle_id": "req",
        "node": "req",
        "value": "req",
    },
    "dropoff": {
        "service": "req",
        "trip_id": "req",
        "vehicle_id": "req",
        "node": "req",
        "value": "req",
    },
    "fallback": {"service": "req", "trip_id": "req", "duration_s": "opt", "detail": "opt"},
    "trip_end": {
        "service": "opt",
        "trip_id": "req",
        "node": "req",
        "distance_m": "req",
        "duration_s": "opt",
        "state": "req",
        "value": "req",
        "detail": "opt",
    },
    "vehicle_leg": {
        "service": "opt",
        "trip_id": "opt",
        "vehicle_id": "opt",
        "node": "req",
        "to_node": "req",
        "distance_m": "req",
        "duration_s": "req",
        "pax": "req",
        "state": "req",
        "detail": "opt",
    },
    "vehicle_dwell": {
        "service": "req",
        "vehicle_id": "req",
        "node": "req",
        "duration_s": "req",
        "pax": "req",
        "state": "req",
        "detail": "opt",
    },
    "board": {"service": "req", "trip_id": "req", "vehicle_id": "req", "node": "req", "pax": "req"},
    "alight": {
        "service": "req",
        "trip_id": "req",
        "vehicle_id": "req",
        "node": "req",
        "pax": "req",
    },
    "denied_boarding": {
        "service": "req",
        "trip_id": "req",
        "vehicle_id": "req",
        "node": "req",
        "pax": "req",
    },
    "charge_start": {
        "service": "req",
        "vehicle_id": "req",
        "node": "req",
        "value": "req",
        "detail": "req",
    },
    "charge_end": {
        "service": "req",
        "vehicle_id": "req",
        "node": "req",
        "duration_s": "req",
        "value": "req",
        "detail": "req",
    },
    "station_stock": {
        "service": "req",
        "node": "req",
        "pax": "opt",  # free spaces; -1: no limit (a free-floating zone)
        "value": "req",
        "detail": "req",
    },
    "battery_swap": {"service": "req", "vehicle_id": "req", "node": "req", "value": "req"},
}


class EventRowError(SimulationError):
    """A row written to a checked event log does not fit its kind (a bug in the writer)."""


def checks_enabled() -> bool:
    """Whether new event logs check their rows: environment variable ``MOBISIM_CHECK_EVENTS``."""
    return os.environ.get("MOBISIM_CHECK_EVENTS", "") not in ("", "0")


def _is_null(column: str, value: object) -> bool:
    if column in _STR_COLS:
        return value == ""
    if column in _INT_COLS:
        return value == -1
    return isinstance(value, float) and math.isnan(value)


def _type_ok(column: str, value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if column in _STR_COLS:
        return isinstance(value, str)
    if column in _INT_COLS:
        return isinstance(value, numbers.Integral)
    return isinstance(value, numbers.Real)


def check_row(row: tuple) -> None:
    """Raise :class:`EventRowError` (naming the kind) unless ``row`` is a valid event row.

    Checks: one value per column; a known kind; each value of its column's type; the columns
    the kind uses (:data:`KIND_COLUMNS`) hold a value where required and the others their null;
    times, distances and durations are finite and not negative where given; a vehicle state or
    trip status is a known one.
    """
    kind = row[1] if len(row) > 1 else None
    if len(row) != N_COLUMNS:
        raise EventRowError(f"event row {kind!r} has {len(row)} values, expected {N_COLUMNS}")
    if kind not in KIND_COLUMNS:
        raise EventRowError(f"unknown event kind {kind!r}; expected one of {sorted(KIND_COLUMNS)}")
    used = KIND_COLUMNS[kind]
    for column, value in zip(COLUMNS, row, strict=True):
        if not _type_ok(column, value):
            raise EventRowError(
                f"{kind} row: column {column} holds {value!r} ({type(value).__name__}), "
                f"expected {_expected(column)}"
            )
        if column in ("time_s", "event"):
            continue
        need = used.get(column)
        null = _is_null(column, value)
        if need is None and not null:
            raise EventRowError(
                f"{kind} row: column {column} is not used by {kind} (got {value!r})"
            )
        if need == "req" and null:
            raise EventRowError(f"{kind} row: column {column} needs a value")
    time_s = row[0]
    if not math.isfinite(time_s):
        raise EventRowError(f"{kind} row: time_s is {time_s!r}")
    for column in ("distance_m", "duration_s"):
        value = row[COLUMNS.index(column)]
        if not math.isnan(value) and not 0 <= value < math.inf:
            raise EventRowError(f"{kind} row: {column} is {value!r}, expected a finite value >= 0")
    state = row[10]
    if kind in ("vehicle_leg", "vehicle_dwell") and state not in VEHICLE_STATES:
        raise EventRowError(f"{kind} row: state {state!r} is not one of {VEHICLE_STATES}")
    if kind == "trip_end" and state not in TRIP_STATUSES:
        raise EventRowError(f"trip_end row: status {state!r} is not one of {TRIP_STATUSES}")
    if kind == "walk" and row[12] not in WALK_PURPOSES:
        raise EventRowError(f"walk row: purpose {row[12]!r} is not one of {WALK_PURPOSES}")


def _expected(column: str) -> str:
    if column in _STR_COLS:
        return "a str"
    if column in _INT_COLS:
        return "an int"
    return "a number"


class EventLog:
    """Append-only event log: one method per event kind, values kept in one flat list.

    A flat list of values, :data:`N_COLUMNS` per row, rather than a list of row objects: the rows
    leave no long-lived container objects behind for the cyclic garbage collector to scan during
    the run (hundreds of thousands a day), and :meth:`to_frame` takes each column as one slice.

    Parameters
    ----------
    checked : bool, optional
        Check every row as it is written (:func:`check_row`); default
        :func:`checks_enabled` (the ``MOBISIM_CHECK_EVENTS`` environment variable).
    """

    __slots__ = ("_values", "_write", "checked")

    def __init__(self, checked: bool | None = None) -> None:
        self._values: list = []
        self.checked = checks_enabled() if checked is None else bool(checked)
        self._write = self._checked_write if self.checked else self._values.extend

    def _checked_write(self, row: tuple) -> None:
        check_row(row)
        self._values.extend(row)

    def add(self, event: Event) -> None:
        """Write one :class:`Event` (for writers of a kind that has no method here yet)."""
        self._write(tuple(event))

    # ------------------------------------------------------------------ commuter side
    def trip_start(
        self, time_s: float, *, trip_id: int, origin_node: int, dest_node: int, n_offers: int
    ) -> None:
        """``trip_id`` leaves ``origin_node`` for ``dest_node`` (node indices) at ``time_s`` (s),
        with ``n_offers`` offers available to it."""
        self._write((time_s, "trip_start", "", trip_id, -1, origin_node, dest_node, NAN, NAN, -1, "", n_offers, ""))  # fmt: skip

    def mode_choice(
        self,
        time_s: float,
        *,
        service: str,
        trip_id: int,
        mode: str,
        wait_s: float,
        in_vehicle_s: float,
        access_node: int = -1,
        egress_node: int = -1,
    ) -> None:
        """``trip_id`` chose ``service`` (``mode``), whose offer promised ``wait_s`` and
        ``in_vehicle_s`` (s), boarding at ``access_node`` and leaving at ``egress_node``."""
        self._write((time_s, "mode_choice", service, trip_id, -1, access_node, egress_node, NAN, in_vehicle_s, -1, "", wait_s, mode))  # fmt: skip

    def walk(
        self,
        time_s: float,
        *,
        trip_id: int,
        from_node: int,
        to_node: int,
        distance_m: float,
        duration_s: float,
        purpose: str,
    ) -> None:
        """``trip_id`` walks ``distance_m`` (m) in ``duration_s`` (s); ``purpose``: one of
        :data:`WALK_PURPOSES`."""
        self._write((time_s, "walk", "", trip_id, -1, from_node, to_node, distance_m, duration_s, -1, "", NAN, purpose))  # fmt: skip

    def request(
        self, time_s: float, *, service: str, trip_id: int, node: int = -1, to_node: int = -1
    ) -> None:
        """``trip_id`` asks ``service`` for a ride or vehicle at ``node`` (to ``to_node``)."""
        self._write((time_s, "request", service, trip_id, -1, node, to_node, NAN, NAN, -1, "", NAN, ""))  # fmt: skip

    def reject(
        self, time_s: float, *, service: str, trip_id: int, reason: str, node: int = -1
    ) -> None:
        """``service`` refused the booking of ``trip_id`` (``reason``)."""
        self._write((time_s, "reject", service, trip_id, -1, node, -1, NAN, NAN, -1, "", NAN, reason))  # fmt: skip

    def give_up(
        self,
        time_s: float,
        *,
        service: str,
        trip_id: int,
        waited_s: float,
        reason: str,
        node: int = -1,
    ) -> None:
        """``trip_id`` stopped waiting for ``service`` at ``node`` after ``waited_s`` (s)."""
        self._write((time_s, "give_up", service, trip_id, -1, node, -1, NAN, waited_s, -1, "", NAN, reason))  # fmt: skip

    def pickup(
        self,
        time_s: float,
        *,
        service: str,
        trip_id: int,
        vehicle_id: int,
        node: int,
        wait_s: float,
    ) -> None:
        """``trip_id`` is picked up by (or takes) ``vehicle_id`` at ``node`` after ``wait_s`` (s)."""
        self._write((time_s, "pickup", service, trip_id, vehicle_id, node, -1, NAN, NAN, -1, "", wait_s, ""))  # fmt: skip

    def dropoff(
        self,
        time_s: float,
        *,
        service: str,
        trip_id: int,
        vehicle_id: int,
        node: int,
        in_vehicle_s: float,
    ) -> None:
        """``trip_id`` leaves (or parks) ``vehicle_id`` at ``node`` after ``in_vehicle_s`` (s)."""
        self._write((time_s, "dropoff", service, trip_id, vehicle_id, node, -1, NAN, NAN, -1, "", in_vehicle_s, ""))  # fmt: skip

    def fallback(
        self, time_s: float, *, service: str, trip_id: int, reason: str, waited_s: float = NAN
    ) -> None:
        """``service`` failed ``trip_id`` (``reason``) after ``waited_s`` (s) of waiting for it
        (NaN: none); the commuter tries the next option."""
        self._write((time_s, "fallback", service, trip_id, -1, -1, -1, NAN, waited_s, -1, "", NAN, reason))  # fmt: skip

    def trip_end(
        self,
        time_s: float,
        *,
        trip_id: int,
        node: int,
        status: str,
        distance_m: float,
        fare_krw: float,
        service: str = "",
        door_to_door_s: float = NAN,
        reason: str = "",
    ) -> None:
        """``trip_id`` ends at ``node`` with ``status`` (one of :data:`TRIP_STATUSES`), carried last
        by ``service`` over ``distance_m`` (m) for ``fare_krw`` (KRW), after ``door_to_door_s``
        (s; NaN when it never arrived); ``reason``: why it fell back or was not served."""
        self._write((time_s, "trip_end", service, trip_id, -1, node, -1, distance_m, door_to_door_s, -1, status, fare_krw, reason))  # fmt: skip

    # ------------------------------------------------------------------ vehicle side
    def vehicle_leg(
        self,
        time_s: float,
        *,
        service: str,
        vehicle_id: int,
        from_node: int,
        to_node: int,
        distance_m: float,
        duration_s: float,
        pax: int,
        state: str,
        trip_id: int = -1,
        detail: str = "",
    ) -> None:
        """``vehicle_id`` drives from ``from_node`` to ``to_node`` starting at ``time_s``:
        ``distance_m`` (m) in ``duration_s`` (s) with ``pax`` on board, in ``state`` (one of
        :data:`VEHICLE_STATES`); ``trip_id``: the commuter driving or riding it, if one;
        ``detail``: the vehicle type of an unregistered vehicle (a private car) or a note."""
        self._write((time_s, "vehicle_leg", service, trip_id, vehicle_id, from_node, to_node, distance_m, duration_s, pax, state, NAN, detail))  # fmt: skip

    def vehicle_dwell(
        self,
        time_s: float,
        *,
        service: str,
        vehicle_id: int,
        node: int,
        duration_s: float,
        pax: int,
        state: str,
        detail: str = "",
    ) -> None:
        """``vehicle_id`` stands at ``node`` from ``time_s`` for ``duration_s`` (s) with ``pax`` on
        board, in ``state``; ``detail``: where (a site or station name), if anywhere named."""
        self._write((time_s, "vehicle_dwell", service, -1, vehicle_id, node, -1, NAN, duration_s, pax, state, NAN, detail))  # fmt: skip

    def board(
        self, time_s: float, *, service: str, trip_id: int, vehicle_id: int, node: int, pax: int
    ) -> None:
        """``trip_id`` boards ``vehicle_id`` at ``node``; ``pax``: its load after boarding."""
        self._write((time_s, "board", service, trip_id, vehicle_id, node, -1, NAN, NAN, pax, "", NAN, ""))  # fmt: skip

    def alight(
        self, time_s: float, *, service: str, trip_id: int, vehicle_id: int, node: int, pax: int
    ) -> None:
        """``trip_id`` alights from ``vehicle_id`` at ``node``; ``pax``: its load after."""
        self._write((time_s, "alight", service, trip_id, vehicle_id, node, -1, NAN, NAN, pax, "", NAN, ""))  # fmt: skip

    def denied_boarding(
        self, time_s: float, *, service: str, trip_id: int, vehicle_id: int, node: int, pax: int
    ) -> None:
        """``trip_id`` could not board the full ``vehicle_id`` at ``node`` (``pax`` on board)."""
        self._write((time_s, "denied_boarding", service, trip_id, vehicle_id, node, -1, NAN, NAN, pax, "", NAN, ""))  # fmt: skip

    def charge_start(
        self, time_s: float, *, service: str, vehicle_id: int, node: int, site: str, soc_kwh: float
    ) -> None:
        """``vehicle_id`` plugs in at ``site`` (node) with ``soc_kwh`` (kWh) in its battery."""
        self._write((time_s, "charge_start", service, -1, vehicle_id, node, -1, NAN, NAN, -1, "", soc_kwh, site))  # fmt: skip

    def charge_end(
        self,
        time_s: float,
        *,
        service: str,
        vehicle_id: int,
        node: int,
        site: str,
        charged_kwh: float,
        duration_s: float,
    ) -> None:
        """``vehicle_id`` unplugs at ``site`` after ``duration_s`` (s), ``charged_kwh`` (kWh,
        battery side) richer."""
        self._write((time_s, "charge_end", service, -1, vehicle_id, node, -1, NAN, duration_s, -1, "", charged_kwh, site))  # fmt: skip

    def station_stock(
        self, time_s: float, *, service: str, node: int, station: str, stock: int, free_spaces: int
    ) -> None:
        """``station`` (at ``node``) now holds ``stock`` vehicles; ``free_spaces`` (-1: no limit)."""
        self._write((time_s, "station_stock", service, -1, -1, node, -1, NAN, NAN, free_spaces, "", float(stock), station))  # fmt: skip

    def battery_swap(
        self, time_s: float, *, service: str, crew_vehicle_id: int, node: int, device_id: int
    ) -> None:
        """The crew of ``crew_vehicle_id`` swapped the battery of device ``device_id`` at ``node``."""
        self._write((time_s, "battery_swap", service, -1, crew_vehicle_id, node, -1, NAN, NAN, -1, "", float(device_id), ""))  # fmt: skip

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._values) // N_COLUMNS

    def rows(self) -> list[Event]:
        """The rows written so far, one :class:`Event` each, in writing order."""
        values = self._values
        return [Event._make(values[i : i + N_COLUMNS]) for i in range(0, len(values), N_COLUMNS)]

    def to_frame(self) -> pd.DataFrame:
        """The events as a DataFrame with the fixed column dtypes, in writing order."""
        values = self._values
        if len(values) % N_COLUMNS:  # only a row written past the methods can do this
            raise EventRowError(
                f"event log holds {len(values)} values, not whole rows of {N_COLUMNS}"
            )
        return _columns_frame([values[i::N_COLUMNS] for i in range(N_COLUMNS)])


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Build the canonical events DataFrame from rows (:class:`Event` or tuples in its order)."""
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

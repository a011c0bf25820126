"""The event log: one method per kind writes valid rows; a checked log rejects a bad row at once."""

from __future__ import annotations

import inspect
import math

import pytest

from mobisim.events import (
    COLUMNS,
    EVENT_KINDS,
    KIND_COLUMNS,
    Event,
    EventLog,
    EventRowError,
)

#: a valid keyword value for each parameter name the writing methods use
SAMPLE = {
    "service": "shuttle",
    "trip_id": 7,
    "vehicle_id": 3,
    "crew_vehicle_id": 4,
    "device_id": 9,
    "node": 11,
    "origin_node": 11,
    "access_node": 11,
    "egress_node": 12,
    "fare_krw": 1500.0,
    "dest_node": 12,
    "from_node": 11,
    "to_node": 12,
    "distance_m": 850.0,
    "duration_s": 120.0,
    "waited_s": 600.0,
    "wait_s": 30.0,
    "in_vehicle_s": 300.0,
    "door_to_door_s": 900.0,
    "pax": 2,
    "state": "occupied",
    "status": "completed",
    "mode": "shuttle",
    "n_offers": 3,
    "purpose": "access",
    "reason": "no_vehicle",
    "detail": "av_shuttle",
    "site": "depot",
    "station": "A",
    "soc_kwh": 12.5,
    "charged_kwh": 4.0,
    "stock": 5,
    "free_spaces": 3,
}
STATES = {"vehicle_dwell": "dwell"}


def _write_one(log: EventLog, kind: str) -> None:
    method = getattr(log, kind)
    names = [p for p in inspect.signature(method).parameters if p != "time_s"]
    values = {name: SAMPLE[name] for name in names}
    if kind in STATES:
        values["state"] = STATES[kind]
    method(25200.0, **values)


def test_every_kind_has_a_writer_whose_rows_pass_the_checks_and_use_the_declared_columns():
    assert set(EVENT_KINDS) == set(KIND_COLUMNS)
    log = EventLog(checked=True)
    for kind in EVENT_KINDS:
        _write_one(log, kind)
    rows = log.rows()
    assert [row.event for row in rows] == list(EVENT_KINDS)
    for row in rows:
        used = KIND_COLUMNS[row.event]
        for column in COLUMNS[2:]:
            value, null = getattr(row, column), Event._field_defaults[column]
            is_null = (isinstance(null, float) and math.isnan(value)) or value == null
            assert is_null == (column not in used) or used.get(column) == "opt", (row, column)
    frame = log.to_frame()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(EVENT_KINDS)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (Event(0.0, "teleport", trip_id=1), "unknown event kind 'teleport'"),
        (tuple(Event(0.0, "fallback", "drt", trip_id=1))[:12], "event row 'fallback' has 12"),
        (Event(0.0, "board", "drt", trip_id="1", vehicle_id=2, node=3, pax=1), "board row: column trip_id"),
        (Event(0.0, "board", "drt", trip_id=1, vehicle_id=2, node=3), "board row: column pax needs a value"),
        (Event(0.0, "walk", trip_id=1, node=1, to_node=2, distance_m=5.0, duration_s=4.0,
               detail="access", pax=1), "walk row: column pax is not used by walk"),
        (Event(0.0, "vehicle_leg", "drt", vehicle_id=1, node=1, to_node=2, distance_m=5.0,
               duration_s=-4.0, pax=0, state="occupied"), "vehicle_leg row: duration_s is -4.0"),
        (Event(0.0, "vehicle_dwell", "drt", vehicle_id=1, node=1, duration_s=4.0, pax=0,
               state="napping"), "vehicle_dwell row: state 'napping'"),
        (Event(0.0, "trip_end", trip_id=1, node=2, state="arrived", distance_m=0.0, value=0.0),
         "trip_end row: status 'arrived'"),
        (Event(math.nan, "fallback", "drt", trip_id=1), "fallback row: time_s is nan"),
    ],
)  # fmt: skip
def test_a_checked_log_rejects_a_bad_row_when_it_is_written_naming_its_kind(row, message):
    log = EventLog(checked=True)
    with pytest.raises(EventRowError, match="^" + message.replace("(", r"\(")):
        log.add(row)
    assert len(log) == 0  # nothing was written


def test_an_unchecked_log_writes_the_same_rows_without_checking():
    checked, unchecked = EventLog(checked=True), EventLog(checked=False)
    for log in (checked, unchecked):
        for kind in EVENT_KINDS:
            _write_one(log, kind)
    assert checked.rows() == unchecked.rows()
    unchecked.add(Event(0.0, "teleport"))  # not checked: the caller's promise
    assert len(unchecked) == len(EVENT_KINDS) + 1


def test_the_environment_variable_turns_the_checks_on(monkeypatch):
    monkeypatch.setenv("MOBISIM_CHECK_EVENTS", "1")
    assert EventLog().checked
    monkeypatch.setenv("MOBISIM_CHECK_EVENTS", "0")
    assert not EventLog().checked

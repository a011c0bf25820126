"""Intermodal KPIs (mobisim.metrics.intermodal) on a hand-made run whose answers are worked by hand.

Trips (all from 07:00):
- 0: scooter (wait 30 s) -> shuttle (wait 120 s at the transfer stop): a chain, 1 transfer;
- 1: shuttle alone (wait 60 s): 0 transfers;
- 2: scooter (wait 10 s) -> bus1 (wait 300 s) -> bus2 (wait 60 s): 2 transfers;
- 3: private car (no pickup row): no ride leg;
- 4: took a scooter, then unserved: not counted (only served trips).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mobisim.events import EventLog
from mobisim.metrics.intermodal import (
    access_mode_shares,
    boardings_by_line,
    intermodal_kpis,
    ride_legs,
    ridership_table,
    transfer_kpis,
)
from mobisim.metrics.kpis import compute_kpis, kpis_long

T0 = 7 * 3600.0


def events() -> pd.DataFrame:
    log = EventLog(checked=True)

    def pickup(t, service, trip, vehicle, node, wait_s):
        log.pickup(
            T0 + t, service=service, trip_id=trip, vehicle_id=vehicle, node=node, wait_s=wait_s
        )

    def ride(t_on, t_off, service, trip, vehicle, on, off):
        log.board(T0 + t_on, service=service, trip_id=trip, vehicle_id=vehicle, node=on, pax=1)
        log.alight(T0 + t_off, service=service, trip_id=trip, vehicle_id=vehicle, node=off, pax=0)

    pickup(30, "scooters", 0, 10, 1, 30.0)
    pickup(500, "shuttle", 0, 1, 2, 120.0)
    ride(500, 900, "shuttle", 0, 1, 2, 5)
    pickup(60, "shuttle", 1, 1, 2, 60.0)
    ride(60, 400, "shuttle", 1, 1, 2, 5)
    pickup(10, "scooters", 2, 11, 1, 10.0)
    pickup(700, "bus1", 2, 2, 3, 300.0)
    ride(700, 1000, "bus1", 2, 2, 3, 4)
    pickup(1060, "bus2", 2, 3, 4, 60.0)
    ride(1060, 1500, "bus2", 2, 3, 4, 6)
    pickup(20, "scooters", 4, 12, 1, 20.0)
    return log.to_frame()


def trips(chain_columns: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "trip_id": [0, 1, 2, 3, 4],
            "group": ["w"] * 5,
            "mode": ["chain", "shuttle", "chain", "car", ""],
            "service": ["shuttle", "shuttle", "bus2", "car", ""],
            "status": ["completed", "completed", "completed", "completed", "unserved"],
            "legs": [2, 1, 3, 1, 1],
            "access_mode": ["escooter", "", "escooter", "", ""],
            "main_mode": ["shuttle", "shuttle", "bus", "car", ""],
        }
    )
    if not chain_columns:
        frame = frame.drop(columns=["legs", "access_mode", "main_mode"])
        frame["mode"] = ["shuttle", "shuttle", "bus", "car", ""]
    return frame


def test_ride_legs_are_the_pickups_in_time_order():
    legs = ride_legs(events())
    trip2 = legs[legs["trip_id"] == 2]
    assert trip2["leg"].tolist() == [1, 2, 3]
    assert trip2["service"].tolist() == ["scooters", "bus1", "bus2"]
    assert trip2["wait_s"].tolist() == [10.0, 300.0, 60.0]


def test_transfers_per_trip_and_transfer_wait_worked_by_hand():
    out = transfer_kpis(events(), trips())
    # served trips that rode a vehicle: 0, 1, 2 (3 drove a private car, 4 is unserved)
    assert out["vehicle_trips"] == 3
    assert out["transfers"] == 1 + 0 + 2
    assert out["transfers_per_trip_mean"] == pytest.approx(1.0)
    assert out["trips_with_transfer_share"] == pytest.approx(2 / 3)
    # waits of the legs after the first: 120 (shuttle), 300 (bus1), 60 (bus2)
    assert out["transfer_wait_mean_s"] == pytest.approx(160.0)
    assert out["transfer_wait_median_s"] == pytest.approx(120.0)
    assert out["transfer_wait_p95_s"] == pytest.approx(120.0 + 0.9 * 180.0)
    assert out["transfers_by_service"] == {"bus1": 1, "bus2": 1, "shuttle": 1}


def test_no_transfer_gives_nan_waits_and_zero_counts():
    ev = events()
    ev = ev[ev["trip_id"].isin([1])]
    out = transfer_kpis(ev, trips())
    assert (out["vehicle_trips"], out["transfers"], out["transfers_per_trip_mean"]) == (1, 0, 0.0)
    assert math.isnan(out["transfer_wait_mean_s"])
    assert out["transfers_by_service"] == {}


def test_ridership_by_line_and_stop():
    table = ridership_table(events())
    rows = {(r.service, r.node): (r.boardings, r.alightings) for r in table.itertuples(index=False)}
    assert rows == {
        ("bus1", 3): (1, 0),
        ("bus1", 4): (0, 1),
        ("bus2", 4): (1, 0),
        ("bus2", 6): (0, 1),
        ("shuttle", 2): (2, 0),
        ("shuttle", 5): (0, 2),
    }
    assert boardings_by_line(events()) == {"bus1": 1, "bus2": 1, "shuttle": 2}


def test_access_mode_shares_of_the_main_modes():
    # shuttle: trip 0 by scooter, trip 1 on foot; bus: trip 2 by scooter; car is no stop service
    assert access_mode_shares(events(), trips()) == {
        "bus": {"escooter": 1.0},
        "shuttle": {"escooter": 0.5, "walk": 0.5},
    }
    # without chain columns every access is a walk
    assert access_mode_shares(events(), trips(chain_columns=False)) == {
        "bus": {"walk": 1.0},
        "shuttle": {"walk": 1.0},
    }


def test_intermodal_kpis_reach_the_system_block_and_the_kpis_table():
    ev, tr = events(), trips()
    tr["depart_s"] = T0
    for column in ("access_walk_s", "wait_s", "in_vehicle_s", "egress_walk_s", "distance_m"):
        tr[column] = 0.0
    tr["door_to_door_s"] = [900.0, 400.0, 1500.0, 600.0, np.nan]
    tr["fare_krw"] = 0.0
    tr["n_offers_available"] = 1
    tr["direct_s"] = 600.0
    tr["fallback_reason"] = ""
    kpis = compute_kpis(
        {"events": ev, "trips": tr}, {"period_start_s": T0, "period_end_s": T0 + 3600}
    )
    system = kpis["system"]
    expected = intermodal_kpis(ev, tr)
    for key in ("transfers", "transfers_per_trip_mean", "boardings_by_line", "access_mode_share"):
        assert system[key] == expected[key]
    table = kpis_long(kpis)
    row = table[
        (table["scope"] == "system") & (table["kpi"] == "access_mode_share.shuttle.escooter")
    ]
    assert row["value"].tolist() == [0.5] and row["unit"].tolist() == ["share"]
    wait = table[(table["scope"] == "system") & (table["kpi"] == "transfer_wait_mean_s")]
    assert wait["value"].tolist() == [160.0] and wait["unit"].tolist() == ["s"]

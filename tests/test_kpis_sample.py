"""A small hand-made run (events, trips, vehicles, energy tables) whose KPIs are known by hand.

Period 07:00-09:00 (2 h). Services: walk, car (private, vehicle_id -1), shuttle (vehicle 0, two
pooled rides), bikes (devices 1 and 2, stations A and B, one ride after a DRT failure) and drt
(vehicle 3: one request, refused, served nobody). Groups: workers, students; "seniors" is declared
in meta but has no trips. The other KPI tests import :func:`sample_tables` and :func:`write_run_folder`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.events import EVENT_KINDS, Event, EventLog
from mobisim.metrics.kpis import compute_kpis
from mobisim.results import store

START_S, END_S = 7 * 3600.0, 9 * 3600.0
META = {
    "scenario": "sample",
    "period_start_s": START_S,
    "period_end_s": END_S,
    "groups": ["seniors", "students", "workers"],
    "services": ["bikes", "car", "drt", "shuttle", "walk"],
}

TRIP_COLUMNS = [
    "trip_id", "group", "mode", "service", "status", "depart_s", "access_walk_s", "wait_s",
    "in_vehicle_s", "egress_walk_s", "door_to_door_s", "distance_m", "fare_krw",
    "n_offers_available", "direct_s",
]  # fmt: skip
TRIP_ROWS = [
    (0, "workers", "shuttle", "shuttle", "completed", 25200, 120, 60, 600, 60, 840, 5000, 1000, 3, 400),
    (1, "workers", "shuttle", "shuttle", "completed", 25500, 60, 180, 300, 0, 540, 2000, 1000, 3, 300),
    (2, "students", "walk", "walk", "completed", 26000, 900, 0, 0, 0, 900, 1000, 0, 2, math.nan),
    (3, "workers", "car", "car", "completed", 29000, 0, 0, 500, 80, 580, 6000, 768, 2, 400),
    (4, "students", "bike", "bikes", "fallback", 29500, 100, 0, 400, 30, 530, 1500, 500, 2, 200),
    (5, "students", "", "", "unserved", 30000, 0, 0, 0, 0, math.nan, 0, 0, 0, math.nan),
]  # fmt: skip


def sample_trips() -> pd.DataFrame:
    """trips.parquet of the sample (the outcome columns the KPIs use, plus demand columns)."""
    trips = pd.DataFrame(TRIP_ROWS, columns=TRIP_COLUMNS)
    trips["person_id"] = trips["trip_id"]
    trips["tour_id"] = trips["trip_id"]
    trips["leg_index"] = 0
    trips["purpose"] = trips["group"]
    trips["origin_node"] = [0, 1, 2, 3, 4, 5]
    trips["dest_node"] = [9, 8, 7, 9, 6, 8]
    trips["origin_place"] = ["home", "home", "home", "home", "school", "school"]
    trips["dest_place"] = ["work", "work", "school", "work", "home", "home"]
    trips["fallback_reason"] = ["", "", "", "", "no_vehicle_in_time", "no_offer"]
    trips["arrival_s"] = trips["depart_s"] + trips["door_to_door_s"]
    return trips


def sample_events() -> pd.DataFrame:
    """events.parquet of the sample."""
    log = EventLog(checked=True)

    def e(time_s, event, service="", **columns):
        log.add(Event(float(time_s), event, service, **columns))

    # trips 0 and 1 ride the shuttle together (pooled); the shuttle's legs and stands
    e(25200, "mode_choice", "shuttle", trip_id=0, detail="shuttle", value=0.0, duration_s=0.0)
    e(25500, "mode_choice", "shuttle", trip_id=1, detail="shuttle", value=0.0, duration_s=0.0)
    e(25200, "vehicle_leg", "shuttle", vehicle_id=0, node=0, to_node=1, distance_m=2000,
      duration_s=200, pax=0, state="in_service_empty")  # fmt: skip
    e(25400, "board", "shuttle", trip_id=0, vehicle_id=0, node=1, pax=1)
    e(25400, "vehicle_leg", "shuttle", vehicle_id=0, node=1, to_node=2, distance_m=3000,
      duration_s=200, pax=1, state="occupied")  # fmt: skip
    e(25600, "board", "shuttle", trip_id=1, vehicle_id=0, node=2, pax=2)
    e(25600, "vehicle_leg", "shuttle", vehicle_id=0, node=2, to_node=3, distance_m=2000,
      duration_s=300, pax=2, state="occupied")  # fmt: skip
    e(25900, "alight", "shuttle", trip_id=1, vehicle_id=0, node=3, pax=1)
    e(25900, "vehicle_leg", "shuttle", vehicle_id=0, node=3, to_node=4, distance_m=1000,
      duration_s=100, pax=1, state="occupied")  # fmt: skip
    e(26000, "alight", "shuttle", trip_id=0, vehicle_id=0, node=4, pax=0)
    e(26000, "vehicle_leg", "shuttle", vehicle_id=0, node=4, to_node=0, distance_m=4000,
      duration_s=400, pax=0, state="repositioning")  # fmt: skip
    e(
        26400,
        "vehicle_dwell",
        "shuttle",
        vehicle_id=0,
        node=0,
        duration_s=1800,
        pax=0,
        state="layover",
    )
    e(28200, "charge_start", "shuttle", vehicle_id=0, node=0, detail="depot", value=10.0)
    e(
        28200,
        "vehicle_dwell",
        "shuttle",
        vehicle_id=0,
        node=0,
        duration_s=1800,
        pax=0,
        state="charging",
    )
    e(30000, "charge_end", "shuttle", vehicle_id=0, node=0, duration_s=1800, value=18.0,
      detail="depot")  # fmt: skip
    # trip 2 walks, trip 3 drives its own car
    e(26000, "mode_choice", "walk", trip_id=2, detail="walk", value=0.0, duration_s=0.0)
    e(29000, "mode_choice", "car", trip_id=3, detail="car", value=0.0, duration_s=0.0)
    e(29000, "vehicle_leg", "car", trip_id=3, node=3, to_node=9, distance_m=6000,
      duration_s=500, pax=1, state="occupied", detail="petrol_car")  # fmt: skip
    # trip 4: DRT refuses (no vehicle in time), the trip falls back to a shared bike
    e(29500, "mode_choice", "drt", trip_id=4, detail="drt", value=0.0, duration_s=0.0)
    e(29500, "reject", "drt", trip_id=4, detail="no_vehicle_in_time")
    e(29500, "fallback", "drt", trip_id=4, detail="no_vehicle_in_time")
    e(25200, "vehicle_dwell", "drt", vehicle_id=3, node=7, duration_s=7200, pax=0, state="idle")
    e(29500, "mode_choice", "bikes", trip_id=4, detail="bike", value=0.0, duration_s=0.0)
    e(25200, "vehicle_dwell", "bikes", vehicle_id=1, node=5, duration_s=4400, pax=0, state="parked")
    e(25200, "vehicle_dwell", "bikes", vehicle_id=2, node=6, duration_s=7200, pax=0, state="parked")
    e(29600, "board", "bikes", trip_id=4, vehicle_id=1, node=5, pax=1)
    e(29600, "vehicle_leg", "bikes", vehicle_id=1, node=5, to_node=6, distance_m=1500,
      duration_s=400, pax=1, state="occupied")  # fmt: skip
    e(30000, "alight", "bikes", trip_id=4, vehicle_id=1, node=6, pax=0)
    e(30000, "vehicle_dwell", "bikes", vehicle_id=1, node=6, duration_s=2400, pax=0, state="parked")
    # stations: A (node 5) empties when the bike leaves; B (node 6, 2 docks) fills when it arrives
    e(25200, "station_stock", "bikes", node=5, value=1, pax=1, detail="A")
    e(25200, "station_stock", "bikes", node=6, value=1, pax=1, detail="B")
    e(29600, "station_stock", "bikes", node=5, value=0, pax=2, detail="A")
    e(30000, "station_stock", "bikes", node=6, value=2, pax=0, detail="B")
    e(30000, "trip_end", "", trip_id=5, node=5, state="unserved", detail="no_offer",
      distance_m=0.0, value=0.0)  # fmt: skip
    return log.to_frame()


def sample_tables() -> dict[str, pd.DataFrame]:
    """Every table of the sample run, keyed as in a run folder."""
    vehicles = pd.DataFrame(
        {
            "vehicle_id": [0, 1, 2, 3],
            "service": ["shuttle", "bikes", "bikes", "drt"],
            "vehicle_type": ["av_shuttle", "bike", "bike", "drt_van"],
        }
    )
    energy_legs = pd.DataFrame(
        {
            "service": ["shuttle", "car", "bikes"],
            "distance_m": [12000.0, 6000.0, 1500.0],
            "energy_kwh": [2.4, 3.6, 0.015],
            "co2_kg": [1.2, 0.9, 0.0075],
        }
    )
    energy_charging = pd.DataFrame({"service": ["shuttle"], "energy_kwh": [18.0], "pv_kwh": [6.0]})
    hours = np.arange(START_S, END_S + 1, 900.0)
    energy_pv = pd.DataFrame(
        {"time_s": hours, "pv_kw": 20.0 * (hours - START_S) / (END_S - START_S)}
    )
    lat = 36.90 + 0.002 * (np.arange(10) % 5)
    lon = 127.52 + 0.003 * (np.arange(10) // 5)
    nodes = pd.DataFrame({"node": np.arange(10), "lat": lat, "lon": lon})
    return {
        "events": sample_events(),
        "trips": sample_trips(),
        "vehicles": vehicles,
        "nodes": nodes,
        "energy_legs": energy_legs,
        "energy_charging": energy_charging,
        "energy_pv": energy_pv,
    }


def write_run_folder(out_dir: Path, tables: dict[str, pd.DataFrame], meta: dict) -> Path:
    """Write ``tables`` as a complete run folder with the results store; returns the folder."""
    scenario = {
        "name": meta["scenario"],
        "period": {"start": "07:00", "end": "09:00"},
        "seed": 1,
    }
    manifest = {"scenario": scenario, "scenario_name": meta["scenario"], "seed": 1,
                "fingerprint": "f" * 16, "kpi_meta": meta}  # fmt: skip
    kpis = compute_kpis(tables, meta)
    others = {k: v for k, v in tables.items() if k != "events"}
    with store.run_folder(out_dir, meta["scenario"], "run-1") as folder:
        store.write_run(folder, manifest, tables["events"], others, kpis)
    return Path(out_dir) / meta["scenario"] / "run-1"


def test_the_sample_is_a_consistent_run():
    tables = sample_tables()
    events, trips = tables["events"], tables["trips"]
    assert trips["trip_id"].is_unique
    legs = events[events["event"] == "vehicle_leg"]
    assert set(legs["state"]) <= {"occupied", "in_service_empty", "repositioning"}
    assert set(events["event"]) <= set(EVENT_KINDS)

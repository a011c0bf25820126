"""KPI, chart and report benchmark on real demo result folders and on a synthetic shared fleet.

Run:  /work/venv/bin/python benchmarks/bench_kpis.py [--residents 6000 42000] [--fleet 200]

For each demo size: run the scenario once (charts off), then time load_run, recompute_kpis (with the
check that it equals kpis.json), plot_run (10 PNGs) and write_report (one run). Then a synthetic
shared fleet (``--fleet`` vehicles, each driving 400 legs with boardings and alightings, and dwells)
to time the fleet side: compute_kpis and the fleet-state profile.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mobisim
from mobisim.events import events_frame
from mobisim.metrics.kpis import compute_kpis
from mobisim.metrics.tables import load_run, recompute_kpis
from mobisim.metrics.timeline import fleet_state_profile
from mobisim.results.plots import plot_run
from mobisim.results.report import write_report
from mobisim.results.store import json_safe

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def demo_row(residents: int, out: Path) -> dict:
    scenario = mobisim.load_scenario(
        DEMO,
        overrides={
            "demand.synthetic.residents": residents,
            "demand.synthetic.households": max(residents * 11 // 30, 1),
            "outputs.charts": False,
        },
    )
    run = mobisim.run(scenario, out_dir=out)
    tables, load_s = timed(load_run, run.run_dir)
    kpis, kpi_s = timed(recompute_kpis, tables)
    written = json.loads((run.run_dir / "kpis.json").read_text())
    assert json.loads(json.dumps(json_safe(kpis))) == written
    _, plot_s = timed(plot_run, run.run_dir, out / "charts")
    _, report_s = timed(write_report, [run.run_dir], out / "report.html")
    return {
        "case": f"demo {residents} residents",
        "trips": len(tables["trips"]),
        "events": len(tables["events"]),
        "load_s": load_s,
        "kpis_s": kpi_s,
        "plot_s": plot_s,
        "report_s": report_s,
    }


def synthetic_fleet(n_vehicles: int, legs_per_vehicle: int = 400, seed: int = 1):
    """Events of a DRT-like fleet: legs of 60-300 s, boardings/alightings, a dwell after each leg."""
    rng = np.random.default_rng(seed)
    rows, trip_id = [], 0
    states = ["occupied", "to_pickup", "repositioning", "occupied", "in_service_empty"]
    for vehicle in range(n_vehicles):
        t = 5 * 3600.0
        for leg in range(legs_per_vehicle):
            duration = float(rng.uniform(60, 300))
            pax = int(rng.integers(0, 4))
            state = "occupied" if pax else states[leg % len(states)]
            if pax:
                rows.append(
                    (
                        t,
                        "board",
                        "drt",
                        trip_id,
                        vehicle,
                        leg,
                        -1,
                        np.nan,
                        np.nan,
                        pax,
                        "",
                        np.nan,
                        "",
                    )
                )
            rows.append((t, "vehicle_leg", "drt", -1, vehicle, leg, leg + 1, duration * 8.0, duration, pax, state, np.nan, ""))  # fmt: skip
            t += duration
            if pax:
                rows.append((t, "alight", "drt", trip_id, vehicle, leg + 1, -1, np.nan, np.nan, 0, "", np.nan, ""))  # fmt: skip
                trip_id += 1
            rows.append((t, "vehicle_dwell", "drt", -1, vehicle, leg + 1, -1, np.nan, 30.0, pax, "dwell", np.nan, ""))  # fmt: skip
            t += 30.0
    events = events_frame(rows)
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(trip_id),
            "group": "all",
            "mode": "drt",
            "service": "drt",
            "status": "completed",
            "depart_s": np.linspace(5 * 3600, 23 * 3600, trip_id),
            "access_walk_s": 60.0,
            "wait_s": rng.uniform(0, 900, trip_id),
            "in_vehicle_s": 600.0,
            "egress_walk_s": 60.0,
            "door_to_door_s": 1500.0,
            "distance_m": 4000.0,
            "fare_krw": 1500.0,
            "n_offers_available": 2,
        }
    )
    vehicles = pd.DataFrame({"vehicle_id": np.arange(n_vehicles), "service": "drt"})
    return {"events": events, "trips": trips, "vehicles": vehicles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, nargs="+", default=[6000, 42000])
    parser.add_argument("--fleet", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for residents in args.residents:
            rows.append(demo_row(residents, Path(tmp) / str(residents)))
    tables = synthetic_fleet(args.fleet)
    meta = {"period_start_s": 5 * 3600.0, "period_end_s": 24 * 3600.0}
    _, kpi_s = timed(compute_kpis, tables, meta)
    _, profile_s = timed(fleet_state_profile, tables["events"])
    rows.append(
        {
            "case": f"synthetic DRT fleet {args.fleet} vehicles",
            "trips": len(tables["trips"]),
            "events": len(tables["events"]),
            "kpis_s": kpi_s,
            "fleet_state_profile_s": profile_s,
        }
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()

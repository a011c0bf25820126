"""Where a run's time goes: each scenario of a folder timed phase by phase, in one process.

Run:  .venv/bin/python benchmarks/bench_phases.py [scenarios/chungbuk]

For each scenario file (templates skipped) the same steps as :func:`mobisim.run`, timed one by
one: network, router, demand, ``simulate()`` (its own phases: ``setup`` of commuters and services,
the event ``run``, the output ``tables``), KPIs, writing the Parquet tables, the PNG charts. Runs
are sequential, so the sum is the work a batch's workers share. Results go to a temporary folder.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import pandas as pd

import mobisim
from mobisim.api import kpi_meta
from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import simulate
from mobisim.metrics.kpis import compute_kpis
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.results.plots import plot_run
from mobisim.results.store import write_run


def time_phases(path: Path, out_dir: Path) -> dict:
    """Seconds per phase of one run of the scenario at ``path`` (results under ``out_dir``)."""
    scenario = mobisim.load_scenario(path)
    row: dict = {"scenario": scenario.name}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        row[name] = now - clock
        clock = now

    network = build_network(scenario.network, scenario.base_dir)
    lap("network_s")
    router = Router(network, scenario.network.router)
    lap("router_s")
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand,
        network,
        streams,
        scenario.period.start_s,
        scenario.period.end_s,
        base_dir=scenario.base_dir,
        max_snap_m=scenario.network.max_snap_m,
    )
    lap("demand_s")
    sim = simulate(scenario, network, router, trips, streams)
    lap("simulate_s")
    row.update({f"sim_{k}_s": v for k, v in sim.timings_s.items()})
    tables = {
        "trips": sim.trips,
        "vehicles": sim.vehicles,
        "nodes": network.nodes[["lat", "lon"]].rename_axis("node").reset_index(),
        "links": network.links(),
        **sim.extra_tables,
    }
    clock = time.perf_counter()
    kpis = compute_kpis({"events": sim.events, **tables}, kpi_meta(scenario))
    lap("kpis_s")
    folder = out_dir / scenario.name
    folder.mkdir(parents=True)
    write_run(folder, {"scenario_name": scenario.name}, sim.events, tables, kpis)
    lap("write_s")
    plot_run(folder, folder / "charts")
    lap("charts_s")
    row["trips"] = len(sim.trips)
    return row


def main() -> None:
    """Print one row per scenario and the sum of each phase."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="scenarios/chungbuk", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(args.folder.glob("*.yaml")):
            if mobisim.load_scenario(path).template:
                continue
            rows.append(time_phases(path, Path(tmp)))
            print(rows[-1]["scenario"], f"{rows[-1]['simulate_s']:.1f} s", flush=True)
            gc.collect()
    table = pd.DataFrame(rows).set_index("scenario")
    print(table.round(2).to_string())
    phases = table.drop(columns=["trips", "simulate_s"]).sum()
    print((pd.DataFrame({"s": phases, "share": phases / phases.sum()})).round(3).to_string())


if __name__ == "__main__":
    main()

"""A day of up to 1,000,000 trips with every service on, end to end: wall time and peak memory.

Run:  python benchmarks/bench_million.py [--trips 100000 400000 1000000] [--check]

Each size is the demo (walk, private car, shuttle loop, DRT, one-way car-sharing, e-scooters,
bikes, a PV depot) with the population scaled to about that many trips, the shared fleets scaled
with it as in bench_scaling.py, and a synthetic city sized to match: the area grows with the
population at the Chungbuk plan's density (42,000 residents on 6.9 km²) and the network with the
area at the demo's node density (1,500 nodes on 6.9 km²). Each size runs in a fresh child
process: ``mobisim.run`` as a user runs it (network, router, demand, simulation, KPIs, energy
tables, the result folder written under ``results/bench-million/``, removed afterwards unless
``--keep``), timed whole; ``maxrss_MB`` is the child's peak resident memory and ``kB_per_trip``
that peak per trip. ``--check`` also times ``mobisim check`` on the folder (its own child). While a size runs, the
child writes each stage and, every 60 wall seconds, the simulated clock with its peak memory so
far to stderr (``--log FILE`` sends those lines to a file), so a long day can be polled.

The router is kept in its all-pairs mode at every size (``network.router.all_pairs_max_nodes``
raised to the network's node count), as the demo-sized towns use it, so the matrices' memory is in
the peak. ``--default-router`` keeps the scenario's threshold (6,000 nodes): above it the router
answers from per-source Dijkstra rows in an LRU cache, which the DRT insertion at 400 k trips
(8.5 k nodes) thrashes. ``--budget-mb MB`` sets ``network.router.all_pairs_budget_mb``: with every
table's matrices above it only the car/DRT table stays all-pairs and walk, bike and the shuttle
use LRU rows (docs/networks.md "Storage per profile"; 0 forces that at every size). Each row
gives the router's tables as ``router`` (weight/view: storage and MB, from the run's manifest).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mobisim
from bench_scaling import DEMO, TRIPS_PER_RESIDENT, scaled_overrides
from mobisim.api import throttled

OUT = Path(__file__).resolve().parents[1] / "results" / "bench-million"
#: the Chungbuk plan's density, residents per km², and the demo's network density, nodes per km²
RESIDENTS_PER_KM2 = 42_000 / 6.9
NODES_PER_KM2 = 1_500 / 6.9


def city(trips: int) -> tuple[int, float, int]:
    """(residents, area km², target nodes) of a town that makes about ``trips`` trips a day."""
    residents = round(trips / TRIPS_PER_RESIDENT)
    area_km2 = max(6.9, residents / RESIDENTS_PER_KM2)
    return residents, area_km2, max(1_500, round(area_km2 * NODES_PER_KM2))


def _log(start: float, text: str) -> None:
    """One progress line on stderr: wall seconds since ``start``, peak RSS so far, ``text``."""
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"{time.perf_counter() - start:8.1f} s  {maxrss_mb:7.0f} MB  {text}", file=sys.stderr)
    sys.stderr.flush()


def one(
    trips: int, check: bool, default_router: bool = False, budget_mb: float | None = None
) -> dict:
    """Run one size in this process; return its row."""
    residents, area_km2, nodes = city(trips)
    overrides = scaled_overrides(residents, nodes, area_km2)
    # the industrial complex (6.5 km) and the rail station (15 km) must lie beyond the town's
    # edge: moved out only for a town wider than that (1 M trips: 9.9 km), so smaller sizes
    # keep the demo's distances
    side_km = area_km2**0.5
    if side_km >= 6.5:
        overrides["network.synthetic.industrial_distance_km"] = side_km + 1.5
    if side_km >= 15.0:
        overrides["network.synthetic.rail_distance_km"] = side_km + 5.0
    if not default_router:
        # the synthetic city has about ``nodes`` nodes; leave room for the generator's rounding
        overrides["network.router.all_pairs_max_nodes"] = max(6_000, round(nodes * 1.2))
    if budget_mb is not None:
        overrides["network.router.all_pairs_budget_mb"] = budget_mb
    scenario = mobisim.load_scenario(DEMO, overrides=overrides)
    start = time.perf_counter()
    result = mobisim.run(
        scenario,
        out_dir=OUT / str(trips),
        check=False,
        stage=lambda name: _log(start, name),
        progress=throttled(
            lambda now_s: _log(start, f"clock {now_s / 3600:.2f} h"), interval_s=60.0
        ),
    )
    wall_s = time.perf_counter() - start
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    n_trips = int(result.manifest["n_trips"])
    row = {
        "target_trips": trips,
        "residents": residents,
        "area_km2": round(area_km2, 1),
        "nodes": int(result.manifest["network"]["nodes"]),
        "trips": n_trips,
        "events": int(result.manifest["n_events"]),
        "wall_s": round(wall_s, 1),
        "sim_s": round(float(result.manifest["timings_s"].get("run", float("nan"))), 1),
        "maxrss_MB": round(maxrss_mb),
        "kB_per_trip": round(1e3 * maxrss_mb / n_trips, 2),
        "folder_MB": round(sum(p.stat().st_size for p in result.run_dir.rglob("*")) / 1e6, 1),
        "run_dir": str(result.run_dir),
    }
    tables = result.manifest["network"].get("router", {}).get("tables", [])
    row["router"] = {
        f"{t['weight']}/{t['view']}": f"{t['storage']} {t['memory_MB']:g} MB" for t in tables
    }
    if check:
        begin = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "mobisim", "check", row["run_dir"]], capture_output=True
        )
        row["check_s"] = round(time.perf_counter() - begin, 1)
        row["check_ok"] = done.returncode == 0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, nargs="+", default=[100_000, 400_000, 1_000_000])
    parser.add_argument("--check", action="store_true", help="also time mobisim check")
    parser.add_argument("--keep", action="store_true", help="keep the result folders")
    parser.add_argument(
        "--default-router",
        action="store_true",
        help="keep the scenario's all-pairs threshold (LRU rows above 6,000 nodes)",
    )
    parser.add_argument(
        "--budget-mb", type=float, help="network.router.all_pairs_budget_mb for every size"
    )
    parser.add_argument("--log", type=Path, help="append the children's progress lines here")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's size
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.check, args.default_router, args.budget_mb)))
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}")
    for trips in args.trips:
        cmd = [sys.executable, __file__, "--one", str(trips)]
        cmd += (["--check"] if args.check else []) + (
            ["--default-router"] if args.default_router else []
        )
        cmd += ["--budget-mb", str(args.budget_mb)] if args.budget_mb is not None else []
        log = open(args.log, "a") if args.log else None  # noqa: SIM115 (closed below)
        try:
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        finally:
            if log is not None:
                log.close()
        if done.returncode != 0:
            print(f"{trips}: failed (exit {done.returncode}; its stderr above or in --log)")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["router_setting"] = "default" if args.default_router else "all_pairs"
        print(json.dumps({k: v for k, v in row.items() if k != "run_dir"}), flush=True)
        if not args.keep:
            shutil.rmtree(OUT / str(trips), ignore_errors=True)


if __name__ == "__main__":
    main()

"""Sweep scaling: 8 runs of a sweep on 1 vs 2 workers, local processes and a Dask LocalCluster.

Run:  /work/venv/bin/python benchmarks/bench_sweep.py [--residents 12000] [--repeat 3]

The sweep: ``scenarios/demo.yaml`` (every service on) with ``--residents`` residents (12,000 by
default: runs of about 10 s, the order of a planner's sweep; households scaled alike, charts off), a 2 × 2 grid (``services.drt.vehicles`` 4 / 8 and
``services.shuttle.headway_min`` 10 / 15) × 2 replications = 8 runs, through ``mobisim.sweep.sweep``
as a user would call it. Four configurations: ``workers=1`` and ``workers=2`` on local processes
(``workers=1`` runs in this process; ``workers=2`` is a pool of 2 processes forked from a fork server), and
``dask="local"`` with 1 and 2 workers (a LocalCluster with ``threads_per_worker=1``, started and
closed inside the call). Every configuration and repetition writes into a fresh results folder,
so the resume logic skips nothing: all 8 runs execute every time (checked: 8 ``ok`` rows, 8 run
folders). The repetitions are interleaved (1, 2, dask 1, dask 2, then again) and the best wall
time of ``--repeat`` is kept. ``wall_s`` is the whole ``sweep()`` call (planning, worker start-up,
the runs, sweep.parquet); ``run_s`` the mean of the runs' own ``wall_time_s`` (from their
manifests); the ratio = throughput with 2 workers / with 1 (target at least 1.8x). The ratio needs
an otherwise idle machine: before each measurement the script waits (``--idle-wait-s``, 300 s at
most) until other processes use at most ``--idle-cores`` (0.2) cores, and it reports the cores
other processes used during each measurement (machine_load.py) and the load average before it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import yaml

from machine_load import ForeignLoad, wait_until_idle
from mobisim.experiments.sweep import sweep

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
GRID = {"services.drt.vehicles": [4, 8], "services.shuttle.headway_min": [10, 15]}
REPLICATIONS = 2
CONFIGS = [  # (label, executor, workers)
    ("local", None, 1),
    ("local", None, 2),
    ("dask LocalCluster", "local", 1),
    ("dask LocalCluster", "local", 2),
]


def write_base(folder: Path, residents: int) -> Path:
    """A scenario file extending the demo with ``residents`` residents and no charts."""
    base = folder / "bench-sweep-base.yaml"
    base.write_text(
        yaml.safe_dump(
            {
                "extends": str(DEMO),
                "name": "bench-sweep",
                "demand": {
                    "synthetic": {"residents": residents, "households": round(residents / 2.73)}
                },
                "outputs": {"charts": False},
            }
        )
    )
    return base


def one_sweep(
    base: Path, dask: str | None, workers: int, work: Path, idle_cores: float, idle_wait_s: float
) -> dict:
    """Run the 8-run sweep into a fresh folder under ``work``; return timings and a check."""
    out = Path(tempfile.mkdtemp(prefix="sweep-", dir=work))
    idle = wait_until_idle(idle_cores, idle_wait_s)
    load = os.getloadavg()[0]
    with ForeignLoad() as others:
        start = time.perf_counter()
        frame = sweep(
            base,
            grid=GRID,
            replications=REPLICATIONS,
            name="bench",
            out_dir=out,
            workers=workers,
            dask=dask,
        )
        wall_s = time.perf_counter() - start
    folders = list((out / "bench" / "runs").glob("*/*/manifest.json"))
    ok = int((frame["status"] == "ok").sum())
    if ok != 8 or len(folders) != 8:
        raise RuntimeError(f"expected 8 fresh runs, got {ok} ok rows and {len(folders)} folders")
    kpis = dict(zip(frame["fingerprint"], frame["system.served_share"], strict=True))
    shutil.rmtree(out)
    return {
        "wall_s": wall_s,
        "run_s": float(frame["wall_time_s"].mean()),
        "load": load,
        "idle_before": idle,
        "others": others.cores,
        "kpis": kpis,
    }


def main() -> None:
    """Print one row per configuration and the 2-vs-1 throughput ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=3, help="measurements per config (best kept)")
    parser.add_argument("--work-dir", default=None, help="where the fresh results folders go")
    parser.add_argument(
        "--idle-cores",
        type=float,
        default=0.2,
        help="before each measurement wait until other processes use at most this many cores",
    )
    parser.add_argument("--idle-wait-s", type=float, default=300.0, help="longest such wait")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="mobisim-bench-sweep-", dir=args.work_dir))
    base = write_base(work, args.residents)
    results: dict[tuple, list[dict]] = {config: [] for config in CONFIGS}
    for rep in range(args.repeat):
        for config in CONFIGS:
            label, dask, workers = config
            row = one_sweep(base, dask, workers, work, args.idle_cores, args.idle_wait_s)
            results[config].append(row)
            print(
                f"# rep {rep + 1} {label} workers={workers}: {row['wall_s']:.1f} s "
                f"(others {row['idle_before']:.2f} cores before, {row['others']:.2f} during; "
                f"load {row['load']:.2f})",
                flush=True,
            )
    shutil.rmtree(work)
    reference = next(iter(results.values()))[0]["kpis"]
    same = all(r["kpis"] == reference for rows in results.values() for r in rows)
    best = {config: min(rows, key=lambda r: r["wall_s"]) for config, rows in results.items()}
    print(f"\n8 runs ({args.residents} residents each); KPIs identical in every config: {same}\n")
    print(
        f"| executor | workers | runs | wall_s (best of {args.repeat}) | all wall_s | runs_per_min | "
        "mean run_s | others_cores | load before |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for config, row in best.items():
        label, _, workers = config
        walls = ", ".join(f"{r['wall_s']:.1f}" for r in results[config])
        print(
            f"| {label} | {workers} | 8 | {row['wall_s']:.1f} | {walls} | "
            f"{8 * 60 / row['wall_s']:.1f} | {row['run_s']:.2f} | {row['others']:.2f} | "
            f"{row['load']:.2f} |"
        )
    print()
    for label, dask in (("local", None), ("dask LocalCluster", "local")):
        one, two = best[(label, dask, 1)], best[(label, dask, 2)]
        print(f"{label}: throughput 2 workers / 1 worker = {one['wall_s'] / two['wall_s']:.2f}x")


if __name__ == "__main__":
    main()

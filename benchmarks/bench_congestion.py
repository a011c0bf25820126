"""The congestion loop (issue 24) on a scenario: iterations to the relative gap, wall time.

Run:  python benchmarks/bench_congestion.py scenarios/chungbuk/baseline.yaml [MAX_ITER] [PRESET]

Runs ``mobisim.run`` with ``network.congestion.enabled`` (relative gap 1 %, at most MAX_ITER
days, default 12) and, when given, ``network.router.speed_preset`` PRESET (e.g. korea_weekday);
prints the whole run's wall time and the run folder's congestion.parquet (one row per day).
"""

from __future__ import annotations

import logging
import sys
import time

import pandas as pd

import mobisim


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    overrides = {
        "network.congestion.enabled": True,
        "network.congestion.max_iterations": int(sys.argv[2]) if len(sys.argv) > 2 else 12,
        "network.congestion.relative_gap": 0.01,
    }
    if len(sys.argv) > 3:
        overrides["network.router.speed_preset"] = sys.argv[3]
    scenario = mobisim.load_scenario(sys.argv[1], overrides=overrides)
    started = time.perf_counter()
    result = mobisim.run(scenario, out_dir="results/bench-congestion")
    print("wall_s", round(time.perf_counter() - started, 1), result.run_dir)
    pd.set_option("display.width", 200)
    print(pd.read_parquet(result.run_dir / "congestion.parquet").to_string())


if __name__ == "__main__":
    main()

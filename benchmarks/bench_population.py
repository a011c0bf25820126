"""Benchmark: demand building on the synthetic town (1,500 nodes).

Rows ``synthetic``: ``build_trips`` for a generated population with the default groups and external
flows (42,000 residents as in the Chungbuk plan, and a population scaled to about 120 k trips).
Rows ``table``: the trips of the 42,000-resident population written as a trip table (named
places, node indices and lat/lon points, a third each) and read back with ``build_trips``.
Best of ``--repeat`` runs; prints a Markdown table.

Run:  /work/venv/bin/python benchmarks/bench_population.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.demand.trips import build_trips
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation
from mobisim.scenario.network_config import NetworkConfig
from mobisim.units import format_clock

START_S, END_S = 5 * 3600.0, 24 * 3600.0


def best_time_s(fn, repeat: int):
    """(best wall time in s, last result) of ``repeat`` calls of ``fn``."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def as_table(trips: pd.DataFrame, network) -> pd.DataFrame:
    """The trips as a user's trip table: a third by place name, a third by node, a third by lat/lon."""
    n = len(trips)
    kind = np.arange(n) % 3
    nodes = network.nodes
    table = pd.DataFrame(
        {
            "trip_id": trips["trip_id"],
            "person_id": trips["person_id"],
            "depart": [format_clock(t) for t in trips["depart_s"]],
            "group": trips["group"],
        }
    )
    for end in ("origin", "dest"):
        node = trips[f"{end}_node"].to_numpy()
        table[f"{end}_place"] = np.where(kind == 0, trips[f"{end}_place"], "")
        table[f"{end}_node"] = np.where(kind == 1, node.astype(str), "")
        table[f"{end}_lat"] = np.where(kind == 2, nodes["lat"].to_numpy()[node].astype(str), "")
        table[f"{end}_lon"] = np.where(kind == 2, nodes["lon"].to_numpy()[node].astype(str), "")
    # place names stand for the place's node, so keep only trips between different nodes
    o = np.where(kind == 0, trips["origin_place"].map(network.places.set_index("name")["node"]), 0)
    d = np.where(kind == 0, trips["dest_place"].map(network.places.set_index("name")["node"]), 1)
    return table[o != d]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, nargs="+", default=[42_000, 72_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    network = build_network(NetworkConfig(), ".")
    rows = []
    for residents in args.residents:
        config = DemandConfig(
            synthetic=SyntheticPopulation(residents=residents, households=round(residents / 2.8))
        )
        seconds, (trips, _) = best_time_s(
            lambda config=config: build_trips(config, network, RandomStreams(1), START_S, END_S),
            args.repeat,
        )
        rows.append(("synthetic", residents, len(trips), seconds))
        if residents == args.residents[0]:
            table = as_table(trips, network)
            with tempfile.TemporaryDirectory() as tmp:
                for suffix in (".csv", ".parquet"):
                    path = Path(tmp) / f"trips{suffix}"
                    if suffix == ".csv":
                        table.to_csv(path, index=False)
                    else:
                        table.to_parquet(path, index=False)
                    config = DemandConfig(trip_table={"file": path.name})
                    seconds, (read, _) = best_time_s(
                        lambda c=config, base=tmp: build_trips(
                            c, network, RandomStreams(1), START_S, END_S, base_dir=base
                        ),
                        args.repeat,
                    )
                    rows.append((f"table {suffix[1:]}", residents, len(read), seconds))
    print("| input | residents | trips | build_s | trips_per_s |")
    print("|---|---|---|---|---|")
    for name, residents, n, seconds in rows:
        print(f"| {name} | {residents:,} | {n:,} | {seconds:.3f} | {n / seconds:,.0f} |")


if __name__ == "__main__":
    main()

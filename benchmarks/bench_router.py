"""Router benchmark: build time and travel-time look-ups on synthetic towns and Nootdorp.

Run:  /work/venv/bin/python benchmarks/bench_router.py [--lookups 1000000]
      /work/venv/bin/python benchmarks/bench_router.py --periods [--nodes 5000]

For each network: time to build the network, to build the car (edge speeds, with distances along
the fastest path) and walk (constant speed) tables, then 1 M random car travel-time look-ups,
vectorised (one call) and scalar (one call each). Networks above ``all_pairs_max_nodes`` use LRU
mode: there the look-ups use 500 distinct origins (warm rows) and the cost of one new source
(a Dijkstra row plus distances by pointer doubling) is reported separately.

``--periods``: time-of-day tables on one synthetic network, one free-flow period against the
five ``korea_weekday`` periods (docs/networks.md "Time of day"): build time and memory of the car
tables (every period built, all-pairs matrices' bytes and the process's peak RSS), and the scalar
look-up rate with the router's clock set (the hot path then picks a period per call).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.network_config import NetworkConfig, RouterSettings

NOOTDORP = (
    Path(__file__).resolve().parents[1].parent / "shared" / "networks" / "nootdorp-maassim.graphml"
)
SCALAR_SAMPLE = 200_000


def _timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def bench(label: str, config: NetworkConfig, lookups: int, settings: RouterSettings) -> dict:
    net, net_s = _timed(lambda: build_network(config, "."))
    router = Router(net, settings)
    _, car_s = _timed(lambda: router.table("car"))
    _, walk_s = _timed(lambda: router.table("walk"))
    rng = np.random.default_rng(0)
    n = net.n_nodes
    per_source_ms = float("nan")
    if router.mode == "lru":
        fresh = rng.choice(n, size=100, replace=False)
        _, cost = _timed(lambda: [router.table("car").row(int(s)) for s in fresh])
        per_source_ms = 1000 * cost / len(fresh)
        origins = rng.choice(n, size=500, replace=False)[rng.integers(0, 500, lookups)]
        router.travel_times_s("car", origins[:5000], 0)  # warm the 500 rows
    else:
        origins = rng.integers(0, n, lookups)
    dests = rng.integers(0, n, lookups)
    router.travel_times_s("car", origins[:1000], dests[:1000])
    _, vec_s = _timed(lambda: router.travel_times_s("car", origins, dests))
    sample = min(lookups, SCALAR_SAMPLE)
    o_list, d_list = origins[:sample].tolist(), dests[:sample].tolist()

    def scalar():
        try_time = router.try_travel_time_s
        for o, d in zip(o_list, d_list, strict=True):
            try_time("car", o, d)

    _, scalar_s = _timed(scalar)
    return {
        "network": label,
        "nodes": n,
        "edges": net.graph.number_of_edges(),
        "mode": router.mode,
        "net_build_s": net_s,
        "car_table_s": car_s,
        "walk_table_s": walk_s,
        "vec_Mps": lookups / vec_s / 1e6,
        "scalar_Mps": sample / scalar_s / 1e6,
        "per_source_ms": per_source_ms,
    }


def bench_periods(nodes: int, lookups: int, presets: tuple[str, ...]) -> None:
    """Print build time, memory and scalar look-ups of 1 vs 5 time-of-day periods (car)."""
    net, net_s = _timed(
        lambda: build_network(NetworkConfig(synthetic={"target_nodes": nodes}), ".")
    )
    print(f"network: {net.n_nodes} nodes, {net.graph.number_of_edges()} edges ({net_s:.1f} s)")
    rng = np.random.default_rng(0)
    origins = rng.integers(0, net.n_nodes, lookups).tolist()
    dests = rng.integers(0, net.n_nodes, lookups).tolist()
    departs = np.sort(rng.uniform(5 * 3600, 24 * 3600, lookups)).tolist()  # the clock goes forward
    print("| periods | car tables | build_s | matrices_MB | peak_RSS_MB | scalar_Mps |")
    print("|---|---|---|---|---|---|")
    for preset in presets:
        settings = RouterSettings(all_pairs_max_nodes=max(6000, nodes), speed_preset=preset)
        router = Router(net, settings)
        starts = [p.start_h * 3600.0 for p in router.periods]
        tables, build_s = _timed(
            lambda r=router, s=starts: {id(r.table("car", t)): r.table("car", t) for t in s}
        )
        matrix_mb = (
            sum(t.weight_matrix.nbytes + t.length_matrix.nbytes for t in tables.values()) / 1e6
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        now = [0.0]
        router.clock = lambda now=now: now[0]

        def scalar(router=router, now=now):
            try_time = router.try_travel_time_s
            for o, d, t in zip(origins, dests, departs, strict=True):
                now[0] = t
                try_time("car", o, d)

        _, scalar_s = _timed(scalar)
        print(
            f"| {len(router.periods)} ({preset}) | {len(tables)} | {build_s:.1f} | {matrix_mb:.0f} "
            f"| {peak_mb:.0f} | {lookups / scalar_s / 1e6:.2f} |"
        )
        del tables, router
    print(
        f"\nscalar look-ups: {lookups:,}, departures uniform over 05-24 h in time order; peak RSS "
        "of the process so far (one --preset per process measures each alone)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=1_000_000, help="look-ups per network")
    parser.add_argument("--periods", action="store_true", help="time-of-day tables: 1 vs 5 periods")
    parser.add_argument("--nodes", type=int, default=5000, help="synthetic nodes for --periods")
    parser.add_argument(
        "--preset", choices=("free_flow", "korea_weekday"), help="--periods: this preset only"
    )
    args = parser.parse_args()
    if args.periods:
        presets = (args.preset,) if args.preset else ("free_flow", "korea_weekday")
        bench_periods(args.nodes, min(args.lookups, SCALAR_SAMPLE), presets)
        return
    settings = RouterSettings(all_pairs_max_nodes=6000, lru_size=2048)
    cases = [
        (f"synthetic {k}", NetworkConfig(synthetic={"target_nodes": k}))
        for k in (1000, 2000, 5000, 20000)
    ]
    if NOOTDORP.is_file():
        cases.append(("Nootdorp (graphml)", config_for(str(NOOTDORP))))
    rows = [bench(label, config, args.lookups, settings) for label, config in cases]
    header = [
        "network",
        "nodes",
        "edges",
        "mode",
        "net_build_s",
        "car_table_s",
        "walk_table_s",
        "vec_Mps",
        "scalar_Mps",
        "per_source_ms",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{row[h]:.3g}" if isinstance(row[h], float) else str(row[h]) for h in header]
        print("| " + " | ".join(cells) + " |")
    print(
        f"\nlook-ups per network: {args.lookups:,} vectorised; scalar rate from {min(args.lookups, SCALAR_SAMPLE):,} calls"
    )


if __name__ == "__main__":
    main()

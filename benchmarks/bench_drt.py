"""DRT dispatch throughput on the synthetic new town: requests per second of wall time.

Each case runs the real DrtService (door to door, default limits [T3][T14]) in a SimPy
environment for a 16-hour day; requests (uniform origins/destinations and times) are fed in by
one process that asks for an offer and books it at once, like a commuter who always takes DRT.
``dispatch/s`` counts only the time spent in offers() + request() (the insertion search);
``run/s`` the whole simulation (vehicles driving, events logged).

    /work/venv/bin/python benchmarks/bench_drt.py                 # 2k, 20k, 100k requests
    /work/venv/bin/python benchmarks/bench_drt.py --quick         # 2k only (exact, then K = 8)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

from bench_drt_feed import feed_requests
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.services.base import ServiceContext
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_insertion_fast import dense_legs

START_S, END_S = 6 * 3600.0, 22 * 3600.0

#: (requests, vehicles, approx_candidates_k: None = exact search over the fleet)
CASES = [
    (2_000, 20, None),
    (2_000, 20, 8),
    (20_000, 100, None),
    (20_000, 100, 4),
    (20_000, 100, 8),
    (20_000, 100, 16),
    (100_000, 500, None),
    (100_000, 500, 8),
]


def run_case(
    network, router, n_requests: int, n_vehicles: int, k: int | None, seed: int = 0
) -> dict:
    """Simulate one day with ``n_requests`` requests and return timings and outcomes."""
    env = simpy.Environment(initial_time=START_S)
    rng = np.random.default_rng(seed)
    ctx = ServiceContext(env, network, router, EventLog(), rng, START_S, END_S)
    service = DrtService(
        DrtConfig(name="drt", vehicles=n_vehicles, capacity_pax=8, approx_candidates_k=k), ctx
    )
    service.start()
    origins = rng.integers(0, network.n_nodes, n_requests)
    dests = rng.integers(0, network.n_nodes, n_requests)
    departs = np.sort(rng.uniform(START_S, END_S - 3600, n_requests))
    stats = {"dispatch_s": 0.0, "served": 0, "refused": 0}

    env.process(feed_requests(env, service, origins, dests, departs, stats))
    tic = time.perf_counter()
    env.run(until=END_S + 3600)
    service.finish(env.now)
    stats["run_s"] = time.perf_counter() - tic
    stats["events"] = len(ctx.log)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 2k-request case")
    parser.add_argument("--nodes", type=int, default=1500, help="synthetic network target nodes")
    args = parser.parse_args()
    network = build_network(config_for("synthetic", target_nodes=args.nodes))
    router = Router(network)
    router.add_profile("drt", view="drive")
    router.travel_time_s("drt", 0, 1)  # build the all-pairs table outside the timings
    dense_legs(router, "drt")  # and the dispatcher's drive-time rows (built once per router)
    print(f"network: {network.n_nodes} nodes, router mode {router.mode}")
    header = f"{'requests':>9} {'vehicles':>8} {'K':>3} {'booked':>7} {'refused':>8} {'dispatch/s':>11} {'run/s':>8} {'run wall s':>10}"
    print(header)
    print("-" * len(header))
    for n_requests, n_vehicles, k in CASES[:2] if args.quick else CASES:
        s = run_case(network, router, n_requests, n_vehicles, k)
        print(
            f"{n_requests:>9} {n_vehicles:>8} {k or 'all':>3} {s['served']:>7} {s['refused']:>8} "
            f"{n_requests / s['dispatch_s']:>11.0f} {n_requests / s['run_s']:>8.0f} {s['run_s']:>10.1f}"
        )


if __name__ == "__main__":
    main()

"""Benchmark: synthetic population generation (42,000 residents on the synthetic town).

Run:  python benchmarks/bench_population.py
"""

from __future__ import annotations

import time

from mobisim.demand.trips import build_trips
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation
from mobisim.scenario.network_config import NetworkConfig

if __name__ == "__main__":
    network = build_network(NetworkConfig(), ".")
    for residents, households in ((42_000, 15_000), (200_000, 70_000)):
        config = DemandConfig(
            synthetic=SyntheticPopulation(residents=residents, households=households)
        )
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            trips, _ = build_trips(config, network, RandomStreams(1), 5 * 3600, 24 * 3600)
            best = min(best, time.perf_counter() - t0)
        print(f"{residents:>8} residents  {len(trips):>8} trips  {best:.3f} s (best of 3)")

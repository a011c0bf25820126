"""Where the plain-Python small-fleet search beats the NumPy one: time per quote by fleet size.

The real DrtService (exact search, rejected at once when no vehicle can serve) serves uniform
requests (``--rate`` per vehicle and hour) on one synthetic town (default 300 nodes, 8 km²). Every quote the service asks for is
answered by both searches on the same fleet state, one after the other (the order alternates):
:func:`~mobisim.services.drt_insertion_small.small_insert` (plain Python) and
:func:`~mobisim.services.drt_insertion_fast.fast_insert` with the hand-over switched off (NumPy
expressions over the fleet). Their decisions must be identical (checked on every quote); the
table gives the mean µs per quote of each and their ratio. ``SMALL_FLEET_MAX`` in
``drt_insertion_small`` is set from the crossover.

    python benchmarks/bench_drt_small_fleet.py                      # capacity 1 (taxis, HIVE)
    python benchmarks/bench_drt_small_fleet.py --capacity 8 --fleets 10 40 80
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import simpy

from bench_drt_feed import feed_requests
from bench_drt_fleet import START_S
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.services import drt_dispatch, drt_insertion_small
from mobisim.services.base import ServiceContext
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_insertion_fast import fast_insert


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (a.vehicle, a.pickup_index, a.dropoff_index, a.pickup_s, a.dropoff_s, a.cost_s) == (
        b.vehicle,
        b.pickup_index,
        b.dropoff_index,
        b.pickup_s,
        b.dropoff_s,
        b.cost_s,
    )


def side_by_side(stats: dict):
    """A stand-in for ``fast_insert`` in the dispatcher: both searches, timed, compared."""

    def search(request, vehicles, now_s, drive, stop_s, energy_ok=None, approx_k=None):
        calls = stats["quotes"]
        stats["quotes"] += 1
        results = {}
        for name in ("small", "numpy") if calls % 2 else ("numpy", "small"):
            started = time.perf_counter()
            if name == "small":
                found = drt_insertion_small.small_insert(
                    request, vehicles, now_s, drive, stop_s, energy_ok
                )
            else:
                saved, drt_insertion_small.SMALL_FLEET_MAX = drt_insertion_small.SMALL_FLEET_MAX, 0
                try:
                    found = fast_insert(request, vehicles, now_s, drive, stop_s, energy_ok)
                finally:
                    drt_insertion_small.SMALL_FLEET_MAX = saved
            stats[name] += time.perf_counter() - started
            results[name] = found
        if not same(results["small"], results["numpy"]):
            stats["mismatch"] += 1
        return results["numpy"]

    return search


def town(nodes: int, area_km2: float):
    """A synthetic new town with the all-pairs router the dispatcher reads (built here)."""
    network = build_network(config_for("synthetic", area_km2=area_km2, target_nodes=nodes))
    router = Router(network)
    router.add_profile("drt", view="drive")
    router.travel_time_s("drt", 0, 1)
    return network, router


def run_case(network, router, n_vehicles: int, hours: float, rate: float, capacity: int):
    """One window of uniform requests booked at once (``bench_drt_fleet.run_case``, with
    ``capacity`` seats and no brute-force check)."""
    end_s = START_S + hours * 3600.0
    n_requests = int(rate * n_vehicles * hours)
    env = simpy.Environment(initial_time=START_S)
    rng = np.random.default_rng(0)
    ctx = ServiceContext(env, network, router, EventLog(), rng, START_S, end_s + 3600)
    config = DrtConfig(name="drt", vehicles=n_vehicles, capacity_pax=capacity, queue_requests=False)
    service = DrtService(config, ctx)
    service.start()
    _ = service.fleet_view  # the drive source, built outside the timing
    origins = rng.integers(0, network.n_nodes, n_requests)
    dests = rng.integers(0, network.n_nodes, n_requests)
    departs = np.sort(rng.uniform(START_S, end_s, n_requests))
    stats = {"dispatch_s": 0.0, "served": 0, "refused": 0}
    env.process(feed_requests(env, service, origins, dests, departs, stats))
    env.run(until=end_s + 3600)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=int, nargs="+", default=[5, 10, 20, 30, 40, 60, 80])
    parser.add_argument("--nodes", type=int, default=300, help="town size (all fleets)")
    parser.add_argument("--km2", type=float, default=8.0, help="town area (all fleets)")
    parser.add_argument("--capacity", type=int, default=1, help="seats per vehicle")
    parser.add_argument("--hours", type=float, default=1.0, help="demand window, h")
    parser.add_argument("--rate", type=float, default=8.0, help="requests/vehicle/h")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"{'vehicles':>8} {'nodes':>6} {'quotes':>7} {'small µs':>9} {'numpy µs':>9} "
        f"{'numpy/small':>11} {'mismatch':>8}"
    )
    real = drt_dispatch.fast_insert
    for n_vehicles in args.fleets:
        network, router = town(args.nodes, args.km2)
        stats = {"quotes": 0, "small": 0.0, "numpy": 0.0, "mismatch": 0}
        drt_dispatch.fast_insert = side_by_side(stats)
        try:
            run_case(network, router, n_vehicles, args.hours, args.rate, args.capacity)
        finally:
            drt_dispatch.fast_insert = real
        q = max(stats["quotes"], 1)
        print(
            f"{n_vehicles:>8} {network.n_nodes:>6} {stats['quotes']:>7} "
            f"{1e6 * stats['small'] / q:>9.1f} {1e6 * stats['numpy'] / q:>9.1f} "
            f"{stats['numpy'] / max(stats['small'], 1e-12):>11.2f} {stats['mismatch']:>8}",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

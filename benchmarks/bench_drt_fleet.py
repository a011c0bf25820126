"""DRT dispatch cost per request as the fleet grows at fixed density (town area ∝ fleet).

Each case is a synthetic new town of ``KM2_PER_VEHICLE`` km² and ``NODES_PER_VEHICLE`` nodes
per vehicle, with ``REQUESTS_PER_VEHICLE_H`` requests per vehicle and hour (uniform origins and
times) over a ``--hours`` window, served door to door by the real DrtService
(exact search, default limits, rejected at once when no vehicle can serve). ``ms/request`` is
the wall time of offers() + request() per request; ``router`` is the router's storage (all-pairs
tables up to 6,000 nodes, LRU rows with time-bounded Dijkstra for the dispatcher above). A sample of rejected requests is checked by brute force
(:func:`~mobisim.services.drt_timing.reference_insert` over every vehicle at the moment of the
rejection): ``rejected feasible`` must be 0.

Two kinds of demand (``--demand``, both by default):

* ``uniform``: destinations uniform over the town, so trips grow with it (the mean straight-line
  trip is about half the town's side: 7x longer at 50x the area), and with them every
  shortest-path search a request needs, whatever the dispatcher does;
* ``local``: trip-making at fixed density, one trip-length distribution in every town.
  Assumption (no trip-length distribution is given in the reference figures): the
  straight-line offset of a trip is that of two uniform points in a square of
  ``LOCAL_TRIP_KM2`` km² (the 100-vehicle town's area; mean 1.5 km), turned back along an axis
  where it would leave the town; the destination is the node nearest the end of the offset
  (the next nearest when that is the origin).

    python benchmarks/bench_drt_fleet.py                         # 100, 1,000, 5,000 vehicles
    python benchmarks/bench_drt_fleet.py --fleets 100 1000 --hours 0.25 --rate 8 --brute 3
    python benchmarks/bench_drt_fleet.py --fleets 2000 --profile   # cProfile of one case
    python benchmarks/bench_drt_fleet.py --fleets 5000 --demand local --hours 0.05
    python benchmarks/bench_drt_fleet.py --fleets 5000 --nodes 20000 --hours 0.25  # 20,000 nodes
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats

import numpy as np
import simpy
from scipy.spatial import cKDTree

from bench_drt_feed import feed_requests
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_timing import reference_insert

KM2_PER_VEHICLE = 0.08  # 5,000 vehicles: 400 km², the synthetic generator's largest
NODES_PER_VEHICLE = 3
REQUESTS_PER_VEHICLE_H = 6.0  # default --rate
START_S = 7 * 3600.0
LOCAL_TRIP_KM2 = 100 * KM2_PER_VEHICLE  # --demand local: trips as in the 100-vehicle town
DEMANDS = ("uniform", "local")


def town(n_vehicles: int, network=None, nodes: int | None = None):
    """(network, router with the ``drt`` profile) of the ``n_vehicles`` town (``network``: that
    town's, already built: then only a new router; ``nodes``: that many nodes instead of
    ``NODES_PER_VEHICLE`` per vehicle)."""
    area = KM2_PER_VEHICLE * n_vehicles
    side_km = area**0.5
    if network is None:
        network = build_network(
            config_for(
                "synthetic",
                area_km2=area,
                target_nodes=nodes or max(100, NODES_PER_VEHICLE * n_vehicles),
                industrial_distance_km=max(6.5, 1.2 * side_km),
                rail_distance_km=max(15.0, 1.6 * side_km),
            )
        )
    router = Router(network)
    router.add_profile("drt", view="drive")
    router.travel_time_s("drt", 0, 1)  # all-pairs tables (small towns) built outside the timing
    return network, router


def local_destinations(network, origins: np.ndarray, rng) -> np.ndarray:
    """Destination nodes of ``origins`` for ``--demand local`` (see the module docstring)."""
    x_m, y_m = network.nodes["x_m"].to_numpy(), network.nodes["y_m"].to_numpy()
    side_m = LOCAL_TRIP_KM2**0.5 * 1000.0
    shape = (len(origins), 2)
    offset_m = rng.uniform(0, side_m, shape) - rng.uniform(0, side_m, shape)
    ends = []
    for axis, coords in enumerate((x_m, y_m)):
        end = coords[origins] + offset_m[:, axis]
        outside = (end < coords.min()) | (end > coords.max())
        end[outside] = coords[origins][outside] - offset_m[outside, axis]  # turned back
        ends.append(np.clip(end, coords.min(), coords.max()))
    _, nearest = cKDTree(np.column_stack([x_m, y_m])).query(np.column_stack(ends), k=2)
    return np.where(nearest[:, 0] == origins, nearest[:, 1], nearest[:, 0]).astype(np.int64)


def run_case(
    network,
    router,
    n_vehicles: int,
    hours: float,
    rate: float,
    brute: int,
    demand: str = "uniform",
    seed=0,
) -> dict:
    """One window of demand; timings and outcomes."""
    end_s = START_S + hours * 3600.0
    n_requests = int(rate * n_vehicles * hours)
    env = simpy.Environment(initial_time=START_S)
    rng = np.random.default_rng(seed)
    ctx = ServiceContext(env, network, router, EventLog(), rng, START_S, end_s + 3600)
    config = DrtConfig(name="drt", vehicles=n_vehicles, capacity_pax=8, queue_requests=False)
    service = DrtService(config, ctx)
    service.start()
    _ = service.fleet_view  # the drive source, built outside the timing
    origins = rng.integers(0, network.n_nodes, n_requests)
    if demand == "local":
        dests = local_destinations(network, origins, rng)
    else:
        dests = rng.integers(0, network.n_nodes, n_requests)
    x_m, y_m = network.nodes["x_m"].to_numpy(), network.nodes["y_m"].to_numpy()
    trip_km = np.hypot(x_m[dests] - x_m[origins], y_m[dests] - y_m[origins]).mean() / 1000
    departs = np.sort(rng.uniform(START_S, end_s, n_requests))
    stats = {"dispatch_s": 0.0, "served": 0, "refused": 0, "checked": 0, "feasible": 0}

    def check(trip: Trip) -> None:
        """Brute force over every vehicle for a sample of the rejections (spread over the run)."""
        if stats["checked"] >= brute or stats["refused"] % 3 != 1:
            return
        planned = service._plan_request(trip, env.now)
        if isinstance(planned, str):
            return
        drive = service.fleet_view._drive
        found = reference_insert(
            planned[0], service.vehicles, env.now, drive.drive_s, config.stop_s
        )
        stats["checked"] += 1
        stats["feasible"] += found is not None

    env.process(feed_requests(env, service, origins, dests, departs, stats, check))
    env.run(until=end_s + 3600)
    service.finish(env.now)
    stats["requests"] = n_requests
    stats["trip_km"] = float(trip_km)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--hours", type=float, default=1.0, help="demand window, h")
    parser.add_argument(
        "--rate", type=float, default=REQUESTS_PER_VEHICLE_H, help="requests/vehicle/h"
    )
    parser.add_argument("--brute", type=int, default=5, help="rejections checked by brute force")
    parser.add_argument(
        "--demand", nargs="+", choices=DEMANDS, default=list(DEMANDS), help="kinds of demand"
    )
    parser.add_argument(
        "--nodes", type=int, default=None, help="nodes of every town (default: 3 per vehicle)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile each case")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    header = (
        f"{'demand':>7} {'vehicles':>8} {'nodes':>6} {'km2':>5} {'router':>9} {'trip km':>7} "
        f"{'requests':>8} {'booked':>7} {'refused':>7} {'ms/request':>10} {'x 1st':>6} "
        f"{'brute checked':>13} {'rejected feasible':>17}"
    )
    print(header)
    print("-" * len(header))
    first_ms: dict[str, float] = {}
    for n_vehicles in args.fleets:
        network, _ = town(n_vehicles, nodes=args.nodes)
        for demand in args.demand:
            _, router = town(n_vehicles, network)  # a fresh router: no warm rows from a case before
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            s = run_case(network, router, n_vehicles, args.hours, args.rate, args.brute, demand)
            if profiler:
                profiler.disable()
            ms = 1000 * s["dispatch_s"] / s["requests"]
            first_ms.setdefault(demand, ms)
            print(
                f"{demand:>7} {n_vehicles:>8} {network.n_nodes:>6} "
                f"{KM2_PER_VEHICLE * n_vehicles:>5.0f} {router.mode:>9} {s['trip_km']:>7.2f} "
                f"{s['requests']:>8} {s['served']:>7} {s['refused']:>7} {ms:>10.2f} "
                f"{ms / first_ms[demand]:>6.2f} {s['checked']:>13} {s['feasible']:>17}",
                flush=True,
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(8)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Scaling benchmark: synthetic town days of 10 k, 50 k and 200 k trips with every service on.

Run:  /work/venv/bin/python benchmarks/bench_scaling.py [--sizes 10000 50000 200000] [--repeat 3]
      [--nodes 1500 --area-km2 6.9] [--services walk,car,drt] [--constant-offers]

Each size starts from ``scenarios/demo.yaml`` (walk, private car, an autonomous shuttle loop, DRT,
one-way car-sharing, dockless e-scooters, docked bikes; shuttles and DRT charge at a PV depot) and
scales the synthetic population (``demand.synthetic.residents`` and ``households``) to about that
many trips. The shared fleets grow with the population by the same factor ``f = residents / 6,000``
(the demo's population) so that no service is more (or less) saturated than in the demo: DRT
vehicles, car-sharing cars and spaces per station, e-scooters, bikes and docks, crews, the depot's
plugs, PV and storage; the shuttle keeps its loop and gets ``f`` times the capacity per hour
(headway down to 3 min at most, then bigger vehicles). The network is the demo's town (1,500
nodes, 6.9 km²) for every size unless ``--nodes`` / ``--area-km2`` say otherwise.
``--services walk,car,drt`` keeps only the named services on (the others get ``enabled: false``):
what each service adds to the walk-and-car day, one at a time.
``--constant-offers`` keeps every service built and running but makes each one other than walk
and car answer every trip with the same refusal, without looking at the trip: what asking the
services costs before any offer is worked out (a measurement, not a scenario a user can run).

Each size runs in a fresh child process (so that ``maxrss_MB`` is that size's own peak). The
network, the router tables of every profile the services use and the trips are built before the
clock; then ``simulate()`` runs once under tracemalloc (``peak_MB``) and ``--repeat`` times
without it, the best of those is reported (``wall_s`` the whole call, ``run_s`` the event loop
alone). Before each timed run the child waits (``--idle-wait-s``, 120 s at most) until other
processes use at most ``--idle-cores`` (0.2) cores; ``others_cores`` is what they used during the
best run (machine_load.py). ``us_per_trip`` is the whole call per trip (``cpu_us_per_trip`` the CPU time of this
process in it: less disturbed than wall time when other jobs share the cores), ``run_us_per_trip`` the
event loop's; the last lines compare them between the largest and the smallest size (linear
growth = the same cost per trip). The first lines give the commit and whether src/ had local
changes. (The retired target of at most 3x a bare SimPy loop per event is no longer measured;
benchmarks/README.md keeps its history.)
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import yaml

import mobisim
from machine_load import ForeignLoad, wait_until_idle
from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import simulate
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
DEMO_RESIDENTS, DEMO_HOUSEHOLDS = 6_000, 2_200
TRIPS_PER_RESIDENT = 10_028 / 6_000  # measured on the demo (seed 42, every service on)
SHUTTLE_MIN_HEADWAY_MIN = 3.0


def scaled_overrides(
    residents: int, nodes: int | None, area_km2: float | None, keep: list[str] | None = None
) -> dict:
    """Overrides of the demo for ``residents`` residents, shared fleets scaled alike.

    ``keep``: the services to keep on (names in the demo); the others get ``enabled: false``.
    None keeps every service.
    """
    raw = yaml.safe_load(DEMO.read_text())
    f = residents / DEMO_RESIDENTS
    services = {block["name"]: block for block in raw["services"]}

    def up(n: int) -> int:
        return max(1, round(n * f))

    out: dict = {
        "demand.synthetic.residents": residents,
        "demand.synthetic.households": round(residents * DEMO_HOUSEHOLDS / DEMO_RESIDENTS),
        "outputs.charts": False,
    }
    # shuttle: f times the capacity per hour, first by a shorter headway, then bigger vehicles
    shuttle = services["shuttle"]
    headway = max(SHUTTLE_MIN_HEADWAY_MIN, shuttle["headway_min"] / f)
    capacity_factor = f * headway / shuttle["headway_min"]
    out["services.shuttle.headway_min"] = headway
    out["services.shuttle.vehicles"] = math.ceil(
        shuttle["vehicles"] * shuttle["headway_min"] / headway
    )
    out["services.shuttle.capacity_pax"] = max(15, round(15 * capacity_factor))
    out["services.drt.vehicles"] = up(services["drt"]["vehicles"])
    out["services.carshare.stations"] = [
        {**s, "vehicles": up(s["vehicles"]), "spaces": up(s["spaces"])}
        for s in services["carshare"]["stations"]
    ]
    for name in ("scooters", "bikes"):
        block = services[name]
        out[f"services.{name}.devices"] = [{**d, "count": up(d["count"])} for d in block["devices"]]
        out[f"services.{name}.crews.crews"] = up(block.get("crews", {}).get("crews", 1))
        if "stations" in block:
            out[f"services.{name}.stations"] = [
                {**s, "spaces": up(s["spaces"])} for s in block["stations"]
            ]
    depot = raw["energy"]["charging_sites"][0]
    out["energy.charging_sites"] = [
        {
            **depot,
            "plugs": up(depot["plugs"]),
            "pv_kwp": depot["pv_kwp"] * f,
            "storage_kwh": depot["storage_kwh"] * f,
            "storage_kw": depot["storage_kw"] * f,
        }
    ]
    if keep is not None:
        unknown = sorted(set(keep) - set(services))
        if unknown:
            raise SystemExit(
                f"--services: no service {unknown} in {DEMO} (known: {list(services)})"
            )
        for name in services:
            if name not in keep:
                out[f"services.{name}.enabled"] = False
    if nodes is not None:
        out["network.synthetic.target_nodes"] = nodes
    if area_km2 is not None:
        out["network.synthetic.area_km2"] = area_km2
    return out


def constant_offers() -> None:
    """Make :func:`simulate` build services whose offers, but walk's and car's, are one constant
    refusal (``--constant-offers``): the cost of asking, without the work of offering."""
    from mobisim.engine import simulation
    from mobisim.services.base import unavailable

    build = simulation.build_services

    def build_refusing(*args, **kwargs):
        services = build(*args, **kwargs)
        for service in services:
            if service.name not in ("walk", "car"):
                refusal = [unavailable(service.name, service.name, "constant_refusal")]
                service.offers = lambda trip, now_s, refusal=refusal: refusal
        return services

    simulation.build_services = build_refusing


def warm_router(router: Router, network, scenario) -> None:
    """Build the router tables of every profile the services use, before the clock.

    The services add their profiles (e.g. the shuttle's speed cap) when they are built, so one
    throw-away build of the services on a scratch environment registers them; then each
    profile's table is built (all-pairs mode: the whole matrix; LRU mode: empty).
    """
    import simpy

    from mobisim.engine.simulation import build_services
    from mobisim.events import EventLog

    env = simpy.Environment(initial_time=scenario.period.start_s)
    build_services(scenario, network, router, RandomStreams(scenario.seed), env, EventLog())
    for profile in list(router.profiles):
        router.table(profile)


def one_size(
    residents: int,
    repeat: int,
    nodes: int | None,
    area_km2: float | None,
    idle_cores: float = 0.2,
    idle_wait_s: float = 120.0,
    keep: list[str] | None = None,
    refuse: bool = False,
) -> dict:
    """Measure one population size (in this process); return the table row."""
    if refuse:
        constant_offers()
    overrides = scaled_overrides(residents, nodes, area_km2, keep)
    scenario = mobisim.load_scenario(DEMO, overrides=overrides)
    t0 = time.perf_counter()
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand, network, streams, scenario.period.start_s, scenario.period.end_s
    )
    warm_router(router, network, scenario)
    prep_s = time.perf_counter() - t0
    # the tracemalloc run (it slows Python allocation down: not timed); it also builds any
    # router table the warm-up missed, so the timed runs below start warm
    tracemalloc.start()
    out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    del out
    gc.collect()
    best = None
    for _ in range(repeat):
        wait_until_idle(idle_cores, idle_wait_s)
        with ForeignLoad() as others:
            start, start_cpu = time.perf_counter(), time.process_time()
            out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
            wall_s, cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        if best is None or wall_s < best[0]:
            best = (wall_s, out.timings_s["run"], out, others.cores, cpu_s)
        del out
        gc.collect()
    wall_s, run_s, out, others_cores, cpu_s = best
    modes = out.trips["mode"].value_counts(normalize=True)
    return {
        "services": "+".join(s.name for s in scenario.services if s.enabled)
        + (" (constant offers)" if refuse else ""),
        "residents": residents,
        "nodes": network.n_nodes,
        "router": router.mode,
        "trips": len(trips),
        "log_rows": out.n_events,
        "prep_s": prep_s,
        "wall_s": wall_s,
        "run_s": run_s,
        "peak_MB": peak_mb,
        "others_cores": others_cores,
        "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "us_per_trip": 1e6 * wall_s / len(trips),
        "cpu_us_per_trip": 1e6 * cpu_s / len(trips),
        "run_us_per_trip": 1e6 * run_s / len(trips),
        "shared_share": 1.0
        - float(modes.get("walk", 0) + modes.get("car", 0) + modes.get("walk_fallback", 0)),
    }


def fmt(value) -> str:
    """A table cell: 3 significant digits for floats."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main() -> None:
    """One table row per size (each measured in a child process), then the linearity check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (best kept)")
    parser.add_argument("--nodes", type=int, default=None, help="synthetic town nodes (1,500)")
    parser.add_argument("--area-km2", type=float, default=None, help="town area (6.9 km²)")
    parser.add_argument(
        "--idle-cores",
        type=float,
        default=0.2,
        help="before each timed run wait until other processes use at most this many cores",
    )
    parser.add_argument("--idle-wait-s", type=float, default=120.0, help="longest such wait")
    parser.add_argument(
        "--services",
        default=None,
        help="comma-separated demo services to keep on, e.g. walk,car,drt (default: all)",
    )
    parser.add_argument(
        "--constant-offers",
        action="store_true",
        help="services other than walk and car refuse every trip without looking at it",
    )
    parser.add_argument("--_child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child is not None:
        keep = args.services.split(",") if args.services else None
        row = one_size(
            args._child,
            args.repeat,
            args.nodes,
            args.area_km2,
            args.idle_cores,
            args.idle_wait_s,
            keep,
            args.constant_offers,
        )
        print("ROW " + json.dumps(row))
        return
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.split()[1::2]
    print(
        f"mobisim imported from {Path(mobisim.__file__).parent}; repository at {commit}, "
        f"src changes not committed: {', '.join(dirty) or 'none'}"
    )
    rows = []
    for trips_target in args.sizes:
        residents = round(trips_target / TRIPS_PER_RESIDENT)
        cmd = [sys.executable, __file__, "--_child", str(residents), "--repeat", str(args.repeat)]
        cmd += ["--idle-cores", str(args.idle_cores), "--idle-wait-s", str(args.idle_wait_s)]
        if args.nodes is not None:
            cmd += ["--nodes", str(args.nodes)]
        if args.area_km2 is not None:
            cmd += ["--area-km2", str(args.area_km2)]
        if args.services:
            cmd += ["--services", args.services]
        if args.constant_offers:
            cmd += ["--constant-offers"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("ROW "))
        rows.append(json.loads(line[4:]))
        print(f"# {trips_target} trips done: {rows[-1]['wall_s']:.1f} s", file=sys.stderr)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(fmt(v) for v in row.values()) + " |")
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        growth = large["us_per_trip"] / small["us_per_trip"]
        print(
            f"\nlinearity: {large['trips']} vs {small['trips']} trips "
            f"({large['trips'] / small['trips']:.1f}x): wall time x"
            f"{large['wall_s'] / small['wall_s']:.1f}, cost per trip x{growth:.2f} "
            f"(event loop per trip x{large['run_us_per_trip'] / small['run_us_per_trip']:.2f})"
        )


if __name__ == "__main__":
    main()

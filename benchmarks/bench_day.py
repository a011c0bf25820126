"""Full-day benchmark, walk and private car only, on the demo's synthetic new town.

Run:  /work/venv/bin/python benchmarks/bench_day.py [--residents 42000] [--trips-target 120000]

Two demand rows, both from the synthetic population of :mod:`mobisim.demand` (the demo groups):
``--residents`` residents as configured (42,000 gives about 67 k trips: the demo groups make
1.6 trips per resident), and the population scaled up until it makes about ``--trips-target``
trips. For each row: wall time of ``simulate()`` (network, router tables and demand are built
before; ``wall_s`` includes building the commuters and the output tables, ``run_s`` is the event
loop alone), peak Python memory during ``simulate()`` (tracemalloc, separate run) and the maximum
resident set size of the process, SimPy events scheduled and events per second of the loop; then
a bare SimPy loop with the same number of events (the same number of processes, each yielding
one-second timeouts one after another, under the same garbage-collector thresholds) and the ratio
of the per-event costs, event loop only (``ratio``, target at most 3x) and whole call
(``ratio_total``). A third loop, the *skeleton*, replays the day's timing without any logic: one
process per person yielding timeouts at the same departure times and for the same walk, wait/ride
and egress durations as the simulated trips; ``ratio_skeleton`` compares with it (the part of the
cost due to the mode-choice, service and logging code rather than to SimPy's scheduling of events
spread over a day).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from pathlib import Path

import simpy

import mobisim
from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import GC_GEN0_THRESHOLD, simulate
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams

#: walk and private car only (demo.yaml adds the shared services on top of this town)
DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"
TRIPS_PER_RESIDENT = 67_516 / 42_000  # measured with the demo groups (seed 42)


def bare_loop(n_processes: int, n_events: int) -> float:
    """Wall time (s) of a bare SimPy run: ``n_processes`` processes, ``n_events`` events in all.

    Each process yields ``k`` one-second timeouts so that initialise + timeouts + end add up to
    ``n_events``, the number the simulated day processed.
    """
    per_process = max(1, round(n_events / n_processes) - 2)

    def agent(env, k):
        for _ in range(k):
            yield env.timeout(1.0)

    thresholds = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, *thresholds[1:])  # as simulate() does
    env = simpy.Environment()
    start = time.perf_counter()
    for _ in range(n_processes):
        env.process(agent(env, per_process))
    env.run()
    wall_s = time.perf_counter() - start
    gc.set_threshold(*thresholds)
    return wall_s, n_processes * (per_process + 2)


def skeleton_loop(trips, start_s: float) -> tuple[float, int]:
    """Wall time (s) and events of a logic-free replay of the simulated trips' timeouts."""
    plan: dict[int, list[tuple[float, list[float]]]] = {}
    steps = trips[["access_walk_s", "wait_s", "in_vehicle_s", "egress_walk_s"]].to_numpy()
    for person, depart_s, (access, wait, ride, egress) in zip(
        trips["person_id"].tolist(), trips["depart_s"].tolist(), steps.tolist(), strict=True
    ):
        durations = [d for d in (access, wait + ride, egress) if d == d and d > 0]
        plan.setdefault(person, []).append((depart_s, durations))

    def person_day(env, legs):
        for depart_s, durations in legs:
            if depart_s > env.now:
                yield env.timeout(depart_s - env.now)
            for duration_s in durations:
                yield env.timeout(duration_s)

    thresholds = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, *thresholds[1:])
    env = simpy.Environment(initial_time=start_s)
    start = time.perf_counter()
    for legs in plan.values():
        env.process(person_day(env, sorted(legs)))
    env.run()
    wall_s = time.perf_counter() - start
    gc.set_threshold(*thresholds)
    return wall_s, next(env._eid)


def one_row(residents: int) -> dict:
    """Build the world for ``residents`` residents, simulate the day, time a bare loop too."""
    households = round(residents / 42_000 * 15_400)
    scenario = mobisim.load_scenario(
        DEMO,
        overrides={
            "demand.synthetic.residents": residents,
            "demand.synthetic.households": households,
        },
    )
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    router.table("car"), router.table("walk")  # built before the clock, as the API does
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand, network, streams, scenario.period.start_s, scenario.period.end_s
    )
    tracemalloc.start()
    start = time.perf_counter()
    out = simulate(scenario, network, router, trips, streams)
    wall_s = time.perf_counter() - start
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    # the same run without tracemalloc (it slows Python allocation down) for the timing
    start = time.perf_counter()
    out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
    wall_s = time.perf_counter() - start
    n_persons = trips["person_id"].nunique()
    bare_s, bare_events = bare_loop(n_persons, out.n_sim_events)
    skeleton_s, skeleton_events = skeleton_loop(out.trips, scenario.period.start_s)
    run_s = out.timings_s["run"]
    per_event_us = 1e6 * run_s / out.n_sim_events
    bare_us = 1e6 * bare_s / bare_events
    shares = out.trips["mode"].value_counts(normalize=True)
    return {
        "residents": residents,
        "trips": len(trips),
        "sim_events": out.n_sim_events,
        "log_rows": out.n_events,
        "wall_s": wall_s,
        "run_s": run_s,
        "peak_MB": peak_mb,
        "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "events_per_s": out.n_sim_events / run_s,
        "us_per_event": per_event_us,
        "bare_us_per_event": bare_us,
        "ratio": per_event_us / bare_us,
        "ratio_total": 1e6 * wall_s / out.n_sim_events / bare_us,
        "skeleton_us_per_event": 1e6 * skeleton_s / skeleton_events,
        "ratio_skeleton": per_event_us / (1e6 * skeleton_s / skeleton_events),
        "us_per_trip": 1e6 * wall_s / len(trips),
        "car_share": float(shares.get("car", 0.0)),
    }


def main() -> None:
    """Print one table row per population size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=42_000)
    parser.add_argument("--trips-target", type=int, default=120_000)
    args = parser.parse_args()
    sizes = [args.residents, round(args.trips_target / TRIPS_PER_RESIDENT)]
    rows = [one_row(n) for n in sizes]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Intermodal chains benchmark (issue 23): the Chungbuk 2020 scenario at full size, with a
transit line, simulated with chains off and on; wall time and cost per trip of each.

Run:  python benchmarks/bench_chains.py [scenarios/chungbuk/phase-2020.yaml] [--repeat 1]

The scenario (42,000 residents, the plan's groups and external flows) gets one scheduled transit
bus line, Osong station - Terminal - Centre - Institutions, every 10 min in the peaks and 20 min
otherwise (added here, the scenario files are left as they are), and ``chains.access_modes`` set
to the devices the 2020 fleet has (bike, e-bike, segway). Network, router tables and trips are
built once; then ``simulate()`` runs the same trips twice, side by side in one process: chains
off, chains on (best of ``--repeat`` each). ``wall_s`` is the whole call, ``run_s`` the event
loop, ``cpu_s`` the process time of the call (steadier than wall time on a shared machine);
``us_per_trip`` = wall_s / trips, ``cpu_us_per_trip`` = cpu_s / trips. The target: chains on cost at most 2x per trip.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import simulate
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.scenario.loader import resolve_extends, validate

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "chungbuk" / "phase-2020.yaml"

#: the transit line added to the scenario (a regional bus to the rail station; fare (A))
TRANSIT_LINE = {
    "name": "bus_osong",
    "type": "transit",
    "mode": "bus",
    "shape": "line",
    "fare_krw": 1500,
    "stops": [
        {"name": "Osong", "place": "rail_station"},
        {"name": "Terminal", "place": "bus_terminal"},
        {"name": "Centre", "place": "town_centre"},
        {"name": "Institutions", "place": "public_institutions"},
    ],
    "headways": [
        {"start": "06:00", "end": "09:00", "headway_min": 10},
        {"start": "09:00", "end": "17:00", "headway_min": 20},
        {"start": "17:00", "end": "20:00", "headway_min": 10},
        {"start": "20:00", "end": "23:00", "headway_min": 20},
    ],
}


def scenarios(path: Path):
    """The scenario with the transit line, chains off and chains on."""
    data = resolve_extends(path)
    data["services"] = [*data["services"], TRANSIT_LINE]
    off = validate(data, path)
    data["chains"] = {"enabled": True, "access_modes": ["bike", "ebike", "segway"]}
    return off, validate(data, path)


def timed(scenario, network, router, trips, repeat: int) -> dict:
    """Best of ``repeat`` ``simulate()`` calls (s) and the run's chain numbers."""
    best = None
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
        wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        if best is None or wall_s < best[0]:
            best = (wall_s, cpu_s, out)
    wall_s, cpu_s, out = best
    modes = out.trips["mode"]
    return {
        "chains": scenario.chains.enabled,
        "trips": len(trips),
        "wall_s": wall_s,
        "run_s": out.timings_s["run"],
        "cpu_s": cpu_s,
        "us_per_trip": 1e6 * wall_s / len(trips),
        "cpu_us_per_trip": 1e6 * cpu_s / len(trips),
        "chain_trips": int((modes == "chain").sum()),
        "transit_trips": int((out.trips["service"] == "bus_osong").sum()),
        "events": out.n_events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(SCENARIO))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    path = Path(args.scenario)
    off, on = scenarios(path)
    network = build_network(off.network, off.base_dir)
    router = Router(network, off.network.router)
    router.table("car"), router.table("walk")  # built before the clock, as the API does
    trips, _ = build_trips(
        off.demand, network, RandomStreams(off.seed), off.period.start_s, off.period.end_s
    )
    rows = [timed(s, network, router, trips, args.repeat) for s in (off, on)]
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3g}".format))
    for key in ("us_per_trip", "cpu_us_per_trip"):
        print(f"ratio {key} on/off: {rows[1][key] / rows[0][key]:.2f}")


if __name__ == "__main__":
    main()

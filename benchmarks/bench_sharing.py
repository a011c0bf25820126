"""Sharing benchmark: a day with 1,000 micromobility devices and 50 shared cars on the synthetic town.

Run:  /work/venv/bin/python benchmarks/bench_sharing.py [--residents 6000] [--devices 1000] [--cars 50]

The demo scenario (scenarios/demo.yaml: synthetic new town of mobisim.network.synthetic, the demo
population, walk and private car, logit mode choice) plus two services, simulated by the real
engine (``mobisim.engine.simulation.simulate``: H4's commuters, one process per person-day):

- ``scooters``: dockless micromobility, ``--devices`` devices (60 % e-scooters, 30 % e-bikes,
  10 % bikes) spread over the town's places by weight, two crew vans on an hourly schedule;
- ``cars``: one-way car-sharing, ``--cars`` electric cars at 10 stations (town places), 7 kW
  charging, threshold relocation by two staff drivers.

Printed: wall time of ``simulate()`` (network, router tables and demand built before), SimPy events
and events per second of the whole call, logged events, and per service the rides, the share of
its requests served, vehicle-km by state and the station_stock rows.
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
from mobisim.scenario import registry
from mobisim.scenario.loader import resolve_extends, validate

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
STATION_PLACES = [
    "town_centre",
    "public_institutions",
    "supermarket",
    "bus_terminal",
    "residential_nw",
    "residential_n",
    "residential_w",
    "residential_sw",
    "residential_s",
    "residential_se",
]
# the scenario layer names its service types; add ours if the registry does not list them yet
registry.SERVICE_TYPES.setdefault("carsharing", "mobisim.services.carsharing:CarsharingService")
registry.SERVICE_TYPES.setdefault(
    "micromobility", "mobisim.services.micromobility:MicromobilityService"
)


def scenario_data(residents: int, devices: int, cars: int) -> dict:
    """The demo scenario with ``residents`` people, ``devices`` devices and ``cars`` shared cars."""
    data = resolve_extends(DEMO)
    data["demand"]["synthetic"]["residents"] = residents
    data["demand"]["synthetic"]["households"] = round(residents * 2200 / 6000)
    per_station = -(-cars // len(STATION_PLACES))
    stations = [
        {"name": p, "place": p, "vehicles": 0, "spaces": per_station * 2, "charge_kw": 7.0}
        for p in STATION_PLACES
    ]
    for i in range(cars):
        stations[i % len(stations)]["vehicles"] += 1
    scooters, ebikes = round(0.6 * devices), round(0.3 * devices)
    data["services"] += [
        {
            "name": "scooters",
            "type": "micromobility",
            "devices": [
                {"type": "escooter", "count": scooters},
                {"type": "ebike", "count": ebikes},
                {"type": "bike", "count": devices - scooters - ebikes},
            ],
            "crews": {"policy": "schedule", "interval_min": 60, "crews": 2},
        },
        {
            "name": "cars",
            "type": "carsharing",
            "scheme": "one_way",
            "stations": stations,
            "relocation": {"policy": "threshold", "interval_min": 30, "crews": 2},
        },
    ]
    return data


def main() -> None:
    """Build the world, simulate the day, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=6000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--cars", type=int, default=50)
    args = parser.parse_args()
    scenario = validate(scenario_data(args.residents, args.devices, args.cars), DEMO)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    for profile in ("car", "walk", "bike"):
        router.table(profile)  # built before the clock, as the API does
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand, network, streams, scenario.period.start_s, scenario.period.end_s
    )
    start = time.perf_counter()
    out = simulate(scenario, network, router, trips, streams)
    wall_s = time.perf_counter() - start
    events = out.events
    print(
        f"network {network.n_nodes} nodes | trips {len(trips):,} | persons "
        f"{trips['person_id'].nunique():,} | devices {args.devices} | cars {args.cars}"
    )
    print(
        f"wall_s {wall_s:.2f} | run_s {out.timings_s['run']:.2f} | "
        f"{1e6 * wall_s / len(trips):,.0f} us per trip | logged events "
        f"{out.n_events:,} ({out.n_events / wall_s:,.0f}/s)"
    )
    print(out.trips.groupby("mode").size().rename("trips").to_string())
    rows = []
    for name in ("scooters", "cars"):
        mine = events[events["service"] == name]
        requests = int((mine["event"] == "mode_choice").sum())
        rides = int((mine["event"] == "dropoff").sum())
        legs = mine[mine["event"] == "vehicle_leg"]
        km = legs.groupby(legs["state"].astype(str))["distance_m"].sum() / 1000
        row = {"service": name, "requests": requests, "rides": rides}
        row["served_share"] = rides / requests if requests else float("nan")
        row |= {f"km_{state}": round(value, 1) for state, value in km.items()}
        row["station_stock_rows"] = int((mine["event"] == "station_stock").sum())
        row["battery_swaps"] = int((mine["event"] == "battery_swap").sum())
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()

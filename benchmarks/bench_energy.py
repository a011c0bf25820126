"""Energy accounting benchmark: a simulated electric fleet charging at sites with PV, then the tables.

Run:  /work/venv/bin/python benchmarks/bench_energy.py [--fleets 20 200] [--legs 300] [--scooters 0 2000]

Each case: ``fleet`` shuttles (SimPy processes) drive ``legs`` legs each with layovers, charging
at four sites (2 plugs, 22 kW, two with 50 kWp PV and 100 kWh storage) when below 30 %; and
``scooters`` e-scooters with one ride and a parked dwell each, swapped when low. Times: the
simulation itself (consumption, batteries, charging processes), ``energy_tables`` (every table,
with the energy balance check) and ``energy_summary``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import simpy

from mobisim.energy.accounting import energy_summary, energy_tables
from mobisim.energy.battery import can_finish, needs_charge
from mobisim.energy.charging import swap_battery
from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.energy.context import EnergyContext
from mobisim.events import EventLog
from mobisim.scenario.energy_config import EnergyConfig


def _config() -> EnergyConfig:
    sites = [
        {"name": f"site{i}", "node": i, "plugs": 2, "power_kw": 22.0}
        | ({"pv_kwp": 50.0, "storage_kwh": 100.0, "storage_kw": 25.0} if i < 2 else {})
        for i in range(4)
    ]
    return EnergyConfig(charging_sites=sites)


def _simulate(fleet: int, legs: int, scooters: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    config = _config()
    env, log = simpy.Environment(initial_time=5 * 3600.0), EventLog()
    energy = EnergyContext(config, env, log)
    shuttle = energy.vehicle_type("av_shuttle")
    scooter = energy.vehicle_type("e_scooter")
    vehicles = []

    def drive(vehicle_id, battery, distances_m):
        site = energy.sites[f"site{vehicle_id % 4}"]
        for distance_m in distances_m:
            duration_s = distance_m / 4.5
            need = leg_energy_kwh(shuttle, distance_m, duration_s, 4)
            need += dwell_energy_kwh(shuttle, 60.0, "dwell")
            if needs_charge(battery, 0.3) or not can_finish(battery, need, 0.1):
                yield env.process(site.charge(battery, 0.9, vehicle_id, "shuttle", shuttle))
            battery.draw(leg_energy_kwh(shuttle, distance_m, duration_s, 4))
            log.emit(env.now, "vehicle_leg", "shuttle", vehicle_id=vehicle_id, node=0,
                     to_node=1, distance_m=distance_m, duration_s=duration_s, pax=4,
                     state="occupied")  # fmt: skip
            yield env.timeout(duration_s)
            battery.draw(dwell_energy_kwh(shuttle, 60.0, "dwell"))
            log.emit(env.now, "vehicle_dwell", "shuttle", vehicle_id=vehicle_id, node=1,
                     duration_s=60.0, pax=0, state="dwell")  # fmt: skip
            yield env.timeout(60.0)

    for vehicle_id in range(fleet):
        vehicles.append((vehicle_id, "shuttle", "av_shuttle"))
        battery = energy.new_battery(vehicle_id, shuttle)
        env.process(drive(vehicle_id, battery, rng.uniform(300.0, 1500.0, legs)))
    for k in range(scooters):
        vehicle_id = fleet + k
        vehicles.append((vehicle_id, "scooters", "e_scooter"))
        battery = energy.new_battery(vehicle_id, scooter, soc_share=rng.uniform(0.2, 1.0))
        distance_m = rng.uniform(500.0, 3000.0)
        start_s = 5 * 3600.0 + rng.uniform(0, 15 * 3600.0)
        ride_kwh = leg_energy_kwh(scooter, distance_m, distance_m / 3.6, 1)
        parked_s = 24 * 3600.0 - start_s
        if not can_finish(battery, ride_kwh + dwell_energy_kwh(scooter, parked_s, "parked"), 0.05):
            swap_battery(battery, log, start_s, vehicle_id, "scooters", node=2)
        battery.draw(ride_kwh)
        log.emit(start_s, "vehicle_leg", "scooters", vehicle_id=vehicle_id, node=2, to_node=3,
                 distance_m=distance_m, duration_s=distance_m / 3.6, pax=1,
                 state="occupied")  # fmt: skip
        battery.draw(dwell_energy_kwh(scooter, parked_s, "parked"))
        log.emit(start_s, "vehicle_dwell", "scooters", vehicle_id=vehicle_id, node=3,
                 duration_s=parked_s, pax=0, state="parked")  # fmt: skip
    env.run()
    frame = pd.DataFrame(vehicles, columns=["vehicle_id", "service", "vehicle_type"])
    return log.to_frame(), energy.annotate(frame), config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--legs", type=int, default=300)
    parser.add_argument("--scooters", type=int, nargs="+", default=[0, 2000])
    args = parser.parse_args()
    trips = pd.DataFrame(
        {"trip_id": [0], "service": ["shuttle"], "mode": ["shuttle"], "status": ["completed"],
         "distance_m": [1000.0]}
    )  # fmt: skip
    print(
        "| shuttles | legs each | scooters | events | sessions | simulate_s | tables_s | summary_s | solar_share |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for fleet, scooters in zip(args.fleets, args.scooters, strict=False):
        t0 = time.perf_counter()
        events, vehicles, config = _simulate(fleet, args.legs, scooters)
        t1 = time.perf_counter()
        tables = energy_tables(events, vehicles, trips, config)
        t2 = time.perf_counter()
        summary = energy_summary(tables)
        t3 = time.perf_counter()
        print(
            f"| {fleet} | {args.legs} | {scooters} | {len(events):,} | "
            f"{len(tables['energy_charging']):,} | {t1 - t0:.3g} | {t2 - t1:.3g} | {t3 - t2:.3g} | "
            f"{summary['solar_share']:.3f} |"
        )


if __name__ == "__main__":
    main()

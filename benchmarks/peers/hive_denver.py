"""NREL HIVE vs mobisim on HIVE's Denver demo: convert, run both, compare wall time and KPIs.

    PEERS_DIR=/work/peers /work/venv/bin/python benchmarks/peers/hive_denver.py [--repeats 3]
        [--fleets 5 10]   # the same demand with only the demo's first 5, 10 vehicles (scarcity)
        [--dispatch both] # mobisim with the converter's HIVE emulation (hive_step), its own
                          # dispatch (native), or both (default)

1. HIVE 1.3.1 runs ``denver_demo.yaml`` in its own venv ($PEERS_DIR/hive): the whole ``hive``
   process is timed (interpreter start and imports included; the wrapper that finds the scenario
   is not), and HIVE's own "time elapsed" (its simulation loop) is read from its log.
2. ``mobisim.convert.hive.convert_hive`` turns the same inputs into a mobisim scenario, with
   ``dispatch="hive_step"`` (HIVE's dispatch emulated, the converter's default) and/or
   ``dispatch="native"`` (mobisim's event-driven insertion with queued requests).
3. mobisim runs it in this process: ``mobisim.api.run`` end to end (network, demand, simulation,
   KPIs, result folder, no charts), and the phases separately (``simulate()`` alone); and once
   more as a whole ``mobisim run`` process (interpreter start and imports included, like HIVE's).
4. KPI parity: share of requests served, wait, vehicle-km by state (to_charger included),
   energy drawn (BEV kWh, ICE gallons) and energy charged. mobisim's energy comes from the run
   itself (``energy.enabled``: batteries drain, BEVs drive to the DCFC sites and charge there);
   HIVE's from its summary and its charge events (station vs. base charging).
Best of ``--repeats`` wall times on each side.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ensure_drt_registered, machine, print_table, run_in_peer

from mobisim.convert.hive import MILE_M, US_GALLON_L, convert_hive, read_hive

HIVE_CODE = r"""
import json, pathlib, subprocess, sys, time
import nrel.hive
scenario = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else (
    pathlib.Path(nrel.hive.__file__).parent / "resources/scenarios/denver_downtown/denver_demo.yaml")
t0 = time.perf_counter()
done = subprocess.run([str(pathlib.Path(sys.executable).parent / "hive"), str(scenario)],
                      capture_output=True, text=True)
wall = time.perf_counter() - t0
out = sorted(pathlib.Path(".").glob(sys.argv[2] + "_*"))[-1]
print(json.dumps({"scenario": str(scenario), "wall_s": wall, "out": str(out.resolve()),
                  "log": done.stdout[-4000:] + done.stderr[-4000:]}))
"""

FOLDER_CODE = r"""
import json, pathlib, nrel.hive
print(json.dumps({"folder": str(pathlib.Path(nrel.hive.__file__).parent
                                / "resources/scenarios/denver_downtown")}))
"""


def fleet_variant(work: Path, vehicles: int | None) -> tuple[Path, str]:
    """The Denver demo's scenario file with only its first ``vehicles`` vehicles (None: all of
    them, the shipped demo) and the sim name HIVE gives its output folder.

    The demo folder is copied into ``work`` once; the variant gets its own vehicles CSV and YAML
    (HIVE finds input files in the scenario's folder, as ``read_hive`` does), same demand.
    """
    import shutil

    import yaml

    folder = work / "denver_downtown"
    if not folder.is_dir():
        shutil.copytree(run_in_peer("hive", FOLDER_CODE, work)[0]["folder"], folder)
    if vehicles is None:
        return folder / "denver_demo.yaml", "denver_demo"
    name = f"denver_demo_{vehicles}v"
    fleet = pd.read_csv(folder / "vehicles" / "denver_demo_vehicles.csv", encoding="utf-8-sig")
    if vehicles > len(fleet):
        sys.exit(f"--fleets {vehicles}: the demo has only {len(fleet)} vehicles")
    fleet.head(vehicles).to_csv(folder / "vehicles" / f"{name}.csv", index=False)
    config = yaml.safe_load((folder / "denver_demo.yaml").read_text())
    config["sim"]["sim_name"] = name
    config["input"]["vehicles_file"] = f"{name}.csv"
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / f"{name}.yaml", name


#: HIVE vehicle states -> the mobisim DRT leg states they correspond to
STATE_PAIRS = {
    "DispatchTrip": "to_pickup",
    "ServicingTrip": "occupied",
    "DispatchStation": "to_charger",
    "DispatchBase + Repositioning": "repositioning",
}


def run_hive(work: Path, scenario: Path, sim_name: str) -> dict:
    """Run HIVE on ``scenario`` (a Denver demo variant) once in ``work``; wall times and KPIs."""
    result, _wrapper_s = run_in_peer("hive", HIVE_CODE, work, args=(str(scenario), sim_name))
    process_s = result["wall_s"]  # the hive process alone (the wrapper imports nrel.hive first)
    out = Path(result["out"])
    summary = json.loads((out / "summary_stats.json").read_text())
    events = pd.read_json(out / "event.log", lines=True)
    kinds = events["report_type"].value_counts()
    pickups, cancels = (
        int(kinds.get("pickup_request_event", 0)),
        int(kinds.get("cancel_request_event", 0)),
    )
    loop = re.search(r"time elapsed: ([0-9.]+) seconds", result["log"])
    vkt = {s: v["vkt"] for s, v in summary["vehicle_state"].items()}
    waits = events.loc[events["report_type"] == "pickup_request_event", "wait_time_seconds"]
    charges = events[events["report_type"] == "vehicle_charge_event"]
    electric = charges[charges["energy_units"] == "kilowatt_hours"]
    at_station = electric["vehicle_state"] == "ChargingStation"
    # km and moving energy by vehicle model (move events; HIVE logs no fuel on them)
    fleet = read_hive(result["scenario"]).vehicles
    model = dict(
        zip(fleet["vehicle_id"].astype(str), fleet["mechatronics_id"].astype(str), strict=True)
    )
    moves = events[events["report_type"] == "vehicle_move_event"]
    models = moves["vehicle_id"].astype(str).map(model)
    return {
        "scenario": result["scenario"],
        "process_s": process_s,
        "loop_s": float(loop.group(1)) if loop else float("nan"),
        "requests": int(kinds.get("add_request_event", 0)),
        "served": pickups,
        "cancelled": cancels,
        "mean_wait_s": float(pd.to_timedelta(waits).dt.total_seconds().mean()),
        # HIVE logs a pick-up one time step before it takes effect (report_pickup_request:
        # sim_time - timestep); mobisim logs when it takes effect
        "step_s": float(
            (yaml.safe_load(Path(result["scenario"]).read_text()).get("sim") or {}).get(
                "timestep_duration_seconds", 60
            )
        ),
        "vkm": {
            "to_pickup": vkt["DispatchTrip"],
            "occupied": vkt["ServicingTrip"],
            "to_charger": vkt["DispatchStation"],
            "repositioning": vkt["DispatchBase"] + vkt["Repositioning"],
            "total": summary["total_vkt"],
        },
        "kwh": summary["total_kwh_expended"],
        "gallons": summary["total_gge_expended"],
        "charged_kwh": summary["total_kwh_dispensed"],
        "charged_station_kwh": float(electric.loc[at_station, "energy"].sum()),
        "charged_base_kwh": float(electric.loc[~at_station, "energy"].sum()),
        "station_sessions": int(electric.loc[at_station, "session_id"].nunique()),
        "refuelled_gallons": summary["total_gge_dispensed"],
        "km_by_model": {
            str(k): float(v) for k, v in moves.groupby(models)["distance_km"].sum().items()
        },
        "bev_moving_kwh": -float(
            moves.loc[moves["energy_units"] == "kilowatt_hours", "energy"].sum()
        ),
    }


def run_mobisim(scenario_file: Path, work: Path) -> dict:
    """Run the converted scenario once; wall times of the whole run and of ``simulate()``."""
    from mobisim import api
    from mobisim.demand.trips import build_trips
    from mobisim.engine.simulation import simulate
    from mobisim.network.load import build_network
    from mobisim.network.router import Router
    from mobisim.randomness import RandomStreams

    t0 = time.perf_counter()
    scenario = api.load_scenario(scenario_file)
    scenario.outputs.charts = False
    result = api.run(scenario, out_dir=work / "results")
    run_s = time.perf_counter() - t0

    # the phases again, to time simulate() alone
    streams = RandomStreams(scenario.seed)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand,
        network,
        streams,
        scenario.period.start_s,
        scenario.period.end_s,
        base_dir=scenario.base_dir,
        max_snap_m=scenario.network.max_snap_m,
    )
    t1 = time.perf_counter()
    simulate(scenario, network, router, trips, streams)
    simulate_s = time.perf_counter() - t1

    trips_out, events = result.trips, result.events
    legs = events[events["event"] == "vehicle_leg"]
    vkm = (legs.groupby(legs["state"].astype(str))["distance_m"].sum() / 1000.0).to_dict()
    # energy as the run accounted it (batteries drawn and charged inside simulate())
    per_vehicle = result.tables["energy_vehicles"]
    sessions = result.tables["energy_charging"]
    legs = result.tables["energy_legs"]
    moving = legs["event"].astype(str) == "vehicle_leg"
    electric = legs["battery_kwh"] > 0
    energy = {
        "kwh": float(per_vehicle["battery_kwh"].sum()),
        "gallons": float(per_vehicle["fuel_l"].sum()) / US_GALLON_L,
        "charged_kwh": float(per_vehicle["charged_kwh"].sum()),
        "charged_plug_kwh": float(per_vehicle["charged_plug_kwh"].sum()),
        "station_sessions": len(sessions),
        "km_by_model": {
            str(k).removeprefix("hive_"): float(v)
            for k, v in legs.groupby(legs["vehicle_type"].astype(str))["vkm"].sum().items()
        },
        "bev_moving_kwh": float(legs.loc[moving, "battery_kwh"].sum()),
        "bev_standing_kwh": float(legs.loc[~moving & electric, "battery_kwh"].sum()),
        "ice_moving_gallons": float(legs.loc[moving, "fuel_l"].sum()) / US_GALLON_L,
        "ice_standing_gallons": float(legs.loc[~moving, "fuel_l"].sum()) / US_GALLON_L,
    }
    served = trips_out["status"] != "unserved"
    return {
        "run_s": run_s,
        "simulate_s": simulate_s,
        "trips": len(trips_out),
        "served": int(served.sum()),
        # served by another vehicle model's service after the first one's cancel time (HIVE
        # matches its whole fleet and never serves a cancelled request)
        "served_after_cancel": int((trips_out["status"] == "fallback").sum()),
        "mean_wait_s": float(trips_out.loc[served, "wait_s"].mean()),
        "vkm": {**{k: float(v) for k, v in vkm.items()}, "total": float(sum(vkm.values()))},
        **energy,
    }


def run_mobisim_cli(scenario_file: Path, work: Path) -> float:
    """Wall time (s) of a whole ``mobisim run`` process on the converted scenario, no charts."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mobisim",
            "run",
            str(scenario_file),
            "--set",
            "outputs.charts=false",
            "--out",
            str(work / "cli"),
        ],
        capture_output=True,
        text=True,
    )
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"mobisim run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall_s


#: ``--dispatch`` choices -> the converter's ``dispatch`` values run
DISPATCH_RUNS = {
    "hive_step": ("hive_step",),
    "native": ("native",),
    "both": ("native", "hive_step"),
}
#: how the summary names each mobisim variant
VARIANT = {"native": "mobisim-native", "hive_step": "mobisim-emulated"}


def compare(work: Path, vehicles: int | None, repeats: int, dispatches: tuple[str, ...]) -> dict:
    """Run HIVE and mobisim (each converter ``dispatch`` of ``dispatches``) on the demo with
    ``vehicles`` vehicles (None: the shipped 20); print the side-by-side tables and return the
    summary row."""
    scenario, sim_name = fleet_variant(work, vehicles)
    label = "shipped demo" if vehicles is None else f"{vehicles} vehicles"
    print(f"\n## HIVE Denver demo, {label} ({scenario.name})")
    side = work / sim_name
    side.mkdir(exist_ok=True)
    # the sides take turns, so that load from other processes falls on all alike
    hives = []
    runs: dict[str, list] = {d: [] for d in dispatches}
    clis: dict[str, list] = {d: [] for d in dispatches}
    conversions, convert_s = {}, {}
    for repeat in range(repeats):
        hives.append(run_hive(side, scenario, sim_name))
        for dispatch in dispatches:
            if repeat == 0:
                conversion_t0 = time.perf_counter()
                conversions[dispatch] = convert_hive(
                    scenario, side / f"mobisim_{dispatch}", dispatch=dispatch
                )
                convert_s[dispatch] = time.perf_counter() - conversion_t0
            out = side / f"run_{dispatch}"
            out.mkdir(exist_ok=True)
            runs[dispatch].append(run_mobisim(conversions[dispatch].scenario_file, out))
            clis[dispatch].append(run_mobisim_cli(conversions[dispatch].scenario_file, out))
    hive = min(hives, key=lambda h: h["process_s"])
    mobs = {}
    for dispatch in dispatches:
        mob = min(runs[dispatch], key=lambda r: r["run_s"])
        mob["simulate_s"] = min(r["simulate_s"] for r in runs[dispatch])
        mob["cli_process_s"] = min(clis[dispatch])
        mob["share"] = mob["served"] / max(mob["trips"], 1)
        mobs[dispatch] = mob
        conversion = conversions[dispatch]
        print(
            f"conversion ({dispatch}): {convert_s[dispatch]:.2f} s, {conversion.trips_written} "
            f"of {conversion.requests_read} requests, dropped {conversion.dropped}; "
            f"notes: {conversion.notes}"
        )
    hive_share = hive["served"] / max(hive["served"] + hive["cancelled"], 1)
    print_table(
        [
            {
                "simulator": "HIVE 1.3.1",
                "process_s": hive["process_s"],
                "loop_s": hive["loop_s"],
                "requests": hive["served"] + hive["cancelled"],
                "served": hive["served"],
                "served_share": hive_share,
                "mean_wait_s": hive["mean_wait_s"],
                "wait_in_effect_s": hive["mean_wait_s"] + hive["step_s"],
                "served_after_cancel": 0,
                "kwh": hive["kwh"],
                "gallons": hive["gallons"],
                "charged_kwh": hive["charged_kwh"],
            }
        ]
        + [
            {
                "simulator": VARIANT[dispatch],
                "process_s": mob["run_s"],
                "loop_s": mob["simulate_s"],
                "requests": mob["trips"],
                "served": mob["served"],
                "served_share": mob["share"],
                "mean_wait_s": mob["mean_wait_s"],
                "wait_in_effect_s": mob["mean_wait_s"],
                "served_after_cancel": mob["served_after_cancel"],
                "kwh": mob["kwh"],
                "gallons": mob["gallons"],
                "charged_kwh": mob["charged_kwh"],
            }
            for dispatch, mob in mobs.items()
        ],
        f"HIVE Denver demo, {label}: wall time and KPIs (best of {repeats})",
    )
    print_table(
        [
            {"state (HIVE / mobisim)": f"{h} / {m}", "HIVE_km": hive["vkm"][m]}
            | {f"{VARIANT[d]}_km": mob["vkm"].get(m, 0.0) for d, mob in mobs.items()}
            for h, m in {**STATE_PAIRS, "total": "total"}.items()
        ],
        "vehicle-km by state",
    )
    models = sorted(set(hive["km_by_model"]).union(*(mob["km_by_model"] for mob in mobs.values())))
    print_table(
        [
            {"vehicle model": name, "HIVE_km": hive["km_by_model"].get(name, 0.0)}
            | {f"{VARIANT[d]}_km": mob["km_by_model"].get(name, 0.0) for d, mob in mobs.items()}
            for name in models
        ],
        "vehicle-km by vehicle model",
    )
    for dispatch, mob in mobs.items():
        print(
            f"\n{VARIANT[dispatch]}: BEV kWh moving / standing: HIVE {hive['bev_moving_kwh']:.0f} / "
            f"{hive['kwh'] - hive['bev_moving_kwh']:.0f}, mobisim {mob['bev_moving_kwh']:.0f} / "
            f"{mob['bev_standing_kwh']:.0f}; ICE gallons moving / standing: mobisim "
            f"{mob['ice_moving_gallons']:.1f} / {mob['ice_standing_gallons']:.1f} (HIVE logs no "
            f"fuel per move; its total is {hive['gallons']:.1f})"
        )
        print(
            f"charging: HIVE {hive['charged_station_kwh']:.0f} kWh in {hive['station_sessions']} "
            f"DCFC sessions + {hive['charged_base_kwh']:.0f} kWh at bases (L2), "
            f"{hive['refuelled_gallons']:.1f} gal refuelled; mobisim {mob['charged_kwh']:.0f} kWh "
            f"into the batteries ({mob['charged_plug_kwh']:.0f} kWh at the plugs) in "
            f"{mob['station_sessions']} DCFC sessions"
        )
        print(
            f"ratios: whole run {hive['process_s'] / mob['run_s']:.1f}x (HIVE process / mobisim "
            f"api.run), loop {hive['loop_s'] / mob['simulate_s']:.1f}x (HIVE loop / simulate()); "
            f"served share {100 * (mob['share'] - hive_share):+.1f} points (target ±3). "
            f"(mile = {MILE_M} m)\nwhole processes (interpreter start and imports included on "
            f"both sides): HIVE {hive['process_s']:.2f} s, `mobisim run` "
            f"{mob['cli_process_s']:.2f} s, {hive['process_s'] / mob['cli_process_s']:.1f}x"
        )
    (side / "hive_denver.json").write_text(
        json.dumps({"hive": hive, "mobisim": mobs}, indent=1, default=str)
    )
    print(f"details: {side / 'hive_denver.json'}")
    row = {"fleet": label, "HIVE_served": hive_share}
    for dispatch, mob in mobs.items():
        row[f"{VARIANT[dispatch]}_served"] = mob["share"]
        row[f"{VARIANT[dispatch]}_points"] = 100 * (mob["share"] - hive_share)
    row["HIVE_wait_s"] = hive["mean_wait_s"]
    row |= {f"{VARIANT[d]}_wait_s": mob["mean_wait_s"] for d, mob in mobs.items()}
    row["HIVE_vkm"] = hive["vkm"]["total"]
    row |= {f"{VARIANT[d]}_vkm": mob["vkm"]["total"] for d, mob in mobs.items()}
    row["HIVE_s"] = hive["process_s"]
    row |= {f"{VARIANT[d]}_s": mob["run_s"] for d, mob in mobs.items()}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per side; best wall time kept")
    parser.add_argument(
        "--fleets",
        type=int,
        nargs="*",
        default=[],
        help="also run the same demand with only the demo's first N vehicles (e.g. 5 10)",
    )
    parser.add_argument(
        "--dispatch",
        choices=sorted(DISPATCH_RUNS),
        default="both",
        help="mobisim side: the converter's HIVE emulation (hive_step, its default), mobisim's "
        "own dispatch (native), or both",
    )
    args = parser.parse_args()
    dispatches = DISPATCH_RUNS[args.dispatch]
    registered = ensure_drt_registered()
    print(f"machine: {machine()}")
    if not registered:
        print("note: `type: drt` is not in mobisim's registry yet; registered for this run only")
    work = Path(tempfile.mkdtemp(prefix="hive_denver_"))
    rows = [compare(work, None, args.repeats, dispatches)]
    rows += [compare(work, n, args.repeats, dispatches) for n in args.fleets]
    print_table(
        rows, "served share, wait, vehicle-km and wall time by fleet size (HIVE vs mobisim)"
    )


if __name__ == "__main__":
    main()

"""The Python API: load a scenario, run it, get the tables and KPIs back.

import mobisim
scenario = mobisim.load_scenario("scenarios/demo.yaml", overrides={"seed": 7})
result = mobisim.run(scenario)
result.trips.groupby("mode").size()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim import __version__
from mobisim.scenario.loader import fingerprint
from mobisim.scenario.loader import load_scenario as _load_scenario
from mobisim.scenario.models import Scenario


@dataclass
class RunResult:
    """What a run returns: the tables as DataFrames, the KPIs and where the result folder is."""

    scenario: Scenario
    run_dir: Path
    events: pd.DataFrame
    trips: pd.DataFrame
    vehicles: pd.DataFrame
    kpis: dict[str, Any]
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_scenario(
    path: str | Path, overrides: Mapping[str, Any] | Iterable[str] | None = None
) -> Scenario:
    """Load a scenario file (with ``extends``), apply overrides (``{"key.path": value}`` or
    ``["key.path=value", ...]``) and validate it. Raises ScenarioError listing every problem."""
    return _load_scenario(path, overrides=overrides)


def run(
    scenario: Scenario | str | Path,
    out_dir: str | Path | None = None,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Run a scenario and write its result folder ``<out_dir>/<name>/<run-id>/`` atomically.

    Parameters
    ----------
    scenario : a loaded Scenario, or the path of a scenario file.
    out_dir : results folder (default: the scenario's ``outputs.dir``).
    seed : replaces the scenario's seed (the fingerprint changes with it).
    progress : called with the simulated clock (s after midnight) every 15 simulated minutes.
    """
    from mobisim.demand.trips import build_trips
    from mobisim.engine.simulation import simulate
    from mobisim.metrics.kpis import compute_kpis
    from mobisim.network.load import build_network
    from mobisim.network.router import Router
    from mobisim.randomness import RandomStreams
    from mobisim.results.store import dependency_versions, new_run_id, run_folder, write_run

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if seed is not None:
        source = scenario.source_file
        scenario = scenario.model_copy(update={"seed": int(seed)})
        scenario._source_file = source
    started = time.perf_counter()
    fp = fingerprint(scenario)
    streams = RandomStreams(scenario.seed)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, demand_report = build_trips(
        scenario.demand,
        network,
        streams,
        scenario.period.start_s,
        scenario.period.end_s,
        base_dir=scenario.base_dir,
        max_snap_m=scenario.network.max_snap_m,
    )
    sim = simulate(scenario, network, router, trips, streams, progress=progress)
    tables = {
        "trips": sim.trips,
        "vehicles": sim.vehicles,
        "nodes": network.nodes[["lat", "lon"]].rename_axis("node").reset_index(),
        **sim.extra_tables,
    }
    meta = {
        "scenario": scenario.name,
        "period_start_s": scenario.period.start_s,
        "period_end_s": scenario.period.end_s,
    }
    kpis = compute_kpis({"events": sim.events, **tables}, meta)
    manifest = {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_name": scenario.name,
        "scenario_file": str(scenario.source_file) if scenario.source_file else None,
        "fingerprint": fp,
        "seed": scenario.seed,
        "mobisim_version": __version__,
        "versions": dependency_versions(),
        "network": {
            "nodes": network.n_nodes,
            "edges": network.graph.number_of_edges(),
            "fingerprint": network.fingerprint,
            "report": _plain(getattr(network, "report", {})),
        },
        "demand": demand_report,
        "n_events": sim.n_events,
        "n_trips": len(sim.trips),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    out = Path(out_dir) if out_dir is not None else Path(scenario.outputs.dir)
    run_id = new_run_id(fp, scenario.seed)
    with run_folder(out, scenario.name, run_id) as folder:
        write_run(folder, manifest, sim.events, tables, kpis)
        if scenario.outputs.charts:
            _charts(folder)
    run_dir = out / scenario.name / run_id
    return RunResult(scenario, run_dir, sim.events, sim.trips, sim.vehicles, kpis, manifest, tables)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _charts(folder: Path) -> None:
    """Write the standard charts of a run folder (mobisim.results.plots)."""
    from mobisim.results.plots import plot_run

    plot_run(folder, folder / "charts")

"""The Python API: load a scenario, run it, get the tables and KPIs back.

::

    import mobisim
    scenario = mobisim.load_scenario("scenarios/demo.yaml", overrides={"seed": 7})
    result = mobisim.run(scenario)
    result.trips.groupby("mode").size()

A run is one pipeline: network -> router -> trips -> simulate -> KPIs -> result folder. Each step
is one call into its layer (docs/architecture.md); this module only wires them together.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim import __version__
from mobisim.errors import ScenarioError
from mobisim.scenario.loader import fingerprint
from mobisim.scenario.loader import load_scenario as _load_scenario
from mobisim.scenario.models import Scenario

#: the steps of :func:`run`, in order, as passed to its ``stage`` callback ("charts" only when
#: the scenario draws charts)
RUN_STAGES = ("network", "demand", "simulation", "KPIs", "writing", "charts", "done")

#: wall-clock seconds between two progress callbacks passed on by :func:`throttled`
PROGRESS_INTERVAL_S = 0.2


@dataclass
class RunResult:
    """What a run returns: the tables as DataFrames, the KPIs and where the result folder is.

    ``tables`` holds every table written as ``<name>.parquet`` (trips, vehicles, nodes, energy
    tables ...); ``events``, ``trips`` and ``vehicles`` are also attributes of their own.
    """

    scenario: Scenario
    run_dir: Path
    events: pd.DataFrame
    trips: pd.DataFrame
    vehicles: pd.DataFrame
    kpis: dict[str, Any]
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_scenario(
    path: str | Path,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    allow_extends: Iterable[str | Path] = (),
) -> Scenario:
    """Load a scenario file (with ``extends``), apply overrides and validate it.

    Parameters
    ----------
    path : the scenario file (YAML); relative paths inside it resolve against its folder.
    overrides : ``{"key.path": value}`` or ``["key.path=value", ...]``, in the file's units
        (``{"services.shuttle.headway_min": 10}``).
    allow_extends : folders ``extends`` may read from besides the scenario's folder and the
        working directory (a base elsewhere is refused).

    Raises ScenarioError listing every problem at once.
    """
    return _load_scenario(path, overrides=overrides, allow_extends=allow_extends)


def throttled(
    callback: Callable[[float], None], interval_s: float = PROGRESS_INTERVAL_S
) -> Callable[[float], None]:
    """Wrap a progress callback so that it is called at most every ``interval_s`` wall seconds.

    Parameters
    ----------
    callback : called with the simulated clock, s after midnight.
    interval_s : smallest wall-clock time between two calls, s. A clock that does not move
        forward is never passed on twice; the first call always is.
    """
    last = {"wall_s": -float("inf"), "now_s": -float("inf")}

    def progress(now_s: float) -> None:
        wall_s = time.monotonic()
        if now_s > last["now_s"] and wall_s - last["wall_s"] >= interval_s:
            last["wall_s"], last["now_s"] = wall_s, now_s
            callback(now_s)

    return progress


def with_seed(scenario: Scenario, seed: int) -> Scenario:
    """A copy of ``scenario`` with another seed (where it was loaded from is kept).

    Parameters
    ----------
    scenario : a validated scenario.
    seed : the new seed, an integer >= 0.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(
            scenario.source_file, [("seed", f"expected an integer >= 0 (got {seed!r})")]
        )
    return scenario.model_copy(update={"seed": seed})


def kpi_meta(scenario: Scenario) -> dict[str, Any]:
    """The run metadata KPIs need: name, period (s after midnight), declared services and groups,
    the resolved economic parameters (prices, tariff, stations of each service).

    Parameters
    ----------
    scenario : the scenario being run.
    """
    from mobisim.metrics.economics import economics_params

    groups: list[str] = []
    if scenario.demand.synthetic is not None:
        synthetic = scenario.demand.synthetic
        groups = [g.name for g in [*synthetic.groups, *synthetic.external]]
    return {
        "scenario": scenario.name,
        "period_start_s": scenario.period.start_s,
        "period_end_s": scenario.period.end_s,
        "services": [s.name for s in scenario.enabled_services()],
        "groups": groups,
        "economics": economics_params(scenario),
    }


def run(
    scenario: Scenario | str | Path,
    out_dir: str | Path | None = None,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
    check: bool | None = None,
    stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Run a scenario and write its result folder ``<out_dir>/<name>/<run-id>/`` atomically.

    Parameters
    ----------
    scenario : a loaded Scenario, or the path of a scenario file.
    out_dir : results folder (default: the scenario's ``outputs.dir``, relative to the working
        directory).
    seed : replaces the scenario's seed (the fingerprint changes with it).
    progress : called with the simulated clock (s after midnight) as the day goes on; wrap it
        in :func:`throttled` for a display.
    check : check the run invariants before the folder is complete (``mobisim check``,
        :mod:`mobisim.metrics.invariants`); a broken one is a SimulationError and leaves no
        folder. None: when the environment variable ``MOBISIM_CHECK_RUNS`` is set (the tests).
    stage : called with the name of each step as it starts, in order: ``network``, ``demand``,
        ``simulation``, ``KPIs``, ``writing``, then ``charts`` when charts are drawn, and ``done``
        when the folder is complete (:data:`RUN_STAGES`; the CLI shows them).

    Same scenario and seed give byte-identical ``events.parquet`` and ``trips.parquet``. If the
    run fails or is interrupted no result folder is left behind.

    When the run is done its network, router, services and SimPy processes (reference cycles:
    the networkx graph, generators and the environment they share) are collected at once. Left
    to the collector, whose full passes are triggered by counts of objects, not by their size,
    they stayed in memory for several runs, about 130 MB each on the demo town with 12,000
    residents, and each later run in the process was slower (4.7, 5.9, 7.9 s for three runs in a
    row; 4.5 s each when collected) — the sweeps' and batches' workers run many in a row.
    """
    try:
        return _run(scenario, out_dir, seed, progress, check, stage)
    finally:
        gc.collect()


def _run(
    scenario: Scenario | str | Path,
    out_dir: str | Path | None,
    seed: int | None,
    progress: Callable[[float], None] | None,
    check: bool | None = None,
    stage: Callable[[str], None] | None = None,
) -> RunResult:
    """The body of :func:`run` (same parameters)."""
    from mobisim.demand.trips import build_trips
    from mobisim.engine.simulation import simulate
    from mobisim.metrics import invariants
    from mobisim.metrics.kpis import compute_kpis
    from mobisim.network.check import check_network
    from mobisim.network.load import build_network
    from mobisim.network.router import Router
    from mobisim.randomness import RandomStreams
    from mobisim.results.store import (
        dependency_versions,
        new_run_id,
        run_folder,
        scenario_dir,
        write_run,
    )

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if seed is not None:
        scenario = with_seed(scenario, seed)
    started = time.perf_counter()
    say = stage or (lambda name: None)
    say("network")
    streams = RandomStreams(scenario.seed)
    network = build_network(scenario.network, scenario.base_dir)
    network_check = check_network(scenario, network)  # every service's places, before the run
    network_check.raise_errors(scenario.source_file)
    scenario = network_check.scenario  # places moved when network.check.move_to_usable
    warn_network_check(network_check)
    fp = fingerprint(scenario)
    router = Router(network, scenario.network.router)
    say("demand")
    trips, demand_report = build_trips(
        scenario.demand,
        network,
        streams,
        scenario.period.start_s,
        scenario.period.end_s,
        base_dir=scenario.base_dir,
        max_snap_m=scenario.network.max_snap_m,
    )
    say("simulation")
    congestion = None
    if scenario.network.congestion.enabled:  # the day re-run on congested times (issue 24)
        from mobisim.experiments.congestion import run_congestion_loop

        day_streams = copy.deepcopy(streams)  # every day draws the same numbers

        def simulate_day():
            return simulate(
                scenario, network, router, trips, copy.deepcopy(day_streams), progress=progress
            )

        congestion = run_congestion_loop(scenario, network, router, simulate_day, _log_line)
        sim = congestion.output
    else:
        sim = simulate(scenario, network, router, trips, streams, progress=progress)
    say("KPIs")
    tables = {
        "trips": sim.trips,
        "vehicles": sim.vehicles,
        "nodes": network.nodes[["lat", "lon"]].rename_axis("node").reset_index(),
        "links": network.links(),
        **sim.extra_tables,
    }
    if congestion is not None:
        tables["congestion"] = congestion.table
    meta = kpi_meta(scenario)
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
            "check": _plain(network_check.summary()),
            "router": {"mode": router.mode, "tables": _plain(router.storage_report())},
        },
        "demand": _plain(demand_report),
        "kpi_meta": meta,
        "n_events": sim.n_events,
        "n_trips": len(sim.trips),
        "tables": sorted(tables) + (["events"] if scenario.outputs.write_events else []),
        "timings_s": _plain(getattr(sim, "timings_s", {})),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    out = Path(out_dir) if out_dir is not None else Path(scenario.outputs.dir)
    run_id = new_run_id(fp, scenario.seed)
    events = sim.events if scenario.outputs.write_events else None
    say("writing")
    with run_folder(out, scenario.name, run_id) as folder:
        write_run(folder, manifest, events, tables, kpis)
        if invariants.checks_enabled() if check is None else check:
            saved = {"events": events, **tables, "manifest": manifest}
            invariants.require_ok(invariants.check_tables(saved), scenario.name)
        if scenario.outputs.charts and events is not None:
            say("charts")
            _charts(folder)
        if congestion is not None and scenario.outputs.charts:
            from mobisim.experiments.congestion import plot_gaps

            plot_gaps(
                congestion.table,
                folder / "charts" / "congestion_gap.png",
                scenario.network.congestion.relative_gap,
            )
    say("done")
    run_dir = scenario_dir(out, scenario.name) / run_id
    return RunResult(scenario, run_dir, sim.events, sim.trips, sim.vehicles, kpis, manifest, tables)


def _log_line(line: str) -> None:
    """One progress line of the run (logger ``mobisim.run``)."""
    import logging

    logging.getLogger("mobisim.run").info(line)


def warn_network_check(check) -> None:
    """Log each warning of the network check (logger ``mobisim.network.check``), one line each."""
    import logging

    log = logging.getLogger("mobisim.network.check")
    for finding in check.warnings:
        log.warning("%s: %s", finding.key, finding.message)


def _plain(value: Any) -> Any:
    """Nested dicts/lists with every leaf a JSON scalar (other objects as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _charts(folder: Path) -> None:
    """Write the standard charts of a run folder into ``folder/charts`` (mobisim.results.plots)."""
    from mobisim.results.plots import plot_run

    plot_run(folder, folder / "charts")

"""Parameter sweeps and replications, on local processes or a Dask cluster.

:func:`sweep` plans the runs (:mod:`mobisim.experiments.planning`), executes them on local
workers (:mod:`mobisim.experiments.local_workers`) or on Dask
(:mod:`mobisim.experiments.dask_workers`), and writes one row per run to
``<out>/<name>/sweep.parquet``. A run that raises is recorded with its error and does not stop
the sweep. ``mobisim.sweep(...)`` is this module's :func:`sweep`.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim.errors import ScenarioError
from mobisim.experiments.dask_workers import execute_dask, start_local_cluster
from mobisim.experiments.local_workers import SweepOutcome, execute_local, worker_context
from mobisim.experiments.planning import SweepTask, expand, load_sweep_file, plan
from mobisim.results.store import folder_name, remove_stale_temp_folders


def prepare_workers(workers: int, dask: str | None) -> Future | None:
    """Start what the workers need while the caller plans: call it before planning.

    Starts the fork server local workers (or a Dask LocalCluster's) will be forked from, if any
    will be; for ``dask="local"`` also starts the LocalCluster itself, in a background thread
    (about 1.5 s, overlapping the sweep's planning). Returns that cluster's Future (hand it to
    execute(), which closes the cluster) or None; a caller that stops before execute() passes it
    to discard_workers().
    """
    if dask != "local":
        if not dask and workers > 1:
            worker_context()
        return None
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mobisim-dask-start")
    try:
        return starter.submit(start_local_cluster, workers)  # starts the fork server too
    finally:
        starter.shutdown(wait=False)  # the thread ends when the cluster is up


def discard_workers(starting: Future | None) -> None:
    """Close the LocalCluster prepare_workers() started, if it started (execute() closes its own;
    closing twice does nothing)."""
    if starting is not None and starting.exception() is None:
        starting.result().close()


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, int | float | str | bool) or value is None:
        out[prefix] = math.nan if value is None else value


def outcomes_frame(
    outcomes: list[SweepOutcome],
    kpi_scopes: tuple[str, ...] = ("system", "by_service", "by_mode"),
    keep_order: bool = False,
) -> pd.DataFrame:
    """One row per run: parameters (``param.<key path>``), seed, status, error and flattened KPIs.

    KPIs of the scopes in ``kpi_scopes`` are flattened to dotted column names, e.g.
    ``system.served_share`` or ``by_service.shuttle.wait_mean_s``. Rows are sorted by parameters
    and replication, or kept in the given order with ``keep_order``.
    """
    rows = []
    ordered = (
        outcomes
        if keep_order
        else sorted(
            outcomes,
            key=lambda o: (json.dumps(o.params, sort_keys=True, default=str), o.replication),
        )
    )
    for outcome in ordered:
        row = {
            "fingerprint": outcome.fingerprint,
            "replication": outcome.replication,
            "seed": outcome.seed,
            "status": outcome.status,
            "error": outcome.error,
            "run_dir": outcome.run_dir,
            "wall_time_s": outcome.wall_time_s,
        }
        for key, value in outcome.params.items():
            row[f"param.{key}"] = (
                value if isinstance(value, int | float | str | bool) else json.dumps(value)
            )
        kpis: dict[str, Any] = {}
        for scope in kpi_scopes:
            if scope in outcome.kpis:
                _flatten(scope, outcome.kpis[scope], kpis)
        row.update(kpis)
        rows.append(row)
    return pd.DataFrame(rows)


def execute(
    tasks: list[SweepTask],
    workers: int = 1,
    dask: str | None = None,
    progress: bool = False,
    label: str = "sweep",
    into: list[SweepOutcome] | None = None,
    starting: Future | None = None,
    check: bool | None = None,
) -> list[SweepOutcome]:
    """Run ``tasks`` (finished ones are found by fingerprint) on local processes or Dask.

    Parameters
    ----------
    tasks : the runs; each writes its folder under its ``runs_dir``.
    workers : local worker processes (1 = in this process), or Dask workers with ``dask="local"``.
    dask : ``None``, ``"local"`` (a LocalCluster) or a scheduler address ``"tcp://host:8786"``.
    progress : show a progress bar over runs, labelled ``label``.
    into : a list the outcomes are appended to as runs finish (kept if the call is interrupted).
    starting : with ``dask="local"``, the LocalCluster prepare_workers() is starting (else one
        is started here); it is closed when the call ends.
    check : local workers check each run's invariants (``mobisim check``) before its folder is
        complete; a run that breaks one is a failed run. None: as ``MOBISIM_CHECK_RUNS`` says.

    Returns the outcomes in completion order (a failed run is an outcome with its error).
    """
    outcomes: list[SweepOutcome] = [] if into is None else into
    bar = _progress_bar(len(tasks), label) if progress else None
    runs_dirs = sorted({task.runs_dir for task in tasks})

    def on_done(outcome: SweepOutcome) -> None:
        outcomes.append(outcome)
        if bar is not None:
            bar[0].advance(bar[1])

    try:
        if bar is not None:
            bar[0].start()
        if dask:
            execute_dask(tasks, dask, workers, on_done, starting)
        else:
            execute_local(tasks, workers, on_done, check)
    finally:
        if bar is not None:
            bar[0].stop()
        for runs_dir in runs_dirs:  # what killed workers were writing (this run or an earlier)
            remove_stale_temp_folders(runs_dir)
    return outcomes


def sweep(
    base: str | Path,
    grid: dict[str, list[Any]] | None = None,
    zip: dict[str, list[Any]] | None = None,
    runs: list[dict[str, Any]] | None = None,
    replications: int = 1,
    name: str | None = None,
    out_dir: str | Path = "results",
    workers: int = 1,
    dask: str | None = None,
    base_seed: int | None = None,
    progress: bool = False,
    check: bool | None = None,
) -> pd.DataFrame:
    """Run a parameter sweep and return one row per run (also written to ``<out>/<name>/sweep.parquet``).

    Parameters
    ----------
    base : the base scenario file.
    grid, zip, runs : how parameters vary (see the module docstring); keys are ``--set`` key paths.
    replications : number of seeds per parameter set; seeds are derived from the base seed.
    name : sweep name (default: the base scenario's file stem + "-sweep").
    out_dir : results folder; the sweep writes ``<out_dir>/<name>/{runs/, sweep.parquet, sweep.json}``.
    workers : local worker processes (1 = in this process).
    dask : ``None`` for local processes, ``"local"`` for a Dask LocalCluster with ``workers`` workers,
        or a scheduler address such as ``"tcp://host:8786"``.
    base_seed : base of the derived seeds (default: the scenario's own seed).
    progress : show a progress bar over runs.
    check : check every run's invariants in its worker (:func:`execute`).

    Interrupted (Ctrl-C, SIGTERM through the CLI), the runs under way stop and leave no folder,
    ``sweep.parquet`` records those that finished, and the same call again runs the rest.
    """
    name = name or f"{Path(base).stem}-sweep"
    sweep_dir = Path(out_dir) / folder_name(name)
    runs_dir = sweep_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    starting = prepare_workers(workers, dask)  # the workers start while this plans
    try:
        tasks = plan(base, expand(grid, zip, runs), replications, runs_dir, base_seed)
        if len({t.fingerprint for t in tasks}) != len(tasks):
            raise ScenarioError(
                str(base), [("grid/zip/runs", "two runs of the sweep resolve to the same scenario")]
            )
        (sweep_dir / "sweep.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "base": str(base),
                    "grid": grid or {},
                    "zip": zip or {},
                    "runs": runs or [],
                    "replications": replications,
                    "tasks": [asdict(t) for t in tasks],
                },
                indent=2,
                default=str,
            )
        )
        outcomes: list[SweepOutcome] = []
        try:
            execute(tasks, workers, dask, progress, into=outcomes, starting=starting, check=check)
        finally:  # an interrupted sweep still records the runs that finished
            frame = outcomes_frame(outcomes)
            _write_atomic(frame, sweep_dir / "sweep.parquet")
    finally:
        discard_workers(starting)  # if planning failed before execute() took the cluster
    return frame


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _progress_bar(total: int, label: str = "sweep"):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return bar, bar.add_task("runs", total=total)


def run_sweep_file(
    path: str | Path,
    workers: int = 1,
    dask: str | None = None,
    progress: bool = False,
    check: bool | None = None,
) -> pd.DataFrame:
    """Run the sweep described by a sweep file (see :class:`SweepConfig`); ``check``: as
    :func:`sweep`."""
    path = Path(path)
    cfg = load_sweep_file(path)
    here = path.resolve().parent
    return sweep(
        here / cfg.base,
        grid=cfg.grid,
        zip=cfg.zip,
        runs=cfg.runs,
        replications=cfg.replications,
        name=cfg.name,
        out_dir=here / cfg.out,
        workers=workers,
        dask=dask,
        base_seed=cfg.seed,
        progress=progress,
        check=check,
    )

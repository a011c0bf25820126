"""Parameter sweeps and replications, on local processes or a Dask cluster.

A sweep is a base scenario plus parameters given by key path (the same paths as ``--set``):

* ``grid``: every combination of the listed values (Cartesian product);
* ``zip``: lists of equal length varied together (row i of each);
* ``runs``: explicitly listed parameter sets;
* ``replications``: each parameter set is run with that many derived seeds.

The three are combined: every ``grid`` combination × every ``zip`` row × every listed run
(an absent part counts as one empty set). Every run is identified by the fingerprint of its fully
resolved scenario (which includes the seed). Finished runs are found by fingerprint in the sweep's
``runs/`` folder and skipped, so an interrupted sweep started again completes without losing or
duplicating a run. A run that raises is recorded with its error and does not stop the sweep.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import multiprocessing.forkserver
import sys
import traceback
import types
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import Field, ValidationError

from mobisim.errors import MobisimError, ScenarioError
from mobisim.randomness import derive_seed
from mobisim.results.store import TMP_PREFIX, remove_stale_temp_folders
from mobisim.scenario.base import StrictModel

#: How often a run whose worker process died is tried again before it is recorded as failed.
MAX_ATTEMPTS = 3

#: Modules a run needs, imported once by the fork server local workers are forked from (with the
#: service and policy modules of the registry, see worker_preload()).
RUN_MODULES = (
    "mobisim.sweep",
    "mobisim.api",
    "mobisim.demand.trips",
    "mobisim.engine.simulation",
    "mobisim.metrics.kpis",
    "mobisim.results.store",
    "pyarrow.parquet",
)

#: Dask settings for the LocalCluster a sweep starts itself (``dask="local"``); see _execute_dask.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # the event loop's responsiveness tick (20 ms) and the system monitor (500 ms) wake the
    # worker's loop thread, which then takes the GIL from the run
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    # the worker's and the nanny's memory checks (pause, spill, terminate at 95 %) every 1 s
    # instead of 100 ms; a run's memory grows over seconds, not milliseconds
    "distributed.worker.memory.monitor-interval": "1s",
}


class SweepConfig(StrictModel):
    """A sweep file (YAML). Paths are relative to the sweep file."""

    name: str = Field(description="Sweep name; results go to <out>/<name>/.")
    base: str = Field(description="Base scenario file, relative to the sweep file.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Key path -> values; all combinations."
    )
    zip: dict[str, list[Any]] = Field(
        default_factory=dict, description="Key path -> values of equal length, varied together."
    )
    runs: list[dict[str, Any]] = Field(
        default_factory=list, description="Explicit parameter sets (key path -> value)."
    )
    replications: int = Field(
        default=1, ge=1, description="Seeds per parameter set (derived from the base seed)."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        description="Base seed for the derived seeds (default: the scenario's seed).",
    )
    out: str = Field(default="results", description="Results folder, relative to the sweep file.")


@dataclass(frozen=True)
class SweepTask:
    """One run of a sweep: the parameters, the replication and its seed."""

    base: str
    params: dict[str, Any]
    replication: int
    seed: int
    fingerprint: str
    runs_dir: str


@dataclass
class SweepOutcome:
    """One row of sweep.parquet before flattening."""

    fingerprint: str
    replication: int
    seed: int
    params: dict[str, Any]
    status: str  # "ok" | "failed"
    run_dir: str = ""
    error: str = ""
    wall_time_s: float = math.nan
    kpis: dict[str, Any] = field(default_factory=dict)


def expand(
    grid: dict[str, list[Any]] | None = None,
    zipped: dict[str, list[Any]] | None = None,
    runs: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """All parameter sets of a sweep (without replications), in a stable order.

    Parameters
    ----------
    grid : key path -> values; the Cartesian product is taken.
    zipped : key path -> values; all lists must have the same length.
    runs : explicit parameter sets.
    """
    grid, zipped, runs = grid or {}, zipped or {}, runs or []
    for key, values in {**grid, **zipped}.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(
                None, [(key, f"expected a non-empty list of values (got {values!r})")]
            )
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise ScenarioError(None, [("zip", f"expected lists of equal length (got {lengths})")])
    grid_sets = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    n_zip = next(iter(lengths.values()), 0)
    zip_sets = [{key: zipped[key][i] for key in zipped} for i in range(n_zip)] or [{}]
    listed = runs or [{}]
    out = []
    for g, z, r in itertools.product(grid_sets, zip_sets, listed):
        overlap = (set(g) & set(z)) | (set(g) & set(r)) | (set(z) & set(r))
        if overlap:
            raise ScenarioError(
                None, [("grid/zip/runs", f"a key path is varied twice: {sorted(overlap)}")]
            )
        out.append({**g, **z, **r})
    return out


def _load(base: str, params: dict[str, Any], seed: int):
    from mobisim.api import load_scenario

    return load_scenario(base, overrides={**params, "seed": seed})


def _fingerprint(scenario) -> str:
    from mobisim.scenario.loader import fingerprint

    return fingerprint(scenario)


def plan(
    base: str | Path,
    parameter_sets: Iterable[dict[str, Any]],
    replications: int,
    runs_dir: Path,
    base_seed: int | None = None,
) -> list[SweepTask]:
    """Resolve every run of a sweep: validate its scenario and compute its fingerprint.

    Every parameter set is validated before anything runs, so a typo in a key path fails the
    sweep at once with the scenario error, not after hours.
    """
    base = str(Path(base).resolve())
    tasks, problems = [], []
    seed0 = base_seed if base_seed is not None else _load(base, {}, 0).seed
    for params in parameter_sets:
        for replication in range(replications):
            seed = derive_seed(seed0, "replication", replication)
            try:
                scenario = _load(base, params, seed)
            except ScenarioError as exc:
                problems.extend(exc.problems)
                continue
            tasks.append(
                SweepTask(
                    base, dict(params), replication, seed, _fingerprint(scenario), str(runs_dir)
                )
            )
    if problems:
        raise ScenarioError(base, sorted(set(problems)))
    return tasks


def finished_runs(runs_dir: Path) -> dict[str, Path]:
    """Fingerprint -> run folder for every complete run under ``runs_dir`` (temp folders ignored)."""
    found: dict[str, Path] = {}
    for manifest in sorted(Path(runs_dir).glob("*/*/manifest.json")):
        if manifest.parent.name.startswith(TMP_PREFIX):
            continue
        try:
            fp = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            continue
        found.setdefault(fp, manifest.parent)
    return found


def _outcome_from_folder(task: SweepTask, run_dir: Path) -> SweepOutcome:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    kpis_path = run_dir / "kpis.json"
    kpis = json.loads(kpis_path.read_text()) if kpis_path.exists() else {}
    return SweepOutcome(
        task.fingerprint,
        task.replication,
        task.seed,
        task.params,
        "ok",
        run_dir=str(run_dir),
        wall_time_s=float(manifest.get("wall_time_s", math.nan)),
        kpis=kpis,
    )


def run_task(task: SweepTask) -> SweepOutcome:
    """Run one sweep task (in a worker process). Never raises: errors become a failed outcome."""
    done = finished_runs(Path(task.runs_dir)).get(task.fingerprint)
    if done is not None:
        return _outcome_from_folder(task, done)
    try:
        from mobisim.api import run

        scenario = _load(task.base, task.params, task.seed)
        result = run(scenario, out_dir=task.runs_dir)
        return _outcome_from_folder(task, Path(result.run_dir))
    except Exception as exc:  # recorded, the sweep goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if not isinstance(exc, MobisimError):
            detail += "\n" + traceback.format_exc(limit=5)
        return SweepOutcome(
            task.fingerprint, task.replication, task.seed, task.params, "failed", error=detail
        )


def worker_preload(extra: Iterable[str] = ()) -> list[str]:
    """Modules the local workers' fork server imports: ``extra``, RUN_MODULES and every
    registered service and policy module."""
    from mobisim.scenario import registry

    paths = [*registry.SERVICE_TYPES.values()]
    paths += [path for kind in registry.POLICIES.values() for path in kind.values()]
    modules = [path.partition(":")[0] for path in paths]
    return list(dict.fromkeys([*extra, *RUN_MODULES, *modules]))


def worker_context(extra_preload: Iterable[str] = ()):
    """The multiprocessing context of local sweep workers, the fork server started.

    Where the platform has one (Linux, macOS), a fork server that has imported what a run needs
    (``worker_preload()``) once: each worker is forked from it and starts warm, instead of a new
    interpreter importing pandas, pyarrow, SciPy and mobisim again before its first run (about
    1 s per worker, measured on the 8-run sweep of benchmarks/bench_sweep.py). The server is a
    clean single-threaded process, so forking it is safe even when the calling process has
    threads (a progress bar, a notebook), unlike forking the caller itself. It is started here
    and keeps running for the life of the calling process, so calling this before planning a
    sweep lets it import while the sweep is planned, and later sweeps find it ready. Elsewhere
    (Windows): spawn. ``extra_preload``: more modules to import (``distributed`` for a Dask
    LocalCluster's workers).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    context.set_forkserver_preload(worker_preload(extra_preload))  # used when the server (re)starts
    multiprocessing.forkserver.ensure_running()  # returns at once; the server imports meanwhile
    return context


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
        return starter.submit(_start_local_cluster, workers)  # starts the fork server too
    finally:
        starter.shutdown(wait=False)  # the thread ends when the cluster is up


def discard_workers(starting: Future | None) -> None:
    """Close the LocalCluster prepare_workers() started, if it started (execute() closes its own;
    closing twice does nothing)."""
    if starting is not None and starting.exception() is None:
        starting.result().close()


def _distributed() -> types.ModuleType:
    """The ``distributed`` module, or a clear error if the dask extra is not installed."""
    try:
        import distributed
    except ImportError as exc:
        raise MobisimError('Dask is not installed: pip install "mobisim[dask]"') from exc
    return distributed


def _start_local_cluster(workers: int):
    """A LocalCluster for a sweep: ``workers`` single-threaded worker processes, forked from the
    fork server, with LOCAL_CLUSTER_CONFIG (see _execute_dask)."""
    distributed = _distributed()
    import dask

    config = dict(LOCAL_CLUSTER_CONFIG)
    method = worker_context(["distributed"]).get_start_method()
    config["distributed.worker.multiprocessing-method"] = method
    with dask.config.set(config):
        return distributed.LocalCluster(
            n_workers=max(workers, 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )


def _execute_local(
    tasks: list[SweepTask], workers: int, on_done: Callable[[SweepOutcome], None]
) -> None:
    if workers <= 1:
        for task in tasks:
            on_done(run_task(task))
        return
    pending = {task.fingerprint: task for task in tasks}
    attempts = dict.fromkeys(pending, 0)
    while pending:
        # A killed worker breaks the whole pool: runs already finished are on disk, the rest are
        # submitted again to a fresh pool (and found by fingerprint if they completed meanwhile).
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            futures = {pool.submit(run_task, task): fp for fp, task in pending.items()}
            try:
                for future in as_completed(futures):
                    fp = futures[future]
                    on_done(future.result())
                    pending.pop(fp, None)
            except BrokenProcessPool:
                for fp in list(pending):
                    attempts[fp] += 1
                    if attempts[fp] >= MAX_ATTEMPTS:
                        task = pending.pop(fp)
                        on_done(
                            SweepOutcome(
                                fp,
                                task.replication,
                                task.seed,
                                task.params,
                                "failed",
                                error=f"worker process died {MAX_ATTEMPTS} times",
                            )
                        )


def _execute_dask(
    tasks: list[SweepTask],
    address: str,
    workers: int,
    on_done: Callable[[SweepOutcome], None],
    starting: Future | None = None,
) -> None:
    distributed = _distributed()
    cluster = None
    if address == "local":
        # Runs are long single-threaded Python tasks. Some of distributed's worker defaults cost
        # them time and give nothing back here (measured on the demo, 3,000 residents: 16 % of a
        # run): the statistical profiler sampling the running thread every 10 ms (only shown on
        # the dashboard, which a sweep's LocalCluster does not start) and the nanny's
        # MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand memory back to the OS on almost
        # every free; and (12,000 residents: about 0.4 s of a 5 s run) the event loop waking
        # every 20 ms to measure its own responsiveness, which only feeds warnings, and the
        # system monitor's psutil readings every 0.5 s (dashboard charts). The memory checks of
        # workers and nannies run every 1 s instead of 100 ms (the calling process, which hosts
        # the nannies and the scheduler, used 0.29 s of CPU during the runs of an 8-run sweep on
        # 2 workers, 0.19 s with this). A cluster given by address keeps its own configuration.
        # Its worker processes are forked from the fork server of worker_context(), which has
        # imported distributed and what a run needs (spawn, Dask's default, starts each worker
        # with a new interpreter importing both). prepare_workers() starts it while the caller
        # plans.
        cluster = starting.result() if starting is not None else _start_local_cluster(workers)
        try:
            client = distributed.Client(cluster)
        except BaseException:
            cluster.close()
            raise
    else:
        client = distributed.Client(address)
    try:
        # pure=False: a run is identified by its fingerprint, not by Dask's argument hashing;
        # retries covers a worker killed mid-run (the scheduler also reschedules lost tasks).
        futures = [
            client.submit(
                run_task, task, key=f"mobisim-run-{task.fingerprint}", pure=False, retries=2
            )
            for task in tasks
        ]
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        for future in distributed.as_completed(futures):
            task = by_key[future.key]
            try:
                on_done(future.result())
            except Exception as exc:  # the task itself never raises; this is a lost worker
                on_done(
                    SweepOutcome(
                        task.fingerprint,
                        task.replication,
                        task.seed,
                        task.params,
                        "failed",
                        error=repr(exc),
                    )
                )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
            _execute_dask(tasks, dask, workers, on_done, starting)
        else:
            _execute_local(tasks, workers, on_done)
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
    """
    name = name or f"{Path(base).stem}-sweep"
    sweep_dir = Path(out_dir) / name
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
            execute(tasks, workers, dask, progress, into=outcomes, starting=starting)
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


def load_sweep_file(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; raises ScenarioError with the file and key path."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ScenarioError(path, [("", "sweep file not found")]) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(path, [("", f"not valid YAML: {exc}")]) from exc
    try:
        return SweepConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = [
            (".".join(map(str, err["loc"])), f"{err['msg']} (got {err.get('input')!r})")
            for err in exc.errors()
        ]
        raise ScenarioError(path, problems) from exc


def run_sweep_file(
    path: str | Path, workers: int = 1, dask: str | None = None, progress: bool = False
) -> pd.DataFrame:
    """Run the sweep described by a sweep file (see :class:`SweepConfig`)."""
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
    )


class _CallableModule(types.ModuleType):
    """This module, callable: ``mobisim.sweep(...)`` is :func:`sweep`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

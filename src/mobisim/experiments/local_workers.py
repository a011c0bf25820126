"""Running sweep tasks on this machine: one task in a worker, and a pool of local workers.

:func:`run_task` runs one task and never raises (a failed run becomes a failed outcome);
:func:`execute_local` runs many, in this process or on worker processes forked from a warm fork
server (:func:`worker_context`), and submits again the runs of a worker that died.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from mobisim.errors import MobisimError
from mobisim.experiments.planning import SweepTask, finished_runs, load_task_scenario

#: How often a run whose worker process died is tried again before it is recorded as failed.
MAX_ATTEMPTS = 3

#: Modules a run needs, imported once by the fork server local workers are forked from (with the
#: service and policy modules of the registry, see worker_preload()).
RUN_MODULES = (
    "mobisim.experiments.local_workers",
    "mobisim.api",
    "mobisim.demand.trips",
    "mobisim.engine.simulation",
    "mobisim.metrics.kpis",
    "mobisim.results.store",
    "pyarrow.parquet",
)


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


def outcome_from_folder(task: SweepTask, run_dir: Path) -> SweepOutcome:
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


def run_task(task: SweepTask, check: bool | None = None) -> SweepOutcome:
    """Run one sweep task (in a worker process). Never raises: errors become a failed outcome.

    ``check``: check the run's invariants (:mod:`mobisim.metrics.invariants`) before its folder
    is complete; a broken one is a failed outcome and leaves no folder (None: as
    ``MOBISIM_CHECK_RUNS`` says)."""
    in_worker = _interruptible_worker()
    done = finished_runs(Path(task.runs_dir)).get(task.fingerprint)
    if done is not None:
        return outcome_from_folder(task, done)
    try:
        from mobisim.api import run

        scenario = load_task_scenario(task.base, task.params, task.seed)
        result = run(scenario, out_dir=task.runs_dir, check=check)
        if in_worker and _STOP.requested:
            # SIGTERM came, but its KeyboardInterrupt was raised inside a weakref callback or a
            # __del__, where Python only prints it: the run went on and its folder is complete.
            # Stop now, as the sweep asked (a resume finds the folder finished).
            os._exit(128 + signal.SIGTERM)
        return outcome_from_folder(task, Path(result.run_dir))
    except KeyboardInterrupt:
        if in_worker:  # stopped by the sweep (its temporary folder is removed by now): exit
            os._exit(128 + signal.SIGTERM)
        raise
    except Exception as exc:  # recorded, the sweep goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if not isinstance(exc, MobisimError):
            detail += "\n" + traceback.format_exc(limit=5)
        return SweepOutcome(
            task.fingerprint, task.replication, task.seed, task.params, "failed", error=detail
        )


class _StopFlag:
    """Set by the SIGTERM handler of a local worker; read after a run (see :func:`run_task`)."""

    requested = False


_STOP = _StopFlag()


def _interrupt(signum: int, frame: object) -> None:
    _STOP.requested = True
    raise KeyboardInterrupt(f"signal {signum}")


def _interruptible_worker() -> bool:
    """In a local worker process: make SIGTERM interrupt the run like Ctrl-C (the run's temporary
    folder is removed on the way out) and return True; elsewhere change nothing, return False."""
    if multiprocessing.parent_process() is None:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False  # a Dask worker's thread: signals are its process's business
    signal.signal(signal.SIGTERM, _interrupt)
    return True


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


def execute_local(
    tasks: list[SweepTask],
    workers: int,
    on_done: Callable[[SweepOutcome], None],
    check: bool | None = None,
) -> None:
    """Run ``tasks`` here (``workers`` 1) or on local worker processes; ``on_done`` gets each
    outcome as it finishes. A worker that dies has its runs submitted again (up to
    :data:`MAX_ATTEMPTS`). Interrupted (Ctrl-C, or SIGTERM through the CLI), the runs not
    started are cancelled and the ones under way finish, so no worker is left writing.
    ``check``: as :func:`run_task`."""
    if workers <= 1:
        for task in tasks:
            on_done(run_task(task, check))
        return
    pending = {task.fingerprint: task for task in tasks}
    attempts = dict.fromkeys(pending, 0)
    while pending:
        # A killed worker breaks the whole pool: runs already finished are on disk, the rest are
        # submitted again to a fresh pool (and found by fingerprint if they completed meanwhile).
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            futures = {pool.submit(run_task, task, check): fp for fp, task in pending.items()}
            try:
                for future in as_completed(futures):
                    fp = futures[future]
                    on_done(future.result())
                    pending.pop(fp, None)
            except BaseException as exc:
                if isinstance(exc, BrokenProcessPool):
                    _resubmit_or_fail(pending, attempts, on_done)
                    continue
                _stop_workers(pool)  # interrupted: nobody left writing when the caller cleans up
                raise


def _resubmit_or_fail(
    pending: dict[str, SweepTask],
    attempts: dict[str, int],
    on_done: Callable[[SweepOutcome], None],
) -> None:
    """After a worker died: count an attempt for every pending run; fail those out of attempts."""
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


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the runs not started and end the workers (SIGTERM: a run under way removes its
    temporary folder, see :func:`run_task`), waiting until they are gone."""
    workers = dict(getattr(pool, "_processes", None) or {})  # pid -> process; no public accessor
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers.values():
        if process.is_alive():
            process.terminate()
    for process in workers.values():
        process.join(timeout=30)

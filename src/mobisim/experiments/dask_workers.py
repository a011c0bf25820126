"""Running sweep tasks on Dask: a LocalCluster the sweep starts itself, or a cluster by address."""

from __future__ import annotations

import types
from collections.abc import Callable
from concurrent.futures import Future

from mobisim.errors import MobisimError
from mobisim.experiments.local_workers import SweepOutcome, run_task, worker_context
from mobisim.experiments.planning import SweepTask

#: Dask settings for the LocalCluster a sweep starts itself (``dask="local"``); see execute_dask.
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


def distributed_module() -> types.ModuleType:
    """The ``distributed`` module, or a clear error if the dask extra is not installed."""
    try:
        import distributed
    except ImportError as exc:
        raise MobisimError('Dask is not installed: pip install "mobisim[dask]"') from exc
    return distributed


def start_local_cluster(workers: int):
    """A LocalCluster for a sweep: ``workers`` single-threaded worker processes, forked from the
    fork server, with LOCAL_CLUSTER_CONFIG (see execute_dask)."""
    distributed = distributed_module()
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


def execute_dask(
    tasks: list[SweepTask],
    address: str,
    workers: int,
    on_done: Callable[[SweepOutcome], None],
    starting: Future | None = None,
) -> None:
    distributed = distributed_module()
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
        cluster = starting.result() if starting is not None else start_local_cluster(workers)
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

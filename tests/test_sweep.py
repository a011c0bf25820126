"""Sweeps on the demo: rows and seeds, resume, Dask parity, a killed worker, determinism."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import mobisim
from mobisim.errors import ScenarioError
from mobisim.experiments.analysis import plot_sweep, query, summarise
from mobisim.experiments.local_workers import worker_context, worker_preload
from mobisim.experiments.planning import finished_runs
from mobisim.experiments.sweep import sweep

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
GRID = {"services.car.parking_search_min": [1, 8], "services.walk.max_walk_m": [2000, 4000]}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scen")
    path = folder / "tiny.yaml"
    path.write_text(
        f"extends: {DEMO}\nname: tiny\noutputs: {{charts: false}}\n"
        "demand: {synthetic: {residents: 300, households: 120}}\n"
        "network: {synthetic: {target_nodes: 400}}\n"
    )
    return path


@pytest.fixture(scope="module")
def local_sweep(tiny_base, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps")
    frame = sweep(tiny_base, grid=GRID, replications=2, name="s", out_dir=out, workers=2)
    return out, frame


def test_small_sweep_gives_eight_rows_with_parameters_and_distinct_seeds(local_sweep):
    out, frame = local_sweep
    assert len(frame) == 8 and (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame["fingerprint"].is_unique
    assert (
        frame.groupby(["param.services.car.parking_search_min", "param.services.walk.max_walk_m"])
        .size()
        .eq(2)
        .all()
    )
    assert (
        frame["seed"].nunique() == 2
    )  # two replications, the same two seeds for every parameter set
    assert pd.read_parquet(out / "s" / "sweep.parquet").shape[0] == 8
    # a longer parking search makes the car less attractive
    car = summarise(frame, "mode_share.car", ["services.car.parking_search_min"])
    assert car["mean"].iloc[0] > car["mean"].iloc[1]


def test_running_it_again_runs_nothing_new(local_sweep, tiny_base):
    out, frame = local_sweep
    before = sorted(p.name for p in (out / "s" / "runs" / "tiny").iterdir())
    # the documented top-level call: mobisim.sweep(base, grid=..., replications=...)
    again = mobisim.sweep(tiny_base, grid=GRID, replications=2, name="s", out_dir=out, workers=1)
    after = sorted(p.name for p in (out / "s" / "runs" / "tiny").iterdir())
    assert before == after and len(after) == 8
    assert sorted(again["fingerprint"]) == sorted(frame["fingerprint"])
    assert sorted(again["run_dir"]) == sorted(frame["run_dir"])


def test_dask_local_cluster_gives_the_same_kpis_and_event_tables(local_sweep, tiny_base, tmp_path):
    _, frame = local_sweep
    dask_frame = sweep(
        tiny_base, grid=GRID, replications=2, name="d", out_dir=tmp_path, workers=2, dask="local"
    )
    assert (dask_frame["status"] == "ok").all(), dask_frame["error"].tolist()
    left = frame.set_index("fingerprint").sort_index()
    right = dask_frame.set_index("fingerprint").sort_index()
    assert list(left.index) == list(right.index)
    kpi_cols = [c for c in left.columns if c.startswith("system.")]
    pd.testing.assert_frame_equal(left[kpi_cols], right[kpi_cols])
    for fp in left.index[:3]:
        local_events = Path(left.loc[fp, "run_dir"]) / "events.parquet"
        dask_events = Path(right.loc[fp, "run_dir"]) / "events.parquet"
        assert local_events.read_bytes() == dask_events.read_bytes()


def _worker_settings(dask_worker) -> tuple:
    import dask

    return (
        dask.config.get("distributed.worker.profile.enabled"),
        os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        dask_worker._tick_interval,  # s, what the worker's event loop ticks at
        dask.config.get("distributed.admin.system-monitor.interval"),
        dask_worker.memory_manager.memory_monitor_interval,  # s
    )


def test_the_sweeps_local_cluster_starts_while_planning_with_its_settings():
    """prepare_workers() starts the sweep's LocalCluster in the background; its settings reach
    the worker processes (no profiler, no malloc trimming, the loop's tick every 1 s, the system
    monitor every 5 s, memory checks every 1 s, the nanny's too); execute() uses that cluster
    and closes it."""
    from distributed import Client

    from mobisim.experiments.sweep import execute, prepare_workers

    starting = prepare_workers(1, "local")
    assert starting is not None
    cluster = starting.result(timeout=120)
    with Client(cluster) as client:
        settings = list(client.run(_worker_settings).values())
    assert settings == [(False, None, 1.0, "5s", 1.0)]
    [nanny] = cluster.workers.values()
    assert nanny.memory_manager.memory_monitor_interval == 1.0
    assert execute([], workers=1, dask="local", starting=starting) == []
    assert cluster.status.name == "closed"


def test_a_sweep_whose_planning_fails_closes_the_cluster_it_started(
    tiny_base, tmp_path, monkeypatch
):
    import mobisim.experiments.sweep as sweep_module

    started = []

    class FakeCluster:
        closed = False

        def close(self):
            self.closed = True

    def fake_start(workers):
        started.append(FakeCluster())
        return started[-1]

    monkeypatch.setattr(sweep_module, "start_local_cluster", fake_start)
    with pytest.raises(ScenarioError, match="no_such_key"):
        sweep(tiny_base, grid={"no_such_key": [1, 2]}, out_dir=tmp_path, dask="local")
    assert len(started) == 1 and started[0].closed


def _worker_processes() -> list[int]:
    """Local sweep workers of this process: spawned children, or children of its fork server."""
    me, procs = os.getpid(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        procs[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    servers = {pid for pid, (ppid, cmd) in procs.items() if ppid == me and b"forkserver" in cmd}
    return sorted(
        pid
        for pid, (ppid, cmd) in procs.items()
        if (ppid == me and b"spawn_main" in cmd) or ppid in servers
    )


def test_a_killed_worker_does_not_lose_or_duplicate_runs(tiny_base, tmp_path):
    killed: list[int] = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            children = _worker_processes()
            if children:
                time.sleep(1.0)  # let it start working
                os.kill(children[0], signal.SIGKILL)
                killed.append(children[0])
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    frame = sweep(
        tiny_base,
        grid={"services.car.parking_search_min": [1, 2, 3, 4]},
        name="k",
        out_dir=tmp_path,
        workers=2,
    )
    thread.join()
    assert killed, "no worker was killed: the test did not exercise the fault"
    assert len(frame) == 4 and (frame["status"] == "ok").all(), frame["error"].tolist()
    assert frame["fingerprint"].is_unique
    found = finished_runs(tmp_path / "k" / "runs")
    assert sorted(found) == sorted(frame["fingerprint"])
    assert (
        len(list((tmp_path / "k" / "runs" / "tiny").iterdir())) == 4
    )  # no temp or duplicate folders


def test_every_preloaded_module_exists():
    """The fork server skips a module it cannot import, silently: a renamed one must fail here."""
    import importlib

    modules = worker_preload(["distributed"])
    assert modules[0] == "distributed" and "mobisim.services.drt" in modules
    for name in modules:
        importlib.import_module(name)


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="spawn on this platform"
)
def test_local_workers_start_with_a_run_s_modules_imported():
    from concurrent.futures import ProcessPoolExecutor

    # eval is a builtin, so unpickling the task imports nothing: this sees what the worker had
    code = "sorted(m for m in __import__('sys').modules if m.startswith('mobisim'))"
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        loaded = set(pool.submit(eval, code).result())
    assert {"mobisim.engine.simulation", "mobisim.services.drt", "mobisim.results.store"} <= loaded
    assert {m for m in worker_preload() if m.startswith("mobisim")} <= loaded


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tiny_base, tmp_path):
    frame = sweep(
        tiny_base,
        runs=[{"demand": {"trip_table": {"file": "missing.csv"}}}, {}],
        name="f",
        out_dir=tmp_path,
    )
    assert sorted(frame["status"]) == ["failed", "ok"]
    assert "not found" in frame.loc[frame["status"] == "failed", "error"].iloc[0]


def test_plot_and_query(local_sweep, tmp_path):
    out, frame = local_sweep
    png = plot_sweep(
        frame,
        "mode_share.car",
        "services.car.parking_search_min",
        tmp_path / "c.png",
        hue="services.walk.max_walk_m",
    )
    assert png.stat().st_size > 10_000
    answer = query(
        "select count(*) as n, count(distinct seed) as seeds from sweeps where status = 'ok'", out
    )
    assert answer.loc[0, "n"] == 8 and answer.loc[0, "seeds"] == 2


@pytest.mark.parametrize("dask", ["local", "tcp://127.0.0.1:8786"])
def test_a_dask_sweep_without_dask_installed_says_how_to_install_it(
    tiny_base, tmp_path, monkeypatch, dask
):
    import sys

    from mobisim.errors import MobisimError

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(MobisimError, match=r'pip install "mobisim\[dask\]"'):
        sweep(tiny_base, grid=GRID, out_dir=tmp_path, dask=dask)


def test_the_readme_query_example_returns_labelled_groups(local_sweep, repo_root):
    """The ``mobisim query`` line of the README, as a shell would pass it, on a sweep that varies
    the same parameter: one row per parameter value, each saying which value it is."""
    import shlex

    out, frame = local_sweep
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith('mobisim query "'))
    sql = shlex.split(line)[2]
    answer = query(sql, out)
    assert list(answer.columns) == ["parking_search_min", "runs", "car_share"]
    assert answer["parking_search_min"].tolist() == [1, 8]  # GRID's values, labelled
    assert answer["runs"].tolist() == [4, 4]  # 2 walk limits x 2 replications each
    expected = frame.groupby("param.services.car.parking_search_min")["system.mode_share.car"]
    assert answer["car_share"].tolist() == pytest.approx(expected.mean().tolist())

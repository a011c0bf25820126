"""Faults: a full disk while a run is written, SIGINT, SIGTERM and SIGKILL during ``mobisim run``,
SIGTERM of a sweep's parent process. None leaves a half-written result folder, and running again
completes with every run once. (SIGKILL of a sweep worker: tests/test_sweep.py.)"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mobisim
import mobisim.results.store as store
from mobisim.cli import app
from mobisim.errors import ResultsError
from mobisim.experiments.planning import finished_runs
from mobisim.results.store import TMP_PREFIX

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"


@pytest.fixture
def tiny(tmp_path) -> Path:
    """The demo town at 400 residents, charts on (their drawing makes the writing phase long
    enough to be interrupted in)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(
        f"extends: {DEMO}\nname: tiny\noutputs: {{charts: true}}\n"
        "demand: {synthetic: {residents: 400, households: 160}}\n"
        "network: {synthetic: {target_nodes: 500}}\n"
    )
    return path


def _folders(out: Path) -> tuple[list[Path], list[Path]]:
    """(complete run folders, temporary folders) under ``out``."""
    complete = [
        p.parent for p in out.glob("*/*/manifest.json") if not p.parent.name.startswith(".")
    ]
    temporary = [p for p in out.glob(f"*/{TMP_PREFIX}*")]
    return complete, temporary


def _full_disk(real):
    def write(frame, path):
        if Path(path).name == "trips.parquet":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(frame, path)

    return write


def test_a_full_disk_is_a_results_error_and_the_rerun_completes(tiny, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(store, "write_table", _full_disk(store.write_table))
    with pytest.raises(ResultsError, match="No space left on device") as info:
        mobisim.run(tiny, out_dir=out)
    assert "cannot write the run folder" in str(info.value)
    assert _folders(out) == ([], [])  # nothing half-written
    monkeypatch.undo()
    result = mobisim.run(tiny, out_dir=out)
    assert _folders(out) == ([result.run_dir], [])


def test_a_full_disk_in_the_cli_is_one_error_line(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "write_table", _full_disk(store.write_table))
    result = CliRunner().invoke(app, ["run", str(tiny), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output  # a user's problem (exit 1), not a bug (2)
    assert "No space left on device" in result.output and "internal error" not in result.output


def test_a_full_disk_in_a_sweep_fails_that_run_and_the_resume_completes(
    tiny, tmp_path, monkeypatch
):
    monkeypatch.setattr(store, "write_table", _full_disk(store.write_table))
    grid = {"services.car.parking_search_min": [1, 2]}
    tiny.write_text(tiny.read_text().replace("charts: true", "charts: false"))
    frame = mobisim.sweep(tiny, grid=grid, name="s", out_dir=tmp_path, workers=1)
    assert list(frame["status"]) == ["failed", "failed"]
    assert "No space left on device" in frame["error"].iloc[0]
    monkeypatch.undo()
    again = mobisim.sweep(tiny, grid=grid, name="s", out_dir=tmp_path, workers=1)
    assert list(again["status"]) == ["ok", "ok"]
    assert sorted(finished_runs(tmp_path / "s" / "runs")) == sorted(again["fingerprint"])
    complete, temporary = _folders(tmp_path / "s" / "runs")
    assert len(complete) == 2 and temporary == []


def _default_sigint() -> None:
    # A job started in the background by a non-interactive shell (``cmd &``, as CI launchers
    # often do) inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored: the run
    # would never see the signal this test sends. Give the child the default disposition, as
    # a terminal user pressing Ctrl-C has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _mobisim(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mobisim", *args],
        cwd=ROOT,
        preexec_fn=_default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MOBISIM_CHECK_RUNS": "0"},  # the writing phase alone
    )


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: the test did not exercise the fault")
        time.sleep(0.01)


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_signal_while_mobisim_run_writes_leaves_no_half_written_folder(tiny, tmp_path, sig):
    # The signal is sent once the run's temp folder is seen; on a loaded machine the run may
    # complete (folder renamed, exit 0) before the signal lands. Such an attempt did not exercise
    # the fault: it must have left one complete folder and no temp folder, and it is retried. A
    # signal that is swallowed (the run goes on to exit 0 every time) fails after three tries.
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        proc = _mobisim("run", str(tiny), "--out", str(out))
        try:
            _wait_for(
                lambda out=out, proc=proc: _folders(out)[1] or proc.poll() is not None,
                180,
                "the run's temp folder",
            )
            assert proc.poll() is None, "the run ended before it was interrupted"
            proc.send_signal(sig)
            output = proc.communicate(timeout=120)[0].decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            break
        complete, temporary = _folders(out)
        assert len(complete) == 1 and temporary == [], output
    assert proc.returncode != 0, "the run finished every time although signalled"
    complete, temporary = _folders(out)
    assert complete == []  # no result folder, complete or not
    if sig == signal.SIGKILL:  # no clean-up possible: a hidden temp folder, removed below
        assert len(temporary) <= 1
    else:
        assert temporary == [] and "interrupted" in output, output
    rerun = _mobisim("run", str(tiny), "--out", str(out))
    assert rerun.wait(timeout=300) == 0, rerun.communicate()[0].decode()
    complete, temporary = _folders(out)
    assert len(complete) == 1 and temporary == []  # the killed run's leftovers are gone


def test_sigterm_of_the_sweep_parent_stops_cleanly_and_the_resume_completes(tmp_path):
    base = tmp_path / "tiny.yaml"
    base.write_text(
        f"extends: {DEMO}\nname: tiny\noutputs: {{charts: false}}\n"
        "demand: {synthetic: {residents: 400, households: 160}}\n"
        "network: {synthetic: {target_nodes: 500}}\n"
    )
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        "name: s\nbase: tiny.yaml\nout: out\n"
        "grid: {services.car.parking_search_min: [1, 2, 3, 4, 5, 6]}\n"
    )
    runs = tmp_path / "out" / "s" / "runs"
    proc = _mobisim("sweep", str(sweep_file), "--workers", "2")
    try:
        _wait_for(lambda: len(finished_runs(runs)) >= 1 or proc.poll() is not None, 300, "a run")
        assert proc.poll() is None, "the sweep ended before it was interrupted"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=300)  # the workers stop their runs; slow on a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    done = finished_runs(runs)
    assert 1 <= len(done) < 6
    complete, temporary = _folders(runs)
    assert temporary == [] and len(complete) == len(done)  # no worker left a half-written folder
    time.sleep(0.5)
    assert len(finished_runs(runs)) == len(done)  # and none is still writing
    resume = _mobisim("sweep", str(sweep_file), "--workers", "2")
    assert resume.wait(timeout=600) == 0, resume.communicate()[0].decode()
    found = finished_runs(runs)
    assert len(found) == 6 and set(done.items()) <= set(found.items())  # finished ones kept
    complete, temporary = _folders(runs)
    assert len(complete) == 6 and temporary == []  # every run once


def _worker_whose_sigterm_is_swallowed(runs_dir: str) -> None:
    """In a multiprocessing child: run_task with a run during which SIGTERM's handler ran but
    its KeyboardInterrupt was lost (as when raised inside a weakref callback)."""
    import contextlib
    import types

    import mobisim.api
    from mobisim.experiments import local_workers
    from mobisim.experiments.planning import SweepTask

    def swallowed_run(scenario, out_dir, check=None):
        # what Python does with an exception raised in a weakref callback: prints and drops it
        with contextlib.suppress(KeyboardInterrupt):
            local_workers._interrupt(signal.SIGTERM, None)
        return types.SimpleNamespace(run_dir=str(Path(out_dir) / "complete"))

    mobisim.api.run = swallowed_run
    local_workers.load_task_scenario = lambda base, params, seed: None
    task = SweepTask("base.yaml", {}, 0, 1, "f" * 10, runs_dir)
    local_workers.run_task(task)
    os._exit(0)  # reached only if the worker went on after the signal


def test_a_worker_whose_sigterm_interrupt_was_swallowed_stops_after_its_run(tmp_path):
    # seen in CI: the sweep parent's SIGTERM reached a worker inside a weakref callback, the
    # run went on, and the worker took the next task, so the sweep did not stop
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(
        target=_worker_whose_sigterm_is_swallowed, args=(str(tmp_path),)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 128 + signal.SIGTERM

"""The results store: run ids, atomic run folders, deterministic files, JSON without NaN."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from mobisim.errors import ResultsError
from mobisim.events import EventLog, read_events
from mobisim.results import store


def tiny_run() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    log = EventLog()
    log.trip_start(25200.0, trip_id=0, origin_node=1, dest_node=2, n_offers=1)
    log.walk(
        25200.0,
        trip_id=0,
        from_node=1,
        to_node=2,
        distance_m=80.0,
        duration_s=60.0,
        purpose="direct",
    )
    log.trip_end(
        25260.0,
        service="walk",
        trip_id=0,
        node=2,
        status="completed",
        door_to_door_s=60.0,
        distance_m=80.0,
        fare_krw=0.0,
    )
    trips = pd.DataFrame({"trip_id": [0], "mode": ["walk"], "door_to_door_s": [60.0]})
    vehicles = pd.DataFrame({"vehicle_id": pd.Series([], dtype=np.int64)})
    return log.to_frame(), {"trips": trips, "vehicles": vehicles}


def test_run_id_is_time_fingerprint_and_seed():
    when = datetime(2026, 11, 23, 7, 30, 5, 123456, tzinfo=timezone.utc)
    assert store.new_run_id("abcdef0123456789", 42, now=when) == (
        "20261123T073005123456Z-abcdef0123-s42"
    )
    first, second = store.new_run_id("f" * 64, 1), store.new_run_id("f" * 64, 1)
    assert first <= second  # sortable by time


def test_a_complete_run_folder_is_renamed_into_place(tmp_path):
    events, tables = tiny_run()
    with store.run_folder(tmp_path, "demo", "run-1") as folder:
        assert folder.name.startswith(".tmp-run-1.")  # .tmp-<run id>.<pid>@<host>
        store.write_run(folder, {"seed": 1}, events, tables, {"system": {"x": math.nan}})
        assert not (tmp_path / "demo" / "run-1").exists()  # invisible until complete
    run_dir = tmp_path / "demo" / "run-1"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "events.parquet",
        "kpis.json",
        "kpis.parquet",
        "manifest.json",
        "trips.parquet",
        "vehicles.parquet",
    ]
    pd.testing.assert_frame_equal(read_events(run_dir / "events.parquet"), events)
    assert json.loads((run_dir / "kpis.json").read_text()) == {"system": {"x": None}}
    assert store.list_runs(tmp_path, "demo") == [run_dir]


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_no_folder(tmp_path, failure):
    events, tables = tiny_run()
    with pytest.raises(type(failure)), store.run_folder(tmp_path, "demo", "run-2") as folder:
        store.write_run(folder, {}, events, tables, {})
        raise failure
    assert list((tmp_path / "demo").iterdir()) == []
    assert store.list_runs(tmp_path, "demo") == []


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    (tmp_path / "demo" / "run-3").mkdir(parents=True)
    with (
        pytest.raises(ResultsError, match="exists already"),
        store.run_folder(tmp_path, "demo", "run-3"),
    ):
        pass
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["run-3"]


def test_equal_tables_give_byte_identical_files(tmp_path):
    events, tables = tiny_run()
    for name in ("a", "b"):
        with store.run_folder(tmp_path, "demo", name) as folder:
            store.write_run(folder, {"k": 1}, events.copy(), dict(tables), {"v": 2.5})
    for file in ("events.parquet", "trips.parquet", "kpis.json", "manifest.json"):
        a, b = (tmp_path / "demo" / name / file for name in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), file


def test_events_can_be_left_out(tmp_path):
    _, tables = tiny_run()
    with store.run_folder(tmp_path, "demo", "lean") as folder:
        store.write_run(folder, {}, None, tables, {})
    assert not (tmp_path / "demo" / "lean" / "events.parquet").exists()
    assert (tmp_path / "demo" / "lean" / "trips.parquet").exists()


def test_json_safe_and_versions():
    value = {"a": np.float64("nan"), "b": [np.int64(3), math.inf], 4: (1.5,)}
    assert store.json_safe(value) == {"a": None, "b": [3, None], "4": [1.5]}
    versions = store.dependency_versions()
    assert set(versions) == set(store.KEY_DEPENDENCIES)
    assert versions["numpy"] == np.__version__ and versions["pandas"] == pd.__version__


def test_temporary_folders_of_dead_processes_are_removed_and_others_kept(tmp_path):
    """A process killed outright leaves its temporary run folder; only those are removed."""
    import os
    import socket
    import subprocess
    import sys

    from mobisim.results.store import TMP_PREFIX, remove_stale_temp_folders

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    host = socket.gethostname()
    scenario = tmp_path / "demo"
    names = {
        "dead": f"{TMP_PREFIX}20261123T000000Z-abc-s1.{dead_pid}@{host}",
        "alive": f"{TMP_PREFIX}20261123T000001Z-abc-s2.{os.getpid()}@{host}",
        "elsewhere": f"{TMP_PREFIX}20261123T000002Z-abc-s3.{dead_pid}@not-{host}",
        "unnamed": f"{TMP_PREFIX}20261123T000003Z-abc-s4",
        "run": "20261123T000004Z-abc-s5",
    }
    for name in names.values():
        (scenario / name).mkdir(parents=True)
    removed = remove_stale_temp_folders(tmp_path)
    assert removed == [scenario / names["dead"]]
    assert sorted(p.name for p in scenario.iterdir()) == sorted(
        v for k, v in names.items() if k != "dead"
    )


def test_a_run_folder_is_written_under_a_name_that_says_who_writes_it(tmp_path):
    import os
    import socket

    from mobisim.results.store import TMP_PREFIX, run_folder

    with run_folder(tmp_path, "demo", "20261123T000000Z-abc-s1") as tmp:
        assert (
            tmp.name == f"{TMP_PREFIX}20261123T000000Z-abc-s1.{os.getpid()}@{socket.gethostname()}"
        )
    assert (tmp_path / "demo" / "20261123T000000Z-abc-s1").is_dir()

"""The results store: one folder per run, written atomically.

``<out>/<scenario>/<run-id>/`` holds ``manifest.json``, ``events.parquet``, ``trips.parquet``,
``vehicles.parquet``, further tables (``<name>.parquet``), ``kpis.json`` and charts. Everything
is written into a hidden sibling ``.tmp-<run-id>.<pid>@<host>`` first and renamed when complete, so
a failed or interrupted run leaves no half-written result folder; a process killed outright
(SIGKILL, a sweep worker lost) cannot clean up, and :func:`remove_stale_temp_folders` removes
what such a process left.

The run id is ``<UTC time>-<first 10 hex digits of the fingerprint>-s<seed>``, so run folders sort
by time and the folder name alone tells which scenario variant and seed made it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim.errors import ResultsError
from mobisim.events import write_events

#: packages whose versions go into every manifest
KEY_DEPENDENCIES = (
    "mobisim",
    "osmnx",
    "networkx",
    "simpy",
    "numpy",
    "pandas",
    "scipy",
    "pyarrow",
    "pydantic",
)

#: prefix of a run folder still being written
TMP_PREFIX = ".tmp-"
#: characters a run folder's name may not hold (:func:`folder_name` replaces them)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: longest folder name made from a scenario name, characters
MAX_FOLDER_NAME = 100
#: threads writing the Parquet files of a run (each file is written whole by one thread)
WRITE_THREADS = 4


def dependency_versions() -> dict[str, str]:
    """Installed versions of mobisim and its key dependencies ("not installed" when missing)."""
    out = {}
    for name in KEY_DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_run_id(fingerprint: str, seed: int, now: datetime | None = None) -> str:
    """A run id: UTC timestamp (microseconds), short fingerprint and seed; sortable by time.

    Parameters
    ----------
    fingerprint : the scenario fingerprint (hex); its first 10 digits are used.
    seed : the run's seed.
    now : the time stamp to use (default: the current UTC time).
    """
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{fingerprint[:10]}-s{seed}"


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None and numpy scalars as Python numbers (for JSON).

    Parameters
    ----------
    value : nested dicts, lists, tuples and scalars.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return json_safe(value.item())
    return value


def write_json(path: Path, data: Any) -> None:
    """Write JSON with sorted keys, two-space indent and NaN as null.

    Parameters
    ----------
    path : the file to write.
    data : JSON-like data (see :func:`json_safe`).
    """
    text = json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as Parquet (no index, zstd); equal frames give equal bytes.

    Parameters
    ----------
    frame : the table.
    path : the ``.parquet`` file to write.
    """
    frame.to_parquet(path, index=False, compression="zstd")


def folder_name(name: str) -> str:
    """A scenario name as one safe folder name: the characters but letters, digits, ``.``, ``_``
    and ``-`` replaced by ``_``, no leading dot (so never ``..`` or hidden), at most 100 long.

    Parameters
    ----------
    name : the scenario's ``name`` (free text in the scenario file).

    ``demo`` stays ``demo``; ``../../etc`` becomes ``_._.._etc`` and ``/tmp/x`` ``_tmp_x``: a run's
    folder is always a child of the results folder.
    """
    safe = _UNSAFE.sub("_", str(name))[:MAX_FOLDER_NAME]
    if safe.startswith("."):
        safe = "_" + safe[1:]
    return safe or "_"


def scenario_dir(out_dir: str | Path, scenario_name: str) -> Path:
    """The folder of a scenario's runs: ``out_dir/<folder_name(scenario_name)>``.

    Parameters
    ----------
    out_dir : the results folder.
    scenario_name : the scenario's name.
    """
    return Path(out_dir) / folder_name(scenario_name)


@contextlib.contextmanager
def run_folder(out_dir: str | Path, scenario_name: str, run_id: str) -> Iterator[Path]:
    """Yield a temporary folder to write a run into; rename it to its final name on success.

    Parameters
    ----------
    out_dir : the results folder (``outputs.dir`` or ``--out``).
    scenario_name : the scenario's name; runs go to ``out_dir/<folder_name(scenario_name)>/``.
    run_id : the run's folder name (:func:`new_run_id`).

    On any exception (including KeyboardInterrupt) the temporary folder is removed and the
    exception propagates: no half-written result folder is left behind. An error writing a file
    (a full disk, no permission) becomes a ResultsError naming the folder and the reason.
    Temporary folders left by processes killed outright (SIGKILL) are removed first
    (:func:`remove_stale_temp_folders`). Raises ResultsError if the final folder exists already.
    """
    parent = scenario_dir(out_dir, scenario_name)
    final = parent / folder_name(run_id)
    if final.exists():
        raise ResultsError(f"{final}: a run folder of that name exists already")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(parent)
        tmp = parent / f"{TMP_PREFIX}{final.name}.{os.getpid()}@{socket.gethostname()}"
        tmp.mkdir()
    except OSError as exc:
        raise ResultsError(f"{parent}: cannot create the run folder ({_reason(exc)})") from exc
    try:
        yield tmp
        tmp.rename(final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ResultsError(f"{final}: cannot write the run folder ({_reason(exc)})") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _reason(exc: OSError) -> str:
    """What went wrong, in the words of the operating system ("No space left on device")."""
    return exc.strerror or str(exc) or type(exc).__name__


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def remove_stale_temp_folders(out_dir: str | Path) -> list[Path]:
    """Remove the temporary run folders under ``out_dir/<scenario>/`` whose writing process has
    died on this host (killed outright, so it could not clean up); return them.

    A folder made on another host, or by a process still running, or whose name does not say
    who made it, is left alone.
    """
    return _remove_stale(Path(out_dir), f"*/{TMP_PREFIX}*")


def _remove_stale(root: Path, pattern: str = f"{TMP_PREFIX}*") -> list[Path]:
    """Remove the temporary run folders matching ``pattern`` under ``root`` whose writing
    process died on this host (see :func:`remove_stale_temp_folders`)."""
    removed = []
    host = socket.gethostname()
    for folder in sorted(root.glob(pattern)):
        _, dot, owner = folder.name[len(TMP_PREFIX) :].partition(".")
        pid, at, owner_host = owner.partition("@")
        if not (dot and at and pid.isdigit()) or owner_host != host or not folder.is_dir():
            continue
        if not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def write_run(
    folder: Path,
    manifest: dict[str, Any],
    events: pd.DataFrame | None,
    tables: dict[str, pd.DataFrame],
    kpis: dict[str, Any],
) -> None:
    """Write the standard files of a run into ``folder`` (a temporary folder from :func:`run_folder`).

    Parameters
    ----------
    folder : where to write.
    manifest : written as ``manifest.json`` (last, so a folder with a manifest is complete).
    events : the event log (``events.parquet``, fixed schema), or None to leave it out.
    tables : name -> frame, each written as ``<name>.parquet`` (``trips``, ``vehicles``, ...).
    kpis : written as ``kpis.json`` (nested) and ``kpis.parquet`` (tidy: one row per KPI, scope,
        key; :func:`mobisim.metrics.kpis.kpis_long`).
    """
    from mobisim.metrics.tables import write_kpis_parquet

    folder = Path(folder)
    # the files are independent and Parquet encoding releases the GIL: write them side by side
    jobs = [(write_table, frame, folder / f"{name}.parquet") for name, frame in tables.items()]
    if events is not None:
        jobs.insert(0, (write_events, events, folder / "events.parquet"))
    jobs.append((write_kpis_parquet, kpis, folder / "kpis.parquet"))
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        for done in [pool.submit(*job) for job in jobs]:
            done.result()  # re-raises the first failure
    write_json(folder / "kpis.json", kpis)
    write_json(folder / "manifest.json", manifest)


def list_runs(out_dir: str | Path, scenario_name: str) -> list[Path]:
    """The complete run folders of a scenario, oldest first (temporary folders excluded).

    Parameters
    ----------
    out_dir : the results folder.
    scenario_name : the scenario's name.
    """
    parent = scenario_dir(out_dir, scenario_name)
    if not parent.is_dir():
        return []
    return sorted(
        p
        for p in parent.iterdir()
        if p.is_dir() and not p.name.startswith(TMP_PREFIX) and (p / "manifest.json").exists()
    )

"""The results store: one folder per run, written atomically.

``<out>/<scenario>/<run-id>/`` holds ``manifest.json``, ``events.parquet``, ``trips.parquet``,
``vehicles.parquet``, further tables (``<name>.parquet``), ``kpis.json`` and charts. Everything
is written into a hidden sibling ``.tmp-<run-id>`` first and renamed when complete, so a failed
or interrupted run leaves no half-written result folder.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

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


def dependency_versions() -> dict[str, str]:
    """Installed versions of mobisim and its key dependencies."""
    out = {}
    for name in KEY_DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_run_id(fingerprint: str, seed: int) -> str:
    """A run id: UTC timestamp, short fingerprint and seed (sortable by time)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{fingerprint[:10]}-s{seed}"


def json_safe(value: Any) -> Any:
    """NaN and infinities become null in JSON (documented in docs/kpis.md)."""
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
    """Write JSON with sorted keys and NaN as null."""
    path.write_text(json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table as Parquet (no index), deterministic for equal input."""
    frame.to_parquet(path, index=False, compression="zstd")


@contextlib.contextmanager
def run_folder(out_dir: str | Path, scenario_name: str, run_id: str) -> Iterator[Path]:
    """Yield a temporary folder to write a run into; rename it to its final name on success.

    On any exception (including KeyboardInterrupt) the temporary folder is removed and the
    exception propagates: no half-written result folder is left behind.
    """
    parent = Path(out_dir) / scenario_name
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".tmp-{run_id}"
    final = parent / run_id
    tmp.mkdir()
    try:
        yield tmp
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(
    folder: Path,
    manifest: dict[str, Any],
    events: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    kpis: dict[str, Any],
) -> None:
    """Write the standard files of a run into ``folder`` (a temporary folder from :func:`run_folder`)."""
    write_events(events, folder / "events.parquet")
    for name, frame in tables.items():
        write_table(frame, folder / f"{name}.parquet")
    write_json(folder / "kpis.json", kpis)
    write_json(folder / "manifest.json", manifest)

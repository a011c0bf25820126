"""Read a run folder's tables back, and recompute its KPIs from them alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim.errors import ResultsError
from mobisim.events import read_events
from mobisim.metrics.kpis import compute_kpis, kpis_long
from mobisim.units import parse_clock_s

#: files of a run folder that are outputs of the KPIs, not inputs
DERIVED_TABLES = ("kpis",)
#: a run folder named so stands for the newest run of its scenario folder: ``results/demo/latest``
LATEST = "latest"


def resolve_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` itself, or for ``<scenario folder>/latest`` (when no folder of that name
    exists) the newest complete run in the scenario folder: the sub-folder with a
    ``manifest.json`` whose name sorts last (a run id starts with its UTC time, docs/reports.md).

    Raises ResultsError naming the scenario folder when it holds no run.
    """
    run_dir = Path(run_dir)
    if run_dir.name != LATEST or run_dir.exists():
        return run_dir
    scenario_dir = run_dir.parent
    runs = sorted(
        p.name
        for p in (scenario_dir.iterdir() if scenario_dir.is_dir() else [])
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").exists()
    )
    if not runs:
        raise ResultsError(
            f"{scenario_dir}: no run folder to stand for '{LATEST}' (expected "
            "<results>/<scenario>/latest, e.g. results/demo/latest, after a mobisim run)"
        )
    return scenario_dir / runs[-1]


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The tables of a run folder: ``events``, every other ``*.parquet`` by file stem, and ``manifest``.

    Parameters
    ----------
    run_dir : a run folder (``results/<scenario>/<run-id>``), or ``results/<scenario>/latest``
        for the newest run of the scenario (:func:`resolve_run_dir`).

    Raises ResultsError naming the folder and the missing file when it is not a complete run.
    """
    run_dir = resolve_run_dir(run_dir)
    for name in ("manifest.json", "events.parquet", "trips.parquet"):
        if not (run_dir / name).exists():
            raise ResultsError(f"{run_dir}: not a complete run folder (no {name})")
    tables: dict[str, Any] = {"events": read_events(run_dir / "events.parquet")}
    for path in sorted(run_dir.glob("*.parquet")):
        if path.stem != "events" and path.stem not in DERIVED_TABLES:
            tables[path.stem] = pd.read_parquet(path)
    try:
        tables["manifest"] = json.loads((run_dir / "manifest.json").read_text())
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{run_dir / 'manifest.json'}: not valid JSON ({exc})") from exc
    return tables


def kpi_meta(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` a run passed to compute_kpis, rebuilt from its manifest.

    ``manifest["kpi_meta"]`` when the store recorded it; otherwise the scenario name and period
    (``period_start_s``, ``period_end_s``, s after midnight), which is what a run passes.
    """
    if "kpi_meta" in manifest:
        return dict(manifest["kpi_meta"])
    scenario = manifest.get("scenario", {})
    period = scenario.get("period", {})
    if "start" not in period or "end" not in period:
        raise ResultsError("manifest.json: scenario.period.start/end missing (expected 'HH:MM')")
    return {
        "scenario": manifest.get("scenario_name", scenario.get("name", "")),
        "period_start_s": parse_clock_s(period["start"]),
        "period_end_s": parse_clock_s(period["end"]),
    }


def recompute_kpis(tables: dict[str, Any]) -> dict[str, Any]:
    """KPIs of a loaded run folder (:func:`load_run`), computed exactly as the run computed them."""
    meta = kpi_meta(tables["manifest"])
    return compute_kpis({k: v for k, v in tables.items() if k != "manifest"}, meta)


def run_label(tables: dict[str, Any], run_dir: str | Path) -> str:
    """A short label of a run for tables and legends: the scenario name, else the folder name."""
    manifest = tables.get("manifest", {})
    return str(manifest.get("scenario_name") or Path(run_dir).name)


def write_kpis_parquet(kpis: dict[str, Any], path: str | Path) -> Path:
    """Write the tidy KPI table (:func:`mobisim.metrics.kpis.kpis_long`) as Parquet; returns the path."""
    path = Path(path)
    kpis_long(kpis).to_parquet(path, index=False, compression="zstd")
    return path


def read_kpis_json(run_dir: str | Path) -> dict[str, Any]:
    """The ``kpis.json`` of a run folder (NaN written as null comes back as None)."""
    path = Path(run_dir) / "kpis.json"
    if not path.exists():
        raise ResultsError(f"{run_dir}: no kpis.json")
    return json.loads(path.read_text())

"""Read a run folder's tables back, and recompute its KPIs from them alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim.errors import ResultsError
from mobisim.events import read_events
from mobisim.metrics.kpis import compute_kpis


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The tables (``events`` and every ``*.parquet``) and the manifest of a run folder."""
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").exists():
        raise ResultsError(f"{run_dir}: not a complete run folder (no manifest.json)")
    tables: dict[str, Any] = {"events": read_events(run_dir / "events.parquet")}
    for path in sorted(run_dir.glob("*.parquet")):
        if path.stem != "events":
            tables[path.stem] = pd.read_parquet(path)
    tables["manifest"] = json.loads((run_dir / "manifest.json").read_text())
    return tables


def recompute_kpis(tables: dict[str, Any]) -> dict[str, Any]:
    """KPIs of a loaded run folder, computed exactly as the run computed them."""
    manifest = tables["manifest"]
    scenario = manifest["scenario"]
    from mobisim.units import parse_clock_s

    meta = {
        "scenario": manifest["scenario_name"],
        "period_start_s": parse_clock_s(scenario["period"]["start"]),
        "period_end_s": parse_clock_s(scenario["period"]["end"]),
    }
    return compute_kpis({k: v for k, v in tables.items() if k != "manifest"}, meta)

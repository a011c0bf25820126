"""Analysis of sweep results: mean and 95 % interval across replications, charts, SQL queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mobisim.errors import MobisimError, ResultsError


def read_sweep(sweep_dir: str | Path) -> pd.DataFrame:
    """The ``sweep.parquet`` table of a sweep folder."""
    path = Path(sweep_dir) / "sweep.parquet"
    if not path.exists():
        raise ResultsError(f"{sweep_dir}: no sweep.parquet (is this a sweep folder?)")
    return pd.read_parquet(path)


def _column(frame: pd.DataFrame, name: str, kind: str) -> str:
    for candidate in (name, f"param.{name}", f"system.{name}"):
        if candidate in frame.columns:
            return candidate
    known = sorted(c for c in frame.columns if c.startswith("param.") or c.startswith("system."))
    raise ResultsError(f"unknown {kind} {name!r}; columns include: {', '.join(known[:30])}")


def summarise(
    frame: pd.DataFrame, kpi: str, by: list[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Mean of ``kpi`` per parameter combination with a Student-t confidence interval.

    Parameters
    ----------
    frame : sweep table (one row per run).
    kpi : KPI column (``system.`` prefix optional).
    by : parameter columns (``param.`` prefix optional).
    confidence : interval level, default 0.95.

    Returns columns ``by..., n, mean, sd, ci_low, ci_high``; with one replication the interval is NaN.
    """
    kpi_col = _column(frame, kpi, "KPI")
    by_cols = [_column(frame, b, "parameter") for b in by]
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    grouped = ok.groupby(by_cols, dropna=False)[kpi_col]
    out = grouped.agg(n="count", mean="mean", sd="std").reset_index()
    half = (
        stats.t.ppf(0.5 + confidence / 2, np.maximum(out["n"] - 1, 1))
        * out["sd"]
        / np.sqrt(out["n"])
    )
    half = half.where(out["n"] > 1)
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out


def plot_sweep(
    frame: pd.DataFrame, kpi: str, param: str, out_png: str | Path, hue: str | None = None
) -> Path:
    """Chart ``kpi`` against ``param`` (mean and 95 % interval across replications), one line per ``hue``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = [param] + ([hue] if hue else [])
    table = summarise(frame, kpi, by)
    x_col, y_label = table.columns[0], _column(frame, kpi, "KPI")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = table.groupby(table.columns[1]) if hue else [(None, table)]
    for label, part in groups:
        part = part.sort_values(x_col)
        err = np.vstack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]])
        ax.errorbar(
            part[x_col],
            part["mean"],
            yerr=np.nan_to_num(err),
            marker="o",
            capsize=4,
            label=f"{hue} = {label}" if hue else None,
        )
    ax.set_xlabel(x_col.removeprefix("param."))
    ax.set_ylabel(y_label.removeprefix("system."))
    ax.set_title(f"{y_label.removeprefix('system.')} (mean, 95 % interval over replications)")
    ax.grid(alpha=0.3)
    if hue:
        ax.legend()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


def query(sql: str, results_dir: str | Path = "results") -> pd.DataFrame:
    """Run SQL (DuckDB) over the sweep and KPI tables under ``results_dir``.

    Views: ``sweeps`` (every ``*/sweep.parquet``, with a ``sweep`` column) and ``kpis`` (every
    ``kpis.parquet`` of every run folder, with a ``run_dir`` column).
    """
    try:
        import duckdb
    except ImportError as exc:
        raise MobisimError(
            "DuckDB is not installed (a dependency of mobisim): pip install duckdb"
        ) from exc
    root = Path(results_dir)
    con = duckdb.connect()
    sweeps = sorted(root.glob("*/sweep.parquet"))
    kpis = sorted(root.glob("**/kpis.parquet"))
    if not sweeps and not kpis:
        raise ResultsError(f"{root}: no sweep.parquet or kpis.parquet files to query")
    if sweeps:
        files = ", ".join(f"'{p.as_posix()}'" for p in sweeps)
        con.execute(
            f"CREATE VIEW sweeps AS SELECT *, regexp_extract(filename, '([^/]+)/sweep.parquet$', 1) AS sweep "
            f"FROM read_parquet([{files}], union_by_name=true, filename=true)"
        )
    if kpis:
        files = ", ".join(f"'{p.as_posix()}'" for p in kpis)
        con.execute(
            f"CREATE VIEW kpis AS SELECT *, regexp_extract(filename, '^(.*)/kpis.parquet$', 1) AS run_dir "
            f"FROM read_parquet([{files}], union_by_name=true, filename=true)"
        )
    try:
        return con.execute(sql).fetch_df()
    except duckdb.Error as exc:
        raise MobisimError(f"query failed: {exc}") from exc

"""Command-line commands for sweeps: ``mobisim sweep``, ``mobisim query``, ``mobisim plot-sweep``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register_sweep_commands(app: typer.Typer) -> None:
    """Add the sweep commands to the main typer app."""

    @app.command("sweep")
    def sweep_command(
        sweep_file: Path = typer.Argument(..., help="Sweep file (YAML)."),
        workers: int = typer.Option(1, "--workers", "-w", min=1, help="Local worker processes."),
        dask: str = typer.Option(
            None,
            "--dask",
            help="'local' for a Dask LocalCluster, or a scheduler address tcp://host:8786.",
        ),
        check: bool = typer.Option(
            False, "--check", help="Check each run's invariants (mobisim check) in its worker."
        ),
    ) -> None:
        """Run a parameter sweep; finished runs (same fingerprint) are skipped."""
        from mobisim.experiments.sweep import run_sweep_file

        frame = run_sweep_file(
            sweep_file, workers=workers, dask=dask, progress=True, check=check or None
        )
        failed = int((frame["status"] != "ok").sum()) if len(frame) else 0
        Console().print(f"{len(frame)} runs, {failed} failed")
        if failed:
            for _, row in frame[frame["status"] != "ok"].iterrows():
                Console().print(
                    f"[red]failed[/red] {row['fingerprint'][:12]}: {row['error'].splitlines()[0]}"
                )
            raise typer.Exit(code=1)

    @app.command("query")
    def query_command(
        sql: str = typer.Argument(..., help="SQL over the views 'sweeps' and 'kpis'."),
        results: Path = typer.Option(Path("results"), "--results", help="Results folder."),
        csv: Path = typer.Option(None, "--csv", help="Also write the answer as CSV."),
    ) -> None:
        """Query sweep and KPI tables with SQL (DuckDB)."""
        from mobisim.experiments.analysis import query

        frame = query(sql, results)
        table = Table(*map(str, frame.columns))
        for row in frame.head(200).itertuples(index=False):
            table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        Console().print(table)
        if csv:
            frame.to_csv(csv, index=False)

    @app.command("plot-sweep")
    def plot_sweep_command(
        sweep_dir: Path = typer.Argument(..., help="Sweep folder (holds sweep.parquet)."),
        kpi: str = typer.Option(
            ..., "--kpi", help="KPI column, e.g. served_share or by_service.drt.wait_mean_s."
        ),
        param: str = typer.Option(..., "--param", help="Parameter key path on the x axis."),
        hue: str = typer.Option(None, "--hue", help="Second parameter: one line per value."),
        out: Path = typer.Option(
            None, "-o", "--out", help="PNG file (default: <sweep_dir>/<kpi>-vs-<param>.png)."
        ),
    ) -> None:
        """Chart a KPI against a parameter with the mean and a 95 % interval across replications."""
        from mobisim.experiments.analysis import plot_sweep, read_sweep

        out = out or sweep_dir / f"{kpi.replace('.', '_')}-vs-{param.replace('.', '_')}.png"
        Console().print(f"wrote {plot_sweep(read_sweep(sweep_dir), kpi, param, out, hue=hue)}")

"""``mobisim batch``: run a set of scenario files, compare them and write one report."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: (column of batch.parquet, heading, factor, format) of the summary printed after a batch
SUMMARY = (
    ("system.mode_share.car", "car %", 100.0, "{:.1f}"),
    ("system.shared_ride_share", "shared %", 100.0, "{:.1f}"),
    ("system.wait_mean_s", "wait min", 1 / 60, "{:.1f}"),
    ("system.door_to_door_served_mean_s", "door-to-door (served) min", 1 / 60, "{:.1f}"),
    ("system.energy_kwh", "energy kWh", 1.0, "{:,.0f}"),
    ("system.co2_kg", "CO2 kg", 1.0, "{:,.0f}"),
    ("system.solar_share", "PV %", 100.0, "{:.0f}"),
)


def summary_table(runs) -> Table:
    """A few headline KPIs per scenario (the full comparison is in comparison.md/report.html)."""
    table = Table(title="mobisim batch (baseline first; all KPIs: comparison.md, report.html)")
    names = [str(n) for n in runs["scenario"]]
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""  # noqa: RUF071 (text)
    prefix = prefix[: prefix.rfind("-") + 1]  # "chungbuk-" of chungbuk-baseline, chungbuk-drt-2030
    table.add_column(f"scenario ({prefix}…)" if prefix else "scenario", no_wrap=True)
    for _, heading, _, _ in SUMMARY:
        table.add_column(heading, justify="right")
    for _, row in runs.iterrows():
        cells = []
        for column, _, factor, fmt in SUMMARY:
            value = row.get(column)
            ok = value is not None and value == value  # NaN: not measured in that run
            cells.append(fmt.format(float(value) * factor) if ok else "–")
        table.add_row(escape(str(row["scenario"])[len(prefix) :]), *cells)
    return table


def register_batch_command(app: typer.Typer) -> None:
    """Add ``batch`` to the main typer app."""

    @app.command("batch")
    def batch_command(
        paths: list[Path] = typer.Argument(..., help="Scenario files and/or folders of them."),
        out_dir: Path = typer.Option(Path("results"), "--out", help="Results folder."),
        name: str = typer.Option(
            None, "--name", help="Batch name (default: the folder's name, else 'batch')."
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="Override key.path=value in every scenario (repeatable)."
        ),
        baseline: str = typer.Option(
            None, "--baseline", help="Baseline scenario name or file stem (default: 'baseline')."
        ),
        workers: int = typer.Option(1, "--workers", "-w", min=1, help="Local worker processes."),
        dask: str = typer.Option(
            None, "--dask", help="'local' for a Dask LocalCluster, or tcp://host:8786."
        ),
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
        title: str = typer.Option(None, "--title", help="Title of the report page."),
    ) -> None:
        """Run every scenario (templates skipped; finished runs reused), then compare and report.

        Writes <out>/<name>/: runs/, batch.parquet, comparison.csv/.md and report.html.
        """
        from mobisim.experiments.batch import batch

        console = Console()
        if not console.is_terminal:  # a log file: room for the summary table
            console = Console(width=160)
        result = batch(
            paths,
            out_dir=out_dir,
            name=name,
            overrides=set_,
            workers=workers,
            dask=dask,
            baseline=baseline,
            report=not no_report,
            title=title,
            progress=Console(stderr=True).is_terminal,
        )
        runs = result.runs
        for row in runs.itertuples(index=False):
            if row.status == "ok":
                console.print(
                    f"[green]ok[/green] {escape(row.scenario)} ({row.wall_time_s:.1f} s): "
                    f"{escape(row.run_dir)}",
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                first = str(row.error).splitlines()[0] if row.error else "failed"
                console.print(
                    f"[red]failed[/red] {escape(row.scenario)}: {escape(first)}", soft_wrap=True
                )
        console.print(summary_table(runs))
        console.print(f"batch folder: {escape(str(result.batch_dir))}", highlight=False)
        if result.report is not None:
            console.print(f"report: {escape(str(result.report))}", highlight=False)
        if (runs["status"] != "ok").any():
            raise typer.Exit(code=1)

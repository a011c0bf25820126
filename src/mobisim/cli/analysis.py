"""Analysis commands of the ``mobisim`` CLI: kpis, compare, plot, report, export-gis.

``register_analysis_commands(app)`` adds them to the main typer app (see cli.py). Every command
works on result folders alone; a run folder may be given as ``results/<scenario>/latest``, the
newest run of that scenario (:func:`mobisim.metrics.tables.resolve_run_dir`).
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

RUN_HELP = "A run folder, or results/<scenario>/latest for the newest run of a scenario."


def _resolved(run_dir: Path) -> Path:
    from mobisim.metrics.tables import resolve_run_dir

    return resolve_run_dir(run_dir)


def frame_table(frame, title: str) -> Table:
    """A pandas frame as a rich table: the first column left-aligned text, numbers rounded to
    three significant digits with thousands separators, right-aligned ("–" = not defined)."""
    from mobisim.results.compare import format_number

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(frame.columns):
        if i == 0:
            table.add_column(escape(str(column)), justify="left", no_wrap=True)
        else:
            table.add_column(escape(str(column)), justify="right")
    for row in frame.itertuples(index=False):
        cells = [escape(str(row[0]))]
        cells += [
            format_number(float(v)) if isinstance(v, numbers.Number) else escape(str(v))
            for v in row[1:]
        ]
        table.add_row(*cells)
    return table


def kpi_tables(label: str, kpis: dict) -> list[Table]:
    """The readable view of one run's KPIs (``mobisim kpis RUN --table``): the main system KPIs
    with units (the comparison table's rows), one row per service, one row per demand group."""
    from mobisim.results.compare import comparison_table, group_table, service_table

    system = comparison_table([(label, kpis)])[["kpi", "unit", label]]
    tables = [frame_table(system.rename(columns={label: "value"}), f"{label}: system")]
    services = service_table(kpis)
    if len(services):
        tables.append(frame_table(services, f"{label}: by service"))
    groups = group_table(kpis)
    if len(groups):
        tables.append(frame_table(groups, f"{label}: by group"))
    return tables


def register_analysis_commands(app: typer.Typer) -> None:
    """Add the commands ``kpis``, ``compare``, ``plot``, ``report`` and ``export-gis`` to ``app``."""
    out = Console()

    @app.command("kpis")
    def kpis(
        run_dir: Path = typer.Argument(..., help=RUN_HELP),
        parquet: Path = typer.Option(
            None, "--parquet", help="Also write the tidy KPI table (scope, key, kpi, value, unit)."
        ),
        as_table: bool = typer.Option(
            False,
            "--table",
            help="Print readable tables (system, by service, by group; rounded, with units) "
            "instead of JSON.",
        ),
    ) -> None:
        """Recompute the KPIs of a run folder from its saved tables and print them as JSON."""
        from mobisim.metrics.tables import load_run, recompute_kpis, run_label, write_kpis_parquet
        from mobisim.results.store import json_safe

        run_dir = _resolved(run_dir)
        tables = load_run(run_dir)
        result = recompute_kpis(tables)
        if as_table:
            console = Console(width=max(out.width, 140))
            console.print(f"run {escape(str(run_dir))}", highlight=False, soft_wrap=True)
            for table in kpi_tables(run_label(tables, run_dir), result):
                console.print(table)
        else:
            print(json.dumps(json_safe(result), indent=2, sort_keys=True, allow_nan=False))
        if parquet is not None:
            write_kpis_parquet(result, parquet)

    @app.command("compare")
    def compare(
        run_dirs: list[Path] = typer.Argument(
            ..., help="Run folders to compare (or <scenario>/latest)."
        ),
        baseline: Path = typer.Option(
            None, "--baseline", help="Run folder to compare against (default: the first)."
        ),
        csv: Path = typer.Option(None, "--csv", help="Also write the table as CSV."),
        markdown: Path = typer.Option(None, "--markdown", help="Also write it as Markdown."),
    ) -> None:
        """Main KPIs of several runs side by side, with changes against the baseline."""
        from mobisim.results.compare import compare_runs, formatted, to_markdown

        run_dirs = [_resolved(d) for d in run_dirs]
        baseline = _resolved(baseline) if baseline is not None else None
        table = compare_runs(run_dirs, baseline=baseline)
        shown = formatted(table)
        rich_table = Table(title="mobisim compare (Δ against the first column)")
        for i, column in enumerate(shown.columns):
            rich_table.add_column(str(column), justify="left" if i < 2 else "right")
        for row in shown.itertuples(index=False):
            rich_table.add_row(*[str(v) for v in row])
        out.print(rich_table)
        if csv is not None:
            table.to_csv(csv, index=False)
            out.print(f"wrote {csv}")
        if markdown is not None:
            Path(markdown).write_text(to_markdown(table), encoding="utf-8")
            out.print(f"wrote {markdown}")

    @app.command("plot")
    def plot(
        run_dir: Path = typer.Argument(..., help=RUN_HELP),
        out_dir: Path = typer.Option(None, "--out", help="Folder for the PNGs (RUN_DIR/charts)."),
    ) -> None:
        """Write the standard charts of a run folder as PNG files."""
        from mobisim.results.plots import plot_run

        for path in plot_run(_resolved(run_dir), out_dir):
            out.print(str(path))

    @app.command("report")
    def report(
        run_dirs: list[Path] = typer.Argument(
            ...,
            help="Run folders, or <scenario>/latest (the first is the baseline unless --baseline).",
        ),
        output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file."),
        title: str = typer.Option(None, "--title", help="Page title."),
        baseline: Path = typer.Option(
            None,
            "--baseline",
            help="The run every other is compared with (added if not among RUN_DIRS; "
            "default: the first run).",
        ),
    ) -> None:
        """Write one self-contained HTML page comparing the runs against the baseline run."""
        from mobisim.results.report import write_report

        out.print(f"wrote {write_report(run_dirs, output, title, baseline)}")

    @app.command("export-gis")
    def export_gis(
        run_dir: Path = typer.Argument(..., help=RUN_HELP),
        output: Path = typer.Option(..., "-o", "--output", help="GeoPackage file (.gpkg)."),
    ) -> None:
        """Export link volumes, stations with their KPIs and trip flows as a GeoPackage."""
        from mobisim.results.gis import export_gis as export

        out.print(f"wrote {export(_resolved(run_dir), output)}")

"""Analysis commands of the ``mobisim`` CLI: kpis, compare, plot, report, export-gis.

``register_analysis_commands(app)`` adds them to the main typer app (see cli.py). Every command
works on result folders alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register_analysis_commands(app: typer.Typer) -> None:
    """Add the commands ``kpis``, ``compare``, ``plot``, ``report`` and ``export-gis`` to ``app``."""
    out = Console()

    @app.command("kpis")
    def kpis(
        run_dir: Path = typer.Argument(..., help="A run folder."),
        parquet: Path = typer.Option(
            None, "--parquet", help="Also write the tidy KPI table (scope, key, kpi, value, unit)."
        ),
    ) -> None:
        """Recompute the KPIs of a run folder from its saved tables and print them as JSON."""
        from mobisim.metrics.tables import load_run, recompute_kpis, write_kpis_parquet
        from mobisim.results.store import json_safe

        result = recompute_kpis(load_run(run_dir))
        print(json.dumps(json_safe(result), indent=2, sort_keys=True, allow_nan=False))
        if parquet is not None:
            write_kpis_parquet(result, parquet)

    @app.command("compare")
    def compare(
        run_dirs: list[Path] = typer.Argument(..., help="Run folders to compare."),
        baseline: Path = typer.Option(
            None, "--baseline", help="Run folder to compare against (default: the first)."
        ),
        csv: Path = typer.Option(None, "--csv", help="Also write the table as CSV."),
        markdown: Path = typer.Option(None, "--markdown", help="Also write it as Markdown."),
    ) -> None:
        """Main KPIs of several runs side by side, with changes against the baseline."""
        from mobisim.results.compare import compare_runs, formatted, to_markdown

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
        run_dir: Path = typer.Argument(..., help="A run folder."),
        out_dir: Path = typer.Option(None, "--out", help="Folder for the PNGs (RUN_DIR/charts)."),
    ) -> None:
        """Write the standard charts of a run folder as PNG files."""
        from mobisim.results.plots import plot_run

        for path in plot_run(run_dir, out_dir):
            out.print(str(path))

    @app.command("report")
    def report(
        run_dirs: list[Path] = typer.Argument(..., help="Run folders (the first is the baseline)."),
        output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file."),
        title: str = typer.Option(None, "--title", help="Page title."),
    ) -> None:
        """Write one self-contained HTML page comparing the runs."""
        from mobisim.results.report import write_report

        out.print(f"wrote {write_report(run_dirs, output, title)}")

    @app.command("export-gis")
    def export_gis(
        run_dir: Path = typer.Argument(..., help="A run folder."),
        output: Path = typer.Option(..., "-o", "--output", help="GeoPackage file (.gpkg)."),
    ) -> None:
        """Export link volumes, stations with their KPIs and trip flows as a GeoPackage."""
        from mobisim.results.gis import export_gis as export

        out.print(f"wrote {export(run_dir, output)}")

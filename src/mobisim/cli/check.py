"""``mobisim check RUN_DIR``: the run invariants of a result folder, from its saved tables."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def checks_table(checks, title: str) -> Table:
    """One row per check: name, PASS/FAIL, rows checked, rows failing and the worst offender."""
    table = Table(title=title)
    for heading, justify in (
        ("check", "left"),
        ("result", "left"),
        ("checked", "right"),
        ("failing", "right"),
        ("worst offender", "left"),
    ):
        table.add_column(heading, justify=justify, overflow="fold")
    for check in checks:
        result = "[green]PASS[/green]" if check.passed else "[bold red]FAIL[/bold red]"
        table.add_row(
            check.name, result, f"{check.checked:,}", f"{check.failures:,}", escape(check.worst)
        )
    return table


def register_check_command(app: typer.Typer) -> None:
    """Add ``check`` to the main typer app."""

    @app.command("check")
    def check(
        run_dirs: list[Path] = typer.Argument(
            ..., help="Run folders to check (or results/<scenario>/latest)."
        ),
    ) -> None:
        """Check the invariants of run folders from their saved tables: one final status per
        trip, occupancy within capacity, state of charge within the battery, energy balance,
        connected legs, conserved sharing fleets, no negative times. Exits 1 if any fails."""
        from mobisim.metrics.invariants import check_run

        out = Console(soft_wrap=False)
        failed = 0
        from mobisim.metrics.tables import resolve_run_dir

        for run_dir in map(resolve_run_dir, run_dirs):
            checks = check_run(run_dir)
            out.print(checks_table(checks, f"mobisim check {escape(str(run_dir))}"))
            failed += sum(not c.passed for c in checks)
        if failed:
            raise typer.Exit(code=1)

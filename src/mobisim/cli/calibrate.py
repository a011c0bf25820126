"""``mobisim calibrate``: fit the mode constants to observed shares and write a scenario overlay."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register_calibrate_command(app: typer.Typer) -> None:
    """Add ``calibrate`` to the main typer app."""
    out, err = Console(), Console(stderr=True)

    @app.command("calibrate")
    def calibrate_command(
        scenario: Path = typer.Argument(..., help="Scenario file (YAML) to calibrate."),
        targets: Path = typer.Option(
            ..., "--targets", help="CSV with columns mode, share: observed shares summing to 1."
        ),
        out_file: Path = typer.Option(
            None,
            "--out",
            help="Overlay file to write (default: <scenario>-calibrated.yaml beside the scenario).",
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="Override key.path=value for the fit (written into the overlay)."
        ),
        replications: int = typer.Option(
            1,
            "--replications",
            min=1,
            help="Seeds averaged per evaluation (common random numbers).",
        ),
        tolerance: float = typer.Option(
            0.01, "--tolerance", help="Largest accepted gap per mode, share 0-1."
        ),
        max_iterations: int = typer.Option(
            20, "--max-iterations", min=1, help="Simulations at most."
        ),
        reference: str = typer.Option(
            None, "--reference", help="Mode whose constant stays fixed (default: walk)."
        ),
        allow_extends: list[Path] = typer.Option(
            [], "--allow-extends", help="Folders extends may read from (repeatable)."
        ),
    ) -> None:
        """Fit mode_choice.asc so the simulated mode shares match --targets; write an overlay file."""
        from mobisim.api import load_scenario
        from mobisim.experiments.calibration import (
            calibrate,
            check_targets,
            overlay_text,
            read_targets,
        )
        from mobisim.scenario.loader import parse_override

        overrides = dict(parse_override(text) for text in set_)
        loaded = load_scenario(scenario, overrides=overrides, allow_extends=allow_extends)
        wanted = read_targets(targets)
        check_targets(wanted, loaded, targets)

        def show(iteration: int, gap: float) -> None:
            err.print(f"iteration {iteration}: largest gap {gap:.4f}")

        result = calibrate(
            loaded,
            wanted,
            replications=replications,
            tolerance=tolerance,
            max_iterations=max_iterations,
            reference=reference,
            progress=show,
        )
        overlay = out_file or scenario.with_name(f"{scenario.stem}-calibrated.yaml")
        text = overlay_text(
            result, scenario, overlay, f"{loaded.name}-calibrated", overrides, targets
        )
        overlay.parent.mkdir(parents=True, exist_ok=True)
        overlay.write_text(text, encoding="utf-8")
        fit_csv = overlay.with_name(f"{overlay.stem}-fit.csv")
        result.report.to_csv(fit_csv, index=False)
        iterations_csv = overlay.with_name(f"{overlay.stem}-iterations.csv")
        result.history.to_csv(iterations_csv, index=False)
        table = Table(title=f"mobisim calibrate: {result.iterations} iterations")
        for column in ("mode", "target %", "initial %", "simulated %", "gap pp", "asc"):
            table.add_column(column, justify="left" if column == "mode" else "right")
        for row in result.report.itertuples(index=False):
            table.add_row(
                escape(row.mode),
                f"{row.target * 100:.1f}",
                f"{row.initial * 100:.1f}",
                f"{row.simulated * 100:.1f}",
                f"{row.gap * 100:+.2f}",
                f"{row.asc:+.4f}",
            )
        out.print(table)
        out.print(
            f"wrote {escape(str(overlay))}, {escape(str(fit_csv))} and {escape(str(iterations_csv))}"
        )

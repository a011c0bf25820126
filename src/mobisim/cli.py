"""The ``mobisim`` command line (typer).

Errors a user can cause print one clear message and exit with status 1; ``--debug`` shows the
traceback as well.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from mobisim import __version__
from mobisim.errors import MobisimError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="mobisim: discrete-event simulation of shared mobility.",
)
err = Console(stderr=True)
out = Console()
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        out.print(f"mobisim {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """Run shared-mobility scenarios and compare them."""
    _state["debug"] = debug


@app.command()
def validate(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    set_: list[str] = typer.Option([], "--set", help="Override key.path=value (repeatable)."),
) -> None:
    """Check a scenario file without running it."""
    from mobisim.api import load_scenario
    from mobisim.scenario.loader import fingerprint

    loaded = load_scenario(scenario, overrides=set_)
    services = ", ".join(f"{s.name} ({s.type})" for s in loaded.enabled_services()) or "none"
    out.print(
        f"[green]ok[/green] {scenario}: scenario '{loaded.name}', seed {loaded.seed}, services: {services}"
    )
    out.print(f"fingerprint {fingerprint(loaded)}")


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    set_: list[str] = typer.Option([], "--set", help="Override key.path=value (repeatable)."),
    seed: int = typer.Option(None, "--seed", min=0, help="Replace the scenario's seed."),
    out_dir: Path = typer.Option(
        None, "--out", help="Results folder (default: the scenario's outputs.dir)."
    ),
) -> None:
    """Run a scenario and write its result folder."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mobisim.api import load_scenario
    from mobisim.api import run as run_scenario
    from mobisim.units import format_clock

    loaded = load_scenario(scenario, overrides=set_)
    start, end = loaded.period.start_s, loaded.period.end_s
    with Progress(
        TextColumn("[bold]{task.fields[name]}"),
        BarColumn(),
        TextColumn("clock {task.fields[clock]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("run", total=end - start, name=loaded.name, clock=format_clock(start))

        def progress(now_s: float) -> None:
            bar.update(task, completed=min(now_s, end) - start, clock=format_clock(now_s))

        result = run_scenario(loaded, out_dir=out_dir, seed=seed, progress=progress)
    system = result.kpis["system"]
    shares = ", ".join(f"{m} {v * 100:.1f}%" for m, v in system["mode_share"].items())
    out.print(
        f"[green]done[/green] {result.manifest['n_trips']} trips, {result.manifest['n_events']} events "
        f"in {result.manifest['wall_time_s']:.1f} s"
    )
    out.print(f"mode share: {shares}")
    out.print(f"results: {result.run_dir}")


def _mount_optional() -> None:
    from mobisim.cli_analysis import register_analysis_commands
    from mobisim.cli_network import network_app
    from mobisim.cli_sweep import register_sweep_commands

    app.add_typer(network_app, name="network", help="Inspect, plot and fetch road networks.")
    register_sweep_commands(app)
    register_analysis_commands(app)


_mount_optional()


def main() -> None:
    """Entry point of the ``mobisim`` script: clear one-line errors, tracebacks only with --debug."""
    try:
        app(standalone_mode=False)
    except MobisimError as exc:
        if "--debug" in sys.argv:
            raise
        err.print(f"[bold red]error:[/bold red] {exc}")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted; no result folder was written for the unfinished run")
        sys.exit(130)
    except Exception as exc:  # click usage errors and unexpected ones
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if "--debug" in sys.argv:
            raise
        err.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc} (run with --debug for the traceback)"
        )
        sys.exit(2)

"""The ``mobisim`` command line (typer): validate and run scenarios; other commands are mounted.

Errors a user can cause (:class:`mobisim.errors.MobisimError`) print one clear red message and
exit with status 1; ``mobisim --debug COMMAND`` (or ``run``/``validate`` ``--debug``) shows the
traceback instead. An unexpected exception (a bug) prints one line too and exits with status 2.
The ``network`` commands (:mod:`mobisim.cli.network`), the analysis commands
``kpis/compare/plot/report`` (:mod:`mobisim.cli.analysis`), the sweep commands
(:mod:`mobisim.cli.sweep`) and ``batch`` (:mod:`mobisim.cli.batch`) are mounted here.
"""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from mobisim import __version__
from mobisim.errors import MobisimError

err = Console(stderr=True)
out = Console()
_state = {"debug": False}


def _say(text: str, console: Console = err) -> None:
    """Print one message line (rich markup; never wrapped, so it can be grepped)."""
    console.print(text, highlight=False, soft_wrap=True)


#: What click (or the copy of it that typer >= 0.2x carries; click itself then comes only with the
#: dask extra) raises for a usage error: taken from typer, so the CLI works with either.
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
#: exceptions that end a command on purpose (typer.Exit, typer.Abort): passed through
_FLOW = (typer.Exit, typer.Abort)


class _FriendlyGroup(TyperGroup):
    """Every command's errors become one red line (exit 1), unless ``--debug`` was given."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except MobisimError as exc:
            if _state["debug"]:
                raise
            for line in str(exc).splitlines() or [type(exc).__name__]:
                _say(f"[bold red]error:[/bold red] {escape(line)}")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            _say("interrupted (an unfinished run leaves no result folder)")
            raise typer.Exit(code=130) from None
        except _USAGE_ERROR:
            raise
        except Exception as exc:  # a bug, not a user error: say how to see the traceback
            if _state["debug"] or isinstance(exc, _FLOW):
                raise
            name = type(exc).__name__
            notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
            _say(
                f"[bold red]internal error:[/bold red] {name}: {escape(str(exc))}"
                f"{escape(notes)} (run with --debug for the traceback)"
            )
            raise typer.Exit(code=2) from None


app = typer.Typer(
    cls=_FriendlyGroup,
    add_completion=False,
    no_args_is_help=True,
    help="mobisim: discrete-event simulation of shared mobility.",
)


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


SET_HELP = "Override key.path=value, e.g. services.car.parking_search_min=5 (repeatable)."
ALLOW_HELP = (
    "A folder `extends` may read from besides the scenario's folder and the working directory "
    "(repeatable)."
)
DEBUG_HELP = "Show the traceback on errors."


@app.command()
def validate(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    allow_extends: list[Path] = typer.Option([], "--allow-extends", help=ALLOW_HELP),
    no_network: bool = typer.Option(
        False, "--no-network", help="Skip building the network and checking the places on it."
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
) -> None:
    """Check a scenario file (with its extends chain and overrides) without running it, and,
    unless --no-network, its services' places on the network (mobisim network check)."""
    from mobisim.api import load_scenario
    from mobisim.cli.network import network_check_of, print_network_check
    from mobisim.scenario.loader import fingerprint

    _state["debug"] = _state["debug"] or debug
    loaded = load_scenario(scenario, overrides=set_, allow_extends=allow_extends)
    if not no_network:
        check = network_check_of(loaded)
        print_network_check(check, out)
        check.raise_errors(loaded.source_file)
        loaded = check.scenario
    services = ", ".join(f"{s.name} ({s.type})" for s in loaded.enabled_services()) or "none"
    _say(
        f"[green]ok[/green] {escape(str(scenario))}: scenario '{loaded.name}', "
        f"seed {loaded.seed}, services: {escape(services)}",
        out,
    )
    _say(f"fingerprint {fingerprint(loaded)}", out)


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file (YAML)."),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    seed: int = typer.Option(None, "--seed", min=0, help="Replace the scenario's seed."),
    out_dir: Path = typer.Option(
        None, "--out", help="Results folder (default: the scenario's outputs.dir)."
    ),
    allow_extends: list[Path] = typer.Option([], "--allow-extends", help=ALLOW_HELP),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress bar and no summary: print only the result folder (warnings still go "
        "to stderr).",
    ),
    debug: bool = typer.Option(False, "--debug", help=DEBUG_HELP),
    congestion: bool = typer.Option(
        None,
        "--congestion/--no-congestion",
        help="Turn the congestion loop (network.congestion.enabled) on or off for this run; "
        "default: as the scenario says.",
    ),
) -> None:
    """Run a scenario and write its result folder <out>/<scenario>/<run-id>/.

    After the run: trips, events and wall time, the mode shares, a warning line for each thing
    demand left out (trip-table rows dropped by reason, flows that send nobody, ...), the folder.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mobisim.api import load_scenario, throttled
    from mobisim.api import run as run_scenario
    from mobisim.units import format_clock

    _state["debug"] = _state["debug"] or debug
    if congestion is not None:
        set_ = [*set_, f"network.congestion.enabled={'true' if congestion else 'false'}"]
    loaded = load_scenario(scenario, overrides=set_, allow_extends=allow_extends)
    start_s, end_s = loaded.period.start_s, loaded.period.end_s
    with Progress(
        TextColumn("[bold]{task.fields[name]}"),
        TextColumn("{task.fields[stage]}"),
        BarColumn(),
        TextColumn("simulated clock {task.fields[clock]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task(
            "run",
            total=end_s - start_s,
            name=loaded.name,
            clock=format_clock(start_s),
            stage=STAGE_LABELS["network"],
        )

        def show(now_s: float) -> None:
            bar.update(task, completed=min(now_s, end_s) - start_s, clock=format_clock(now_s))

        def step(name: str) -> None:  # the bar stays up until the charts are written
            if name in ("KPIs", "writing", "charts", "done"):
                bar.update(task, completed=end_s - start_s, clock=format_clock(end_s))
            bar.update(task, stage=STAGE_LABELS[name])

        with _warning_lines(), _run_lines(quiet):
            result = run_scenario(
                loaded, out_dir=out_dir, seed=seed, progress=throttled(show), stage=step
            )
    from mobisim.demand.trips import demand_warnings

    manifest = result.manifest
    for line in demand_warnings(manifest.get("demand") or {}):
        _say(f"[yellow]warning:[/yellow] {escape(line)}")
    if quiet:
        _say(escape(str(result.run_dir)), out)
        return
    shares = result.kpis.get("system", {}).get("mode_share", {})
    shown = ", ".join(f"{mode} {share * 100:.1f}%" for mode, share in shares.items())
    _say(
        f"[green]done[/green] {manifest['n_trips']} trips, {manifest['n_events']} events "
        f"in {manifest['wall_time_s']:.1f} s",
        out,
    )
    if shown:
        _say(f"mode share: {escape(shown)}", out)
    _say(f"results: {escape(str(result.run_dir))}", out)


#: what the progress line says during each step of :func:`mobisim.api.run`
STAGE_LABELS = {
    "network": "building the network and router",
    "demand": "building the trips",
    "simulation": "simulating the day",
    "KPIs": "computing KPIs",
    "writing": "writing the result tables",
    "charts": "drawing the charts",
    "done": "done",
}


@contextmanager
def _run_lines(quiet: bool):
    """Show the run's progress lines (logger ``mobisim.run``: each congestion iteration's gap)
    on stderr unless ``quiet``."""

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _say(escape(record.getMessage()))

    log = logging.getLogger("mobisim.run")
    handler, level = Lines(level=logging.INFO), log.level
    if not quiet:
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextmanager
def _warning_lines():
    """Show the warnings mobisim logs during a command (e.g. the network check) as
    ``warning:`` lines on stderr."""

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _say(f"[yellow]warning:[/yellow] {escape(record.getMessage())}")

    handler, logger = Lines(logging.WARNING), logging.getLogger("mobisim")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _mount_other_commands() -> None:
    """Mount the command groups of the other CLI modules."""
    from mobisim.cli.analysis import register_analysis_commands
    from mobisim.cli.batch import register_batch_command
    from mobisim.cli.calibrate import register_calibrate_command
    from mobisim.cli.check import register_check_command
    from mobisim.cli.gtfs import gtfs_app
    from mobisim.cli.network import network_app
    from mobisim.cli.sweep import register_sweep_commands

    register_sweep_commands(app)
    register_batch_command(app)
    app.add_typer(network_app, name="network", help="Inspect, plot and fetch road networks.")
    app.add_typer(
        gtfs_app, name="gtfs", help="GTFS feeds: export the lines, import transit blocks."
    )
    register_analysis_commands(app)
    register_check_command(app)
    register_calibrate_command(app)


_mount_other_commands()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends a command like Ctrl-C: an unfinished run removes its folder, a sweep records
    the runs that finished (the default action would stop the process before any clean-up)."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Entry point of the ``mobisim`` script and of ``python -m mobisim``."""
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="mobisim")

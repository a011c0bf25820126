"""``mobisim gtfs export`` and ``mobisim gtfs import``: a scenario's lines to a GTFS feed and back.

``export SCENARIO OUT_DIR`` writes the enabled ``fixed_route`` and ``transit`` lines as a feed;
``import FEED --scenario S`` prints (or writes with ``--out``) ``type: transit`` service blocks
for the feed's routes, snapped to the scenario's network, and reports each stop's snap distance.
See :mod:`mobisim.convert.gtfs` and docs/services-transit.md ("GTFS").
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console

gtfs_app = typer.Typer(help="Export lines as a GTFS feed; build transit blocks from a feed.")
err = Console(stderr=True)


def _scenario_network(scenario_path: Path):
    from mobisim.api import load_scenario
    from mobisim.network.load import build_network

    scenario = load_scenario(scenario_path)
    return scenario, build_network(scenario.network, scenario.base_dir)


@gtfs_app.command("export")
def export_command(
    scenario_path: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario file (YAML)."),
    out_dir: Path = typer.Argument(..., metavar="OUT_DIR", help="Folder to write the feed in."),
    timezone: str = typer.Option("Asia/Seoul", "--timezone", help="agency_timezone of the feed."),
) -> None:
    """Write the scenario's fixed-route and transit lines as a GTFS feed."""
    from mobisim.convert.gtfs import build_lines, export_feed

    scenario, network = _scenario_network(scenario_path)
    lines = build_lines(scenario, network)
    if not lines:
        err.print("the scenario has no enabled fixed_route or transit line; nothing written")
        raise typer.Exit(code=1)
    export_feed(lines, network, out_dir, timezone=timezone)
    typer.echo(f"wrote {len(lines)} line(s) to {out_dir}: " + ", ".join(s.name for s in lines))


@gtfs_app.command("import")
def import_command(
    feed: Path = typer.Argument(..., metavar="FEED", help="GTFS folder or .zip."),
    scenario_path: Path = typer.Option(
        ..., "--scenario", help="Scenario whose network the stops snap to."
    ),
    route_ids: list[str] = typer.Option(
        None, "--route-id", help="Route to import (repeat; default all)."
    ),
    service_date: str = typer.Option(
        None, "--date", help="Service day YYYY-MM-DD (default: every trip)."
    ),
    out: Path = typer.Option(
        None, "--out", help="Write the blocks here (YAML) instead of printing."
    ),
) -> None:
    """Build ``type: transit`` service blocks from a GTFS feed (stops snapped, distances reported)."""
    from mobisim.convert.gtfs import import_feed

    _, network = _scenario_network(scenario_path)
    result = import_feed(feed, network, route_ids=route_ids or None, service_date=service_date)
    for snap in result.snaps:
        err.print(f"stop {snap.stop_id} ({snap.name}) -> node {snap.node}: {snap.snap_m:.0f} m")
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    text = yaml.safe_dump({"services": result.blocks}, sort_keys=False, allow_unicode=True)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(result.blocks)} transit block(s) to {out}")

"""Command-line commands for road networks: ``mobisim network info | plot | fetch | check``.

FILE is a network file (.osm, .osm.bz2, .osm.gz, .osm.pbf, .graphml) or the word ``synthetic``
for the new-town generator (``--nodes`` and ``--seed`` apply to it). ``check`` takes a SCENARIO
and checks its services' places against the network (:mod:`mobisim.network.check`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mobisim.errors import MobisimError

network_app = typer.Typer(help="Inspect, plot and download road networks.", no_args_is_help=True)

NETWORK_TYPE_HELP = "osmnx network type: drive, drive_service, bike, walk, all, all_public."


def _load(source: str, network_type: str, nodes: int, seed: int):
    from mobisim.network.load import build_network, config_for

    if source == "synthetic":
        config = config_for("synthetic", target_nodes=nodes, seed=seed)
    else:
        config = config_for(source, network_type=network_type)
    return build_network(config, Path.cwd())


def _fail(exc: Exception) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=1)


@network_app.command("info")
def info_command(
    source: str = typer.Argument(..., metavar="FILE", help="Network file or 'synthetic'."),
    network_type: str = typer.Option("drive", "--network-type", help=NETWORK_TYPE_HELP),
    nodes: int = typer.Option(1500, "--nodes", help="Target node count (synthetic)."),
    seed: int = typer.Option(0, "--seed", help="Layout seed (synthetic)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Nodes, edges, km, components, speeds and places of a network."""
    from mobisim.network.info import network_summary

    try:
        summary = network_summary(_load(source, network_type, nodes, seed))
    except MobisimError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    table = Table("figure", "value", title=summary["name"])
    for key, value in summary.items():
        if key != "name":
            shown = (
                ", ".join(f"{k}: {v}" for k, v in value.items())
                if isinstance(value, dict)
                else str(value)
            )
            table.add_row(key, shown)
    Console().print(table)


@network_app.command("plot")
def plot_command(
    source: str = typer.Argument(..., metavar="FILE", help="Network file or 'synthetic'."),
    out: Path = typer.Option(..., "--out", "-o", help="Image file to write (.png, .svg, .pdf)."),
    network_type: str = typer.Option("drive", "--network-type", help=NETWORK_TYPE_HELP),
    nodes: int = typer.Option(1500, "--nodes", help="Target node count (synthetic)."),
    seed: int = typer.Option(0, "--seed", help="Layout seed (synthetic)."),
) -> None:
    """Draw a network and its named places."""
    from mobisim.network.plot import plot_network

    try:
        written = plot_network(_load(source, network_type, nodes, seed), out)
    except MobisimError as exc:
        _fail(exc)
    Console().print(f"wrote {written}")


@network_app.command("fetch")
def fetch_command(
    place: str = typer.Option(
        None, "--place", help="Place name, e.g. 'Jincheon-gun, South Korea'."
    ),
    bbox: str = typer.Option(None, "--bbox", help="west,south,east,north in degrees."),
    network_type: str = typer.Option("drive", "--network-type", help=NETWORK_TYPE_HELP),
    cache_dir: Path = typer.Option(Path("networks/cache"), "--cache-dir", help="Cache folder."),
) -> None:
    """Download a network with osmnx (needs internet) and cache it as GraphML."""
    from mobisim.network.load import fetch_graph

    if (place is None) == (bbox is None):
        _fail(ValueError("give exactly one of --place or --bbox"))
    try:
        if place is not None:
            graph, path, downloaded = fetch_graph("place", place, network_type, cache_dir)
        else:
            try:
                box = [float(x) for x in bbox.split(",")]
            except ValueError:
                box = []
            if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
                _fail(ValueError(f"--bbox expects west,south,east,north (got {bbox!r})"))
            graph, path, downloaded = fetch_graph("bbox", box, network_type, cache_dir)
    except MobisimError as exc:
        _fail(exc)
    state = "downloaded" if downloaded else "already cached"
    Console().print(
        f"{state}: {path} ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges)"
    )


def network_check_of(scenario):
    """Build the scenario's network and check its places (mobisim.network.check)."""
    from mobisim.network.check import check_network
    from mobisim.network.load import build_network

    return check_network(scenario, build_network(scenario.network, scenario.base_dir))


def _percent(share) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def print_network_check(check, console: Console, snaps: bool = False) -> None:
    """One summary line, a line per warning, the coverage lines; with ``snaps`` a table of them."""
    from rich.markup import escape

    summary = check.summary()
    console.print(
        f"network check: {summary['places']} places snapped (largest snap "
        f"{summary['max_snap_m']:.0f} m), {summary['errors']} errors, "
        f"{summary['warnings']} warnings",
        highlight=False,
        soft_wrap=True,
    )
    if snaps and check.snaps:
        table = Table(
            "service", "kind", "name", "node", "snap m", "views", "usable", "nearest usable"
        )
        for snap in check.snaps:
            views = snap.view + (f"+{snap.access}" if snap.access else "")
            nearest = "" if snap.usable else f"{snap.usable_node} ({snap.usable_m:.0f} m)"
            table.add_row(
                escape(snap.service), snap.kind, escape(snap.name), str(snap.node),
                f"{snap.snap_m:.0f}", views, "yes" if snap.usable else "[red]no[/red]", nearest,
            )  # fmt: skip
        console.print(table)
    for finding in check.warnings:
        console.print(
            f"[yellow]warning:[/yellow] {escape(finding.key)}: {escape(finding.message)}",
            highlight=False,
            soft_wrap=True,
        )
    for row in check.coverage:
        what = f"service '{row['service']}' stops/stations" if row["service"] else row["what"]
        reach = (
            f" (no access point within {row['max_walk_m']:.0f} m walk)" if row["service"] else ""
        )
        console.print(
            f"out of reach of {escape(what)}{reach}: homes {_percent(row['homes_out_of_reach'])}, "
            f"destinations {_percent(row['destinations_out_of_reach'])}",
            highlight=False,
            soft_wrap=True,
        )


@network_app.command("check")
def check_command(
    scenario: Path = typer.Argument(..., metavar="SCENARIO", help="Scenario file (YAML)."),
    set_: list[str] = typer.Option([], "--set", help="Override key.path=value (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings and snaps as JSON."),
) -> None:
    """Check every stop, station, depot and charger of a scenario against the mode views: main
    strongly connected component, road class, snap distance, fixed-route order; and the share of
    homes and destinations out of reach. Exits 1 when the run would be impossible."""
    from mobisim.api import load_scenario

    loaded = load_scenario(scenario, overrides=set_)
    check = network_check_of(loaded)
    if as_json:
        typer.echo(json.dumps(check.summary(), indent=2, ensure_ascii=False, default=str))
    else:
        print_network_check(check, Console(), snaps=True)
    check.raise_errors(loaded.source_file)

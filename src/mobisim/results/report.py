"""One self-contained HTML page comparing runs: KPI table and charts embedded as base64 PNG.

The page needs nothing but itself: no scripts, no fonts, no stylesheets or images from elsewhere,
so it opens offline and can be mailed as one file. Every chart is an ``<img>`` inside a
``<figure class="chart" data-chart="...">``; a chart without data shows a "no data" panel.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from mobisim import __version__
from mobisim.errors import ResultsError
from mobisim.metrics.kpis import compute_kpis
from mobisim.metrics.tables import kpi_meta, load_run, resolve_run_dir, run_label
from mobisim.results import plots
from mobisim.results.compare import (
    comparison_table,
    format_number,
    formatted,
    unique_labels,
    unserved_table,
)
from mobisim.results.maps import interactive_maps_html

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1150px; color: #212529; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #dee2e6; padding: 0.3em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f1f3f5; }
figure.chart { margin: 1em 0; }
figure.chart img { max-width: 100%; height: auto; border: 1px solid #e9ecef; }
figcaption { font-size: 0.85em; color: #495057; }
.meta { color: #495057; font-size: 0.9em; }
"""


def figure_png_base64(fig, dpi: int = 90) -> str:
    """``fig`` as a base64 PNG string (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(name: str, fig, caption: str) -> str:
    data = figure_png_base64(fig)
    return (
        f'<figure class="chart" data-chart="{html.escape(name)}">'
        f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def kpi_table_html(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The comparison table (first run = baseline) as an HTML table with id ``kpi-table``."""
    table = formatted(comparison_table(runs, baseline=0))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = [f"<td>{html.escape(str(row[0]))}</td>", f"<td>{html.escape(str(row[1]))}</td>"]
        cells += [f'<td class="num">{html.escape(str(v))}</td>' for v in row[2:]]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="kpi-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def unserved_html(runs: Sequence[tuple[str, dict[str, Any]]], scope: str, table_id: str) -> str:
    """:func:`~mobisim.results.compare.unserved_table` as an HTML table with id ``table_id``
    (a sentence instead when every trip of every run was served)."""
    table = unserved_table(runs, scope)
    if table.empty:
        return f"<p class='meta' id='{table_id}'>Every trip was served.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = [f"<td>{html.escape(str(v))}</td>" for v in row[:2]]
        cells += [f'<td class="num">{html.escape(format_number(float(v)))}</td>' for v in row[2:7]]
        cells.append(f"<td>{html.escape(str(row[7]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _demand_warnings_html(manifest: dict[str, Any]) -> str:
    """What the run's demand left out (:func:`mobisim.demand.trips.demand_warnings`), as a list
    of warnings with class ``demand-warning``; empty when nothing was."""
    from mobisim.demand.trips import demand_warnings

    lines = demand_warnings(manifest.get("demand") or {})
    items = "".join(f"<li class='demand-warning'>{html.escape(line)}</li>" for line in lines)
    return f"<ul>{items}</ul>" if items else ""


def _run_list_html(labelled: list[tuple[str, Path, dict[str, Any]]]) -> str:
    items = []
    for label, run_dir, tables in labelled:
        manifest = tables.get("manifest", {})
        items.append(
            f"<li><b>{html.escape(label)}</b> — {html.escape(run_dir.name)}, seed "
            f"{html.escape(str(manifest.get('seed', '?')))}, "
            f"{len(tables['trips']):,} trips, fingerprint "
            f"{html.escape(str(manifest.get('fingerprint', '?'))[:12])}"
            f"{_demand_warnings_html(manifest)}</li>"
        )
    return "<ul class='meta'>" + "".join(items) + "</ul>"


def with_baseline(run_dirs: Sequence[str | Path], baseline: str | Path | None = None) -> list[Path]:
    """``run_dirs`` with the baseline run first: ``baseline`` moved to the front (added when it
    is not among them; ``<scenario>/latest`` allowed), else the first run stays the baseline."""
    dirs = [resolve_run_dir(d) for d in run_dirs]
    if baseline is None:
        return dirs
    base = resolve_run_dir(baseline)
    return [base, *[d for d in dirs if d.resolve() != base.resolve()]]


def build_report(
    run_dirs: Sequence[str | Path],
    title: str | None = None,
    baseline: str | Path | None = None,
) -> str:
    """The HTML text of a report comparing the runs in ``run_dirs`` against ``baseline`` (a run
    folder, see :func:`with_baseline`; default: the first run).

    KPIs are recomputed from each folder's tables, so the page always matches the data.
    """
    if not run_dirs:
        raise ResultsError("no run folders given to report on")
    run_dirs = with_baseline(run_dirs, baseline)
    loaded = [(resolve_run_dir(d), load_run(d)) for d in run_dirs]
    labels = unique_labels([run_label(tables, d) for d, tables in loaded])
    labelled = [(label, d, t) for label, (d, t) in zip(labels, loaded, strict=True)]
    runs = [(label, tables) for label, _, tables in labelled]
    kpis = [
        (label, compute_kpis(_without_manifest(t), kpi_meta(t["manifest"]))) for label, t in runs
    ]
    title = title or "mobisim report: " + " vs ".join(labels)
    # charts are drawn one at a time (each closed once encoded): many runs, few open figures
    sections = [
        (
            "Mode share",
            [("mode_share", lambda: plots.mode_share_chart(runs), "Share of trips by mode")],
        ),
        (
            "Waiting and travel times",
            [
                ("wait", lambda: plots.wait_chart(runs), "Wait of shared rides"),
                (
                    "door_to_door",
                    lambda: plots.door_to_door_chart(runs),
                    "Door-to-door time of served trips (forced walks: see Who is left without "
                    "service)",
                ),
            ],
        ),
        (
            "Over the day",
            [("hourly", lambda: plots.hourly_chart(runs), "Demand, served trips and wait by hour")]
            + [
                (
                    f"fleet_state_{i}",
                    lambda label=label, t=t: plots.fleet_state_chart(label, t),
                    f"Fleet state — {label}",
                )
                for i, (label, t) in enumerate(runs)
            ],
        ),
        (
            "Vehicles and energy",
            [
                (
                    "occupancy",
                    lambda: plots.occupancy_chart(runs),
                    "Vehicle-km by passengers on board",
                ),
                (
                    "energy",
                    lambda: plots.energy_chart(runs),
                    "Energy, CO2 and kWh per passenger-km against the baseline run (dashed: "
                    "every trip of the baseline driven by private car)",
                ),
                ("charging", lambda: plots.charging_chart(runs), "Charging load and PV generation"),
            ],
        ),
        (
            "Maps",
            [
                (
                    f"map_{i}",
                    lambda label=label, t=t: plots.map_chart(label, t),
                    f"Network, flows and stations — {label}",
                )
                for i, (label, t) in enumerate(runs)
            ],
        ),
    ]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>mobisim {html.escape(__version__)}, generated "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Baseline: "
        f"<b>{html.escape(labels[0])}</b>.</p>",
        _run_list_html(labelled),
        "<h2>Key indicators</h2>",
        kpi_table_html(kpis),
        "<p class='meta'>Δ: change against the baseline (percentage points for %); Δ%: relative "
        "change. Definitions: docs/kpis.md.</p>",
        "<h2>Who is left without service</h2>",
        "<p class='meta'>Unserved trips: no mode of the scenario carried them and they could not "
        "walk within the acceptable walk (<code>mode_choice.acceptable_walk_m</code>, by default "
        "the walk service's <code>max_walk_m</code>). Forced walks are people who walked further "
        "all the same.</p>",
        "<h3>By group</h3>",
        unserved_html(kpis, "by_group", "unserved-by-group"),
        "<h3>By origin → destination zone (most unserved first)</h3>",
        unserved_html(kpis, "by_od", "unserved-by-od"),
    ]
    for heading, charts in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.extend(_figure_html(name, draw(), caption) for name, draw, caption in charts)
        if heading == "Maps":  # interactive offline maps next to the images (results/maps.py)
            body.append(interactive_maps_html(runs))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _without_manifest(tables: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tables.items() if k != "manifest"}


def write_report(
    run_dirs: Sequence[str | Path],
    out_html: str | Path,
    title: str | None = None,
    baseline: str | Path | None = None,
) -> Path:
    """Write the report of ``run_dirs`` against ``baseline`` (:func:`build_report`) to
    ``out_html``; returns the path."""
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(build_report(run_dirs, title, baseline), encoding="utf-8")
    return out_html

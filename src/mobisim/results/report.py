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
    format_number,
    formatted,
    group_replications,
    replicated_comparison_table,
    replication_key,
    service_table,
    summary_lines,
    unique_labels,
    unserved_table,
)
from mobisim.results.maps import interactive_maps_html

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em 2.5vw;
       color: #212529; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
#kpi-table { width: 100%; }
th, td { border: 1px solid #dee2e6; padding: 0.3em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f1f3f5; vertical-align: bottom; }
th small { font-weight: normal; color: #495057; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(600px, 1fr));
          gap: 0 1.5em; align-items: start; }
figure.chart { margin: 0.8em 0; }
.charts figure.chart:has(img[data-wide]) { grid-column: 1 / -1; }
figure.chart img { width: 100%; height: auto; border: 1px solid #e9ecef; }
figcaption { font-size: 0.85em; color: #495057; }
.meta { color: #495057; font-size: 0.9em; }
#summary { background: #f8f9fa; border-left: 4px solid #1c7ed6; padding: 0.3em 1.2em 0.6em; }
#summary h3 { margin: 0.6em 0 0.2em; }
.warning { background: #fff4e6; border-left: 4px solid #f08c00; padding: 0.6em 1em; }
ul.runs > li { margin-bottom: 0.6em; }
.scenario-description { margin: 0.15em 0; }
.scenario-description.missing { color: #868e96; font-style: italic; }
.print-only { display: none; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; }
  table { font-size: 7.5pt; }
  tr, figure.chart, #summary, .warning { break-inside: avoid; page-break-inside: avoid; }
  .charts { display: block; }
  figure.chart img { max-height: 240mm; width: auto; max-width: 100%; }
  section.interactive-map { display: none; }
  .print-only { display: block; }
  th { background: #f1f3f5 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  #summary, .warning { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def figure_png_base64(fig, dpi: int = 90) -> str:
    """``fig`` as a base64 PNG string (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(name: str, fig, caption: str) -> str:
    """A chart as ``<figure>``; figures 10 in wide or more (small multiples, mode share) are
    marked ``data-wide`` and take the full page width."""
    wide = " data-wide" if fig.get_figwidth() >= 10 else ""
    data = figure_png_base64(fig)
    return (
        f'<figure class="chart" data-chart="{html.escape(name)}">'
        f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"{wide}>'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def kpi_table_html(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The comparison table (first run = baseline) as an HTML table with id ``kpi-table``."""
    return table_html(replicated_comparison_table([(label, [k]) for label, k in runs]))


def table_html(table, table_id: str = "kpi-table") -> str:
    """A comparison table (:func:`~mobisim.results.compare.replicated_comparison_table`) as HTML:
    a ``<label> ±`` column is merged into its value column ("12.3 ± 0.41", the 95 % interval of
    the mean), ``<label> Δ ±`` into ``<label> Δ``."""
    text = formatted(table)
    shown = [c for c in table.columns if not str(c).endswith(" ±")]
    head = "".join(
        f"<th>{html.escape(str(c))}"
        + ("<br><small>mean ± 95 % CI</small>" if f"{c} ±" in table.columns else "")
        + "</th>"
        for c in shown
    )
    body = []
    for i in range(len(table)):
        cells = [
            f"<td>{html.escape(str(text.at[i, 'kpi']))}</td>",
            f"<td>{html.escape(str(text.at[i, 'unit']))}</td>",
        ]
        for column in shown[2:]:
            value = str(text.at[i, column])
            if f"{column} ±" in table.columns and text.at[i, f"{column} ±"] != "–":
                value += f" ± {text.at[i, f'{column} ±']}"
            cells.append(f'<td class="num">{html.escape(value)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
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


Group = tuple[str, list[tuple[Path, dict[str, Any]]]]


def _description(tables: dict[str, Any]) -> str:
    scenario = tables.get("manifest", {}).get("scenario") or {}
    return str(scenario.get("description") or "").strip()


def _run_list_html(groups: list[Group]) -> str:
    """One entry per run, or per group of replications: label, the scenario's ``description``
    (class ``scenario-description``), run ids and seeds, trips, fingerprint, demand warnings."""
    items = []
    for label, reps in groups:
        _, first = reps[0]
        manifest = first.get("manifest", {})
        description = _description(first)
        seeds = ", ".join(str(t.get("manifest", {}).get("seed", "?")) for _, t in reps)
        runs = ", ".join(html.escape(d.name) for d, _ in reps)
        trips = " / ".join(f"{len(t['trips']):,}" for _, t in reps)
        items.append(
            f"<li><b>{html.escape(label)}</b>"
            + (
                f"<p class='scenario-description'>{html.escape(description)}</p>"
                if description
                else "<p class='scenario-description missing'>(the scenario has no "
                "<code>description</code>)</p>"
            )
            + f"<span class='meta'>{'runs' if len(reps) > 1 else 'run'} {runs}; "
            f"seed{'s' if len(reps) > 1 else ''} {html.escape(seeds)}; {trips} trips; "
            f"fingerprint {html.escape(str(manifest.get('fingerprint', '?'))[:12])}</span>"
            f"{_demand_warnings_html(manifest)}</li>"
        )
    return "<ul class='runs'>" + "".join(items) + "</ul>"


def replication_warning(groups: list[Group]) -> str:
    """A warning (empty when none is due): the compared runs differ in seed or demand and none
    has replications, so a difference may be chance, not the scenario. (With replications the
    table and summary give 95 % intervals; a single run among them is taken as exact.)"""
    if len(groups) < 2 or any(len(reps) > 1 for _, reps in groups):
        return ""
    manifests = [t.get("manifest", {}) for _, reps in groups for _, t in reps]
    seeds = {str(m.get("seed")) for m in manifests}
    demands = {
        repr(sorted(((m.get("scenario") or {}).get("demand") or {}).items())) for m in manifests
    }
    single = [label for label, reps in groups if len(reps) < 2]
    differs = [what for what, n in (("seed", len(seeds)), ("demand", len(demands))) if n > 1]
    if not single or not differs:
        return ""
    return (
        "<p class='warning' id='replication-warning'><b>Caution:</b> the compared runs differ in "
        f"{' and '.join(differs)} and {', '.join(html.escape(x) for x in single)} "
        f"{'is a single run' if len(single) == 1 else 'are single runs'}: part of each "
        "difference may be chance. Run replications (the same scenario with "
        "<code>mobisim run SCENARIO --seed N</code> for a few seeds) and report them together: "
        "they are grouped into one column with a 95 % interval.</p>"
    )


def summary_html(table, baseline: str) -> str:
    """The written summary (:func:`~mobisim.results.compare.summary_lines`) as a section with
    id ``summary``: one list per run against the baseline."""
    lines = summary_lines(table, baseline)
    if not lines:
        return (
            "<section id='summary'><p>One scenario only: the tables below describe it; "
            "give a second run to compare against it.</p></section>"
        )
    parts = ["<section id='summary'>"]
    for run, sentences in lines.items():
        parts.append(
            f"<h3>{html.escape(run)} against {html.escape(baseline)}</h3><ul>"
            + "".join(f"<li class='summary-line'>{html.escape(x)}</li>" for x in sentences)
            + "</ul>"
        )
    parts.append(
        "<p class='meta'>pp: percentage points. The 95 % interval of a change is given when "
        "replications exist (a single run among them taken as exact); "
        '"within noise": the interval covers zero.</p></section>'
    )
    return "".join(parts)


def service_tables_html(groups: list[Group], kpis: list[list[dict[str, Any]]]) -> str:
    """Per run (the first replication of a group), the per-service table of
    :func:`~mobisim.results.compare.service_table` (id ``services-<i>``)."""
    parts = []
    for i, ((label, reps), run_kpis) in enumerate(zip(groups, kpis, strict=True)):
        table = service_table(run_kpis[0])
        note = f" (seed {reps[0][1].get('manifest', {}).get('seed', '?')})" if len(reps) > 1 else ""
        parts.append(f"<h3>{html.escape(label)}{html.escape(note)}</h3>")
        if table.empty:
            parts.append(f"<p class='meta' id='services-{i}'>No service KPIs.</p>")
            continue
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
        body = []
        for row in table.itertuples(index=False):
            cells = [f"<td>{html.escape(str(row[0]))}</td>"]
            cells += [
                f'<td class="num">{html.escape(format_number(float(v)))}</td>' for v in row[1:]
            ]
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(
            f'<table id="services-{i}" class="services"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    return "".join(parts)


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
    # replications (same scenario but the seed) form one group; the baseline's group comes first
    indices = group_replications([replication_key(t.get("manifest", {})) for _, t in loaded])
    names = [run_label(loaded[g[0]][1], loaded[g[0]][0]) for g in indices]
    names = [
        n if len(g) < 2 else f"{n} ({len(g)} seeds)" for n, g in zip(names, indices, strict=True)
    ]
    labels = unique_labels(names)
    groups: list[Group] = [
        (label, [loaded[i] for i in g]) for label, g in zip(labels, indices, strict=True)
    ]
    group_kpis = [
        [compute_kpis(_without_manifest(t), kpi_meta(t["manifest"])) for _, t in reps]
        for _, reps in groups
    ]
    table = replicated_comparison_table(
        [(label, k) for (label, _), k in zip(groups, group_kpis, strict=True)]
    )
    # charts of one run per group: the first replication (bar charts get them all: error bars)
    runs = [(label, reps[0][1]) for label, reps in groups]
    replicates = [[t for _, t in reps] for _, reps in groups]
    kpis = [(label, k[0]) for (label, _), k in zip(groups, group_kpis, strict=True)]
    title = title or "mobisim report: " + " vs ".join(labels)
    # charts are drawn one at a time (each closed once encoded): many runs, few open figures
    sections = [
        (
            "Mode share",
            [
                (
                    "mode_share",
                    lambda: plots.mode_share_chart(runs, replicates),
                    "Share of trips by mode",
                )
            ],
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
                    lambda: plots.energy_chart(runs, replicates=replicates),
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
        replication_warning(groups),
        "<h2>Summary</h2>",
        summary_html(table, labels[0]),
        "<h2>Scenarios</h2>",
        _run_list_html(groups),
        "<h2>Key indicators</h2>",
        table_html(table),
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
        "<h2>Services</h2>",
        "<p class='meta'>Per service: requests, rides, rejected requests, wait (mean, median, "
        "95th percentile), ride time, vehicle-km and the empty share of them, occupancy "
        "(passenger-km per vehicle-km), energy and cost per day when the scenario gives costs "
        "(docs/kpis.md).</p>",
        service_tables_html(groups, group_kpis),
    ]
    grouped = [(label, reps) for label, reps in groups if len(reps) > 1]
    if grouped:
        seeds = "; ".join(
            f"{label}: seed {reps[0][1].get('manifest', {}).get('seed', '?')}"
            for label, reps in grouped
        )
        body.append(
            "<p class='meta' id='replication-charts-note'>Grouped replications: the mode-share "
            "and energy charts show the mean with 95 % error bars; the other charts and the "
            f"tables of who is left without service and of services show the first replication "
            f"({html.escape(seeds)}).</p>"
        )
    for heading, charts in sections:
        body.append(f"<h2>{html.escape(heading)}</h2><div class='charts'>")
        body.extend(_figure_html(name, draw(), caption) for name, draw, caption in charts)
        body.append("</div>")
        if heading == "Maps":  # interactive offline maps next to the images (results/maps.py)
            body.append(interactive_maps_html(runs))
            body.append(
                "<p class='meta print-only'>The interactive maps are left out of the printout; "
                "open report.html in a browser to use them.</p>"
            )
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

"""The HTML report as a file: one self-contained page, KPI table, every chart embedded as PNG."""

from __future__ import annotations

import base64
import io
import re

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from mobisim.cli.analysis import register_analysis_commands
from mobisim.results.report import build_report
from test_kpis_sample import META, sample_tables, write_run_folder

#: charts a report of two runs holds (fleet state and map once per run)
EXPECTED_CHARTS = {
    "mode_share", "wait", "door_to_door", "hourly", "fleet_state_0", "fleet_state_1",
    "occupancy", "energy", "charging", "map_0", "map_1",
}  # fmt: skip


def sparse_tables():
    """Walk and private car only: no shared fleet, no stations, no energy, no map coordinates."""
    tables = sample_tables()
    trips = tables["trips"]
    keep = trips["mode"].isin(["walk", "car"])
    events = tables["events"]
    return {
        "events": events[events["service"].isin(["walk", "car"])].reset_index(drop=True),
        "trips": trips[keep].reset_index(drop=True),
        "vehicles": tables["vehicles"].iloc[0:0],
    }


@pytest.fixture(scope="module")
def report_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    full = write_run_folder(out, sample_tables(), META)
    sparse = write_run_folder(
        out, sparse_tables(), {**META, "scenario": "walk-and-car", "services": ["car", "walk"]}
    )
    return full, sparse


@pytest.fixture(scope="module")
def page(report_runs):
    return build_report(list(report_runs), title="Sample report")


def images(page: str) -> dict[str, Image.Image]:
    found = re.findall(
        r'<figure class="chart" data-chart="([^"]+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"',
        page,
    )
    return {name: Image.open(io.BytesIO(base64.b64decode(data))) for name, data in found}


def test_report_is_one_self_contained_page(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Sample report</title>" in page
    # the interactive maps inline plotly.js: its code may name URLs, but nothing is loaded from one
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all("src=" not in attributes for attributes in scripts)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup)
    assert "<link" not in markup and "@import" not in markup


def test_report_has_the_kpi_table_with_both_runs(page):
    table = re.search(r'<table id="kpi-table">(.*?)</table>', page, re.S).group(1)
    assert "<th>sample</th>" in table and "<th>walk-and-car</th>" in table
    assert "<th>walk-and-car Δ</th>" in table
    assert "Wait, mean" in table and "Mode share: Shuttle (fixed route)" in table


def test_report_says_who_is_left_without_service(page):
    # the sample's one unserved trip: a student, school -> home, no offer at all
    by_group = re.search(r'<table id="unserved-by-group">(.*?)</table>', page, re.S).group(1)
    assert "<td>students</td>" in by_group and "<td>no_offer</td>" in by_group
    assert "<td>workers</td>" not in by_group  # every worker was served
    by_od = re.search(r'<table id="unserved-by-od">(.*?)</table>', page, re.S).group(1)
    assert "<td>school -&gt; home</td>" in by_od


def test_every_chart_is_embedded_as_a_real_png(page):
    charts = images(page)
    assert set(charts) == EXPECTED_CHARTS
    for name, image in charts.items():
        assert image.format == "PNG" and image.width > 300 and image.height > 200, name
        colours = image.convert("L").getextrema()
        assert colours[0] < 200, f"{name} looks blank"


def test_charts_without_data_show_a_no_data_panel(tmp_path):
    out = write_run_folder(
        tmp_path, sparse_tables(), {**META, "scenario": "walk-and-car", "services": ["car", "walk"]}
    )
    from mobisim.metrics.tables import load_run
    from mobisim.results import plots

    tables = load_run(out)
    runs = [("walk-and-car", tables)]
    for fig in (
        plots.wait_chart(runs),
        plots.fleet_state_chart("walk-and-car", tables),
        plots.occupancy_chart(runs),
        plots.energy_chart(runs),
        plots.charging_chart(runs),
        plots.map_chart("walk-and-car", tables),
    ):
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert "no data" in texts, fig.axes[0].get_title()
    hourly = plots.hourly_chart(runs)
    assert next(t.get_text() for t in hourly.axes[1].texts) == "no data"  # no shared rides
    assert not hourly.axes[0].texts  # but there is demand


def test_cli_report_writes_the_file(report_runs, tmp_path):
    app = typer.Typer()
    register_analysis_commands(app)
    out = tmp_path / "sub" / "report.html"
    result = CliRunner().invoke(app, ["report", *map(str, report_runs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert set(images(out.read_text())) == EXPECTED_CHARTS


def test_cli_report_baseline_is_explicit(report_runs, tmp_path):
    full, sparse = report_runs
    app = typer.Typer()
    register_analysis_commands(app)
    out = tmp_path / "report.html"
    args = ["report", str(full), "-o", str(out), "--baseline", str(sparse)]  # added when missing
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "Baseline: <b>walk-and-car</b>" in page
    head = re.search(r'<table id="kpi-table"><thead><tr>(.*?)</tr>', page, re.S).group(1)
    assert head.index("<th>walk-and-car</th>") < head.index("<th>sample</th>")
    assert "<th>sample Δ</th>" in head and "<th>walk-and-car Δ</th>" not in head


def test_report_lists_what_demand_left_out(tmp_path):
    import json

    run = write_run_folder(tmp_path, sparse_tables(), {**META, "scenario": "table"})
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["demand"] = {
        "source": "trip_table",
        "file": "trips.csv",
        "rows_read": 9,
        "dropped": {"unknown_place": 2},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    page = build_report([run])
    warnings = re.findall(r"<li class='demand-warning'>(.*?)</li>", page)
    assert warnings == [
        "trip table trips.csv: 2 of 9 rows dropped: 2 unknown_place (a place name the network "
        "does not have); row numbers in manifest.json demand.dropped_rows"
    ]

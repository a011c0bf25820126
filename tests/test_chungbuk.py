"""The scenario set under scenarios/: every file validates and runs; the Chungbuk set runs as a
batch (scaled down), and the main effects point the right way."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mobisim
from mobisim.cli import app
from mobisim.errors import MobisimError, ScenarioError
from mobisim.experiments.batch import batch, scenario_files

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))
CHUNGBUK = ROOT / "scenarios" / "chungbuk"
#: the Chungbuk files at 2,000 residents (the full 42,000 take 20-60 s each; docs/tutorial-chungbuk.md)
SMALL = {"demand.synthetic.residents": 2000, "demand.synthetic.households": 800}
#: the batch's runs without their own charts (half of a small run's time): the batch report draws
#: its charts from the tables, and test_run_demo.py checks a run's charts
BATCH = {**SMALL, "outputs.charts": False}
EXPECTED = {
    "chungbuk-baseline",
    "chungbuk-phase-2019",
    "chungbuk-phase-2020",
    "chungbuk-drt-2030",
    "chungbuk-energy-pv",
    "chungbuk-energy-grid",
    "chungbuk-cheonan-carbon-neutral-shuttle",
    "chungbuk-gwangmyeong-ev-sharing",
    "chungbuk-transit-today",
    "chungbuk-transit-2020",
    "chungbuk-transit-2020-pm-feeder",
}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_every_scenario_file_validates(path):
    scenario = mobisim.load_scenario(path)
    assert scenario.name and scenario.enabled_services()
    assert scenario.template == (path.name == "base.yaml")  # only the Chungbuk base is one


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in SCENARIOS
        if p.parent.name == "scenarios" and p.stem not in ("demo", "demo-walk-car")
    ],
    ids=lambda p: p.stem,
)
def test_the_other_demo_files_run(path, tmp_path):
    """demo.yaml and demo-walk-car.yaml run at full size in test_run_demo.py; the rest here."""
    scenario = mobisim.load_scenario(
        path,
        overrides={
            "demand.synthetic.residents": 600,
            "demand.synthetic.households": 250,
            "outputs.charts": False,
        },
    )
    result = mobisim.run(scenario, out_dir=tmp_path)
    assert result.manifest["n_trips"] > 500
    assert result.kpis["system"]["served_share"] > 0.5


@pytest.fixture(scope="module")
def chungbuk(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    # two worker processes (the runs are independent; CI has 2 cores): the same runs, half the time
    return batch([CHUNGBUK], out_dir=out, overrides=BATCH, report=True, workers=2)


def _system(result, name: str) -> dict:
    row = result.runs.set_index("scenario").loc[name]
    return json.loads((Path(row["run_dir"]) / "kpis.json").read_text())["system"]


def test_the_chungbuk_batch_runs_every_scenario_but_the_template(chungbuk):
    runs = chungbuk.runs
    assert set(runs["scenario"]) == EXPECTED  # base.yaml (template: true) is skipped
    assert (runs["status"] == "ok").all(), runs.loc[runs["status"] != "ok", "error"].tolist()
    assert runs["scenario"].iloc[0] == "chungbuk-baseline" and runs["baseline"].iloc[0]
    assert runs["baseline"].sum() == 1
    for row in runs.itertuples():
        manifest = json.loads((Path(row.run_dir) / "manifest.json").read_text())
        assert manifest["n_trips"] > 2000
        assert Path(row.run_dir).parent.parent == chungbuk.batch_dir / "runs"
    folder = chungbuk.batch_dir
    assert folder.name == "chungbuk"
    stored = pd.read_parquet(folder / "batch.parquet")
    assert list(stored["scenario"]) == list(runs["scenario"])
    assert stored["system.trips"].notna().all()
    markdown = (folder / "comparison.md").read_text()
    for name in EXPECTED:
        assert name in markdown
    page = (folder / "report.html").read_text()
    assert page.count('data-chart="map_') == len(EXPECTED)
    assert "Baseline: <b>chungbuk-baseline</b>" in page
    assert not list(folder.rglob(".tmp*"))


def test_the_batch_started_again_runs_nothing_new(chungbuk):
    before = sorted(p.name for p in (chungbuk.batch_dir / "runs").glob("*/*"))
    again = batch([CHUNGBUK], out_dir=chungbuk.batch_dir.parent, overrides=BATCH, report=False)
    after = sorted(p.name for p in (chungbuk.batch_dir / "runs").glob("*/*"))
    assert after == before and len(before) == len(EXPECTED)
    assert list(again.runs["run_dir"]) == list(chungbuk.runs["run_dir"])


def test_shuttle_and_personal_mobility_lower_the_car_share(chungbuk):
    base = _system(chungbuk, "chungbuk-baseline")
    y2019 = _system(chungbuk, "chungbuk-phase-2019")
    y2020 = _system(chungbuk, "chungbuk-phase-2020")
    car = [s["mode_share"].get("car", 0.0) for s in (base, y2019, y2020)]
    assert car[1] < car[0] - 0.01 and car[2] < car[0] - 0.01, car
    assert y2019["private_car_km"] < base["private_car_km"]
    shared = [s["shared_ride_share"] for s in (base, y2019, y2020)]
    assert shared[1] > shared[0] and shared[2] > shared[1], shared


def test_pv_raises_the_solar_share_and_lowers_co2(chungbuk):
    pv = _system(chungbuk, "chungbuk-energy-pv")
    grid = _system(chungbuk, "chungbuk-energy-grid")
    phases = _system(chungbuk, "chungbuk-drt-2030")  # the 50 kWp canopy
    assert grid["solar_share"] == 0.0
    assert 0 < phases["solar_share"] < pv["solar_share"]
    assert pv["co2_kg"] < phases["co2_kg"] < grid["co2_kg"]
    # the same people make the same trips: only where the charging energy comes from differs
    assert pv["charged_kwh"] == pytest.approx(grid["charged_kwh"], rel=1e-9)
    assert pv["mode_share"] == grid["mode_share"]


def test_the_2024_variants_add_what_they_say(chungbuk):
    base = _system(chungbuk, "chungbuk-baseline")
    cheonan = _system(chungbuk, "chungbuk-cheonan-carbon-neutral-shuttle")
    assert cheonan["mode_share"].get("shuttle", 0) > 0
    assert cheonan["solar_share"] > 0.5  # the district shuttle charges mostly from its own PV
    ev = _system(chungbuk, "chungbuk-gwangmyeong-ev-sharing")
    assert ev["trips"] > base["trips"]  # the staff business trips
    assert ev["mode_share"].get("carsharing", 0) > 0


def test_more_vehicles_in_a_saturated_drt_fleet_lower_rejections(tmp_path):
    found, refused = [], []
    for vehicles in (1, 6):
        scenario = mobisim.load_scenario(
            CHUNGBUK / "drt-2030.yaml",
            overrides={**SMALL, "services.drt.vehicles": vehicles, "outputs.charts": False},
        )
        drt = mobisim.run(scenario, out_dir=tmp_path).kpis["by_service"]["drt"]
        found.append(drt["vehicle_found_share"])
        refused.append(drt["refused_at_departure"] + drt["rejected"])
    assert found[0] < 0.5, "one vehicle for the whole town is saturated"
    assert found[1] > found[0] and refused[1] < refused[0], (found, refused)


def test_batch_errors_name_the_file_and_lose_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: " + str(CHUNGBUK / "baseline.yaml") + "\nname: bad\nseed: -1\n")
    with pytest.raises(MobisimError, match=r"bad\.yaml.*seed"):
        batch([CHUNGBUK / "baseline.yaml", bad], out_dir=tmp_path / "out", overrides=SMALL)
    assert not (tmp_path / "out").exists()  # validated before anything ran or was written
    with pytest.raises(ScenarioError, match="baseline"):
        batch([CHUNGBUK / "baseline.yaml"], out_dir=tmp_path / "out", baseline="nope")
    with pytest.raises(ScenarioError, match="no scenario to run"):
        batch([CHUNGBUK / "base.yaml"], out_dir=tmp_path / "out")
    with pytest.raises(ScenarioError, match="not found"):
        scenario_files([tmp_path / "missing.yaml"])


def test_batch_command_line(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "batch",
            str(CHUNGBUK / "baseline.yaml"),
            str(CHUNGBUK / "cheonan-carbon-neutral-shuttle.yaml"),
            "--out",
            str(tmp_path),
            "--name",
            "pair",
            "--no-report",
            "--set",
            "demand.synthetic.residents=800",
            "--set",
            "demand.synthetic.households=300",
            "--set",
            "outputs.charts=false",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "ok chungbuk-baseline" in result.output
        and "cheonan-carbon-neutral-shuttle" in result.output
    )
    assert (tmp_path / "pair" / "comparison.csv").exists()
    assert not (tmp_path / "pair" / "report.html").exists()
    table = pd.read_csv(tmp_path / "pair" / "comparison.csv")
    assert {"chungbuk-baseline", "chungbuk-cheonan-carbon-neutral-shuttle"} <= set(table.columns)
    trips = table.loc[table["kpi"] == "Trips", "chungbuk-baseline"].iloc[0]
    assert math.isfinite(trips) and trips > 800


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_sweep_file_plans(path, tmp_path):
    from mobisim.experiments.planning import expand, load_sweep_file, plan

    config = load_sweep_file(path)
    sets = expand(config.grid, config.zip, config.runs)
    tasks = plan(path.parent / config.base, sets, config.replications, tmp_path)
    assert len(tasks) == len(sets) * config.replications
    assert len({t.fingerprint for t in tasks}) == len(tasks)

"""KPIs recomputed from a saved result folder equal the kpis.json written with it; the CLI commands."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from mobisim.cli.analysis import register_analysis_commands
from mobisim.errors import ResultsError
from mobisim.metrics.tables import kpi_meta, load_run, recompute_kpis
from mobisim.results.store import json_safe
from test_kpis_sample import META, sample_tables, write_run_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_run_folder(tmp_path_factory.mktemp("results"), sample_tables(), META)


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    register_analysis_commands(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def as_json(kpis):
    return json.loads(json.dumps(json_safe(kpis), sort_keys=True, allow_nan=False))


def test_recomputed_kpis_equal_kpis_json_exactly(run_dir):
    written = json.loads((run_dir / "kpis.json").read_text())
    tables = load_run(run_dir)
    assert set(tables) >= {"events", "trips", "vehicles", "nodes", "energy_legs", "manifest"}
    assert as_json(recompute_kpis(tables)) == written
    assert written["by_group"]["seniors"]["served_share"] is None  # NaN written as null


def test_kpi_meta_without_a_recorded_meta_comes_from_the_scenario_period():
    manifest = {"scenario_name": "x", "scenario": {"period": {"start": "05:00", "end": "24:00"}}}
    assert kpi_meta(manifest) == {
        "scenario": "x",
        "period_start_s": 5 * 3600.0,
        "period_end_s": 24 * 3600.0,
    }
    with pytest.raises(ResultsError, match="period"):
        kpi_meta({"scenario": {}})


def test_load_run_names_what_is_missing(tmp_path):
    with pytest.raises(ResultsError, match=r"no manifest\.json"):
        load_run(tmp_path)


def test_cli_kpis_prints_the_same_json_and_writes_the_long_table(run_dir, cli, tmp_path):
    result = cli("kpis", run_dir, "--parquet", tmp_path / "kpis.parquet")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads((run_dir / "kpis.json").read_text())
    long = pd.read_parquet(tmp_path / "kpis.parquet")
    assert list(long.columns) == ["scope", "key", "kpi", "value", "unit"]
    assert (long["scope"] == "system").sum() > 40


def test_cli_plot_writes_every_chart(run_dir, cli, tmp_path):
    result = cli("plot", run_dir, "--out", tmp_path / "charts")
    assert result.exit_code == 0, result.output
    names = {p.stem for p in (tmp_path / "charts").glob("*.png")}
    assert names >= {"mode_share", "wait", "hourly", "fleet_state", "occupancy", "energy", "map"}


def test_cli_export_gis_writes_layers_with_volumes_and_station_kpis(run_dir, cli, tmp_path):
    pyogrio = pytest.importorskip("pyogrio", reason="the gis extra is not installed")
    out = tmp_path / "run.gpkg"
    result = cli("export-gis", run_dir, "-o", out)
    assert result.exit_code == 0, result.output
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert layers == {"links", "stations", "trip_flows"}
    stations = pyogrio.read_dataframe(out, layer="stations")
    assert set(stations["station"]) == {"A", "B"}
    assert stations.set_index("station").loc["B", "full_share"] == pytest.approx(1 / 3)
    links = pyogrio.read_dataframe(out, layer="links")
    assert links["vehicles"].sum() == 7 and str(links.crs).endswith("4326")


def test_export_gis_without_geopandas_says_how_to_install(run_dir, monkeypatch, tmp_path):
    import builtins

    from mobisim.errors import MobisimError
    from mobisim.results import gis

    real_import = builtins.__import__

    def no_geopandas(name, *args, **kwargs):
        if name.startswith("geopandas"):
            raise ImportError("No module named 'geopandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_geopandas)
    with pytest.raises(MobisimError, match=r'pip install "mobisim\[gis\]"'):
        gis.export_gis(run_dir, tmp_path / "x.gpkg")

"""``mobisim network info | plot | fetch`` through the typer app."""

from __future__ import annotations

import json

import osmnx as ox
from typer.testing import CliRunner

from mobisim.cli.network import network_app

runner = CliRunner()


def test_info_synthetic_json():
    result = runner.invoke(network_app, ["info", "synthetic", "--nodes", "400", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["nodes"] == 400 and summary["strong_components"] == 1
    assert summary["places"] == 17 and summary["street_km"] > 50
    assert summary["speed_kph_min"] == 30.0 and summary["speed_kph_max"] == 80.0


def test_info_real_file_table(shared_networks):
    path = shared_networks / "west-oakland-osmnx-test.osm.bz2"
    result = runner.invoke(network_app, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert "22" in result.output and "scc_dropped_nodes: 6" in result.output


def test_plot_writes_png(tmp_path, shared_networks):
    out = tmp_path / "town.png"
    result = runner.invoke(network_app, ["plot", "synthetic", "--nodes", "300", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = tmp_path / "nootdorp.png"
    result = runner.invoke(
        network_app, ["plot", str(shared_networks / "nootdorp-maassim.graphml"), "-o", str(out2)]
    )
    assert result.exit_code == 0 and out2.stat().st_size > 10_000


def test_errors_exit_1(tmp_path):
    result = runner.invoke(network_app, ["info", str(tmp_path / "missing.osm")])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(network_app, ["fetch", "--bbox", "1,2,3"])
    assert result.exit_code == 1 and "west,south,east,north" in result.output


def test_fetch_caches(tmp_path, shared_networks, monkeypatch):
    graph = ox.load_graphml(shared_networks / "nootdorp-maassim.graphml")
    monkeypatch.setattr(ox, "graph_from_place", lambda query, **kw: graph.copy())
    args = ["fetch", "--place", "Nootdorp", "--cache-dir", str(tmp_path)]
    first = runner.invoke(network_app, args)
    second = runner.invoke(network_app, args)
    assert first.exit_code == 0 and "downloaded" in first.output
    assert "already cached" in second.output and len(list(tmp_path.glob("*.graphml"))) == 1

"""The demo end to end: result folder, determinism, atomic writes, KPIs recomputed from the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mobisim
from mobisim.errors import ScenarioError
from mobisim.metrics.tables import load_run, recompute_kpis
from mobisim.results import store

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
SMALL = {"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=out)


def test_demo_writes_its_result_folder(demo_run):
    run_dir = demo_run.run_dir
    for name in (
        "manifest.json",
        "events.parquet",
        "trips.parquet",
        "vehicles.parquet",
        "kpis.json",
        "charts/mode_share.png",
    ):
        assert (run_dir / name).exists(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == mobisim.api.fingerprint(demo_run.scenario)
    assert manifest["n_events"] == len(demo_run.events) > 0
    assert set(manifest["versions"]) == set(store.KEY_DEPENDENCIES)
    assert manifest["seed"] == 42 and manifest["scenario"]["name"] == "demo"
    assert manifest["scenario"]["demand"]["synthetic"]["residents"] == 1500
    assert manifest["wall_time_s"] > 0 and manifest["demand"]
    assert manifest["kpi_meta"]["services"] == ["walk", "car"]
    assert run_dir.name.endswith(f"-{manifest['fingerprint'][:10]}-s42")
    assert not list(run_dir.parent.glob(".tmp-*"))


def test_every_trip_has_one_status_and_a_walk_car_split(demo_run):
    trips = demo_run.trips
    assert trips["status"].isin(["completed", "fallback", "unserved"]).all()
    assert trips["trip_id"].is_unique
    shares = demo_run.kpis["system"]["mode_share"]
    assert 0.1 < shares["car"] < 0.9 and 0.1 < shares["walk"] < 0.9
    ended = demo_run.events[demo_run.events["event"] == "trip_end"]
    assert sorted(ended["trip_id"]) == sorted(trips["trip_id"])


def test_kpis_recomputed_from_the_folder_equal_kpis_json(demo_run):
    written = json.loads((demo_run.run_dir / "kpis.json").read_text())
    recomputed = json.loads(
        json.dumps(store.json_safe(recompute_kpis(load_run(demo_run.run_dir))), sort_keys=True)
    )
    assert recomputed == written


def test_same_scenario_and_seed_give_byte_identical_tables(demo_run, tmp_path):
    again = mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path)
    for name in ("events.parquet", "trips.parquet", "vehicles.parquet"):
        assert (again.run_dir / name).read_bytes() == (demo_run.run_dir / name).read_bytes(), name
    other = mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path, seed=7)
    assert (other.run_dir / "events.parquet").read_bytes() != (
        demo_run.run_dir / "events.parquet"
    ).read_bytes()


def test_a_failing_run_leaves_no_result_folder(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "write_json", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path)
    assert not any(p for p in (tmp_path / "demo").iterdir())


def test_an_interrupted_run_leaves_no_result_folder(tmp_path):
    def interrupt(now_s):
        if now_s > 8 * 3600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mobisim.run(
            mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path, progress=interrupt
        )
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())


def test_events_can_be_left_out_and_a_path_can_be_run(tmp_path):
    lean = DEMO.parent / "demo-variant.yaml"
    result = mobisim.run(lean, out_dir=tmp_path)
    assert result.run_dir.parent == tmp_path / "demo-variant"
    assert result.scenario.period.end_s == 22 * 3600
    overrides = {**SMALL, "outputs.write_events": False, "outputs.charts": False}
    result = mobisim.run(mobisim.load_scenario(DEMO, overrides=overrides), out_dir=tmp_path)
    assert not (result.run_dir / "events.parquet").exists()
    assert (result.run_dir / "trips.parquet").exists() and not (result.run_dir / "charts").exists()
    assert len(result.events) > 0  # still returned in memory


def test_a_bad_seed_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="seed"):
        mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path, seed=-1)
    assert not (tmp_path / "demo").exists()

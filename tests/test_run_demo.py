"""The demo end to end: result folder, determinism, atomic writes, KPIs recomputed from the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import mobisim
from mobisim.errors import ScenarioError
from mobisim.metrics.tables import load_run, recompute_kpis
from mobisim.results import store

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
SMALL = {"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}


#: the steps the demo run reported to its ``stage`` callback, with whether the charts existed then
DEMO_STAGES: list[tuple[str, bool]] = []


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")

    def stage(name: str) -> None:
        DEMO_STAGES.append((name, any(out.glob("**/charts/map.png"))))

    return mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=out, stage=stage)


def test_the_run_reports_each_step_until_the_charts_are_written(demo_run):
    assert [name for name, _ in DEMO_STAGES] == list(mobisim.api.RUN_STAGES)
    charts_then = dict(DEMO_STAGES)
    assert not charts_then["charts"]  # announced before they are drawn ...
    assert charts_then["done"]  # ... and "done" only once they are written
    from mobisim.cli.app import STAGE_LABELS

    assert set(STAGE_LABELS) == set(mobisim.api.RUN_STAGES)


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
    assert manifest["kpi_meta"]["services"] == [
        "walk",
        "car",
        "shuttle",
        "drt",
        "carshare",
        "scooters",
        "bikes",
    ]
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
    # the repeats draw no charts (the tables cannot depend on them): that is most of their time
    quick = {**SMALL, "outputs.charts": False}
    again = mobisim.run(mobisim.load_scenario(DEMO, overrides=quick), out_dir=tmp_path)
    for name in ("events.parquet", "trips.parquet", "vehicles.parquet"):
        assert (again.run_dir / name).read_bytes() == (demo_run.run_dir / name).read_bytes(), name
    other = mobisim.run(mobisim.load_scenario(DEMO, overrides=quick), out_dir=tmp_path, seed=7)
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
    lean = tmp_path / "lean.yaml"  # demo-variant, smaller and without charts, run by its path
    lean.write_text(
        f"extends: {DEMO.parent / 'demo-variant.yaml'}\nname: demo-variant\n"
        "demand: {synthetic: {residents: 1500, households: 600}}\noutputs: {charts: false}\n"
    )
    result = mobisim.run(lean, out_dir=tmp_path)
    assert result.run_dir.parent == tmp_path / "demo-variant"
    assert result.scenario.period.end_s == 22 * 3600
    overrides = {**SMALL, "outputs.write_events": False, "outputs.charts": False}
    stages: list[str] = []
    result = mobisim.run(
        mobisim.load_scenario(DEMO, overrides=overrides), out_dir=tmp_path, stage=stages.append
    )
    assert stages == [s for s in mobisim.api.RUN_STAGES if s != "charts"]
    assert not (result.run_dir / "events.parquet").exists()
    assert (result.run_dir / "trips.parquet").exists() and not (result.run_dir / "charts").exists()
    assert len(result.events) > 0  # still returned in memory


def test_a_bad_seed_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="seed"):
        mobisim.run(mobisim.load_scenario(DEMO, overrides=SMALL), out_dir=tmp_path, seed=-1)
    assert not (tmp_path / "demo").exists()


# ---------------------------------------------------------------- the demo's shared services

WALK_CAR = DEMO.parent / "demo-walk-car.yaml"
SHARED = ("shuttle", "drt", "carshare", "scooters", "bikes")


@pytest.fixture(scope="module")
def walk_car_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results-walk-car")
    return mobisim.run(mobisim.load_scenario(WALK_CAR, overrides=SMALL), out_dir=out)


def test_every_shared_service_of_the_demo_serves_trips(demo_run):
    by_service = demo_run.kpis["by_service"]
    for name in ("shuttle", "drt", "scooters", "bikes"):
        assert by_service[name]["served"] > 0, name
    assert set(SHARED) <= set(demo_run.trips["service"].astype(str)) | {"carshare"}


def test_shared_services_change_the_mode_split_of_the_walk_and_car_town(demo_run, walk_car_run):
    before = walk_car_run.kpis["system"]["mode_share"]
    after = demo_run.kpis["system"]["mode_share"]
    assert set(before) <= {"walk", "car", "walk_fallback", "car_fallback", "unserved"}
    shared = sum(after.get(m, 0.0) for m in ("shuttle", "drt", "escooter", "bike", "carsharing"))
    assert shared > 0.05
    assert after["car"] < before["car"]
    assert after["walk"] + after.get("walk_fallback", 0) < before["walk"] + before.get(
        "walk_fallback", 0
    )
    assert demo_run.trips["trip_id"].tolist() == walk_car_run.trips["trip_id"].tolist()


def test_the_demo_reports_energy_and_co2_against_the_private_car_counterfactual(demo_run):
    tables = demo_run.tables
    counterfactual = tables["energy_counterfactual"].set_index("service")
    everyone = counterfactual.loc["all"]
    assert everyone["trips"] == len(demo_run.trips)
    assert 0 < everyone["energy_kwh"] < everyone["counterfactual_energy_kwh"]
    assert 0 < everyone["co2_kg"] < everyone["counterfactual_co2_kg"]
    system = demo_run.kpis["system"]
    assert system["co2_kg"] == pytest.approx(everyone["co2_kg"], rel=1e-6)
    # the PV depot charges the shuttles and the DRT fleet; other services see none of its PV
    for name in ("shuttle", "drt"):
        service = demo_run.kpis["by_service"][name]
        assert service["charging_sessions"] > 0 and 0 < service["solar_share"] <= 1
    assert demo_run.kpis["by_service"]["carshare"]["pv_kwh"] == 0
    assert tables["energy_pv"]["pv_kw"].max() > 0
    assert tables["energy_balance"]["residual_kwh"].abs().max() < 1e-6


def test_the_run_folder_has_the_tidy_kpis_the_links_and_the_refusals(demo_run):
    from mobisim.metrics.kpis import kpis_long

    run_dir = demo_run.run_dir
    tidy = pd.read_parquet(run_dir / "kpis.parquet")
    assert len(tidy) == len(kpis_long(demo_run.kpis)) > 100
    links = pd.read_parquet(run_dir / "links.parquet")
    n_nodes = demo_run.manifest["network"]["nodes"]
    assert len(links) >= n_nodes and links[["from_node", "to_node"]].lt(n_nodes).all().all()
    assert not links.duplicated(["from_node", "to_node"]).any()
    refusals = pd.read_parquet(run_dir / "refusals.parquet")
    assert set(refusals.columns) == {"service", "reason", "trips"}
    assert (refusals["trips"] > 0).all()


def test_availability_counts_commuters_with_no_vehicle_in_reach(demo_run):
    """vehicle_found_share = (requests − no-vehicle failures) / (requests + no-vehicle refusals)."""
    refusals = demo_run.tables["refusals"]
    events = demo_run.events
    for name in ("scooters", "bikes"):
        mine = refusals[(refusals["service"] == name) & refusals["reason"].str.contains("no_")]
        refused = int(mine.loc[mine["reason"].str.contains("no_vehicle"), "trips"].sum())
        assert refused > 0  # some commuters had no device within the walk limit
        rows = events[events["service"].astype(str) == name]
        requests = int((rows["event"] == "mode_choice").sum())
        failed = rows[(rows["event"] == "fallback") & rows["detail"].str.contains("no_vehicle")]
        expected = (requests - len(failed)) / (requests + refused)
        kpis = demo_run.kpis["by_service"][name]
        assert kpis["vehicle_found_share"] == pytest.approx(expected)
        assert kpis["vehicle_found_share"] < 0.5
        assert kpis["refused_at_departure"] == int(
            refusals.loc[refusals["service"] == name, "trips"].sum()
        )


def test_detour_factors_use_the_direct_drive_time_of_each_trip(demo_run):
    trips = demo_run.trips
    assert trips["direct_s"].notna().mean() > 0.95
    drt = trips[(trips["service"] == "drt") & (trips["status"] != "unserved")]
    factors = drt["in_vehicle_s"] / drt["direct_s"]
    assert demo_run.kpis["by_service"]["drt"]["detour_factor_mean"] == pytest.approx(
        factors[drt["direct_s"] > 0].mean()
    )
    assert (factors >= 0.99).all()  # nobody rides faster than the direct drive


def test_a_run_leaves_no_garbage_cycles_behind(tmp_path, monkeypatch):
    """The network, router and services of a finished run are freed when run() returns, even
    with the collector's automatic passes off (a sweep worker runs many in a row)."""
    import gc
    import weakref

    from mobisim.network import router as router_module
    from mobisim.network.router import Router

    made = []

    class TrackedRouter(Router):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(router_module, "Router", TrackedRouter)
    overrides = {**SMALL, "outputs.charts": False}
    scenario = mobisim.load_scenario(DEMO, overrides=overrides)
    gc.disable()
    try:
        result = mobisim.run(scenario, out_dir=tmp_path)
        assert len(made) == 1
        assert made[0]() is None  # collected, not waiting for a full pass of the collector
    finally:
        gc.enable()
    assert len(result.trips) > 0  # what run() returns stays

"""``mobisim check``: the run invariants pass on the demo and on a Chungbuk run, and each one
fails on a copy of the folder with a table edited to break it (and only that one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mobisim
from mobisim.cli import app
from mobisim.errors import SimulationError
from mobisim.events import read_events, write_events
from mobisim.metrics.invariants import check_run, check_tables, require_ok

ROOT = Path(__file__).resolve().parents[1]
CHECKS = {
    "one_final_status",
    "occupancy",
    "soc_range",
    "energy_balance",
    "legs_connected",
    "fleet_conserved",
    "non_negative_times",
}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("check-demo")
    scenario = mobisim.load_scenario(
        ROOT / "scenarios" / "demo.yaml",
        overrides={
            "demand.synthetic.residents": 2000,
            "demand.synthetic.households": 750,
            "outputs.charts": False,
        },
    )
    return mobisim.run(scenario, out_dir=out, check=False).run_dir


def _by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_the_demo_passes_every_check_with_rows_to_check(demo_dir):
    checks = _by_name(check_run(demo_dir))
    assert set(checks) == CHECKS
    failed = [c.line() for c in checks.values() if not c.passed]
    assert not failed, failed
    for name in CHECKS - {"fleet_conserved"}:
        assert checks[name].checked > 100, name  # every check saw rows of its kind
    assert checks["fleet_conserved"].checked == 3  # car-sharing, scooters, bikes


def test_a_chungbuk_run_passes_every_check(tmp_path):
    scenario = mobisim.load_scenario(
        ROOT / "scenarios" / "chungbuk" / "drt-2030.yaml",
        overrides={
            "demand.synthetic.residents": 2500,
            "demand.synthetic.households": 900,
            "outputs.charts": False,
        },
    )
    result = mobisim.run(scenario, out_dir=tmp_path, check=False)
    checks = check_run(result.run_dir)
    assert all(c.passed for c in checks), [c.line() for c in checks if not c.passed]
    assert _by_name(checks)["energy_balance"].checked >= 12  # the DRT fleet at least


# ---------------------------------------------------------------------------- broken copies


def _copy(demo_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(demo_dir, copy)
    return copy


def _edit_events(run: Path, edit) -> None:
    events = read_events(run / "events.parquet")
    write_events(edit(events).reset_index(drop=True), run / "events.parquet")


def _edit_table(run: Path, name: str, edit) -> None:
    frame = pd.read_parquet(run / f"{name}.parquet")
    edit(frame).to_parquet(run / f"{name}.parquet", index=False)


def _only_failure(run: Path) -> str:
    failed = [c for c in check_run(run) if not c.passed]
    assert len(failed) == 1, [c.line() for c in failed]
    assert failed[0].worst and failed[0].failures >= 1
    return failed[0].name


def test_a_second_trip_end_breaks_one_final_status(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)

    def twice(events):
        end = events[events["event"] == "trip_end"].iloc[[0]]
        return pd.concat([events, end])

    _edit_events(run, twice)
    assert _only_failure(run) == "one_final_status"


def test_a_smaller_capacity_breaks_occupancy(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)
    events = read_events(run / "events.parquet")
    boards = events[events["event"] == "board"]
    busiest = int(boards.loc[boards["pax"].idxmax(), "vehicle_id"])
    assert boards["pax"].max() >= 2

    def smaller(vehicles):
        vehicles.loc[vehicles["vehicle_id"] == busiest, "capacity_pax"] = 1
        return vehicles

    _edit_table(run, "vehicles", smaller)
    assert _only_failure(run) == "occupancy"


def test_a_charge_above_the_battery_breaks_soc_range(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)

    def overfull(vehicles):  # both ends raised alike: the balance still holds
        i = vehicles["initial_soc_kwh"].first_valid_index()
        extra = vehicles.loc[i, "battery_kwh"]
        vehicles.loc[i, ["initial_soc_kwh", "final_soc_kwh"]] += extra
        return vehicles

    _edit_table(run, "vehicles", overfull)
    assert _only_failure(run) == "soc_range"


def test_a_longer_leg_breaks_the_energy_balance(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)
    vehicles = pd.read_parquet(run / "vehicles.parquet")
    tracked = set(vehicles.loc[vehicles["initial_soc_kwh"].notna(), "vehicle_id"])

    def longer(events):
        legs = events[
            (events["event"] == "vehicle_leg")
            & events["vehicle_id"].isin(tracked)
            & (events["distance_m"] > 500)
        ]
        events.loc[legs.index[0], "distance_m"] *= 5  # drew less than this leg now needs
        return events

    _edit_events(run, longer)
    assert _only_failure(run) == "energy_balance"


@pytest.mark.parametrize("how", ["jump", "overlap"])
def test_a_moved_or_early_row_breaks_legs_connected(demo_dir, tmp_path, how):
    run = _copy(demo_dir, tmp_path)

    def broken(events):
        dwells = events[
            (events["event"] == "vehicle_dwell")
            & (events["vehicle_id"] >= 0)
            & (events["duration_s"] > 120)
            & (events["time_s"] > 8 * 3600)
        ]
        i = dwells.index[0]
        if how == "jump":  # stands somewhere it never drove to (a node of another vehicle)
            other = events.loc[events["vehicle_id"] != events.loc[i, "vehicle_id"], "node"]
            events.loc[i, "node"] = int(other[other != events.loc[i, "node"]].iloc[0])
        else:  # starts a minute before the row before it ended
            events.loc[i, "time_s"] -= 60.0
            events.loc[i, "duration_s"] += 60.0
        return events

    _edit_events(run, broken)
    name = _only_failure(run) if how == "jump" else None
    if how == "overlap":  # a dwell a minute longer also draws a little more standby energy
        failed = {c.name for c in check_run(run) if not c.passed}
        assert "legs_connected" in failed and failed <= {"legs_connected", "energy_balance"}
    else:
        assert name == "legs_connected"


def test_a_lost_drop_off_breaks_fleet_conservation(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)

    def lost(events):
        drop = events[(events["event"] == "dropoff") & (events["service"] == "scooters")]
        return events.drop(index=drop.index[0])

    _edit_events(run, lost)
    assert _only_failure(run) == "fleet_conserved"


def test_a_negative_wait_breaks_non_negative_times(demo_dir, tmp_path):
    run = _copy(demo_dir, tmp_path)

    def negative(trips):
        trips.loc[trips.index[3], "wait_s"] = -5.0
        return trips

    _edit_table(run, "trips", negative)
    assert _only_failure(run) == "non_negative_times"
    worst = next(c for c in check_run(run) if not c.passed).worst
    assert "wait_s = -5" in worst


# ---------------------------------------------------------------------------- the command


def test_mobisim_check_prints_the_table_and_exits_1_on_a_failure(demo_dir, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["check", str(demo_dir)])
    assert ok.exit_code == 0, ok.output
    for name in CHECKS:
        assert name in ok.output
    assert "FAIL" not in ok.output and ok.output.count("PASS") == len(CHECKS)
    run = _copy(demo_dir, tmp_path)
    _edit_table(run, "trips", lambda t: t.assign(wait_s=t["wait_s"] - 1e6))
    bad = runner.invoke(app, ["check", str(run)])
    assert bad.exit_code == 1 and "FAIL" in bad.output and "non_negative_times" in bad.output


def test_a_run_that_breaks_an_invariant_fails_and_leaves_no_folder(tmp_path, monkeypatch):
    """The suite's runs check themselves (MOBISIM_CHECK_RUNS=1 in conftest): a broken table is a
    SimulationError naming the check, before the folder is complete."""
    import mobisim.metrics.invariants as invariants

    real = invariants.check_tables

    def broken(tables):
        trips = tables["trips"].copy()
        trips.loc[trips.index[0], "wait_s"] = -1.0
        return real({**tables, "trips": trips})

    monkeypatch.setattr(invariants, "check_tables", broken)
    scenario = mobisim.load_scenario(
        ROOT / "scenarios" / "demo-walk-car.yaml",
        overrides={"demand.synthetic.residents": 300, "demand.synthetic.households": 120},
    )
    with pytest.raises(SimulationError, match="non_negative_times"):
        mobisim.run(scenario, out_dir=tmp_path)
    assert not list(tmp_path.rglob("manifest.json")) and not list(tmp_path.rglob(".tmp-*"))


def test_require_ok_names_every_failed_check(demo_dir):
    from mobisim.metrics.tables import load_run

    tables = load_run(demo_dir)
    tables["trips"] = tables["trips"].assign(status="completed").iloc[:-5]
    with pytest.raises(SimulationError) as info:
        require_ok(check_tables(tables), "demo")
    assert "one_final_status: FAIL" in str(info.value) and str(info.value).startswith("demo:")

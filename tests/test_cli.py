"""The command line: validate, run, --version, mounted commands, one clear message on errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mobisim import __version__
from mobisim.api import throttled
from mobisim.cli import app

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mobisim {__version__}"


def test_validate_ok_with_overrides():
    result = invoke("validate", str(DEMO), "--set", "services.car.parking_search_min=4")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("network check: 25 places snapped")  # then the file
    assert "\nok " in result.stdout and "services: walk (walk), car (private_car)" in (
        result.stdout
    )
    assert "fingerprint " in result.stdout


def test_validate_bad_file_prints_every_problem_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'name: x\nsed: 3\nperiod: {start: "7h30"}\n'
        "services: [{name: car, type: private_car, parking_search_min: -1}]\n"
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"error: {bad}: ") for line in lines)
    assert any("sed: unknown key 'sed'; did you mean 'seed'?" in line for line in lines)
    assert any("period.start: expected a clock time" in line for line in lines)
    assert any("services.car.parking_search_min:" in line for line in lines)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_set_and_missing_file_are_one_clear_line(tmp_path):
    result = invoke("validate", str(DEMO), "--set", "services.bus.headway_min=5")
    assert result.exit_code == 1
    assert "services.bus: no block named 'bus'" in result.stderr
    result = invoke("run", str(tmp_path / "no-such-file.yaml"))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'no-such-file.yaml'}: file not found"


def test_debug_shows_the_exception(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsed: 3\n")
    for args in (["--debug", "validate", str(bad)], ["validate", str(bad), "--debug"]):
        result = invoke(*args)
        assert result.exit_code == 1
        assert type(result.exception).__name__ == "ScenarioError"


def test_a_bug_is_one_line_with_a_hint_and_exit_2(monkeypatch):
    def broken(path, overrides=None, **options):
        raise ValueError("something [odd] happened")

    monkeypatch.setattr("mobisim.api.load_scenario", broken)
    result = invoke("validate", str(DEMO))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "internal error: ValueError: something [odd] happened (run with --debug for the traceback)"
    )
    assert isinstance(invoke("--debug", "validate", str(DEMO)).exception, ValueError)


def test_a_usage_error_is_typer_s_message_not_an_internal_error():
    result = invoke("run", str(DEMO), "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.output and "internal error" not in result.output


def test_the_cli_does_not_need_click():
    """typer >= 0.2x carries its own click; click itself is installed only by the dask extra."""
    code = (
        "import sys\n"
        "sys.modules['click'] = None  # any 'import click' now fails\n"
        "from mobisim.cli import main\n"
        "sys.argv = ['mobisim', '--version']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"mobisim {__version__}"


def test_run_writes_a_result_folder_and_kpis_recompute(tmp_path):
    result = invoke(
        "run",
        str(DEMO),
        "--set",
        "demand.synthetic.residents=800",
        "--set",
        "demand.synthetic.households=300",
        "--seed",
        "5",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    run_dirs = list((tmp_path / "demo").iterdir())
    assert len(run_dirs) == 1 and run_dirs[0].name.endswith("-s5")
    assert f"results: {run_dirs[0]}" in result.stdout and "mode share: " in result.stdout
    kpis = invoke("kpis", str(run_dirs[0]))
    assert kpis.exit_code == 0, kpis.output
    written = json.loads((run_dirs[0] / "kpis.json").read_text())
    assert json.loads(kpis.stdout)["system"]["trips"] == written["system"]["trips"]


def test_progress_is_throttled_to_wall_time_and_a_moving_clock(monkeypatch):
    wall = iter([0.0, 0.05, 0.3, 0.31, 0.9, 2.0])
    monkeypatch.setattr("mobisim.api.time.monotonic", lambda: next(wall))
    seen: list[float] = []
    progress = throttled(seen.append, interval_s=0.2)
    for now_s in (18000.0, 18900.0, 19800.0, 19800.0, 19800.0, 21600.0):
        progress(now_s)
    # 18900 came 0.05 s after the first call; the clock did not move at 0.31 s and 0.9 s
    assert seen == [18000.0, 19800.0, 21600.0]


def test_other_commands_are_mounted():
    names = set(invoke("--help").stdout.split())
    assert {"validate", "run", "network", "gtfs", "kpis", "compare", "plot", "report"} <= names


def test_python_dash_m_and_traceback_only_with_debug(tmp_path):
    version = subprocess.run(
        [sys.executable, "-m", "mobisim", "--version"], capture_output=True, text=True
    )
    assert (version.returncode, version.stdout.strip()) == (0, f"mobisim {__version__}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsed: 3\n")
    plain = subprocess.run(
        [sys.executable, "-m", "mobisim", "validate", str(bad)], capture_output=True, text=True
    )
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert "did you mean 'seed'" in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "mobisim", "validate", str(bad), "--debug"],
        capture_output=True,
        text=True,
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def table_scenario(tmp_path: Path) -> Path:
    """A walk-and-car morning on the synthetic town whose trip table has two bad rows (dropped)."""
    (tmp_path / "trips.csv").write_text(
        "origin_place,dest_place,depart,group\n"
        "residential_nw,public_institutions,07:40,workers\n"
        "atlantis,public_institutions,07:45,workers\n"  # unknown place
        "residential_nw,town_centre,03:00,workers\n"  # outside the period
        "town_centre,bus_terminal,08:10,shoppers\n"
    )
    path = tmp_path / "table.yaml"
    path.write_text(
        'name: table\nperiod: {start: "06:00", end: "10:00"}\nnetwork: {source: synthetic}\n'
        "demand: {trip_table: {file: trips.csv, on_bad_rows: drop}}\n"
        "services: [{name: walk, type: walk}, {name: car, type: private_car}]\n"
    )
    return path


def test_run_says_which_demand_rows_were_dropped_and_quiet_prints_only_the_folder(tmp_path):
    scenario = table_scenario(tmp_path)
    result = invoke("run", str(scenario), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: trip table trips.csv: 2 of 4 rows dropped: 1 outside_period (depart is "
        "outside the simulated period), 1 unknown_place (a place name the network does not "
        "have); row numbers in manifest.json demand.dropped_rows"
    ]
    assert "mode share: " in result.stdout
    quiet = invoke("run", str(scenario), "--out", str(tmp_path / "quiet"), "--quiet")
    assert quiet.exit_code == 0, quiet.output
    (run_dir,) = (tmp_path / "quiet" / "table").iterdir()
    assert quiet.stdout.strip() == str(run_dir)  # the folder and nothing else
    assert "warning: trip table trips.csv: 2 of 4 rows dropped" in quiet.stderr


def test_demand_warnings_of_a_synthetic_population():
    from mobisim.demand.trips import demand_warnings

    report = {
        "source": "synthetic",
        "dropped": {"origin_equals_destination": 3},
        "external": {"rail": {"persons": 0, "tours": 0}, "industry": {"persons": 9, "tours": 9}},
        "skipped_kinds": {"rail": ["rail_station"], "students": ["university"]},
        "clipped_times": 0,
    }
    assert demand_warnings(report) == [
        "demand: 3 tours dropped: origin and destination are the same node",
        "demand flow 'rail' dropped, it sends nobody: the network has no entry place of kind "
        "rail_station",
        "demand 'students': place kinds skipped (the network has no place of that kind): "
        "university",
    ]
    clean = {"source": "synthetic", "dropped": {"origin_equals_destination": 0}}
    assert demand_warnings(clean) == []


def test_latest_is_the_newest_run_and_kpis_table_is_readable(tmp_path):
    scenario = table_scenario(tmp_path)
    out = tmp_path / "out"
    for seed in ("1", "2"):
        assert invoke("run", str(scenario), "--out", str(out), "--seed", seed, "-q").exit_code == 0
    newest = sorted(p for p in (out / "table").iterdir())[-1]
    assert newest.name.endswith("-s2")
    latest = invoke("kpis", str(out / "table" / "latest"))
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout) == json.loads(invoke("kpis", str(newest)).stdout)
    shown = invoke("kpis", str(out / "table" / "latest"), "--table")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert f"run {newest}" in text
    assert "table: system" in text and "table: by service" in text and "table: by group" in text
    kpis = json.loads((newest / "kpis.json").read_text())
    trips_row = next(line for line in text.splitlines() if "│ Trips " in line)
    assert trips_row.split("│")[2].strip() == "trips"  # the unit column
    assert trips_row.split("│")[3].strip() == str(kpis["system"]["trips"])
    door = kpis["system"]["door_to_door_served_mean_s"] / 60
    door_row = next(line for line in text.splitlines() if "served trips, mean" in line)
    assert door_row.split("│")[3].strip() == f"{door:.3g}"  # minutes, three digits
    assert "shoppers" in text and "workers" in text  # the groups
    missing = invoke("kpis", str(tmp_path / "nothing" / "latest"))
    assert missing.exit_code == 1 and "no run folder to stand for 'latest'" in missing.stderr

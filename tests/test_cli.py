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
    assert result.stdout.startswith("ok ") and "services: walk (walk), car (private_car)" in (
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

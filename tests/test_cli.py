"""The command line: validate, run, kpis, version, and one clear message on errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"


def mobisim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mobisim", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_version():
    result = mobisim("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mobisim ")


def test_validate_ok_and_bad(tmp_path):
    ok = mobisim("validate", str(DEMO), "--set", "services.car.parking_search_min=4")
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout and "fingerprint" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsed: 3\n")
    result = mobisim("validate", str(bad))
    assert result.returncode == 1
    assert "sed" in result.stderr and "did you mean 'seed'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" in mobisim("--debug", "validate", str(bad)).stderr


def test_run_then_kpis(tmp_path):
    result = mobisim(
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
    assert result.returncode == 0, result.stderr
    run_dirs = list((tmp_path / "demo").iterdir())
    assert len(run_dirs) == 1 and run_dirs[0].name.endswith("-s5")
    kpis = mobisim("kpis", str(run_dirs[0]))
    assert kpis.returncode == 0, kpis.stderr
    assert (
        json.loads(kpis.stdout)["system"]["trips"]
        == json.loads((run_dirs[0] / "kpis.json").read_text())["system"]["trips"]
    )


def test_missing_scenario_file_is_one_line():
    result = mobisim("run", "no-such-file.yaml")
    assert result.returncode == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr

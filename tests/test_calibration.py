"""mobisim calibrate: recover known mode constants on a tiny town (walk, car, shuttle; ~640 trips)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import mobisim
from mobisim.cli import app
from mobisim.errors import CalibrationError, ScenarioError
from mobisim.experiments.calibration import (
    DaySimulator,
    calibrate,
    check_targets,
    overlay_text,
    read_targets,
    scenario_modes,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DEMO = SCENARIOS / "demo.yaml"
TINY = {
    "demand.synthetic.residents": 400,
    "demand.synthetic.households": 150,
    "network.synthetic.target_nodes": 300,
    "services.drt.enabled": False,
    "services.carshare.enabled": False,
    "services.scooters.enabled": False,
    "services.bikes.enabled": False,
    "energy.enabled": False,
}
KNOWN = {"walk": 0.0, "car": -0.8, "shuttle": 0.7}
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def tiny():
    return mobisim.load_scenario(DEMO, overrides=TINY)


@pytest.fixture(scope="module")
def simulator(tiny):
    return DaySimulator(tiny)


@pytest.fixture(scope="module")
def known_shares(simulator):
    return simulator.shares(KNOWN)


@pytest.fixture(scope="module")
def fit(tiny, known_shares):
    return calibrate(tiny, known_shares, tolerance=TOLERANCE, max_iterations=15)


def write_targets(path: Path, shares: dict[str, float]) -> Path:
    path.write_text("mode,share\n" + "".join(f"{m},{s}\n" for m, s in shares.items()))
    return path


def test_the_tiny_town_has_three_modes_and_the_constants_move_the_shares(
    tiny, simulator, known_shares
):
    assert scenario_modes(tiny) == ["walk", "car", "shuttle"]
    default = simulator.shares({})
    assert sum(known_shares.values()) == pytest.approx(1.0)
    # the known constants make the car rarer and the shuttle commoner than the defaults (all 0)
    assert known_shares["car"] < default["car"] - 0.03
    assert known_shares["shuttle"] > default["shuttle"]


def test_same_constants_same_shares(simulator):
    assert simulator.shares(KNOWN) == simulator.shares(KNOWN)  # common random numbers


def test_calibration_recovers_the_known_shares_and_constants(fit, known_shares):
    report = fit.report.set_index("mode")
    for mode, share in known_shares.items():
        assert abs(report.loc[mode, "simulated"] - share) <= TOLERANCE
    assert fit.reference == "walk" and fit.asc["walk"] == 0.0
    assert fit.asc["car"] == pytest.approx(KNOWN["car"], abs=0.25)
    assert fit.asc["shuttle"] == pytest.approx(KNOWN["shuttle"], abs=0.35)
    assert fit.iterations == len(fit.history) >= 2
    assert fit.history["max_gap"].iloc[-1] <= TOLERANCE < fit.history["max_gap"].iloc[0]


def test_a_fit_that_cannot_converge_is_a_clear_error(tiny, known_shares):
    with pytest.raises(CalibrationError, match=r"did not reach a tolerance of 0\.0001 in 1 iter"):
        calibrate(tiny, known_shares, tolerance=0.0001, max_iterations=1)


def test_targets_must_sum_to_one_and_name_the_scenario_modes(tmp_path, tiny):
    bad_sum = write_targets(tmp_path / "sum.csv", {"walk": 0.5, "car": 0.3, "shuttle": 0.1})
    with pytest.raises(
        ScenarioError, match=r"sum.csv: share: expected shares summing to 1 \(got 0.9000\)"
    ):
        read_targets(bad_sum)
    bad_share = write_targets(tmp_path / "neg.csv", {"walk": 1.2, "car": -0.2})
    with pytest.raises(ScenarioError, match="row 3: expected a share > 0"):
        read_targets(bad_share)
    (tmp_path / "cols.csv").write_text("mode,pct\nwalk,100\n")
    with pytest.raises(ScenarioError, match="expected columns mode, share"):
        read_targets(tmp_path / "cols.csv")
    with pytest.raises(ScenarioError, match="modes the scenario lacks: drt"):
        check_targets({"walk": 0.5, "car": 0.3, "shuttle": 0.1, "drt": 0.1}, tiny, "t.csv")
    with pytest.raises(ScenarioError, match=r"missing: shuttle"):
        check_targets({"walk": 0.6, "car": 0.4}, tiny, "t.csv")


def test_the_overlay_extends_the_scenario_and_reproduces_the_fit(tmp_path, fit, simulator):
    overlay = tmp_path / "tiny-calibrated.yaml"
    overlay.write_text(overlay_text(fit, DEMO, overlay, "demo-calibrated", TINY))
    body = yaml.safe_load(overlay.read_text())
    assert Path(body["extends"]).name == "demo.yaml"
    loaded = mobisim.load_scenario(overlay, allow_extends=[SCENARIOS])
    assert loaded.name == "demo-calibrated"
    assert loaded.demand.synthetic.residents == 400
    assert not loaded.service("drt").enabled
    assert loaded.mode_choice.asc == pytest.approx(fit.asc, abs=1e-4)
    assert "# mode: target -> simulated share" in overlay.read_text()


def test_cli_calibrate_writes_the_overlay_and_the_fit_report(tmp_path, known_shares):
    targets = write_targets(tmp_path / "shares.csv", known_shares)
    overlay = tmp_path / "fitted.yaml"
    args = ["calibrate", str(DEMO), "--targets", str(targets), "--out", str(overlay)]
    for key, value in TINY.items():
        args += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert overlay.is_file() and (tmp_path / "fitted-fit.csv").is_file()
    iterations = pd.read_csv(tmp_path / "fitted-iterations.csv")
    assert iterations["max_gap"].iloc[-1] <= TOLERANCE
    assert {"share.car", "asc.car"} <= set(iterations.columns)
    assert "simulated %" in result.output
    fitted = mobisim.load_scenario(overlay, allow_extends=[SCENARIOS])
    assert set(fitted.mode_choice.asc) == {"walk", "car", "shuttle"}

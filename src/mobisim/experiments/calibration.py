"""Fit the mode constants (ASCs) so the simulated mode shares match observed ones: ``mobisim calibrate``.

The classic procedure for logit models (Train, *Discrete Choice Methods with Simulation*, §2.8):
move each constant by the log of target over simulated share,

    ASC_m <- ASC_m + ln(target_m / simulated_m),      ASC_ref fixed at its value,

until every share is within the tolerance. It is run as a fixed-point iteration with
``scipy.optimize.fixed_point`` (method "iteration"); the function returns its input unchanged once
the shares are within tolerance, so the fixed point is the fit. Each evaluation simulates the day
with the **same** seeds (common random numbers): the population, the trips and every random draw
are those of the first iteration, so the shares change only because the constants did. With
``replications`` > 1 the shares are the mean over that many seeds (the scenario's seed, then
:func:`mobisim.randomness.derive_seed` children), each kept from one iteration to the next.

Shares are of served trips by their final mode (a walk after a failed ride counts as walking,
``walk_fallback`` → ``walk``; a car fall-back as car); unserved trips are left out. Targets name
every mode of the scenario (:func:`scenario_modes`) and sum to 1.

The result is written as a scenario overlay (``extends`` the calibrated file, sets
``mode_choice.asc``) with the fit report in its comments and next to it as CSV.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mobisim.errors import CalibrationError, ScenarioError

#: how far the shares of the targets may be from summing to 1
SUM_TOLERANCE = 1e-3


@dataclass
class CalibrationResult:
    """What :func:`calibrate` returns.

    ``asc``: the fitted constants by mode (utils); ``report``: one row per mode with ``target``,
    ``initial`` (the shares with the scenario's constants), ``simulated`` (with the fitted ones),
    ``gap`` (simulated − target) and ``asc``; ``history``: one row per iteration (``iteration``,
    ``max_gap`` and ``share.<mode>``, ``asc.<mode>``).
    """

    asc: dict[str, float]
    report: pd.DataFrame
    history: pd.DataFrame
    iterations: int
    reference: str
    replications: int
    tolerance: float
    seeds: list[int] = field(default_factory=list)


def scenario_modes(scenario: Any) -> list[str]:
    """The mode labels the enabled services of ``scenario`` offer (as in trips.parquet ``mode``)."""
    modes: list[str] = []
    for block in scenario.enabled_services():
        if block.type == "walk":
            modes.append("walk")
        elif block.type == "private_car":
            modes.append("car")
        elif block.type == "micromobility":
            modes.extend(str(device.type) for device in block.devices)
        else:
            modes.append(str(getattr(block, "mode_label", block.type)))
    return list(dict.fromkeys(modes))


def read_targets(path: str | Path) -> dict[str, float]:
    """Observed mode shares from a CSV file with columns ``mode`` and ``share`` (0-1).

    A ScenarioError names the file and what is wrong: missing columns, a mode twice, a share
    that is not a number in (0, 1], shares that do not sum to 1.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise ScenarioError(path, [("", "targets file not found")]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, [("", f"not a readable CSV file ({exc})")]) from None
    missing = [c for c in ("mode", "share") if c not in table.columns]
    if missing:
        got = ", ".join(map(str, table.columns)) or "none"
        raise ScenarioError(path, [("", f"expected columns mode, share (got {got})")])
    problems: list[tuple[str, str]] = []
    targets: dict[str, float] = {}
    for i, (mode, share) in enumerate(zip(table["mode"], table["share"], strict=True)):
        where = f"row {i + 2}"
        mode = str(mode).strip()
        if mode in targets:
            problems.append((where, f"mode {mode!r} given twice"))
            continue
        try:
            value = float(share)
        except (TypeError, ValueError):
            problems.append((where, f"expected a share between 0 and 1 (got {share!r})"))
            continue
        if not 0 < value <= 1:
            problems.append((where, f"expected a share > 0 and <= 1 for {mode!r} (got {value})"))
        targets[mode] = value
    total = sum(targets.values())
    if not problems and abs(total - 1.0) > SUM_TOLERANCE:
        problems.append(("share", f"expected shares summing to 1 (got {total:.4f})"))
    if problems:
        raise ScenarioError(path, problems)
    return targets


def check_targets(targets: Mapping[str, float], scenario: Any, source: Any = None) -> None:
    """ScenarioError when the targets name a mode the scenario lacks or leave one of its modes out."""
    modes = scenario_modes(scenario)
    problems = []
    unknown = [m for m in targets if m not in modes]
    if unknown:
        problems.append(
            (
                "mode",
                f"modes the scenario lacks: {', '.join(unknown)} (its modes: {', '.join(modes)})",
            )
        )
    left_out = [m for m in modes if m not in targets]
    if left_out:
        problems.append(
            ("mode", f"expected a target share for every mode (missing: {', '.join(left_out)})")
        )
    if problems:
        raise ScenarioError(source, problems)


def served_mode_shares(trips: pd.DataFrame, modes: list[str]) -> dict[str, float]:
    """Share of each mode among the served trips, fall-backs counted as their mode."""
    served = trips[trips["status"].isin(("completed", "fallback"))]
    final = served["mode"].astype(str).str.removesuffix("_fallback")
    counts = final.value_counts()
    n = max(len(served), 1)
    return {m: float(counts.get(m, 0)) / n for m in modes}


class DaySimulator:
    """Simulates a scenario's day with other constants, on the same network, trips and seeds."""

    def __init__(self, scenario: Any, replications: int = 1):
        from mobisim.demand.trips import build_trips
        from mobisim.network.load import build_network
        from mobisim.network.router import Router
        from mobisim.randomness import RandomStreams, derive_seed

        self.scenario = scenario
        self.network = build_network(scenario.network, scenario.base_dir)
        self.router = Router(self.network, scenario.network.router)
        self.seeds = [scenario.seed] + [
            derive_seed(scenario.seed, "replication", i) for i in range(1, replications)
        ]
        self.trips = []
        for seed in self.seeds:
            trips, _ = build_trips(
                scenario.demand,
                self.network,
                RandomStreams(seed),
                scenario.period.start_s,
                scenario.period.end_s,
                base_dir=scenario.base_dir,
                max_snap_m=scenario.network.max_snap_m,
            )
            self.trips.append(trips)
        self.modes = scenario_modes(scenario)

    def shares(self, asc: Mapping[str, float]) -> dict[str, float]:
        """Mean served-trip mode shares over the replications with constants ``asc``."""
        from mobisim.engine.simulation import simulate
        from mobisim.randomness import RandomStreams

        choice = self.scenario.mode_choice.model_copy(update={"asc": dict(asc)})
        scenario = self.scenario.model_copy(update={"mode_choice": choice})
        total = dict.fromkeys(self.modes, 0.0)
        for seed, trips in zip(self.seeds, self.trips, strict=True):
            day = simulate(scenario, self.network, self.router, trips, RandomStreams(seed))
            for mode, share in served_mode_shares(day.trips, self.modes).items():
                total[mode] += share / len(self.seeds)
        return total


def calibrate(
    scenario: Any,
    targets: Mapping[str, float],
    replications: int = 1,
    tolerance: float = 0.01,
    max_iterations: int = 20,
    reference: str | None = None,
    shares: Callable[[Mapping[str, float]], dict[str, float]] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> CalibrationResult:
    """Fit ``mode_choice.asc`` of ``scenario`` so its served mode shares match ``targets``.

    Parameters
    ----------
    scenario : a validated scenario; its constants are the starting point.
    targets : observed share by mode (every mode of the scenario, summing to 1).
    replications : seeds averaged per evaluation (common random numbers across iterations).
    tolerance : largest accepted |simulated − target| share, per mode.
    max_iterations : simulations at most; a CalibrationError when the fit is not reached.
    reference : mode whose constant stays fixed (default: ``walk`` if a target, else the first).
    shares : the simulator, ASCs -> shares (default: :class:`DaySimulator` of the scenario).
    progress : called with (iteration, largest gap) after each evaluation.
    """
    from scipy.optimize import fixed_point

    if not 0 < tolerance < 1:
        raise ScenarioError(
            None, [("--tolerance", f"expected a share in (0, 1) (got {tolerance})")]
        )
    if replications < 1 or max_iterations < 1:
        raise ScenarioError(
            None, [("--replications", "expected at least one replication and one iteration")]
        )
    check_targets(targets, scenario)
    modes = list(targets)
    reference = reference or ("walk" if "walk" in targets else modes[0])
    simulator = None
    if shares is None:
        simulator = DaySimulator(scenario, replications)
        shares = simulator.shares
    start = {m: float(scenario.mode_choice.asc.get(m, 0.0)) for m in modes}
    free = [m for m in modes if m != reference]
    target = np.array([targets[m] for m in free])
    rows: list[dict[str, float]] = []

    def asc_of(x: np.ndarray) -> dict[str, float]:
        return {**start, **dict(zip(free, map(float, x), strict=True))}

    def update(x: np.ndarray) -> np.ndarray:
        asc = asc_of(x)
        simulated = shares(asc)
        gap = max(abs(simulated[m] - targets[m]) for m in modes)
        rows.append(
            {"iteration": len(rows) + 1, "max_gap": gap}
            | {f"share.{m}": simulated[m] for m in modes}
            | {f"asc.{m}": asc[m] for m in modes}
        )
        if progress is not None:
            progress(len(rows), gap)
        if gap <= tolerance:
            return x  # within tolerance: x is the fixed point
        floor = 1e-4  # a mode nobody chose: a large finite step, not ln(0)
        sim = np.array([max(simulated[m], floor) for m in free])
        ref_shift = math.log(targets[reference] / max(simulated[reference], floor))
        return x + np.log(target / sim) - ref_shift

    x0 = np.array([start[m] for m in free], dtype=float)
    try:
        x = fixed_point(update, x0, xtol=1e-12, maxiter=max_iterations, method="iteration")
    except RuntimeError:
        last = rows[-1]
        gaps = ", ".join(f"{m} {last[f'share.{m}']:.3f} vs {targets[m]:.3f}" for m in modes)
        raise CalibrationError(
            f"the fit did not reach a tolerance of {tolerance} in {max_iterations} iterations "
            f"(largest gap {last['max_gap']:.4f}; simulated vs target: {gaps}); raise "
            "--max-iterations or --tolerance, or check that every mode is reachable"
        ) from None
    history = pd.DataFrame(rows)
    final = history.iloc[-1]
    fitted = asc_of(np.asarray(x, dtype=float))
    first = history.iloc[0]
    report = pd.DataFrame(
        {
            "mode": modes,
            "target": [targets[m] for m in modes],
            "initial": [float(first[f"share.{m}"]) for m in modes],
            "simulated": [float(final[f"share.{m}"]) for m in modes],
            "asc": [fitted[m] for m in modes],
        }
    )
    report["gap"] = report["simulated"] - report["target"]
    return CalibrationResult(
        asc=fitted,
        report=report,
        history=history,
        iterations=len(history),
        reference=reference,
        replications=replications,
        tolerance=tolerance,
        seeds=list(simulator.seeds) if simulator else [],
    )


def _nested(key_path: str, value: Any) -> dict[str, Any]:
    """``services.shuttle.vehicles`` = 6 as a map to merge: services is a list of named blocks."""
    parts = key_path.split(".")
    if parts[0] == "services" and len(parts) > 2:
        inner: Any = value
        for part in reversed(parts[2:]):
            inner = {part: inner}
        return {"services": [{"name": parts[1], **inner}]}
    out: Any = value
    for part in reversed(parts):
        out = {part: out}
    return out


def overlay_text(
    result: CalibrationResult,
    scenario_file: Path,
    overlay_file: Path,
    name: str,
    overrides: Mapping[str, Any] | None = None,
    targets_file: Path | None = None,
) -> str:
    """The overlay scenario file: ``extends`` the calibrated file, sets the fitted constants.

    ``overrides`` (the ``--set`` key paths used for the fit) are written too, so the overlay
    runs the day that was fitted.
    """
    import yaml

    from mobisim.scenario.loader import deep_merge

    base = os.path.relpath(Path(scenario_file).resolve(), Path(overlay_file).resolve().parent)
    body: dict[str, Any] = {"extends": Path(base).as_posix(), "name": name}
    for key, value in (overrides or {}).items():
        body = deep_merge(body, _nested(key, value))
    rounded = {m: round(v, 4) for m, v in result.asc.items()}
    body = deep_merge(body, {"mode_choice": {"asc": rounded}})
    lines = [
        f"# Mode constants fitted by `mobisim calibrate` (reference mode {result.reference},",
        f"# {result.iterations} iterations, {result.replications} replication(s), "
        f"tolerance {result.tolerance}"
        + (f", targets {targets_file.name})" if targets_file else ")"),
        "# mode: target -> simulated share (initial share)",
    ]
    for row in result.report.itertuples(index=False):
        lines.append(
            f"#   {row.mode}: {row.target:.3f} -> {row.simulated:.3f} ({row.initial:.3f}), "
            f"asc {row.asc:+.4f}"
        )
    return "\n".join(lines) + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)

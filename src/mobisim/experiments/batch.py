"""Run a set of scenario files and compare them: ``mobisim batch`` and :func:`batch`.

A batch is a list of scenario files (or folders, meaning every ``*.yaml`` in them, sorted),
each run once with its own seed; files marked ``template: true`` (a base that others extend)
are skipped. The runs go to ``<out>/<name>/runs/<scenario>/<run-id>/`` and are found again by
fingerprint, so a batch started again runs only what is missing or changed (the sweep
machinery, :mod:`mobisim.experiments.sweep`, local processes or Dask). At the end the batch folder holds:

* ``batch.parquet``: one row per scenario (file, name, fingerprint, status, error, run folder,
  wall time and the system KPIs flattened, e.g. ``system.served_share``);
* ``comparison.csv`` and ``comparison.md``: the main KPIs side by side with the change against
  the baseline (``mobisim compare``);
* ``report.html``: the self-contained comparison report (``mobisim report``), baseline first.

The baseline is the scenario named by ``baseline`` (a scenario name or file stem), else the
file named ``baseline.yaml`` if the set has one, else the first file. Overrides apply to every
file (e.g. ``{"demand.synthetic.residents": 4000}`` for a quick scaled-down look).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mobisim.errors import MobisimError, ScenarioError


@dataclass
class BatchResult:
    """What :func:`batch` returns: the runs table and the files written."""

    runs: pd.DataFrame
    batch_dir: Path
    report: Path | None
    comparison: pd.DataFrame | None


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files of ``paths`` (a folder means its ``*.yaml``, sorted), without repeats."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            if not found:
                raise ScenarioError(path, [("", "expected a folder with scenario files (*.yaml)")])
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError(path, [("", "scenario file not found")])
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


def _choose_baseline(names: list[str], stems: list[str], baseline: str | None) -> int:
    if baseline is not None:
        for i, (name, stem) in enumerate(zip(names, stems, strict=True)):
            if baseline in (name, stem, f"{stem}.yaml"):
                return i
        raise ScenarioError(
            None,
            [("baseline", f"expected one of the batch's scenarios {names} (got {baseline!r})")],
        )
    return stems.index("baseline") if "baseline" in stems else 0


def batch(
    paths: Sequence[str | Path],
    out_dir: str | Path = "results",
    name: str | None = None,
    overrides: dict[str, Any] | Sequence[str] | None = None,
    workers: int = 1,
    dask: str | None = None,
    baseline: str | None = None,
    report: bool = True,
    title: str | None = None,
    progress: bool = False,
) -> BatchResult:
    """Run every scenario of ``paths`` (templates skipped), then compare them and write the report.

    Parameters
    ----------
    paths : scenario files and/or folders of scenario files.
    out_dir : results folder; the batch writes ``<out_dir>/<name>/``.
    name : batch name (default: the folder's name when ``paths`` is one folder, else "batch").
    overrides : applied to every scenario (``{"key.path": value}`` or ``["key.path=value"]``).
    workers, dask : how runs execute (as for :func:`mobisim.experiments.sweep.sweep`).
    baseline : scenario name or file stem of the baseline (see the module docstring).
    report : write ``report.html`` (charts of every run; the slowest part after the runs).
    title : title of the report page.
    progress : show a progress bar over runs.

    Every file is validated before anything runs: one bad file fails the batch at once with its
    problems. A run that fails is recorded (status, error) and the others go on; comparison and
    report then cover the runs that finished.
    """
    from mobisim.api import load_scenario
    from mobisim.experiments.planning import SweepTask
    from mobisim.experiments.sweep import (
        discard_workers,
        execute,
        outcomes_frame,
        prepare_workers,
    )
    from mobisim.scenario.loader import fingerprint

    files = scenario_files(paths)
    if name is None:
        single = len(paths) == 1 and Path(paths[0]).is_dir()
        name = Path(paths[0]).resolve().name if single else "batch"
    params = _overrides_dict(overrides)
    starting = prepare_workers(workers, dask)  # starts while the files are validated
    try:
        batch_dir = Path(out_dir) / name
        runs_dir = batch_dir / "runs"
        chosen, problems = [], []
        for file in files:
            try:
                scenario = load_scenario(file, overrides=params)
            except ScenarioError as exc:
                problems.append(str(exc))
                continue
            if not scenario.template:
                chosen.append((file, scenario))
        if problems:
            raise MobisimError("\n".join(problems))
        if not chosen:
            raise ScenarioError(
                None,
                [("batch", f"no scenario to run in {[str(p) for p in paths]} (all templates?)")],
            )
        names = [s.name for _, s in chosen]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ScenarioError(
                None, [("name", f"expected unique scenario names (repeated: {repeated})")]
            )
        first = _choose_baseline(names, [f.stem for f, _ in chosen], baseline)
        chosen.insert(0, chosen.pop(first))
        tasks = [
            SweepTask(
                str(file.resolve()), params, 0, scenario.seed, fingerprint(scenario), str(runs_dir)
            )
            for file, scenario in chosen
        ]
        runs_dir.mkdir(parents=True, exist_ok=True)
        outcomes = execute(
            tasks, workers=workers, dask=dask, progress=progress, label="batch", starting=starting
        )
    finally:
        discard_workers(starting)  # if validation failed before execute() took the cluster
    by_fp = {o.fingerprint: o for o in outcomes}
    ordered = [by_fp[t.fingerprint] for t in tasks]
    frame = outcomes_frame(ordered, kpi_scopes=("system",), keep_order=True)
    names = [s.name for _, s in chosen]  # baseline first
    frame.insert(0, "scenario", names)
    frame.insert(1, "file", [str(f) for f, _ in chosen])
    frame.insert(2, "baseline", [i == 0 for i in range(len(chosen))])
    _write_atomic(frame, batch_dir / "batch.parquet")
    done = [Path(o.run_dir) for o in ordered if o.status == "ok"]
    comparison, report_path = None, None
    if done and ordered[0].status == "ok":
        from mobisim.results.compare import compare_runs, to_markdown

        comparison = compare_runs(done)
        _write_text(batch_dir / "comparison.md", to_markdown(comparison))
        tmp = batch_dir / ".tmp-comparison.csv"
        comparison.to_csv(tmp, index=False)
        tmp.replace(batch_dir / "comparison.csv")
        if report:
            from mobisim.results.report import write_report

            report_path = write_report(
                done, batch_dir / "report.html", title or f"mobisim batch {name}"
            )
    _write_text(
        batch_dir / "batch.json",
        json.dumps(
            {
                "name": name,
                "scenarios": names,
                "overrides": params,
                "files": frame["file"].tolist(),
            },
            indent=2,
            default=str,
        ),
    )
    return BatchResult(frame, batch_dir, report_path, comparison)


def _overrides_dict(overrides: dict[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ScenarioError(None, [("--set", f"expected key.path=value (got {item!r})")])
        out[key.strip()] = value
    return out


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

"""Planning a sweep: the sweep file, its parameter sets, and one resolved task per run.

A sweep is a base scenario plus parameters given by key path (the same paths as ``--set``):

* ``grid``: every combination of the listed values (Cartesian product);
* ``zip``: lists of equal length varied together (row i of each);
* ``runs``: explicitly listed parameter sets;
* ``replications``: each parameter set is run with that many derived seeds.

The three are combined: every ``grid`` combination × every ``zip`` row × every listed run
(an absent part counts as one empty set). Every run is identified by the fingerprint of its fully
resolved scenario (which includes the seed). Finished runs are found by fingerprint in the sweep's
``runs/`` folder (:func:`finished_runs`) and skipped, so an interrupted sweep started again
completes without losing or duplicating a run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from mobisim.errors import ScenarioError
from mobisim.randomness import derive_seed
from mobisim.results.store import TMP_PREFIX
from mobisim.scenario.base import StrictModel


class SweepConfig(StrictModel):
    """A sweep file (YAML). Paths are relative to the sweep file."""

    name: str = Field(description="Sweep name; results go to <out>/<name>/.")
    base: str = Field(description="Base scenario file, relative to the sweep file.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Key path -> values; all combinations."
    )
    zip: dict[str, list[Any]] = Field(
        default_factory=dict, description="Key path -> values of equal length, varied together."
    )
    runs: list[dict[str, Any]] = Field(
        default_factory=list, description="Explicit parameter sets (key path -> value)."
    )
    replications: int = Field(
        default=1, ge=1, description="Seeds per parameter set (derived from the base seed)."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        description="Base seed for the derived seeds (default: the scenario's seed).",
    )
    out: str = Field(default="results", description="Results folder, relative to the sweep file.")


@dataclass(frozen=True)
class SweepTask:
    """One run of a sweep: the parameters, the replication and its seed."""

    base: str
    params: dict[str, Any]
    replication: int
    seed: int
    fingerprint: str
    runs_dir: str


def expand(
    grid: dict[str, list[Any]] | None = None,
    zipped: dict[str, list[Any]] | None = None,
    runs: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """All parameter sets of a sweep (without replications), in a stable order.

    Parameters
    ----------
    grid : key path -> values; the Cartesian product is taken.
    zipped : key path -> values; all lists must have the same length.
    runs : explicit parameter sets.
    """
    grid, zipped, runs = grid or {}, zipped or {}, runs or []
    for key, values in {**grid, **zipped}.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(
                None, [(key, f"expected a non-empty list of values (got {values!r})")]
            )
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise ScenarioError(None, [("zip", f"expected lists of equal length (got {lengths})")])
    grid_sets = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    n_zip = next(iter(lengths.values()), 0)
    zip_sets = [{key: zipped[key][i] for key in zipped} for i in range(n_zip)] or [{}]
    listed = runs or [{}]
    out = []
    for g, z, r in itertools.product(grid_sets, zip_sets, listed):
        overlap = (set(g) & set(z)) | (set(g) & set(r)) | (set(z) & set(r))
        if overlap:
            raise ScenarioError(
                None, [("grid/zip/runs", f"a key path is varied twice: {sorted(overlap)}")]
            )
        out.append({**g, **z, **r})
    return out


def load_task_scenario(base: str, params: dict[str, Any], seed: int):
    from mobisim.api import load_scenario

    return load_scenario(base, overrides={**params, "seed": seed})


def _fingerprint(scenario) -> str:
    from mobisim.scenario.loader import fingerprint

    return fingerprint(scenario)


def plan(
    base: str | Path,
    parameter_sets: Iterable[dict[str, Any]],
    replications: int,
    runs_dir: Path,
    base_seed: int | None = None,
) -> list[SweepTask]:
    """Resolve every run of a sweep: validate its scenario and compute its fingerprint.

    Every parameter set is validated before anything runs, so a typo in a key path fails the
    sweep at once with the scenario error, not after hours.
    """
    base = str(Path(base).resolve())
    tasks, problems = [], []
    seed0 = base_seed if base_seed is not None else load_task_scenario(base, {}, 0).seed
    for params in parameter_sets:
        for replication in range(replications):
            seed = derive_seed(seed0, "replication", replication)
            try:
                scenario = load_task_scenario(base, params, seed)
            except ScenarioError as exc:
                problems.extend(exc.problems)
                continue
            tasks.append(
                SweepTask(
                    base, dict(params), replication, seed, _fingerprint(scenario), str(runs_dir)
                )
            )
    if problems:
        raise ScenarioError(base, sorted(set(problems)))
    return tasks


def finished_runs(runs_dir: Path) -> dict[str, Path]:
    """Fingerprint -> run folder for every complete run under ``runs_dir`` (temp folders ignored)."""
    found: dict[str, Path] = {}
    for manifest in sorted(Path(runs_dir).glob("*/*/manifest.json")):
        if manifest.parent.name.startswith(TMP_PREFIX):
            continue
        try:
            fp = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            continue
        found.setdefault(fp, manifest.parent)
    return found


def load_sweep_file(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; raises ScenarioError with the file and key path."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ScenarioError(path, [("", "sweep file not found")]) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(path, [("", f"not valid YAML: {exc}")]) from exc
    try:
        return SweepConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = [
            (".".join(map(str, err["loc"])), f"{err['msg']} (got {err.get('input')!r})")
            for err in exc.errors()
        ]
        raise ScenarioError(path, problems) from exc

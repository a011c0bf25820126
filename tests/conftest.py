"""Shared test fixtures: where the real OSM test networks live (never copied into the project).

Every run in the tests writes a checked event log: each row is checked against its kind as it is
written (mobisim.events.check_row), also in CLI runs the tests start as subprocesses, and ends
with the run invariants of ``mobisim check`` (mobisim.metrics.invariants): a run that breaks one
fails with a SimulationError naming the check and its worst offender.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_NETWORKS = REPO_ROOT.parent / "shared" / "networks"

os.environ["MOBISIM_CHECK_EVENTS"] = "1"
os.environ["MOBISIM_CHECK_RUNS"] = "1"  # every run ends with mobisim.metrics.invariants' checks


@pytest.fixture(scope="session")
def shared_networks() -> Path:
    """``../shared/networks`` beside the checkout (Seoul OSM XML, Nootdorp GraphML, West Oakland)."""
    if not SHARED_NETWORKS.is_dir():
        pytest.fail(
            f"test networks not found at {SHARED_NETWORKS}: the checkout must sit beside shared/"
        )
    return SHARED_NETWORKS


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT

"""Shared test fixtures: where the real OSM test networks live (never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_NETWORKS = REPO_ROOT.parent / "shared" / "networks"


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

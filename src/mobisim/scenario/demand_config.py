"""The ``demand:`` section of a scenario file."""

from __future__ import annotations

from mobisim.scenario.base import StrictModel


class DemandConfig(StrictModel):
    """Either a synthetic population or a trip table."""

"""The ``energy:`` section of a scenario file."""

from __future__ import annotations

from mobisim.scenario.base import StrictModel


class EnergyConfig(StrictModel):
    """Vehicle types, chargers, solar and emission factors."""

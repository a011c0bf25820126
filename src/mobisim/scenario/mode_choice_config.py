"""The ``mode_choice:`` section of a scenario file."""

from __future__ import annotations

from mobisim.scenario.base import StrictModel


class ModeChoiceConfig(StrictModel):
    """How commuters choose among the offers of the services."""

    policy: str = "logit"

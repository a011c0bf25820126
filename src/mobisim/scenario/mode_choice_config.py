"""The ``mode_choice:`` section: how commuters choose among the offers of the services.

Generalised cost (KRW) of an offer = value of time × (in-vehicle time + wait_weight × wait +
walk_weight × (access + egress walk)) + fare. Utility = ASC(mode) − cost_scale_per_krw × cost.
Defaults: walk and wait weigh 1.5 × in-vehicle time [T11]; values of time for non-business trips
9,700 KRW/h by car and 5,000 KRW/h for other modes [T8]; mode constants 0 (calibrate per city).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.scenario.base import StrictModel


class ModeChoiceConfig(StrictModel):
    """How commuters choose among the offers of the services."""

    policy: Literal["logit", "cheapest"] = Field(
        default="logit", description="Multinomial logit draw, or the deterministic cheapest offer."
    )
    cost_scale_per_krw: float = Field(
        default=0.001,
        gt=0,
        description="Logit scale: utility per KRW of generalised cost (assumption A: 1,000 KRW = 1 util).",
    )
    vot_krw_per_h: dict[str, float] = Field(
        default_factory=lambda: {"car": 9700.0, "carsharing": 9700.0},
        description="Value of time by mode, KRW/h (non-business car 9,700 [T8]); modes not listed use default_vot_krw_per_h.",
    )
    default_vot_krw_per_h: float = Field(
        default=5000.0,
        gt=0,
        description="Value of time of modes not in vot_krw_per_h, KRW/h (bus and rail, non-business [T8]).",
    )
    walk_weight: float = Field(
        default=1.5,
        ge=0,
        description="Weight of access/egress walking time vs in-vehicle time [T11].",
    )
    wait_weight: float = Field(
        default=1.5, ge=0, description="Weight of waiting time vs in-vehicle time [T11]."
    )
    asc: dict[str, float] = Field(
        default_factory=dict,
        description="Alternative-specific constant by mode, utils (default 0).",
    )
    fallback: Literal["walk", "car", "unserved"] = Field(
        default="walk",
        description="What a commuter does when every chosen service failed and no offer is left.",
    )

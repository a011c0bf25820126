"""The ``mode_choice:`` section: how commuters choose among the offers of the services.

Generalised cost (KRW) of an offer = value of time (KRW/s) × (in-vehicle time + wait_weight × wait +
walk_weight × (access + egress walk)) (s) + fare (KRW). Utility (utils) = ASC(mode) −
cost_scale_per_krw × cost. Defaults and sources:

- walk and wait weigh 1.5 × in-vehicle time [T11];
- values of time of non-business trips (incl. commuting), 2016 basis: 9,700 KRW/h in a car
  (private car and car-sharing), 5,000 KRW/h in bus and rail, used for every other mode [T8];
- mode constants 0 and a scale of 0.001 util/KRW (1,000 KRW of generalised cost = 1 util): both
  assumptions (A), to be calibrated against observed mode shares of the city.

When the chosen service fails, the commuter tries the next offers of the ranking (re-asked at that
moment); when none is left it does what ``fallback`` says. A forced walk (``fallback: walk``)
longer than ``acceptable_walk_m`` is walked (the person still gets there) but the trip counts as
``unserved``: no service of the scenario could carry it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mobisim.scenario import registry
from mobisim.scenario.base import StrictModel


class ModeChoiceConfig(StrictModel):
    """How commuters choose among the offers of the services."""

    policy: str = Field(
        default="logit",
        description="A registered mode-choice policy: logit (multinomial logit draw) or cheapest (the deterministic cheapest offer).",
    )
    cost_scale_per_krw: float = Field(
        default=0.001,
        gt=0,
        description="Logit scale, utils per KRW of generalised cost (assumption A: 1,000 KRW = 1 util); larger = more deterministic choices.",
    )
    vot_krw_per_h: dict[str, float] = Field(
        default_factory=lambda: {"car": 9700.0, "carsharing": 9700.0},
        description="Value of time by mode, KRW/h (non-business car 9,700 [T8]); modes not listed use default_vot_krw_per_h (private_bike 14,550 = 1.5 x car [T3][T13][BE12], private_ebike 9,700, A).",
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
        description="Alternative-specific constant by mode, utils (default 0 for every mode, assumption A; private_bike and private_ebike -1.3, Kelheim's bike constant [T3]; calibrate per city).",
    )
    fallback: Literal["walk", "car", "unserved"] = Field(
        default="walk",
        description="When every offer failed or none was available: walk the network path, drive it (a lift or taxi, logged as a car leg), or stay unserved.",
    )
    acceptable_walk_m: float | None = Field(
        default=None,
        gt=0,
        description="Longest forced walk (fallback: walk) still counted as served, m (none: the walk service's max_walk_m; 5,000 m without one, assumption A). Longer forced walks are walked but the trip is unserved.",
    )

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, name: str) -> str:
        known = sorted(registry.POLICIES["mode_choice"])
        if name not in known:
            raise ValueError(f"expected one of: {', '.join(known)} (got {name!r})")
        return name

    @field_validator("vot_krw_per_h")
    @classmethod
    def _positive_values_of_time(cls, values: dict[str, float]) -> dict[str, float]:
        bad = {mode: v for mode, v in values.items() if not v > 0}
        if bad:
            raise ValueError(f"expected values of time > 0 KRW/h (got {bad})")
        return values

"""Mode-choice policies: rank the available offers of a trip (chosen first, fallbacks after).

Policies are registered by name in :mod:`mobisim.scenario.registry` (``logit``, ``cheapest``) and
built with the ``mode_choice`` section of the scenario.
"""

from __future__ import annotations

import numpy as np

from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.services.base import Offer, Trip


class GeneralisedCost:
    """Generalised cost (KRW) and utility of an offer, per the ``mode_choice`` section."""

    def __init__(self, config: ModeChoiceConfig):
        self.config = config

    def cost_krw(self, offer: Offer) -> float:
        """Generalised cost of ``offer`` in KRW."""
        c = self.config
        vot_per_s = c.vot_krw_per_h.get(offer.mode, c.default_vot_krw_per_h) / 3600.0
        weighted_s = (
            offer.in_vehicle_s
            + c.wait_weight * offer.wait_s
            + c.walk_weight * (offer.access_walk_s + offer.egress_walk_s)
        )
        return vot_per_s * weighted_s + offer.fare_krw

    def utility(self, offer: Offer) -> float:
        """Systematic utility of ``offer`` (utils)."""
        return self.config.asc.get(
            offer.mode, 0.0
        ) - self.config.cost_scale_per_krw * self.cost_krw(offer)

    def utilities(self, offers: list[Offer]) -> np.ndarray:
        """Utilities of ``offers`` as an array."""
        return np.array([self.utility(o) for o in offers])


def logit_probabilities(utilities: np.ndarray) -> np.ndarray:
    """Multinomial-logit choice probabilities of the given utilities (numerically stable)."""
    z = np.exp(utilities - utilities.max())
    return z / z.sum()


class LogitChoice(GeneralisedCost):
    """Draw the chosen offer with multinomial-logit probabilities; fallbacks by descending utility."""

    def rank(self, trip: Trip, offers: list[Offer], rng: np.random.Generator) -> list[Offer]:
        """``offers`` reordered: the drawn choice first, then the others by utility."""
        if len(offers) <= 1:
            return list(offers)
        u = self.utilities(offers)
        chosen = int(rng.choice(len(offers), p=logit_probabilities(u)))
        rest = [i for i in np.argsort(-u, kind="stable") if i != chosen]
        return [offers[chosen]] + [offers[i] for i in rest]


class CheapestChoice(GeneralisedCost):
    """Deterministic: the offer with the highest utility (lowest cost) first."""

    def rank(self, trip: Trip, offers: list[Offer], rng: np.random.Generator) -> list[Offer]:
        """``offers`` sorted by descending utility (ties keep service order)."""
        u = self.utilities(offers)
        return [offers[i] for i in np.argsort(-u, kind="stable")]

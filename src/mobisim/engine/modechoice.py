"""Mode-choice policies: rank the available offers of a trip (chosen first, fallbacks after).

Both policies price an offer by its generalised cost in KRW (see
:mod:`mobisim.scenario.mode_choice_config` for the formula, the defaults and their sources):

- ``logit``: the choice is drawn with multinomial-logit probabilities
  ``P(i) = exp(V_i) / sum_j exp(V_j)`` with ``V = ASC(mode) - cost_scale_per_krw x cost_krw``;
  the other offers follow by descending utility (the order a commuter falls back in).
- ``cheapest``: deterministic, descending utility (lowest generalised cost, mode constants
  included); ties keep the order of the services in the scenario.

Policies are registered by name in :mod:`mobisim.scenario.registry` and built with the
``mode_choice`` section: ``policy("mode_choice", name)(config)``. ``rank`` is called once per trip
on a handful of offers, so it is plain Python (no small-array NumPy calls on the hot path).
"""

from __future__ import annotations

import math

import numpy as np

from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.services import private_bike
from mobisim.services.base import Offer, Trip
from mobisim.units import SECONDS_PER_HOUR


class GeneralisedCost:
    """Generalised cost (KRW) and utility (utils) of an offer, per the ``mode_choice`` section.

    Parameters
    ----------
    config : ModeChoiceConfig
        Values of time (KRW/h), walk and wait weights, mode constants (utils), cost scale
        (utils per KRW).
    """

    def __init__(self, config: ModeChoiceConfig):
        self.config = config
        # the private bike's own defaults (mobisim.services.private_bike) unless the section names them
        vot_krw_per_h = {**private_bike.VOT_KRW_PER_H, **config.vot_krw_per_h}
        self._vot_per_s = {m: v / SECONDS_PER_HOUR for m, v in vot_krw_per_h.items()}
        self._default_vot_per_s = config.default_vot_krw_per_h / SECONDS_PER_HOUR
        self._asc = {**private_bike.ASC, **config.asc}
        self._scale = config.cost_scale_per_krw
        self._walk_weight = config.walk_weight
        self._wait_weight = config.wait_weight

    def cost_krw(self, offer: Offer) -> float:
        """Generalised cost of ``offer`` in KRW: value of time x weighted time (s) + fare (KRW).

        Weighted time = in-vehicle + wait weight x wait + walk weight x (access + egress walk)
        + the offer's penalty (a chain's transfer penalty, in-vehicle s).
        """
        weighted_s = (
            offer.in_vehicle_s
            + offer.penalty_ivt_s
            + self._wait_weight * offer.wait_s
            + self._walk_weight * (offer.access_walk_s + offer.egress_walk_s)
        )
        return (
            self._vot_per_s.get(offer.mode, self._default_vot_per_s) * weighted_s + offer.fare_krw
        )

    def utility(self, offer: Offer) -> float:
        """Systematic utility of ``offer`` in utils: ASC(mode) - scale (utils/KRW) x cost (KRW)."""
        return self._asc.get(offer.mode, 0.0) - self._scale * self.cost_krw(offer)

    def utilities(self, offers: list[Offer]) -> list[float]:
        """Utilities (utils) of ``offers``, in the given order."""
        return [self.utility(offer) for offer in offers]


def descending(utilities: list[float]) -> list[int]:
    """Positions of ``utilities`` (utils) from highest to lowest; ties keep the given order."""
    return sorted(range(len(utilities)), key=lambda i: -utilities[i])


def logit_probabilities(utilities) -> np.ndarray:
    """Multinomial-logit choice probabilities of ``utilities`` (utils), numerically stable."""
    u = np.asarray(utilities, dtype=float)
    z = np.exp(u - u.max())
    return z / z.sum()


class LogitChoice(GeneralisedCost):
    """Draw the chosen offer with multinomial-logit probabilities; fallbacks by descending utility."""

    #: ``rank`` asks ``rng`` for nothing but ``rng.random()``, so the engine may hand it the
    #: block-drawing :class:`mobisim.engine.draws.UniformBlocks` (the same floats, cheaper)
    random_only = True

    def rank(self, trip: Trip, offers: list[Offer], rng: np.random.Generator) -> list[Offer]:
        """``offers`` reordered: the drawn choice first, then the others by descending utility.

        Parameters
        ----------
        trip : Trip
            The trip (not used by the default model; a policy may price by group or purpose).
        offers : list of Offer
            Available offers (at least one).
        rng : numpy.random.Generator
            The ``mode_choice`` stream; one uniform draw (``rng.random()``) per trip with two
            or more offers.
        """
        if len(offers) <= 1:
            return list(offers)
        utilities = self.utilities(offers)
        draw = rng.random()
        if len(offers) == 2:  # the binary logit; the other offer is the fallback
            first, second = offers
            return [first, second] if binary_logit_first(*utilities, draw) else [second, first]
        chosen = logit_pick(utilities, draw)
        return [offers[chosen]] + [offers[i] for i in descending(utilities) if i != chosen]


def binary_logit_first(u_first: float, u_second: float, draw: float) -> bool:
    """Does a uniform ``draw`` in [0, 1) choose the first of two offers with utilities
    ``u_first`` and ``u_second`` (utils)? With probability ``1 / (1 + exp(u_second - u_first))``,
    the binary logit; no overflow for a very unequal pair."""
    difference = u_second - u_first
    return difference < 700.0 and draw * (1.0 + math.exp(difference)) < 1.0


def logit_pick(utilities: list[float], draw: float) -> int:
    """The position chosen by a uniform ``draw`` in [0, 1) with multinomial-logit probabilities
    of ``utilities`` (utils): the first whose cumulative weight exceeds ``draw`` x total."""
    best = max(utilities)
    weights = [math.exp(u - best) for u in utilities]
    threshold = draw * sum(weights)
    running = 0.0
    for i, weight in enumerate(weights):
        running += weight
        if threshold < running:
            return i
    return len(weights) - 1  # rounding in the running sum


class CheapestChoice(GeneralisedCost):
    """Deterministic: the offer with the highest utility (lowest generalised cost) first."""

    random_only = True  # (draws nothing)

    def rank(self, trip: Trip, offers: list[Offer], rng: np.random.Generator) -> list[Offer]:
        """``offers`` by descending utility (ties keep service order); ``trip`` and ``rng`` unused."""
        if len(offers) <= 1:
            return list(offers)
        return [offers[i] for i in descending(self.utilities(offers))]

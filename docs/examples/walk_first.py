"""A mode-choice policy: walk whenever the walk is short; otherwise the logit choice.

The example of docs/contributing.md "Adding a policy" (tests/test_contributing.py runs it).
Register it in ``mobisim/scenario/registry.py`` under ``POLICIES["mode_choice"]``::

    "walk_first": "walk_first:WalkFirst",

and choose it with ``mode_choice: {policy: walk_first}``.
"""

from __future__ import annotations

from mobisim.engine.modechoice import LogitChoice
from mobisim.services.base import Offer, Trip

#: walks up to this long are always taken, s (15 min: about 1 km at 1.2 m/s; A)
SHORT_WALK_S = 15 * 60.0


class WalkFirst(LogitChoice):
    """Take a short walk when offered; the logit ranking otherwise (the fallbacks after it)."""

    def rank(self, trip: Trip, offers: list[Offer], rng) -> list[Offer]:
        ranked = super().rank(trip, offers, rng)  # one draw per trip, as the logit policy
        short = [o for o in ranked if o.mode == "walk" and o.access_walk_s <= SHORT_WALK_S]
        return short + [o for o in ranked if o not in short]

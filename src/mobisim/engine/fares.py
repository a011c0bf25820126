"""Fare policies applied by the engine between the services' offers and the commuter's choice.

:class:`EMileageCredit` (``economics.e_mileage``): a member — a share of the persons, by a hash of
the seed and the person id (:func:`mobisim.randomness.member`) — pays ``1 - discount_share`` of
the fare of the listed services. The commuter chooses on the fare they would pay; the service
still quotes and charges its own fare, and the trip records what the member paid. The KPIs find
the members again from the same hash (mobisim.metrics.economics.e_mileage_kpis).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mobisim.randomness import member

#: the label of the membership draw (shared with the KPIs)
E_MILEAGE_LABEL = "e_mileage"
#: service types whose fares the credit pays when ``services`` is empty
E_MILEAGE_TYPES = ("fixed_route", "drt")


def e_mileage_services(scenario: Any) -> list[str]:
    """The services whose fares the E-mileage credit pays (its ``services``, or every transit one)."""
    config = scenario.economics.e_mileage
    if config.services:
        return list(config.services)
    return [b.name for b in scenario.enabled_services() if b.type in E_MILEAGE_TYPES]


class EMileageCredit:
    """Lowers the fares members see and pay on the credited services."""

    def __init__(
        self, seed: int, services: list[str], participation_share: float, discount_share: float
    ):
        self.seed = seed
        self.services = frozenset(services)
        self.participation_share = participation_share
        self.discount_share = discount_share
        self._members: dict[int, bool] = {}

    @classmethod
    def from_scenario(cls, scenario: Any) -> EMileageCredit | None:
        """The credit of ``scenario`` (None when ``economics.e_mileage`` is off)."""
        config = scenario.economics.e_mileage
        if not config.enabled:
            return None
        return cls(
            scenario.seed,
            e_mileage_services(scenario),
            config.participation_share,
            config.discount_share,
        )

    def is_member(self, person_id: int) -> bool:
        """Whether the person is an E-mileage member (drawn once, by hash)."""
        known = self._members.get(person_id)
        if known is None:
            known = member(self.seed, E_MILEAGE_LABEL, person_id, self.participation_share)
            self._members[person_id] = known
        return known

    def paid(self, person_id: int, service: str, fare_krw: float) -> float:
        """What the person pays for a fare of ``fare_krw`` (KRW) on ``service``."""
        if service in self.services and fare_krw > 0 and self.is_member(person_id):
            return fare_krw * (1.0 - self.discount_share)
        return fare_krw

    def seen(self, person_id: int, offers: list) -> list:
        """The offers as the person weighs them: copies with the fare they would pay."""
        out = []
        for offer in offers:
            fare = self.paid(person_id, offer.service, offer.fare_krw)
            out.append(
                offer if fare == offer.fare_krw else dataclasses.replace(offer, fare_krw=fare)
            )
        return out

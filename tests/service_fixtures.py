"""Small services used by the engine tests (registered by monkeypatching the registry)."""

from __future__ import annotations

from typing import Literal

from mobisim.events import Event
from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service


class RefuserConfig(ServiceConfig):
    type: Literal["refuser"] = "refuser"
    wait_s: float = 60.0


class RefusingService(Service):
    """Always looks attractive, always refuses after ``wait_s``."""

    type_name = "refuser"
    Config = RefuserConfig
    mode = "teleport"

    def offers(self, trip, now_s):
        return [
            Offer(
                self.name,
                self.mode,
                True,
                wait_s=self.config.wait_s,
                in_vehicle_s=1.0,
                access_node=trip.origin_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip, offer):
        env = self.ctx.env
        event = env.event()

        def refuse():
            yield env.timeout(self.config.wait_s)
            self.ctx.log.add(
                Event(env.now, "reject", self.name, trip_id=trip.trip_id, detail="rejected")
            )
            event.succeed(RideOutcome(served=False, reason="rejected", wait_s=self.config.wait_s))

        env.process(refuse())
        return event


class SilentService(RefusingService):
    """Never answers: used to show the run fails loudly when a trip has no final status."""

    type_name = "silent"

    def request(self, trip, offer):
        return self.ctx.env.event()


class SilentConfig(ServiceConfig):
    type: Literal["silent"] = "silent"
    wait_s: float = 60.0


SilentService.Config = SilentConfig

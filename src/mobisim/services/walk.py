"""Walking the whole way: the baseline mode every commuter has.

The walk is the offer's access walk (weighted like any walk in mode choice); distance and time come
from the router's ``walk`` profile (1.2 m/s on network distance [T1]).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable


class WalkConfig(ServiceConfig):
    """``type: walk``."""

    type: Literal["walk"] = "walk"
    max_walk_m: float = Field(
        default=5000.0, gt=0, description="Longest trip offered on foot, m (assumption A)."
    )


class WalkService(Service):
    """Walk from origin to destination on the walk network."""

    type_name = "walk"
    Config = WalkConfig
    mode = "walk"

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer: the network walk, if a path exists and it is not longer than max_walk_m."""
        leg = self.ctx.router.try_leg("walk", trip.origin_node, trip.dest_node)
        if leg is None:
            return [unavailable(self.name, self.mode, "no_walk_path")]
        time_s, distance_m = leg
        if distance_m > self.config.max_walk_m:
            return [unavailable(self.name, self.mode, "too_far_to_walk")]
        return [
            Offer(
                self.name,
                self.mode,
                True,
                access_walk_m=distance_m,
                access_walk_s=time_s,
                access_node=trip.dest_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """Nothing to wait for: the walk itself is the commuter's access walk."""
        return self.ctx.env.event().succeed(
            RideOutcome(
                served=True,
                wait_s=0.0,
                in_vehicle_s=0.0,
                distance_m=0.0,
                egress_node=trip.dest_node,
            )
        )

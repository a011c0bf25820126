"""Walking the whole way: the baseline mode every commuter has.

Distance and time come from the router's ``walk`` profile: the shortest path on the walk view at
1.2 m/s [T1]. Walking is not offered beyond ``max_walk_m`` (5 km by default, assumption A: about
70 minutes on foot, beyond which nobody in the town walks). In the offer the whole walk is the
*access walk*, so mode choice weighs it like any walking time (1.5 × in-vehicle time [T11]) and the
commuter's story logs it as one ``walk`` event (``detail="direct"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.scenario.base import ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable

#: router profile of walking (1.2 m/s on network distance [T1])
WALK_PROFILE = "walk"


class WalkConfig(ServiceConfig):
    """``type: walk``: walking from door to door."""

    type: Literal["walk"] = "walk"
    max_walk_m: float = Field(
        default=5000.0,
        gt=0,
        description="Longest network walk offered, m (assumption A: about 70 min at 1.2 m/s [T1]).",
    )


class WalkService(Service):
    """Walk from origin to destination on the walk network (no vehicle, never refuses)."""

    type_name = "walk"
    Config = WalkConfig
    mode = "walk"

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer: the network walk from ``trip.origin_node`` to ``trip.dest_node``.

        Parameters
        ----------
        trip : Trip
            The trip (origin and destination node indices).
        now_s : float
            Clock, s after midnight (walking does not depend on it).

        Returns one unavailable offer with reason ``no_walk_path`` or ``too_far_to_walk``
        (longer than ``max_walk_m``; the path search stops there, so a destination no path
        reaches is reported ``too_far_to_walk`` when more than ``max_walk_m`` of network lies
        around the origin), otherwise the walk with ``access_walk_m``/``access_walk_s``.
        """
        # the search stops at max_walk_m: a longer walk is refused whatever its length
        leg = self.ctx.router.try_leg_within_m(
            WALK_PROFILE, trip.origin_node, trip.dest_node, self.config.max_walk_m
        )
        if leg is None:
            return [unavailable(self.name, self.mode, "no_walk_path")]
        time_s, distance_m = leg
        if distance_m > self.config.max_walk_m:
            return [unavailable(self.name, self.mode, "too_far_to_walk")]
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                access_walk_m=distance_m,
                access_walk_s=time_s,
                access_node=trip.dest_node,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """Nothing to wait for: the event has already fired; the walk is the commuter's access walk.

        The outcome's ``distance_m`` is the walked distance, m (the trip's distance in trips.parquet).
        """
        outcome = RideOutcome(
            served=True,
            wait_s=0.0,
            in_vehicle_s=0.0,
            distance_m=offer.access_walk_m,
            egress_node=trip.dest_node,
        )
        return self.ctx.env.event().succeed(outcome)

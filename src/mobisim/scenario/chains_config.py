"""The ``chains:`` section: intermodal chains of an access ride and a main service.

A chain is: walk to a shared device (``access_modes``, e.g. ``escooter``), ride it to a stop of a
main service (``main_modes``: shuttle, bus, rail, drt; a door-to-door DRT: a node of its area),
park it there, ride the main service, walk to the destination; with ``line_transfers``, also a
walk to a line, a ride to a stop another line serves, that line, a walk. Off by default. The transfer penalty is
added to the chain's weighted time in mode choice: 15 in-vehicle minutes, the low end of the
15-18 min pure transfer penalty of [T12] (docs/sources.md).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from mobisim.scenario.base import StrictModel

#: the offer modes of access legs: shared devices (mobisim.services.micromobility device types)
#: and one-way / free-floating car-sharing (its default ``mode_label``)
ACCESS_MODES = ("bike", "ebike", "escooter", "segway", "carsharing")


class ParkAndRideSite(StrictModel):
    """A park-and-ride car park: private cars left there for a main service's stop near it."""

    name: str = Field(description="The site's name.")
    place: str = Field(description="Named place of the network where the car park is (its node).")
    spaces: int = Field(gt=0, description="Car spaces; a full site offers no park-and-ride.")


class ChainsConfig(StrictModel):
    """Intermodal chains (access ride -> main service -> walk), offered beside single modes."""

    enabled: bool = Field(default=False, description="Offer chains (off: no chain is composed).")
    access_modes: list[str] = Field(
        default_factory=lambda: ["escooter", "bike", "ebike"],
        min_length=1,
        description="Offer modes usable on the access leg: shared devices (bike, ebike, escooter, segway) and carsharing (one-way or free-floating car-sharing, the car left at the station nearest the transfer point).",
    )
    main_modes: list[str] = Field(
        default_factory=lambda: ["shuttle", "bus"],
        min_length=1,
        description="Offer modes of the main leg: services with stops or a service area (fixed_route mode_label, transit mode, drt mode_label).",
    )
    min_access_m: float = Field(
        default=300.0,
        ge=0,
        description="A chain is composed only when the main offer's own walk to its stop is longer than this, m (assumption A: shorter, one walks).",
    )
    max_access_m: float = Field(
        default=3000.0,
        gt=0,
        description="Longest access ride, m (assumption A).",
    )
    park_and_ride: list[ParkAndRideSite] = Field(
        default_factory=list,
        description="Park-and-ride sites: drive the own car (private_car service) there, ride a main service from it; the way back rides to the site and drives the car on.",
    )
    line_transfers: bool = Field(
        default=False,
        description="Also offer walk -> line -> line -> walk chains: one transfer between two main services with stops, at a stop node both serve.",
    )
    transfer_penalty_min: float = Field(
        default=15.0,
        ge=0,
        description="Pure transfer penalty in in-vehicle minutes, added once per transfer (a chain has one) to its weighted time [T12].",
    )

    @field_validator("access_modes")
    @classmethod
    def _device_modes(cls, modes: list[str]) -> list[str]:
        bad = [m for m in modes if m not in ACCESS_MODES]
        if bad:
            raise ValueError(f"expected access modes from {', '.join(ACCESS_MODES)} (got {bad})")
        return modes

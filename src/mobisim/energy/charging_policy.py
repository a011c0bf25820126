"""Charging policies: when an electric shuttle, bus or DRT vehicle between jobs leaves service to
charge, at which site, and up to what level.

A service asks the policy at each decision point (a shuttle at the end of a run, a DRT vehicle
when its plan runs empty):

- :meth:`ChargingPolicy.needs_charge` — can the vehicle not go on without a charge? (given its
  battery and the energy its next job needs, kWh; 0 when unknown): a vehicle that needs a charge
  and has no site in reach is withdrawn rather than run flat;
- :meth:`ChargingPolicy.charge_site` — the site to charge at now, or None to stay in service;
  it is given a callable that finds the nearest site open to the service (and the drive to it,
  s), asked only when the policy considers charging;
- :attr:`ChargingPolicy.target_share` — charge up to this share of the capacity.

Policies are registered by name (``mobisim.scenario.registry.POLICIES["charging"]``) and chosen
with ``energy.charging_policy`` in the scenario file:

``threshold`` (default)
    Charge when the state of charge is below ``energy.charge_below_share`` of capacity, or when
    the next job (e.g. one more full run) would leave less than ``energy.reserve_share``; go to
    the nearest site open to the service; charge to ``energy.charge_to_share``.
``opportunity``
    Top up whenever a site is close: at every decision point below ``energy.charge_to_share``
    (by more than ``energy.opportunity_min_gain_share``), drive to the nearest site if it is at
    most ``energy.opportunity_max_drive_min`` away; otherwise (and always when the threshold
    policy would) behave as ``threshold``. Opportunity charging at terminals is how electric
    bus and shuttle fleets run with smaller batteries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mobisim.energy.battery import Battery, can_finish, needs_charge
from mobisim.units import min_to_s

#: finds the nearest site open to the service from where the vehicle stands: (site, drive s) or None
NearestSite = Callable[[], "tuple[Any, float] | None"]


class ChargingPolicy(Protocol):
    """When a vehicle between jobs goes to charge, where, and up to what level."""

    target_share: float

    def needs_charge(self, battery: Battery, next_job_kwh: float = 0.0) -> bool:
        """Can the vehicle not go on (take a job of ``next_job_kwh`` kWh) without a charge?"""

    def charge_site(self, battery: Battery, next_job_kwh: float, nearest: NearestSite) -> Any:
        """The charging site to drive to now, or None to stay in service."""


class ThresholdCharging:
    """Charge below ``charge_below_share``, or when the next job would eat into the reserve;
    at the nearest site; up to ``charge_to_share``.

    Parameters
    ----------
    config : EnergyConfig
        ``charge_below_share``, ``charge_to_share``, ``reserve_share`` (shares of capacity).
    """

    def __init__(self, config: Any):
        self.config = config
        self.target_share = config.charge_to_share

    def needs_charge(self, battery: Battery, next_job_kwh: float = 0.0) -> bool:
        """Below the charge threshold, or not enough for ``next_job_kwh`` (kWh) and the reserve."""
        low = needs_charge(battery, self.config.charge_below_share)
        return low or not can_finish(battery, next_job_kwh, self.config.reserve_share)

    def charge_site(self, battery: Battery, next_job_kwh: float, nearest: NearestSite) -> Any:
        """The nearest site when the vehicle needs a charge; else None."""
        if not self.needs_charge(battery, next_job_kwh):
            return None
        found = nearest()
        return None if found is None else found[0]


class OpportunityCharging(ThresholdCharging):
    """Top up at a near site whenever below ``charge_to_share``; otherwise as the threshold policy.

    Parameters
    ----------
    config : EnergyConfig
        As :class:`ThresholdCharging`, plus ``opportunity_max_drive_min`` (min) and
        ``opportunity_min_gain_share`` (share of capacity).
    """

    def __init__(self, config: Any):
        super().__init__(config)
        self.max_drive_s = min_to_s(config.opportunity_max_drive_min)
        self.min_gain_share = config.opportunity_min_gain_share

    def charge_site(self, battery: Battery, next_job_kwh: float, nearest: NearestSite) -> Any:
        """As the threshold policy; else a site at most ``opportunity_max_drive_min`` away when
        the battery is below ``charge_to_share`` by more than ``opportunity_min_gain_share``."""
        if self.needs_charge(battery, next_job_kwh):
            return super().charge_site(battery, next_job_kwh, nearest)
        room_kwh = (self.target_share - self.min_gain_share) * battery.capacity_kwh
        if battery.soc_kwh >= room_kwh:
            return None
        found = nearest()
        if found is None or not found[1] <= self.max_drive_s:
            return None
        return found[0]

"""The state of charge of one electric vehicle or device.

A :class:`Battery` is a plain object owned by the vehicle's process: the service draws the energy
of each leg and dwell from it (``draw``) and a charging site puts energy in (``charge``). It keeps
running totals so that the run can check the energy balance of every vehicle (accounting.py).

Services check before they commit a vehicle to work::

    need_kwh = leg_energy_kwh(vt, distance_m, duration_s, pax)
    if not can_finish(battery, need_kwh, reserve_share=0.1):
        ...                       # refuse / send the vehicle to charge first
    battery.draw(need_kwh)
"""

from __future__ import annotations

import math

from mobisim.errors import SimulationError

#: rounding slack, kWh: draws this much beyond empty are floating-point noise, not an error
EPS_KWH = 1e-9


class Battery:
    """A battery of ``capacity_kwh`` holding ``soc_kwh`` (kWh, battery side).

    Parameters:
        capacity_kwh: usable capacity, kWh (> 0).
        soc_kwh: energy stored at the start, kWh (0..capacity); None = full.
        name: a label used in error messages (e.g. ``"shuttle vehicle 3"``).
    """

    __slots__ = ("capacity_kwh", "charged_kwh", "drawn_kwh", "initial_soc_kwh", "name", "soc_kwh")

    def __init__(self, capacity_kwh: float, soc_kwh: float | None = None, name: str = "battery"):
        if not (math.isfinite(capacity_kwh) and capacity_kwh > 0):
            raise ValueError(f"{name}: capacity_kwh must be > 0 (got {capacity_kwh!r})")
        soc = capacity_kwh if soc_kwh is None else float(soc_kwh)
        if not (math.isfinite(soc) and 0 <= soc <= capacity_kwh):
            raise ValueError(f"{name}: soc_kwh must be within 0..{capacity_kwh} (got {soc_kwh!r})")
        self.capacity_kwh = float(capacity_kwh)
        self.soc_kwh = soc
        self.initial_soc_kwh = soc
        self.drawn_kwh = 0.0
        self.charged_kwh = 0.0
        self.name = name

    def __repr__(self) -> str:
        return f"Battery({self.name}: {self.soc_kwh:.3f}/{self.capacity_kwh:g} kWh)"

    @property
    def soc_share(self) -> float:
        """State of charge as a share of capacity (0..1)."""
        return self.soc_kwh / self.capacity_kwh

    @property
    def free_kwh(self) -> float:
        """Room left, kWh (capacity − state of charge)."""
        return self.capacity_kwh - self.soc_kwh

    def can_supply(self, kwh: float) -> bool:
        """True if ``kwh`` (kWh, ≥ 0) can be drawn without going below empty."""
        return kwh <= self.soc_kwh + EPS_KWH

    def draw(self, kwh: float) -> None:
        """Take ``kwh`` (kWh, ≥ 0) out of the battery.

        Raises SimulationError naming the battery if that would leave it below empty: services
        must check with :meth:`can_supply` (or :func:`can_finish`) before they commit the work.
        """
        if kwh < 0 or not math.isfinite(kwh):
            raise ValueError(f"{self.name}: cannot draw {kwh!r} kWh (expected a finite kWh >= 0)")
        if not self.can_supply(kwh):
            raise SimulationError(
                f"{self.name} would run flat: drawing {kwh:.4f} kWh with {self.soc_kwh:.4f} kWh "
                f"left (a service must check can_supply before committing a vehicle to work)"
            )
        self.soc_kwh = max(self.soc_kwh - kwh, 0.0)
        self.drawn_kwh += kwh

    def charge(self, kwh: float) -> float:
        """Put up to ``kwh`` (kWh, battery side, ≥ 0) in; return the kWh accepted (capped at capacity)."""
        if kwh < 0 or not math.isfinite(kwh):
            raise ValueError(f"{self.name}: cannot charge {kwh!r} kWh (expected a finite kWh >= 0)")
        accepted = min(kwh, self.free_kwh)
        self.soc_kwh += accepted
        self.charged_kwh += accepted
        return accepted


def can_finish(battery: Battery, kwh: float, reserve_share: float = 0.0) -> bool:
    """True if ``battery`` can supply ``kwh`` (kWh) and still keep ``reserve_share`` of its capacity.

    Parameters:
        battery: the vehicle's battery.
        kwh: energy the planned work needs, kWh (legs + dwells, e.g. from consumption.py).
        reserve_share: share of capacity (0..1) that must remain afterwards.
    """
    return battery.can_supply(kwh + reserve_share * battery.capacity_kwh)


def needs_charge(battery: Battery, threshold_share: float) -> bool:
    """True if the state of charge is below ``threshold_share`` (0..1) of capacity.

    Parameters:
        battery: the vehicle's battery.
        threshold_share: e.g. 0.3 = go and charge below 30 % (``energy.charge_below_share``).
    """
    return battery.soc_kwh < threshold_share * battery.capacity_kwh - EPS_KWH

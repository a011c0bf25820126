"""Charging sites: plugs as a SimPy resource, a charging curve with a taper, logged sessions.

The charging curve (battery side). Up to ``taper_start_share`` of capacity (default 80 %) the
battery takes the full power ``P`` = min(plug power, the vehicle's ``max_charge_kw``); above it
the power falls linearly to ``taper_end_power_share`` × P at 100 % (default 15 %, assumption A
for the constant-voltage tail, 10–20 % at full)::

    P(E) = P                                   for E ≤ E0 = taper_start_share × C
    P(E) = P × (1 − k·(E − E0)),  k = (1 − taper_end_power_share) / (C − E0)     above

so ``dE/dt = P(E)`` has a closed form (linear, then exponential approach); no time steps.
The grid delivers ``P(E) / efficiency`` (plug side; efficiency 0.92 [M1][E3]).

A vehicle's charging story (the site logs it)::

    arrives  -> waits for a free plug (queue: simpy.Resource of ``plugs``)
    plug in  -> charge_start (value = state of charge, kWh)
    charges  -> until the target share, ``max_duration_s`` or an interrupt (leaves early)
    unplug   -> charge_end (value = kWh put in the battery, duration_s = plugged time)
             -> one vehicle_dwell row, state "charging", from arrival to unplug

While at the site the vehicle draws nothing from its battery (the site powers it).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import simpy

from mobisim.energy.battery import EPS_KWH, Battery
from mobisim.energy.vehicle_types import CHARGE_EFFICIENCY, VehicleType

#: default taper: full power up to 80 % state of charge, 15 % of full power at 100 % (A)
TAPER_START_SHARE = 0.8
TAPER_END_POWER_SHARE = 0.15
#: argument types of soc_after_kwh's scalar path (one plug-in, not arrays)
_SCALAR = (float, int)


@dataclass(frozen=True, slots=True)
class ChargeCurve:
    """The battery-side charging curve of one vehicle on one plug.

    Attributes:
        capacity_kwh: battery capacity C, kWh.
        power_kw: full charging power P (battery side), kW.
        taper_start_share: state of charge share where the taper begins.
        taper_end_power_share: share of P left at 100 %.
    """

    capacity_kwh: float
    power_kw: float
    taper_start_share: float = TAPER_START_SHARE
    taper_end_power_share: float = TAPER_END_POWER_SHARE

    @property
    def _e0(self) -> float:
        return self.taper_start_share * self.capacity_kwh

    @property
    def _k(self) -> float:
        span = self.capacity_kwh - self._e0
        return (1.0 - self.taper_end_power_share) / span if span > 0 else 0.0

    def power_at_kw(self, soc_kwh: float) -> float:
        """Charging power (battery side, kW) at state of charge ``soc_kwh`` (kWh)."""
        if soc_kwh >= self.capacity_kwh:
            return 0.0
        if soc_kwh <= self._e0:
            return self.power_kw
        return self.power_kw * (1.0 - self._k * (soc_kwh - self._e0))

    def time_to_s(self, from_kwh: float, to_kwh: float) -> float:
        """Seconds to charge from ``from_kwh`` to ``to_kwh`` (kWh, ≤ capacity)."""
        to_kwh = min(to_kwh, self.capacity_kwh)
        if to_kwh <= from_kwh or self.power_kw <= 0:
            return 0.0
        e0, k = self._e0, self._k
        hours = max(min(to_kwh, e0) - from_kwh, 0.0) / self.power_kw
        low = max(from_kwh, e0)
        if to_kwh > low:
            if k > 0:
                hours += math.log((1 - k * (low - e0)) / (1 - k * (to_kwh - e0))) / (
                    self.power_kw * k
                )
            else:
                hours += (to_kwh - low) / self.power_kw
        return hours * 3600.0

    def soc_after_kwh(self, from_kwh, duration_s):
        """State of charge (kWh) after charging ``duration_s`` (s) from ``from_kwh`` (kWh).

        Both arguments may be numpy arrays (broadcast); the answer never exceeds the capacity.
        Two Python numbers take a scalar path (shared vehicles ask this on every offer): the
        same operations in the same order, so the same floats as the array path.
        """
        if type(from_kwh) in _SCALAR and type(duration_s) in _SCALAR:
            return self._soc_after_scalar_kwh(float(from_kwh), float(duration_s))
        from_kwh = np.asarray(from_kwh, dtype=float)
        hours = np.maximum(np.asarray(duration_s, dtype=float), 0.0) / 3600.0
        e0, k, power = self._e0, self._k, self.power_kw
        flat_h = np.maximum(e0 - from_kwh, 0.0) / power if power > 0 else np.inf
        in_flat = hours <= flat_h
        flat_soc = from_kwh + power * hours
        start = np.maximum(from_kwh, e0)
        rest_h = np.where(in_flat, 0.0, hours - np.minimum(flat_h, hours))
        if k > 0:
            tapered = e0 + (1 - (1 - k * (start - e0)) * np.exp(-power * k * rest_h)) / k
        else:
            tapered = start + power * rest_h
        soc = np.where(in_flat, flat_soc, tapered)
        soc = np.minimum(soc, self.capacity_kwh)
        return float(soc) if soc.ndim == 0 else soc

    def _soc_after_scalar_kwh(self, from_kwh: float, duration_s: float) -> float:
        """:meth:`soc_after_kwh` of one plug-in (kWh after ``duration_s`` s from ``from_kwh`` kWh).

        Comparisons are written so that NaN propagates as ``np.maximum`` / ``np.minimum`` do;
        the exponential is NumPy's (``math.exp`` may differ in the last bit).
        """
        hours = (duration_s if not duration_s < 0.0 else 0.0) / 3600.0
        e0, k, power = self._e0, self._k, self.power_kw
        if power > 0:
            gap = e0 - from_kwh
            flat_h = (gap if not gap < 0.0 else 0.0) / power
        else:
            flat_h = math.inf
        if hours <= flat_h:
            soc = from_kwh + power * hours
        else:
            start = from_kwh if not from_kwh < e0 else e0
            rest_h = hours - (flat_h if not flat_h > hours else hours)
            if k > 0:
                soc = e0 + (1 - (1 - k * (start - e0)) * float(np.exp(-power * k * rest_h))) / k
            else:
                soc = start + power * rest_h
        capacity = self.capacity_kwh
        return soc if not soc > capacity else capacity


class ChargingSite:
    """A charging site: ``plugs`` plugs of ``power_kw`` each, in a SimPy queue.

    Parameters:
        env: the SimPy environment.
        name: site name (``detail`` of its charge events).
        node: node index of the site.
        plugs: number of plugs (≥ 1).
        power_kw: rated power per plug into the vehicle (battery side), kW.
        efficiency: battery kWh per plug kWh (0.92 [M1][E3]).
        log: the run's EventLog (None = do not log, for tests of the curve).
        services: names of the services allowed here (empty = all).
        taper_start_share, taper_end_power_share: the taper (see the module docstring).
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        node: int = -1,
        plugs: int = 1,
        power_kw: float = 22.0,
        efficiency: float = CHARGE_EFFICIENCY,
        log=None,
        services: tuple[str, ...] | list[str] = (),
        taper_start_share: float = TAPER_START_SHARE,
        taper_end_power_share: float = TAPER_END_POWER_SHARE,
    ):
        if plugs < 1 or power_kw <= 0 or not 0 < efficiency <= 1:
            raise ValueError(
                f"charging site {name!r}: expected plugs >= 1, power_kw > 0, 0 < efficiency <= 1"
            )
        self.env = env
        self.name = name
        self.node = int(node)
        self.power_kw = float(power_kw)
        self.efficiency = float(efficiency)
        self.log = log
        self.services = tuple(services)
        self.taper_start_share = taper_start_share
        self.taper_end_power_share = taper_end_power_share
        self.plugs = simpy.Resource(env, capacity=plugs)
        #: finished sessions: (vehicle_id, service, arrival_s, plug_in_s, end_s, soc_start_kwh, battery_kwh)
        self.sessions: list[tuple[int, str, float, float, float, float, float]] = []

    def __repr__(self) -> str:
        return f"ChargingSite({self.name!r}, node={self.node}, {self.plugs.capacity}×{self.power_kw:g} kW)"

    def serves(self, service: str) -> bool:
        """True if vehicles of ``service`` may charge here."""
        return not self.services or service in self.services

    def curve(self, battery: Battery, vehicle_type: VehicleType | None = None) -> ChargeCurve:
        """The charging curve of ``battery`` on a plug here (power capped by the vehicle's max)."""
        power_kw = self.power_kw
        if vehicle_type is not None and vehicle_type.max_charge_kw > 0:
            power_kw = min(power_kw, vehicle_type.max_charge_kw)
        return ChargeCurve(
            battery.capacity_kwh, power_kw, self.taper_start_share, self.taper_end_power_share
        )

    def charge(
        self,
        battery: Battery,
        target_share: float,
        vehicle_id: int = -1,
        service: str = "",
        vehicle_type: VehicleType | None = None,
        max_duration_s: float = math.inf,
    ):
        """SimPy process: queue for a plug, charge ``battery`` to ``target_share``, unplug.

        Use as ``kwh = yield env.process(site.charge(...))`` (or ``yield from``). Returns the
        kWh put into the battery. An ``Interrupt`` makes the vehicle leave early (charged so far).

        Parameters:
            battery: the vehicle's battery.
            target_share: stop at this share of capacity (0..1).
            vehicle_id, service: who charges (for the events).
            vehicle_type: caps the power at its ``max_charge_kw`` (None = plug power).
            max_duration_s: unplug after this long at the latest, s.
        """
        env = self.env
        arrival_s = env.now
        curve = self.curve(battery, vehicle_type)
        target_kwh = min(max(target_share, 0.0), 1.0) * battery.capacity_kwh
        charged_kwh = 0.0
        request = self.plugs.request()
        try:
            yield request
        except simpy.Interrupt:
            self.plugs.release(request)
            self._log_dwell(arrival_s, vehicle_id, service)
            return 0.0
        plug_in_s = env.now
        soc_start_kwh = battery.soc_kwh
        try:
            if target_kwh > soc_start_kwh + EPS_KWH:
                if self.log is not None:
                    self.log.charge_start(
                        plug_in_s,
                        service=service,
                        vehicle_id=vehicle_id,
                        node=self.node,
                        site=self.name,
                        soc_kwh=soc_start_kwh,
                    )
                duration_s = min(curve.time_to_s(soc_start_kwh, target_kwh), max_duration_s)
                with contextlib.suppress(simpy.Interrupt):  # called away: unplug with what it has
                    yield env.timeout(duration_s)
                plugged_s = env.now - plug_in_s
                reached = min(curve.soc_after_kwh(soc_start_kwh, plugged_s), target_kwh)
                charged_kwh = battery.charge(max(reached - soc_start_kwh, 0.0))
                if self.log is not None:
                    self.log.charge_end(
                        env.now,
                        service=service,
                        vehicle_id=vehicle_id,
                        node=self.node,
                        site=self.name,
                        charged_kwh=charged_kwh,
                        duration_s=plugged_s,
                    )
                self.sessions.append(
                    (
                        vehicle_id,
                        service,
                        arrival_s,
                        plug_in_s,
                        env.now,
                        soc_start_kwh,
                        charged_kwh,
                    )
                )
        finally:
            self.plugs.release(request)
        self._log_dwell(arrival_s, vehicle_id, service)
        return charged_kwh

    def _log_dwell(self, arrival_s: float, vehicle_id: int, service: str) -> None:
        if self.log is not None and self.env.now > arrival_s:
            self.log.vehicle_dwell(
                arrival_s,
                service=service,
                vehicle_id=vehicle_id,
                node=self.node,
                duration_s=self.env.now - arrival_s,
                pax=0,
                state="charging",
                detail=self.name,
            )


def swap_battery(
    battery: Battery, log, time_s: float, vehicle_id: int, service: str, node: int = -1
) -> float:
    """Swap in a full battery (e.g. a crew at an e-scooter); log it as an instant charge.

    The energy added is logged as a zero-duration ``charge_start``/``charge_end`` pair with
    ``detail="swap"`` so that the energy balance and the charging totals see it (the swapped
    packs are charged elsewhere at the default efficiency). Returns the kWh added.

    Parameters:
        battery: the device's battery.
        log: the run's EventLog (None = do not log).
        time_s: clock time of the swap, s after midnight.
        vehicle_id, service: the device and its service.
        node: node index of the swap.
    """
    soc_start_kwh = battery.soc_kwh
    added_kwh = battery.charge(battery.free_kwh)
    if log is not None and added_kwh > 0:
        where = {"service": service, "vehicle_id": vehicle_id, "node": node, "site": "swap"}
        log.charge_start(time_s, soc_kwh=soc_start_kwh, **where)
        log.charge_end(time_s, duration_s=0.0, charged_kwh=added_kwh, **where)
    return added_kwh

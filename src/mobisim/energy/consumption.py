"""Energy a vehicle uses on a leg or while standing: battery kWh (electric) or fuel (combustion).

The per-km model (default). An electric leg of ``distance_m`` taking ``duration_s`` draws::

    kWh = kwh_per_km × km + aux_kw × duration_h          (aux = HVAC + AV stack, [P7])

The physics model (``physics: true`` on the type) keeps the documented ``kwh_per_km`` at the
type's reference speed and empty, and scales it by a road-load model at the leg's mean speed
``v = distance / duration`` with the passengers' mass (75 kg per passenger, DEFAULTS §2)::

    wheel J/m   = m·g·c_rr + ½·ρ·CdA·v² + stops/m × ½·m·v²
    battery J/m = wheel / η_drivetrain − regen_share × η_drivetrain × stops/m × ½·m·v²

(VT-CPEM road load [E1][E2], SUMO parameters [E3]). The ratio physics(v, pax)/physics(v_ref, 0)
multiplies ``kwh_per_km``, so the model only supplies the speed and load dependence.

Standing (``vehicle_dwell``): states ``dwell``, ``layover`` and ``idle`` draw the auxiliary power
(systems on, in service), ``parked`` draws the standby drain (IoT modules of shared devices), and
``charging`` draws nothing from the battery (the site powers the vehicle).

Combustion vehicles burn ``fuel_per_100km`` (litres, Nm³ for CNG) per km and ``idle_fuel_per_h``
while standing in service; their battery-side energy is 0. Human-powered types use nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mobisim.energy.vehicle_types import PAX_MASS_KG, VehicleType

#: gravity, m/s²
G_MPS2 = 9.81
#: air density, kg/m³ (VT-CPEM [E1])
AIR_DENSITY_KG_M3 = 1.2256
J_PER_KWH = 3.6e6
#: dwell states in which a vehicle is in service with its systems on (aux power drawn)
IN_SERVICE_STATES = frozenset({"dwell", "layover", "idle"})
#: dwell states that draw nothing from the battery
OFF_STATES = frozenset({"charging"})


def _hours(duration_s: float) -> float:
    return duration_s / 3600.0 if duration_s and math.isfinite(duration_s) else 0.0


def physics_kwh_per_km(vt: VehicleType, speed_kmh: float, pax: int = 0) -> float:
    """Battery-side traction energy per km of the road-load model, kWh/km (no auxiliaries).

    Parameters:
        vt: the vehicle type (mass_kg, frontal_area_m2, drag_coefficient, rolling_coefficient,
            drivetrain_efficiency, regen_share, stops_per_km).
        speed_kmh: mean speed, km/h (≥ 0).
        pax: passengers on board (each adds 75 kg).
    """
    speed_mps = max(speed_kmh, 0.0) / 3.6
    mass_kg = vt.mass_kg + PAX_MASS_KG * max(pax, 0)
    rolling_n = mass_kg * G_MPS2 * vt.rolling_coefficient
    aero_n = 0.5 * AIR_DENSITY_KG_M3 * vt.frontal_area_m2 * vt.drag_coefficient * speed_mps**2
    stop_j_per_m = vt.stops_per_km / 1000.0 * 0.5 * mass_kg * speed_mps**2
    eta = vt.drivetrain_efficiency or 1.0
    battery_j_per_m = (rolling_n + aero_n + stop_j_per_m) / eta - (
        vt.regen_share * eta * stop_j_per_m
    )
    return battery_j_per_m * 1000.0 / J_PER_KWH


def traction_kwh_per_km(vt: VehicleType, speed_kmh: float | None = None, pax: int = 0) -> float:
    """Battery-side traction energy per km, kWh/km, at ``speed_kmh`` with ``pax`` on board.

    Parameters:
        vt: the vehicle type; without ``physics`` the answer is ``vt.kwh_per_km`` whatever the speed.
        speed_kmh: mean speed, km/h (None = the type's reference speed).
        pax: passengers on board (physics model only).
    """
    if not vt.is_electric:
        return 0.0
    if not vt.physics or speed_kmh is None:
        return vt.kwh_per_km
    reference = physics_kwh_per_km(vt, vt.reference_speed_kmh, 0)
    if reference <= 0:
        return vt.kwh_per_km
    return vt.kwh_per_km * physics_kwh_per_km(vt, speed_kmh, pax) / reference


def leg_energy_kwh(vt: VehicleType, distance_m: float, duration_s: float, pax: int = 0) -> float:
    """Battery-side energy of one leg, kWh: traction plus auxiliary power over its duration.

    Parameters:
        vt: the vehicle type.
        distance_m: distance driven, m.
        duration_s: time the leg takes, s (auxiliary power is drawn all along; the physics
            model also takes its mean speed from it).
        pax: passengers on board during the leg.

    Returns 0 for combustion and human-powered types (see :func:`leg_fuel`).
    """
    if not vt.is_electric:
        return 0.0
    km = distance_m / 1000.0 if distance_m and math.isfinite(distance_m) else 0.0
    hours = _hours(duration_s)
    speed_kmh = km / hours if hours > 0 else None
    return traction_kwh_per_km(vt, speed_kmh, pax) * km + vt.aux_kw * hours


def dwell_energy_kwh(vt: VehicleType, duration_s: float, state: str = "dwell") -> float:
    """Battery-side energy of standing ``duration_s`` (s) in ``state``, kWh.

    Parameters:
        vt: the vehicle type.
        duration_s: time standing, s.
        state: ``dwell``/``layover``/``idle`` draw ``aux_kw``; ``parked`` draws ``standby_kw``;
            ``charging`` draws nothing; any other (moving) state draws ``aux_kw``.
    """
    if not vt.is_electric or state in OFF_STATES:
        return 0.0
    power_kw = vt.standby_kw if state == "parked" else vt.aux_kw
    return power_kw * _hours(duration_s)


def path_energy_kwh(
    vt: VehicleType, lengths_m: Iterable[float], times_s: Iterable[float], pax: int = 0
) -> float:
    """Battery-side energy of a path edge by edge, kWh (each edge at its own mean speed).

    Parameters:
        vt: the vehicle type (with ``physics`` the edges' speeds matter; without it this equals
            :func:`leg_energy_kwh` of the summed length and time).
        lengths_m: edge lengths, m.
        times_s: edge travel times, s (same order).
        pax: passengers on board.
    """
    return sum(
        leg_energy_kwh(vt, length_m, time_s, pax)
        for length_m, time_s in zip(lengths_m, times_s, strict=True)
    )


def leg_fuel(vt: VehicleType, distance_m: float, duration_s: float = 0.0) -> float:
    """Fuel burnt on one leg in the type's fuel unit (litres; Nm³ for CNG); 0 if not combustion.

    Parameters:
        vt: the vehicle type (``fuel_per_100km``).
        distance_m: distance driven, m.
        duration_s: time the leg takes, s (not used by the per-km fuel model; kept for symmetry).
    """
    if not vt.is_combustion or not distance_m or not math.isfinite(distance_m):
        return 0.0
    return vt.fuel_per_100km * distance_m / 100_000.0


def dwell_fuel(vt: VehicleType, duration_s: float, state: str = "dwell") -> float:
    """Fuel burnt standing ``duration_s`` (s) in ``state`` (engine on only in dwell/layover/idle).

    Parameters:
        vt: the vehicle type (``idle_fuel_per_h``).
        duration_s: time standing, s.
        state: the dwell state.
    """
    if not vt.is_combustion or state not in IN_SERVICE_STATES:
        return 0.0
    return vt.idle_fuel_per_h * _hours(duration_s)


def rows_energy(
    vt: VehicleType,
    event: np.ndarray,
    distance_m: np.ndarray,
    duration_s: np.ndarray,
    pax: np.ndarray,
    state: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Battery kWh and fuel (L or Nm³) of many ``vehicle_leg``/``vehicle_dwell`` rows of one type.

    The vectorised twin of :func:`leg_energy_kwh`, :func:`dwell_energy_kwh`, :func:`leg_fuel`
    and :func:`dwell_fuel` (same numbers; used by the accounting of a whole run).

    Parameters:
        vt: the vehicle type of every row.
        event: ``"vehicle_leg"`` or ``"vehicle_dwell"`` per row.
        distance_m: leg distances, m (NaN for dwells).
        duration_s: durations, s.
        pax: passengers on board (negative = none).
        state: vehicle state per row (dwell states decide the standing draw).
    """
    is_leg = np.asarray(event) == "vehicle_leg"
    hours = np.nan_to_num(np.asarray(duration_s, dtype=float), nan=0.0, posinf=0.0) / 3600.0
    km = np.nan_to_num(np.asarray(distance_m, dtype=float), nan=0.0, posinf=0.0) / 1000.0
    km = np.where(is_leg, km, 0.0)
    state = np.asarray(state, dtype=object)
    battery = np.zeros(len(is_leg))
    fuel = np.zeros(len(is_leg))
    if vt.is_electric:
        rate = np.full(len(km), vt.kwh_per_km)
        if vt.physics:
            reference = physics_kwh_per_km(vt, vt.reference_speed_kmh, 0)
            speed_kmh = np.divide(km, hours, out=np.full(len(km), np.nan), where=hours > 0)
            pax_on = np.clip(np.asarray(pax, dtype=float), 0, None)
            scaled = np.array(
                [physics_kwh_per_km(vt, s, int(p)) for s, p in zip(speed_kmh, pax_on, strict=True)]
            )
            if reference > 0:
                rate = np.where(np.isnan(speed_kmh), rate, vt.kwh_per_km * scaled / reference)
        standing_kw = np.where(
            np.isin(state, list(OFF_STATES)),
            0.0,
            np.where(state == "parked", vt.standby_kw, vt.aux_kw),
        )
        battery = np.where(is_leg, rate * km + vt.aux_kw * hours, standing_kw * hours)
    elif vt.is_combustion:
        idle = np.isin(state, list(IN_SERVICE_STATES))
        fuel = np.where(
            is_leg, vt.fuel_per_100km * km / 100.0, np.where(idle, vt.idle_fuel_per_h * hours, 0.0)
        )
    return battery, fuel

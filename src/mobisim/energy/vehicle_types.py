"""Vehicle types: how much energy a vehicle or device uses, what it carries, how it charges.

Every built-in type cites its defaults by source key (docs/energy.md lists the sources, taken from
the project's DEFAULTS reference, §1, §2, §3, §9). Tags: S = sourced, D = derived from sourced
numbers, A = assumption (replace when better data exist).

Energy boundaries. ``kwh_per_km`` is **battery side** (DC energy out of the pack) for electric
types. Sources that quote plug energy (grid, charging losses included) are converted with the
default charging efficiency 0.92 (DEFAULTS §9, [M1][E3]): battery = plug × 0.92. Combustion
types carry ``fuel_per_100km`` in their fuel's unit (litres, or Nm³ for CNG).

A scenario changes any value or defines new types under ``energy.vehicle_types``::

    energy:
      vehicle_types:
        av_shuttle: {hvac_kw: 3.0}                       # winter heating on the built-in shuttle
        my_van: {based_on: e_van, battery_kwh: 75}       # a new type copied from a built-in one
        robotaxi: {powertrain: electric, kwh_per_km: 0.16, battery_kwh: 60, capacity_pax: 4}
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from mobisim.errors import ScenarioError

#: default charger efficiency, battery kWh per plug kWh (DEFAULTS §9; 0.90–0.95 [M1][E3])
CHARGE_EFFICIENCY = 0.92
#: added mass per passenger, kg (DEFAULTS §2, shuttle physics check, A)
PAX_MASS_KG = 75.0

Powertrain = Literal["electric", "petrol", "diesel", "cng", "human"]
POWERTRAINS: tuple[str, ...] = ("electric", "petrol", "diesel", "cng", "human")
#: the fuel unit of each combustion powertrain
FUEL_UNITS = {"petrol": "L", "diesel": "L", "cng": "Nm3"}


@dataclass(frozen=True, slots=True)
class VehicleType:
    """One vehicle or device type and its energy parameters.

    Attributes (units in the names):
        name: catalogue key, e.g. ``"av_shuttle"``.
        powertrain: ``electric`` | ``petrol`` | ``diesel`` | ``cng`` | ``human``.
        kwh_per_km: electric: battery-side energy per vehicle-km at ``reference_speed_kmh``
            (traction and the base load already in the measured figure).
        battery_kwh: usable battery capacity, kWh (0 when none).
        max_charge_kw: the most power the vehicle accepts from a charger (battery side), kW.
        fuel_per_100km: combustion: fuel per 100 vehicle-km (litres; Nm³ for CNG).
        idle_fuel_per_h: combustion: fuel per hour standing with the engine on (dwell/layover/idle).
        hvac_kw: heating/air-conditioning power drawn while in service (moving or standing), kW.
        av_stack_kw: automated-driving sensors and computers, kW ([P7] 1.0 kW for shuttles).
        standby_kw: drain while parked and switched off (IoT modules of shared devices), kW.
        capacity_pax: passengers it carries (the rider included for devices; 0 for vans).
        physics: True = scale ``kwh_per_km`` with the speed/load physics model (consumption.py).
        reference_speed_kmh: speed at which ``kwh_per_km`` holds in the physics model, km/h.
        mass_kg, frontal_area_m2, drag_coefficient, rolling_coefficient: road-load parameters.
        drivetrain_efficiency: battery-to-wheel efficiency of the physics model.
        regen_share: share of braking energy returned to the battery.
        stops_per_km: full stops per km in the physics model (stop-and-go losses).
        description, sources: what it is and where the numbers come from (source keys).
    """

    name: str
    powertrain: Powertrain = "electric"
    kwh_per_km: float = 0.0
    battery_kwh: float = 0.0
    max_charge_kw: float = 7.0
    fuel_per_100km: float = 0.0
    idle_fuel_per_h: float = 0.0
    hvac_kw: float = 0.0
    av_stack_kw: float = 0.0
    standby_kw: float = 0.0
    capacity_pax: int = 1
    physics: bool = False
    reference_speed_kmh: float = 20.0
    mass_kg: float = 1500.0
    frontal_area_m2: float = 2.3
    drag_coefficient: float = 0.3
    rolling_coefficient: float = 0.01
    drivetrain_efficiency: float = 0.85
    regen_share: float = 0.6
    stops_per_km: float = 1.0
    description: str = ""
    sources: str = ""

    @property
    def is_electric(self) -> bool:
        """True for battery-electric vehicles and devices (they have a state of charge)."""
        return self.powertrain == "electric"

    @property
    def is_combustion(self) -> bool:
        """True for petrol, diesel and CNG vehicles (they burn fuel)."""
        return self.powertrain in FUEL_UNITS

    @property
    def aux_kw(self) -> float:
        """Auxiliary power while in service (moving or standing), kW: HVAC + AV stack."""
        return self.hvac_kw + self.av_stack_kw

    @property
    def fuel_unit(self) -> str:
        """``"L"``, ``"Nm3"`` or ``""`` (not a combustion vehicle)."""
        return FUEL_UNITS.get(self.powertrain, "")


def _plug_to_battery(plug_kwh_per_km: float) -> float:
    """Battery-side kWh/km from a plug-side figure (× charging efficiency 0.92, DEFAULTS §9)."""
    return plug_kwh_per_km * CHARGE_EFFICIENCY


#: The built-in catalogue. Change it through ``energy.vehicle_types`` in a scenario, not here.
BUILTIN_TYPES: dict[str, VehicleType] = {
    t.name: t
    for t in (
        VehicleType(
            name="av_shuttle",
            description="Autonomous electric shuttle, Navya/EZ10 class, 15 pax.",
            kwh_per_km=0.30,  # D, battery side, mild weather excl. HVAC [P1][P2][P5][P6]
            battery_kwh=33.0,  # S [P1]
            max_charge_kw=7.0,  # D: 33 kWh in 4-8 h [P2][P4]; with the taper ~5.5 h
            av_stack_kw=1.0,  # S [P7]
            hvac_kw=0.0,  # A: mild weather; 3 kW cooling, 5 kW heating (DEFAULTS §1)
            capacity_pax=15,  # S [P2]
            reference_speed_kmh=18.0,  # A: physics check cruise 18-25 km/h (DEFAULTS §2)
            mass_kg=2400.0,  # A (DEFAULTS §2 physics check)
            frontal_area_m2=3.1,  # A: CdA 3.1 m² (drag_coefficient 1.0 carries it)
            drag_coefficient=1.0,
            rolling_coefficient=0.012,  # A
            drivetrain_efficiency=0.85,  # A
            regen_share=0.6,  # A
            stops_per_km=2.5,  # A: a stop every 300-600 m
            sources="[P1][P2][P5][P6][P7]; physics A (DEFAULTS §2)",
        ),
        VehicleType(
            name="e_bus_12m",
            description="12 m battery-electric city bus (Hyundai Elec City class).",
            kwh_per_km=_plug_to_battery(1.0),  # S/D plug 1.0 [B4][B5][B6]
            battery_kwh=256.0,  # S [B5]
            max_charge_kw=150.0,  # A: depot DC charger
            capacity_pax=70,  # A
            reference_speed_kmh=20.0,
            mass_kg=13000.0,  # A: SUMO bus example 10 t [E3] + batteries
            frontal_area_m2=5.0,  # S [E3]
            drag_coefficient=0.6,  # S [E3]
            rolling_coefficient=0.01,  # S [E3]
            drivetrain_efficiency=0.9,  # S [E3]
            stops_per_km=2.0,  # A
            sources="[B4][B5][B6]; physics [E3]",
        ),
        VehicleType(
            name="e_midibus",
            description="7-9 m electric midibus (Hyundai County Electric class), DRT or feeder.",
            kwh_per_km=0.6,  # D [B7] (128 kWh / ~250 km => 0.51; default 0.6)
            battery_kwh=128.0,  # S [B7]
            max_charge_kw=100.0,  # A
            capacity_pax=30,  # A
            mass_kg=7000.0,  # A
            frontal_area_m2=4.5,  # A
            drag_coefficient=0.6,  # A (as [E3] bus)
            drivetrain_efficiency=0.9,
            stops_per_km=2.0,
            sources="[B7]",
        ),
        VehicleType(
            name="diesel_bus_12m",
            description="12 m diesel city bus.",
            powertrain="diesel",
            fuel_per_100km=40.0,  # S [B1][B2]
            capacity_pax=70,  # A
            sources="[B1][B2][F1]",
        ),
        VehicleType(
            name="e_train",
            description="Electric regional train (4-car EMU), catenary-fed, for transit rail lines.",
            kwh_per_km=15.0,  # A: per train-km; order of the 14 kWh/train-km measured on electric trains [R1]
            battery_kwh=100000.0,  # A: the catenary as a store that never runs low in a day
            max_charge_kw=1000.0,  # A: never charges in a day (a value > 0 for the checks)
            capacity_pax=300,  # A
            sources="[R1] (order of magnitude); A",
        ),
        VehicleType(
            name="cng_bus_12m",
            description="12 m CNG city bus (typical in Korea).",
            powertrain="cng",
            fuel_per_100km=56.0,  # S 0.56 Nm³/km [B2][B3]
            capacity_pax=70,  # A
            sources="[B2][B3][F1]",
        ),
        VehicleType(
            name="ev_car",
            description="Electric car, Hyundai Kona/Ioniq class (car-sharing, DRT sedan).",
            kwh_per_km=_plug_to_battery(0.17),  # S/D plug 0.17 [C1]-[C6]
            battery_kwh=64.0,  # S Kona LR [C4]
            max_charge_kw=57.0,  # D: Kona 64 kWh 10->80 % in 47 min [C4]
            capacity_pax=5,  # S (DEFAULTS §9)
            reference_speed_kmh=30.0,  # A
            mass_kg=1830.0,  # S SUMO Kia Soul EV [E3]
            frontal_area_m2=2.6,  # S [E3]
            drag_coefficient=0.35,  # S [E3]
            rolling_coefficient=0.01,  # S [E3]
            drivetrain_efficiency=0.9,  # S motor+inverter [M1]
            stops_per_km=1.0,  # A
            sources="[C1][C2][C3][C4][C5][C6]; physics [E3]",
        ),
        VehicleType(
            name="ev_car_ioniq",
            description="Electric car, Hyundai Ioniq (28 kWh).",
            kwh_per_km=_plug_to_battery(0.16),  # S/D (DEFAULTS §9) [C2][C3]
            battery_kwh=28.0,  # S [C2]
            max_charge_kw=56.0,  # S: 0->80 % in 24 min (≈56 kW) [C2]
            capacity_pax=5,
            sources="[C2][C3]",
        ),
        VehicleType(
            name="petrol_car",
            description="Private petrol car (the baseline), urban driving.",
            powertrain="petrol",
            fuel_per_100km=7.5,  # S/D [F3][F4][F5]
            capacity_pax=5,
            sources="[F3][F4][F5][F1]",
        ),
        VehicleType(
            name="e_scooter",
            description="Shared stand-up e-scooter.",
            kwh_per_km=_plug_to_battery(0.020),  # S/D plug 20 Wh/km [M1]
            battery_kwh=0.25,  # S [M1]
            max_charge_kw=0.1,  # A: ~2.5 h for a full charge
            # D: idle drain 40 % of charged energy at ~0.8 trips/day [M2]: with ~2 km/trip,
            # riding ≈ 32 Wh/day, idle ≈ 21 Wh/day ≈ 0.9 W while parked
            standby_kw=0.0009,
            capacity_pax=1,
            sources="[M1][M2]",
        ),
        VehicleType(
            name="e_bike",
            description="Shared pedelec (assist up to 25 km/h).",
            kwh_per_km=_plug_to_battery(0.008),  # S plug 8 Wh/km [M1][M4][M5]
            battery_kwh=0.5,  # S [M1][M5]
            max_charge_kw=0.15,  # A: ~3.5 h for a full charge
            capacity_pax=1,
            sources="[M1][M4][M5]",
        ),
        VehicleType(
            name="bike",
            description="Conventional (shared) bicycle.",
            powertrain="human",
            capacity_pax=1,
            sources="[M1]",
        ),
        VehicleType(
            name="segway",
            description="Self-balancing personal transporter (assumption A: like an e-scooter, heavier).",
            kwh_per_km=_plug_to_battery(0.025),  # A: 25 Wh/km plug (upper e-scooter range [M1])
            battery_kwh=0.5,  # A
            max_charge_kw=0.15,  # A
            capacity_pax=1,
            sources="A (e-scooter range [M1])",
        ),
        VehicleType(
            name="e_van",
            description="Electric operations van (rebalancing, battery-swap crews). Assumption A.",
            kwh_per_km=_plug_to_battery(0.25),  # A: light commercial EV, plug 0.25 kWh/km
            battery_kwh=60.0,  # A
            max_charge_kw=50.0,  # A: DC fast charger [K1]
            capacity_pax=2,  # crew
            sources="A",
        ),
        VehicleType(
            name="diesel_van",
            description="Diesel operations van (rebalancing crews). Assumption A.",
            powertrain="diesel",
            fuel_per_100km=9.0,  # A: light commercial diesel van, urban
            capacity_pax=2,
            sources="A [F1]",
        ),
    )
}

#: other spellings accepted for built-in types (DEFAULTS §9 keys, router profile names)
ALIASES: dict[str, str] = {
    "ev_car_kona": "ev_car",
    "e_bus": "e_bus_12m",
    "diesel_bus": "diesel_bus_12m",
    "cng_bus": "cng_bus_12m",
    "escooter": "e_scooter",
    "ebike": "e_bike",
    "shuttle": "av_shuttle",
}

_FIELDS = {f.name for f in dataclasses.fields(VehicleType)}
#: keys an override may use besides the fields: a plug-side per-km figure, a base type
_EXTRA_KEYS = {"plug_kwh_per_km", "based_on"}


def _problems(name: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Check the values of a vehicle type; list ``(key path, message)`` problems."""
    out: list[tuple[str, str]] = []
    key = f"energy.vehicle_types.{name}"
    if values["powertrain"] not in POWERTRAINS:
        out.append((f"{key}.powertrain", f"expected one of {POWERTRAINS}"))
    for field in _FIELDS - {"name", "powertrain", "physics", "description", "sources"}:
        value = values[field]
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            out.append((f"{key}.{field}", f"expected a finite number (got {value!r})"))
        elif value < 0:
            out.append((f"{key}.{field}", f"expected a number >= 0 (got {value!r})"))
    for field in ("drivetrain_efficiency", "regen_share"):
        value = values[field]
        if isinstance(value, int | float) and not 0 <= value <= 1:
            out.append((f"{key}.{field}", f"expected a share between 0 and 1 (got {value!r})"))
    if values["powertrain"] == "electric" and values["battery_kwh"] <= 0:
        out.append((f"{key}.battery_kwh", "an electric type needs a battery_kwh > 0"))
    return out


def get_vehicle_type(name: str, overrides: dict[str, dict[str, Any]] | None = None) -> VehicleType:
    """The vehicle type ``name``: a built-in one, changed or defined by ``overrides``.

    Parameters:
        name: type name, a key of :data:`BUILTIN_TYPES` or of ``overrides``.
        overrides: ``energy.vehicle_types`` of the scenario: type name -> {field: value}. Values
            use the field units (kWh/km battery side, kW, kg ...); ``plug_kwh_per_km`` may be
            given instead of ``kwh_per_km`` (converted × 0.92); ``based_on`` copies another type
            (built-in or overridden) before applying the values; a new name without ``based_on``
            starts from the field defaults.

    Raises ScenarioError (key path ``energy.vehicle_types.<name>...``) for an unknown type,
    an unknown key or a bad value.
    """
    overrides = overrides or {}
    if name not in overrides and name in ALIASES:
        name = ALIASES[name]
    return _resolve(name, overrides, seen=())


def _resolve(name: str, overrides: dict[str, dict[str, Any]], seen: tuple[str, ...]) -> VehicleType:
    if name in seen:
        raise ScenarioError(None, [(f"energy.vehicle_types.{name}.based_on", "circular based_on")])
    values_in = dict(overrides.get(name) or {})
    if name not in BUILTIN_TYPES and name not in overrides:
        known = ", ".join(sorted(set(BUILTIN_TYPES) | set(overrides)))
        raise ScenarioError(
            None, [(f"energy.vehicle_types.{name}", f"unknown vehicle type; known: {known}")]
        )
    unknown = sorted(set(values_in) - _FIELDS - _EXTRA_KEYS - {"name"})
    if unknown:
        allowed = ", ".join(sorted((_FIELDS | _EXTRA_KEYS) - {"name"}))
        raise ScenarioError(
            None,
            [
                (f"energy.vehicle_types.{name}.{key}", f"unknown key; allowed: {allowed}")
                for key in unknown
            ],
        )
    base_name = values_in.pop("based_on", None)
    if base_name is not None:
        base_name = str(base_name)
        if base_name not in overrides:
            base_name = ALIASES.get(base_name, base_name)
        base = _resolve(base_name, overrides, (*seen, name))
    elif name in BUILTIN_TYPES:
        base = BUILTIN_TYPES[name]
    else:
        base = VehicleType(name=name)
    if "plug_kwh_per_km" in values_in:
        plug = values_in.pop("plug_kwh_per_km")
        if "kwh_per_km" in values_in:
            raise ScenarioError(
                None,
                [(f"energy.vehicle_types.{name}", "give kwh_per_km or plug_kwh_per_km, not both")],
            )
        if isinstance(plug, int | float) and not isinstance(plug, bool):
            values_in["kwh_per_km"] = _plug_to_battery(float(plug))
        else:
            values_in["kwh_per_km"] = plug
    values = {**dataclasses.asdict(base), **values_in, "name": name}
    problems = _problems(name, values)
    if problems:
        raise ScenarioError(None, problems)
    if not isinstance(values["capacity_pax"], int):
        values["capacity_pax"] = round(values["capacity_pax"])
    return VehicleType(**values)


def catalogue(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, VehicleType]:
    """Every vehicle type of a scenario: the built-in ones and those of ``overrides``, by name.

    Parameters:
        overrides: ``energy.vehicle_types`` of the scenario (see :func:`get_vehicle_type`).
    """
    overrides = overrides or {}
    names = list(BUILTIN_TYPES) + [n for n in overrides if n not in BUILTIN_TYPES]
    return {n: get_vehicle_type(n, overrides) for n in names}

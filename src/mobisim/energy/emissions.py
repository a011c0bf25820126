"""Emission and fuel-energy factors: CO2 of electricity and fuel, and the private-car intensity.

Electric vehicles are charged with CO2 at the plug (DEFAULTS energy boundary): grid kWh × grid
factor (Korea 2023, 0.417 kgCO2e/kWh [G1]) + PV kWh × PV factor (0, or 0.053 lifecycle [G5]).
Combustion vehicles: litres × tailpipe factor (petrol 2.36, diesel 2.61 kgCO2/L [F1][F2]);
CNG: Nm³ × density (0.75 kg/Nm³, A) × 2.68 kgCO2/kg [F1]. Fuel energy (kWh-equivalent):
petrol 8.88, diesel 9.91 kWh/L [F1]; CNG 10 kWh/Nm³ (A). Every factor is a field of
:class:`~mobisim.scenario.energy_config.EnergyConfig`, so a scenario can override it.
"""

from __future__ import annotations

from mobisim.energy.vehicle_types import VehicleType
from mobisim.scenario.energy_config import EnergyConfig


def fuel_kwh_per_unit(powertrain: str, config: EnergyConfig) -> float:
    """Energy content of the fuel of ``powertrain``, kWh per litre (kWh per Nm³ for CNG); 0 if none.

    Parameters:
        powertrain: ``petrol`` | ``diesel`` | ``cng`` (anything else: 0).
        config: the scenario's energy section (factor fields).
    """
    return {
        "petrol": config.petrol_kwh_per_l,
        "diesel": config.diesel_kwh_per_l,
        "cng": config.cng_kwh_per_nm3,
    }.get(powertrain, 0.0)


def fuel_kgco2_per_unit(powertrain: str, config: EnergyConfig) -> float:
    """Tailpipe CO2 of the fuel of ``powertrain``, kg per litre (kg per Nm³ for CNG); 0 if none.

    Parameters:
        powertrain: ``petrol`` | ``diesel`` | ``cng`` (anything else: 0).
        config: the scenario's energy section (factor fields).
    """
    return {
        "petrol": config.petrol_kgco2_per_l,
        "diesel": config.diesel_kgco2_per_l,
        "cng": config.cng_kgco2_per_kg * config.cng_kg_per_nm3,
    }.get(powertrain, 0.0)


def electricity_co2_kg(grid_kwh: float, pv_kwh: float, config: EnergyConfig) -> float:
    """CO2 of plug-side electricity, kg: grid kWh × grid factor + PV kWh × PV factor.

    Parameters:
        grid_kwh: electricity from the grid, kWh (plug side).
        pv_kwh: electricity from PV (directly or through storage), kWh.
        config: the scenario's energy section (``grid_kgco2e_per_kwh``, ``pv_kgco2e_per_kwh``).
    """
    return grid_kwh * config.grid_kgco2e_per_kwh + pv_kwh * config.pv_kgco2e_per_kwh


def fuel_co2_kg(powertrain: str, fuel_amount: float, config: EnergyConfig) -> float:
    """Tailpipe CO2, kg, of ``fuel_amount`` litres (Nm³ for CNG) of the fuel of ``powertrain``.

    Parameters:
        powertrain: ``petrol`` | ``diesel`` | ``cng``.
        fuel_amount: fuel burnt, L (Nm³ for CNG).
        config: the scenario's energy section.
    """
    return fuel_amount * fuel_kgco2_per_unit(powertrain, config)


def combustion_intensity(vt: VehicleType, config: EnergyConfig) -> tuple[float, float]:
    """(kWh-equivalent per km, kgCO2 per km) of a combustion type at its per-km fuel use.

    Parameters:
        vt: a combustion vehicle type (``fuel_per_100km``); (0, 0) for any other type.
        config: the scenario's energy section.

    For the default petrol car: 7.5 L/100 km × 8.88 kWh/L = 0.666 kWh/km and × 2.36 kg/L =
    0.177 kgCO2/km (DEFAULTS §1, §4).
    """
    fuel_per_km = vt.fuel_per_100km / 100.0 if vt.is_combustion else 0.0
    return (
        fuel_per_km * fuel_kwh_per_unit(vt.powertrain, config),
        fuel_per_km * fuel_kgco2_per_unit(vt.powertrain, config),
    )

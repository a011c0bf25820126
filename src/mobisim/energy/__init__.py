"""Energy, batteries, charging, solar power and emissions (docs/energy.md).

One module per concern:

- :mod:`~mobisim.energy.vehicle_types`: the catalogue of vehicle types and scenario overrides;
- :mod:`~mobisim.energy.battery`: the state of charge of one vehicle (``Battery``, ``can_finish``,
  ``needs_charge``);
- :mod:`~mobisim.energy.consumption`: energy of a leg or a dwell (per-km or physics model);
- :mod:`~mobisim.energy.charging`: charging sites (plugs queue, taper, logged sessions);
- :mod:`~mobisim.energy.context`: ``EnergyContext``, what services get as ``ctx.energy``;
- :mod:`~mobisim.energy.solar`: PV output from solar geometry and the PV/storage/grid dispatch;
- :mod:`~mobisim.energy.emissions`: CO2 and fuel-energy factors;
- :mod:`~mobisim.energy.load_profile`: charging sessions and load profiles from the events;
- :mod:`~mobisim.energy.accounting`: the energy tables of a run, its summary, the balance check.
"""

from mobisim.energy.battery import Battery, can_finish, needs_charge
from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.energy.vehicle_types import VehicleType, get_vehicle_type

__all__ = [
    "Battery",
    "VehicleType",
    "can_finish",
    "dwell_energy_kwh",
    "get_vehicle_type",
    "leg_energy_kwh",
    "needs_charge",
]

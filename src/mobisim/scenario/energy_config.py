"""The ``energy:`` section: vehicle types, charging sites with solar and storage, emission factors.

Defaults and their sources (keys resolve in docs/sources.md and docs/energy.md):

- charger efficiency 0.92 (battery kWh per plug kWh; 0.90–0.95 [M1][E3], DEFAULTS §9);
- charging power tapers linearly above 80 % state of charge to 15 % of full power at 100 %
  (assumption A, a simple stand-in for the CC-CV tail; 10–20 % at full);
- Korea grid 2023, consumption side, 0.417 kgCO2e/kWh [G1]; PV 0 operational (0.053 lifecycle [G5]);
- petrol 2.36 kgCO2/L and 8.88 kWh/L, diesel 2.61 kgCO2/L and 9.91 kWh/L [F1][F2];
  natural gas 2.68 kgCO2/kg [F1];
- PV: monthly full-load hours per day, Jan→Dec 2.6 … 2.4 (DEFAULTS §5, [V1]–[V4], A between
  sourced months), site latitude/longitude 36.9 N, 127.5 E (Chungbuk);
- go and charge below 30 % and charge to 90 %, keep a 10 % reserve (assumptions A).

Example::

    energy:
      date: "2025-04-15"                    # month of the PV yield, day of the solar geometry
      grid_kgco2e_per_kwh: 0.431            # 2022 factor instead of 2023
      vehicle_types:
        av_shuttle: {hvac_kw: 3.0}
      charging_sites:
        - {name: depot, place: depot, plugs: 4, power_kw: 22, pv_kwp: 50, storage_kwh: 100, storage_kw: 25}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator, model_validator

from mobisim.scenario import registry
from mobisim.scenario.base import StrictModel

#: monthly mean PV full-load hours per day, Jan→Dec (DEFAULTS §5 default vector, A between [V1]-[V4])
DEFAULT_PV_FULL_LOAD_H = (2.6, 3.3, 4.0, 4.8, 4.6, 4.1, 3.4, 3.8, 3.6, 3.6, 2.8, 2.4)


class ChargingSiteConfig(StrictModel):
    """One charging site: plugs of one power, optional PV and stationary storage.

    Its location is given exactly one way: ``node`` (node index), ``place`` (a named place of
    the network) or ``lat``/``lon`` (snapped to the nearest node).
    """

    name: str = Field(description="Unique site name (charge events carry it in `detail`).")
    node: int | None = Field(default=None, ge=0, description="Node index of the site.")
    place: str | None = Field(
        default=None, description="Named place of the network (e.g. a depot)."
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    services: list[str] = Field(
        default_factory=list,
        description="Services whose vehicles may charge here (empty = every service).",
    )
    plugs: int = Field(default=2, ge=1, description="Number of plugs (vehicles charging at once).")
    power_kw: float = Field(
        default=22.0,
        gt=0,
        description="Rated power per plug into the vehicle, kW (AC slow 7 [K1][K2], 22 [C7], DC fast 50 [K1][K3]).",
    )
    efficiency: float = Field(
        default=0.92,
        gt=0,
        le=1,
        description="Charger efficiency, battery kWh per plug kWh (0.90-0.95 [M1][E3]).",
    )
    pv_kwp: float = Field(default=0.0, ge=0, description="PV peak power on the site, kWp.")
    storage_kwh: float = Field(default=0.0, ge=0, description="Stationary battery capacity, kWh.")
    storage_kw: float = Field(
        default=0.0, ge=0, description="Stationary battery charge/discharge power limit, kW."
    )
    storage_efficiency: float = Field(
        default=0.90,
        gt=0,
        le=1,
        description="Round-trip efficiency of the stationary battery (assumption A, Li-ion 0.85-0.95).",
    )
    storage_initial_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Stored share at midnight of the simulated day (0: no energy carried over, A).",
    )

    @model_validator(mode="after")
    def _one_location(self) -> ChargingSiteConfig:
        given = [
            self.node is not None,
            self.place is not None,
            self.lat is not None or self.lon is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                f"charging site {self.name!r}: give its location one way: node, place or lat+lon"
            )
        if (self.lat is None) != (self.lon is None):
            raise ValueError(f"charging site {self.name!r}: give both lat and lon")
        return self


class EnergyConfig(StrictModel):
    """Vehicle types, chargers, solar and emission factors."""

    enabled: bool = Field(
        default=True,
        description="Account energy and CO2 (energy tables, balance check); off = no energy tables.",
    )
    vehicle_types: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Change built-in vehicle types or define new ones: name -> {field: value} (see docs/energy.md; `based_on` copies a type). Checked by mobisim.energy when the run starts.",
    )
    charging_sites: list[ChargingSiteConfig] = Field(
        default_factory=list, description="Charging sites (depots, terminals, stations)."
    )
    charge_below_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="A vehicle goes to charge when its state of charge falls below this share (A).",
    )
    charge_to_share: float = Field(
        default=0.9, gt=0, le=1, description="Charge up to this share of capacity (A)."
    )
    reserve_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Share of capacity a vehicle keeps after any work it accepts (A).",
    )
    charging_policy: str = Field(
        default="threshold",
        description="When shuttles, buses and DRT vehicles between jobs go to charge (a registered policy): threshold (below charge_below_share, or not enough for the next job and the reserve) or opportunity (also top up at a site within opportunity_max_drive_min when below charge_to_share). See docs/energy.md.",
    )
    opportunity_max_drive_min: float = Field(
        default=5.0,
        ge=0,
        description="opportunity: top up only at a site at most this far, min of driving (A).",
    )
    opportunity_min_gain_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="opportunity: top up only when below charge_to_share by more than this share of capacity (A).",
    )
    initial_soc_share: float = Field(
        default=1.0, ge=0, le=1, description="State of charge of every vehicle at the start."
    )
    charge_efficiency: float = Field(
        default=0.92,
        gt=0,
        le=1,
        description="Charger efficiency for vehicles charged outside a configured site (0.90-0.95 [M1][E3]).",
    )
    taper_start_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="State of charge above which charging power tapers linearly (A, CC-CV stand-in).",
    )
    taper_end_power_share: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Share of full charging power left at 100 % state of charge (A: 10-20 %).",
    )
    grid_kgco2e_per_kwh: float = Field(
        default=0.417,
        ge=0,
        description="Grid electricity, kgCO2e per plug kWh (Korea 2023, consumption side [G1]; 2022 0.431 [G2]).",
    )
    pv_kgco2e_per_kwh: float = Field(
        default=0.0,
        ge=0,
        description="PV electricity, kgCO2e/kWh (0 operational; 0.053 lifecycle [G5]).",
    )
    petrol_kgco2_per_l: float = Field(
        default=2.36, ge=0, description="Petrol tailpipe CO2, kg/L [F1][F2]."
    )
    diesel_kgco2_per_l: float = Field(
        default=2.61, ge=0, description="Diesel tailpipe CO2, kg/L [F1][F2]."
    )
    cng_kgco2_per_kg: float = Field(default=2.68, ge=0, description="Natural gas CO2, kg/kg [F1].")
    cng_kg_per_nm3: float = Field(
        default=0.75,
        gt=0,
        description="Density of natural gas, kg/Nm³ (A; gives 1.13 kgCO2/km for 0.56 Nm³/km, within 0.95-1.15 [B3][B8]).",
    )
    petrol_kwh_per_l: float = Field(
        default=8.88, gt=0, description="Petrol energy content, kWh/L (LHV) [F1]."
    )
    diesel_kwh_per_l: float = Field(
        default=9.91, gt=0, description="Diesel energy content, kWh/L (LHV) [F1]."
    )
    cng_kwh_per_nm3: float = Field(
        default=10.0,
        gt=0,
        description="Natural gas energy content, kWh/Nm³ (LHV, assumption A: ~36 MJ/Nm³).",
    )
    counterfactual_vehicle_type: str = Field(
        default="petrol_car",
        description="Vehicle type of the private-car counterfactual (7.5 L/100 km = 0.67 kWh/km, 177 gCO2/km [F1][F3]).",
    )
    date: str = Field(
        default="2025-04-15",
        description="Simulated day, YYYY-MM-DD: month of the PV full-load hours, day of the solar geometry.",
    )
    pv_full_load_h: list[float] = Field(
        default_factory=lambda: list(DEFAULT_PV_FULL_LOAD_H),
        description="PV full-load hours per day for each month Jan..Dec, h/day (DEFAULTS §5 [V1]-[V4]).",
    )
    pv_lat: float = Field(
        default=36.9,
        ge=-90,
        le=90,
        description="Latitude of the solar geometry, degrees (Chungbuk).",
    )
    pv_lon: float = Field(
        default=127.5, ge=-180, le=180, description="Longitude of the solar geometry, degrees."
    )
    utc_offset_h: float = Field(
        default=9.0, ge=-12, le=14, description="Clock time zone, hours after UTC (Korea 9)."
    )
    load_bin_min: float = Field(
        default=5.0, gt=0, le=60, description="Width of the charging load profile bins, min."
    )

    @field_validator("charging_policy")
    @classmethod
    def _known_charging_policy(cls, name: str) -> str:
        known = sorted(registry.POLICIES["charging"])
        if name not in known:
            raise ValueError(f"expected one of: {', '.join(known)} (got {name!r})")
        return name

    @field_validator("pv_full_load_h")
    @classmethod
    def _twelve_months(cls, values: list[float]) -> list[float]:
        if len(values) != 12 or any(not 0 <= v <= 24 for v in values):
            raise ValueError(f"expected 12 monthly values between 0 and 24 h/day (got {values})")
        return values

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> str:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(f"expected a date YYYY-MM-DD (got {value!r})") from None

    @model_validator(mode="after")
    def _unique_sites(self) -> EnergyConfig:
        names = [site.name for site in self.charging_sites]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"charging site names must be unique (repeated: {duplicates})")
        if self.charge_to_share <= self.charge_below_share:
            raise ValueError(
                f"charge_to_share ({self.charge_to_share}) must be above charge_below_share "
                f"({self.charge_below_share}): a vehicle must leave the charger above the "
                "threshold that sends it there"
            )
        return self

    @property
    def day(self) -> dt.date:
        """The simulated day as a date."""
        return dt.date.fromisoformat(self.date)

    @property
    def load_bin_s(self) -> float:
        """Width of the load profile bins, s."""
        return self.load_bin_min * 60.0

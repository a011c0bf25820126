"""The ``economics:`` sections: what the operators' services cost and earn (docs/economics.md).

Two levels:

- the scenario's ``economics:`` block: discount rate, operating days per year, the electricity
  tariff by time of day, fuel prices, vehicle prices and lifetimes by vehicle type, and the
  capital of charging sites (chargers per kW, PV per kWp, storage per kWh);
- a service's ``economics:`` block (every service type has one; walking and private cars are not
  costed): stations, docks and station chargers, cost per vehicle-hour, per vehicle-km, per
  rebalancing move and a fixed yearly cost.

Every key left out takes the default of :mod:`mobisim.metrics.economics` (sourced where a Korean
figure was found, otherwise an assumption marked A; docs/economics.md lists them). Example::

    economics:
      discount_rate: 0.045
      vehicles:
        av_shuttle: {cost_krw: 450000000, lifetime_years: 8}
    services:
      - name: shuttle
        type: fixed_route
        economics: {vehicle_hour_krw: 0}     # a driverless shuttle without a safety operator
"""

from __future__ import annotations

from pydantic import Field, model_validator

from mobisim.scenario.base import ClockTime, ServiceEconomics, StrictModel

__all__ = ["EMileageConfig", "EconomicsConfig", "ServiceEconomics", "TariffBand", "VehiclePrice"]


class VehiclePrice(StrictModel):
    """Purchase price and lifetime of one vehicle type."""

    cost_krw: float | None = Field(default=None, ge=0, description="Purchase price, KRW.")
    lifetime_years: float | None = Field(
        default=None, gt=0, description="Years the vehicle is used (annualisation), years."
    )


class TariffBand(StrictModel):
    """One time-of-use band: from ``start`` to ``end`` (clock times; may wrap past midnight)."""

    start: ClockTime = Field(description='Band start, "HH:MM".')
    end: ClockTime = Field(description='Band end, "HH:MM" (before start: wraps past midnight).')
    krw_per_kwh: float = Field(ge=0, description="Energy price in the band, KRW/kWh.")


class EMileageConfig(StrictModel):
    """The plan's E-mileage: households that save energy get part of their transit fares paid.

    A member (a share of the persons, drawn once per person from the seed) pays
    ``(1 - discount_share)`` of the fare of the listed services; the city pays the rest to the
    operator. Commuters see the lower fare when they choose (docs/economics.md).
    """

    enabled: bool = Field(default=False, description="Apply the E-mileage fare credit.")
    services: list[str] = Field(
        default_factory=list,
        description="Services whose fares the credit pays (empty: every fixed_route and drt service).",
    )
    participation_share: float = Field(
        default=0.3, ge=0, le=1, description="Share of persons who are members (A)."
    )
    discount_share: float = Field(
        default=0.5,
        ge=0,
        le=0.9,
        description="Share of a member's fare the credit pays (A; at most 0.9).",
    )


class EconomicsConfig(StrictModel):
    """Scenario-wide economic parameters (defaults in docs/economics.md)."""

    enabled: bool = Field(
        default=True, description="Report costs, revenue and subsidy per service (KPIs)."
    )
    discount_rate: float = Field(
        default=0.045,
        ge=0,
        lt=1,
        description="Real discount rate of the capital recovery factor, share per year "
        "(4.5 %: Korean preliminary feasibility studies [EC1]).",
    )
    operating_days_per_year: float = Field(
        default=365.0,
        gt=0,
        le=366,
        description="Days a year the simulated day stands for (capital per day = annual / days; A).",
    )
    tariff: list[TariffBand] | None = Field(
        default=None,
        description="Electricity tariff by time of day (bands must cover the day; default: KEPCO "
        "EV-charging time-of-use prices of the season of energy.date [EC2]).",
    )
    petrol_krw_per_l: float = Field(
        default=1650.0, ge=0, description="Petrol price, KRW/L (A, 2024 level)."
    )
    diesel_krw_per_l: float = Field(
        default=1550.0, ge=0, description="Diesel price, KRW/L (A, 2024 level)."
    )
    cng_krw_per_nm3: float = Field(default=1100.0, ge=0, description="CNG price, KRW/Nm³ (A).")
    vehicles: dict[str, VehiclePrice] = Field(
        default_factory=dict,
        description="Price and lifetime by vehicle type (overrides the defaults, docs/economics.md).",
    )
    charger_cost_krw_per_kw: float = Field(
        default=400_000.0, ge=0, description="Charger capital per kW of plug power, KRW/kW (A)."
    )
    charger_lifetime_years: float = Field(default=8.0, gt=0, description="Charger lifetime (A).")
    pv_cost_krw_per_kwp: float = Field(
        default=1_300_000.0, ge=0, description="PV capital per kWp installed, KRW/kWp (A)."
    )
    pv_lifetime_years: float = Field(default=20.0, gt=0, description="PV lifetime (A).")
    storage_cost_krw_per_kwh: float = Field(
        default=600_000.0, ge=0, description="Stationary battery capital, KRW/kWh (A)."
    )
    storage_lifetime_years: float = Field(default=10.0, gt=0, description="Storage lifetime (A).")
    e_mileage: EMileageConfig = Field(
        default_factory=EMileageConfig,
        description="E-mileage: saved household energy credited to transit fares (a fare discount).",
    )

    @model_validator(mode="after")
    def _tariff_covers_day(self) -> EconomicsConfig:
        if self.tariff is not None:
            # every half minute of the day must lie in exactly one band
            counts = [0] * 1440
            for band in self.tariff:
                span_s = (band.end - band.start) % 86400.0 or 86400.0
                for minute in range(1440):
                    if (minute * 60.0 + 30.0 - band.start) % 86400.0 < span_s:
                        counts[minute] += 1
            if any(c != 1 for c in counts):
                gaps = sum(c == 0 for c in counts) / 60
                overlaps = sum(c > 1 for c in counts) / 60
                raise ValueError(
                    "tariff: expected bands covering the 24 hours once "
                    f"(got {gaps:g} h uncovered, {overlaps:g} h in more than one band)"
                )
        return self

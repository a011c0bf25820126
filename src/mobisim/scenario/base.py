"""Base pydantic models shared by every section of a scenario file.

Values in the file are in human units named in the key (``headway_min``, ``speed_kmh``,
``max_walk_m``, ``battery_kwh``); models expose SI properties (``headway_s``, ``speed_mps``).
Unknown keys are rejected (``extra="forbid"``); the loader turns that into "did you mean".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from mobisim.units import format_clock, parse_clock_s


class StrictModel(BaseModel):
    """A scenario section: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


def _clock(value):
    return parse_clock_s(value)


#: A clock time in the file ("07:30", "25:00"); seconds after midnight inside; written back as "HH:MM".
ClockTime = Annotated[
    float,
    BeforeValidator(_clock),
    PlainSerializer(format_clock, return_type=str),
]

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class ServiceEconomics(StrictModel):
    """What one service costs besides its vehicles (None: the default of its service type)."""

    station_cost_krw: float | None = Field(
        default=None, ge=0, description="Capital per station, stop or zone, KRW."
    )
    station_lifetime_years: float | None = Field(
        default=None, gt=0, description="Lifetime of stations and stops, years."
    )
    dock_cost_krw: float | None = Field(
        default=None, ge=0, description="Capital per dock or parking space of a station, KRW."
    )
    dock_lifetime_years: float | None = Field(
        default=None, gt=0, description="Lifetime of docks and spaces, years."
    )
    vehicle_hour_krw: float | None = Field(
        default=None, ge=0, description="Operating cost per operated vehicle-hour (staff), KRW/h."
    )
    vehicle_km_krw: float | None = Field(
        default=None,
        ge=0,
        description="Operating cost per vehicle-km (maintenance, tyres), KRW/km.",
    )
    rebalancing_move_krw: float | None = Field(
        default=None, ge=0, description="Cost per rebalancing/relocation move, KRW."
    )
    fixed_annual_krw: float | None = Field(
        default=None, ge=0, description="Fixed yearly cost (platform, insurance, overhead), KRW."
    )


class ServiceConfig(StrictModel):
    """Keys every service block has. Each service type subclasses this with its own keys.

    A service block in the file looks like::

        services:
          - name: shuttle          # unique; used in --set services.shuttle.vehicles=6
            type: fixed_route      # a key of mobisim.scenario.registry.SERVICE_TYPES
            enabled: true
            ...                    # keys of that type's Config
    """

    name: str = Field(description="Unique service name, used in results and in --set key paths.")
    type: str = Field(
        description="Service type, one of the registered types (walk, private_car, private_bike, fixed_route, transit, drt, carsharing, micromobility)."
    )
    enabled: bool = Field(
        default=True, description="A disabled service is kept in the file but not simulated."
    )
    economics: ServiceEconomics = Field(
        default_factory=ServiceEconomics,
        description="Costs of the service besides its vehicles (docs/economics.md; walking and "
        "private cars are not costed).",
    )

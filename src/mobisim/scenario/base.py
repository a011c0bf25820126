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
        description="Service type, one of the registered types (walk, private_car, private_bike, fixed_route, drt, carsharing, micromobility)."
    )
    enabled: bool = Field(
        default=True, description="A disabled service is kept in the file but not simulated."
    )

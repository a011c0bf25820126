"""The ``demand:`` section of a scenario file: a synthetic population or a trip table.

Defaults of the demand groups come from the project's reference sheet (docs/sources.md):
commuters leave home ~N(08:00, 63 min) [D1] and return ~N(18:15, 60 min) [D2]; shopping trips
~N(10:30, 60 min) with ~1.5 h at the shop [D1][D2]; school starts at 09:00 [D3][D4]; the weekday
no-trip rate is 16.2 % [D2].
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mobisim.scenario.base import ClockTime, StrictModel


class TimeDistribution(StrictModel):
    """A normal clock-time distribution, truncated to the simulated period (redrawn outside)."""

    mean: ClockTime = Field(description='Mean clock time, "HH:MM".')
    sd_min: float = Field(default=60.0, ge=0, description="Standard deviation, minutes.")


class Destinations(StrictModel):
    """Where a group goes: places chosen by kind or by name, in proportion to weight."""

    kinds: dict[str, float] = Field(
        default_factory=dict,
        description="Place kind -> weight (split among places of the kind by their own weight).",
    )
    places: dict[str, float] = Field(default_factory=dict, description="Place name -> weight.")

    @model_validator(mode="after")
    def _some(self) -> Destinations:
        if not self.kinds and not self.places:
            raise ValueError("expected at least one destination kind or place")
        return self


class DemandGroup(StrictModel):
    """A demand group of residents with its own daily pattern: out to an activity and back home."""

    name: str = Field(description="Group name, e.g. workers, students, homemakers.")
    share: float = Field(ge=0, le=1, description="Share of residents in the group, 0–1.")
    destinations: Destinations = Field(description="Activity places.")
    depart: TimeDistribution = Field(description="Departure from home (outbound).")
    return_depart: TimeDistribution | None = Field(
        default=None, description="Departure home; omit to use activity_h instead."
    )
    activity_h: float = Field(
        default=8.0,
        gt=0,
        description="Mean time at the activity, hours (used when return_depart is omitted).",
    )
    activity_sd_h: float = Field(
        default=0.5, ge=0, description="Standard deviation of the time at the activity, hours."
    )
    trip_rate: float = Field(
        default=0.838,
        ge=0,
        le=1,
        description="Share of members who travel on the day (1 − 16.2 % no-trip rate [D2]).",
    )
    car_share: float = Field(
        default=0.6, ge=0, le=1, description="Share of members with a car available (assumption A)."
    )
    modes: list[str] | None = Field(
        default=None, description="Modes the group may use (null = all), e.g. students without car."
    )
    purpose: str = Field(default="", description="Trip purpose label (default: the group name).")


class ExternalFlow(StrictModel):
    """Trips by non-residents, e.g. regional-rail passengers from the station to the institutions."""

    name: str = Field(description="Flow name.")
    trips: int = Field(
        ge=0, description="Number of persons (each makes an outbound and a return trip)."
    )
    origin: Destinations = Field(description="Where they enter the town (place kinds or names).")
    destinations: Destinations = Field(description="Where they go.")
    depart: TimeDistribution = Field(description="Outbound departure.")
    return_depart: TimeDistribution = Field(description="Return departure.")
    car_share: float = Field(
        default=0.3, ge=0, le=1, description="Share with a car available (assumption A)."
    )


def default_groups() -> list[DemandGroup]:
    """The planning documents' demand groups with the reference sheet's time-of-day defaults."""
    return [
        DemandGroup(
            name="workers",
            share=0.45,
            destinations=Destinations(kinds={"institution": 0.3, "industrial": 0.4, "centre": 0.3}),
            depart=TimeDistribution(mean=8 * 3600, sd_min=63),  # [D1]
            return_depart=TimeDistribution(mean=18.25 * 3600, sd_min=60),  # [D2]
            car_share=0.7,
        ),
        DemandGroup(
            name="students",
            share=0.18,
            destinations=Destinations(kinds={"school": 1.0}),
            depart=TimeDistribution(
                mean=8.5 * 3600, sd_min=12
            ),  # outbound 08:15–08:50 for 09:00 [D3]
            return_depart=TimeDistribution(mean=15.5 * 3600, sd_min=90),  # 13:00–18:30 [D1][D5]
            car_share=0.0,
            modes=["walk", "bike", "ebike", "escooter", "segway", "shuttle", "bus", "drt"],
        ),
        DemandGroup(
            name="homemakers",
            share=0.12,
            destinations=Destinations(kinds={"shopping": 0.7, "centre": 0.3}),
            depart=TimeDistribution(mean=10.5 * 3600, sd_min=60),  # [D1][D2]
            activity_h=1.5,
            activity_sd_h=0.5,
            car_share=0.5,
        ),
        DemandGroup(
            name="rail_travellers",
            share=0.02,
            destinations=Destinations(kinds={"rail_station": 1.0}),
            depart=TimeDistribution(mean=9 * 3600, sd_min=120),
            return_depart=TimeDistribution(mean=19 * 3600, sd_min=120),
            car_share=0.6,
        ),
        DemandGroup(
            name="others",
            share=0.23,
            destinations=Destinations(kinds={"centre": 0.5, "shopping": 0.3, "institution": 0.2}),
            depart=TimeDistribution(
                mean=13 * 3600, sd_min=150
            ),  # errands; weekday hourly shares [D2]
            activity_h=2.0,
            activity_sd_h=1.0,
            trip_rate=0.7,
            car_share=0.4,
        ),
    ]


class SyntheticPopulation(StrictModel):
    """Residents placed on residential zones by weight, in demand groups with daily patterns."""

    residents: int = Field(
        default=4000,
        ge=0,
        description="Number of residents (Chungbuk Innovation City plan: 42,000).",
    )
    households: int = Field(default=1500, ge=1, description="Number of households (plan: 15,000).")
    home_kind: str = Field(default="residential", description="Place kind where homes are.")
    groups: list[DemandGroup] = Field(
        default_factory=default_groups,
        description="Demand groups (default: workers, students, homemakers, rail travellers).",
    )
    external: list[ExternalFlow] = Field(
        default_factory=list, description="Trips by non-residents."
    )

    @model_validator(mode="after")
    def _shares(self) -> SyntheticPopulation:
        total = sum(g.share for g in self.groups)
        if total > 1 + 1e-9:
            raise ValueError(f"expected group shares summing to at most 1 (got {total:.3f})")
        if self.households > max(self.residents, 1):
            raise ValueError(
                f"expected households <= residents (got {self.households} > {self.residents})"
            )
        return self


class TripTable(StrictModel):
    """A trip table file (CSV or Parquet); see docs/demand.md for the columns."""

    file: str = Field(description="CSV or Parquet file, relative to the scenario file.")
    on_bad_rows: Literal["error", "drop"] = Field(
        default="error",
        description="Bad rows are an error, or dropped and counted in the manifest.",
    )
    default_group: str = Field(default="table", description="Group of rows without a group column.")


class DemandConfig(StrictModel):
    """Either a synthetic population or a trip table (exactly one)."""

    synthetic: SyntheticPopulation | None = Field(
        default=None, description="Generate a population."
    )
    trip_table: TripTable | None = Field(default=None, description="Read trips from a file.")

    @model_validator(mode="after")
    def _one(self) -> DemandConfig:
        if self.synthetic is not None and self.trip_table is not None:
            raise ValueError("expected either synthetic or trip_table, not both")
        return self

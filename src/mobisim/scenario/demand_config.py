"""The ``demand:`` section of a scenario file: a synthetic population or a trip table.

Defaults come from the project's reference sheet (DEFAULTS.md §6.6; keys resolve in
docs/sources.md): commuters leave home ~N(08:00, 63 min) [D1] and leave work ~N(18:15, 60 min)
[D2]; shoppers leave ~N(10:30, 60 min) and stay ~1.5 h [D1][D2]; pupils leave 08:15–08:50 for a
09:00 start [D3][D4] and come back 13:00–15:00 (elementary) or 16:30–18:30 (secondary) [D1][D5];
the weekday no-trip rate is 16.2 % [D2]. Shares, car availability and the external flows are
assumptions (A) sized on the Chungbuk Innovation City plan (42,000 residents, 15,000 households,
3,065 institution staff, ~17,000 industrial-complex workers nearby, KTX Osong station).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from mobisim.scenario.base import ClockTime, StrictModel
from mobisim.units import format_clock, parse_clock_s

H = 3600.0


def _clock(value):  # named like scenario.base's, so the reference shows a clock time
    return None if value is None else parse_clock_s(value)


#: an optional clock time ("HH:MM" in the file, seconds after midnight inside)
OptionalClock = Annotated[
    float | None,
    BeforeValidator(_clock),
    PlainSerializer(lambda v: None if v is None else format_clock(v)),
]


class TimeWindow(StrictModel):
    """A clock-time window in which times are uniformly spread."""

    start: ClockTime = Field(description='Window start, "HH:MM".')
    end: ClockTime = Field(description='Window end, "HH:MM" (after start).')
    weight: float = Field(
        default=1.0, gt=0, description="Relative weight among the windows (default 1)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("expected end after start")
        return self


class TimeDistribution(StrictModel):
    """A clock-time distribution: a normal ``mean``/``sd_min``, or a mix of uniform ``windows``.

    Draws are kept inside the simulated period (and after the outbound leg for a return) by
    redrawing; see docs/demand.md.
    """

    mean: OptionalClock = Field(
        default=None, description='Mean clock time of a normal distribution, "HH:MM".'
    )
    sd_min: float = Field(
        default=60.0, ge=0, description="Standard deviation of the normal distribution, minutes."
    )
    windows: list[TimeWindow] = Field(
        default_factory=list,
        description="Uniform windows, picked by weight (instead of mean/sd_min).",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TimeDistribution:
        if (self.mean is None) == (not self.windows):
            raise ValueError("expected either mean (with sd_min) or windows, not both or neither")
        return self


def normal(mean_h: float, sd_min: float) -> TimeDistribution:
    """A normal clock-time distribution with mean ``mean_h`` (hours after midnight) and ``sd_min``."""
    return TimeDistribution(mean=mean_h * H, sd_min=sd_min)


def windows(*spans: tuple[float, float, float]) -> TimeDistribution:
    """Uniform windows given as (start_h, end_h, weight) tuples, hours after midnight."""
    return TimeDistribution(
        windows=[TimeWindow(start=a * H, end=b * H, weight=w) for a, b, w in spans]
    )


class Destinations(StrictModel):
    """Places chosen by kind or by name, in proportion to weight."""

    kinds: dict[str, float] = Field(
        default_factory=dict,
        description="Place kind -> weight (split among the places of the kind by their own weight).",
    )
    places: dict[str, float] = Field(default_factory=dict, description="Place name -> weight.")

    @model_validator(mode="after")
    def _some(self) -> Destinations:
        if not self.kinds and not self.places:
            raise ValueError("expected at least one place kind or place name")
        if any(w < 0 for w in [*self.kinds.values(), *self.places.values()]):
            raise ValueError("expected weights >= 0")
        return self


class DailyPattern(StrictModel):
    """A tour: from the origin to an activity place and back, with its clock times."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Name (letters, digits, _ -); the trips' group and the random stream demand.<name>.",
    )
    destinations: Destinations = Field(description="Activity places (kinds or names, weighted).")
    depart: TimeDistribution = Field(description="Departure of the outbound leg.")
    return_depart: TimeDistribution | None = Field(
        default=None,
        description="Departure of the return leg (activity-end rule); omit to use duration_h.",
    )
    duration_h: float = Field(
        default=8.0,
        gt=0,
        description="Mean time at the activity, hours, when return_depart is omitted (A).",
    )
    duration_sd_h: float = Field(
        default=0.5, ge=0, description="Standard deviation of the time at the activity, hours (A)."
    )
    car_share: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Share of persons with a car available (trips' car_available) (A).",
    )
    allowed_modes: list[str] | None = Field(
        default=None,
        description="Modes the persons may use (null = all), e.g. no car for students.",
    )
    purpose: str = Field(
        default="", description="Purpose of the outbound leg (default: the name); return: home."
    )

    @model_validator(mode="after")
    def _modes(self) -> DailyPattern:
        if self.allowed_modes is not None and (
            not self.allowed_modes or any("," in m or not m.strip() for m in self.allowed_modes)
        ):
            raise ValueError("expected allowed_modes to be null or a list of mode names")
        return self


class DemandGroup(DailyPattern):
    """Residents with their own daily pattern: from home to an activity and back home."""

    share: float = Field(ge=0, le=1, description="Share of the residents in the group, 0–1.")
    trip_rate: float = Field(
        default=0.838,
        ge=0,
        le=1,
        description="Share of members who travel on the day: 1 − weekday no-trip rate 16.2 % [D2].",
    )


class ExternalFlow(DailyPattern):
    """Non-residents entering the town at an origin place, going to an activity and back."""

    origin: Destinations = Field(description="Where they enter the town (place kinds or names).")
    persons: int | None = Field(
        default=None, ge=0, description="Number of persons (each makes an outbound and a return)."
    )
    persons_per_1000_residents: float | None = Field(
        default=None,
        ge=0,
        description="Number of persons per 1,000 residents (instead of persons).",
    )
    car_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share with a car available; 0: they arrive by bus or rail (A).",
    )
    train_arrivals: list[ClockTime] | None = Field(
        default=None,
        description=(
            'Rail passengers: clock times trains arrive at the origin station (["06:52", '
            '"07:31", ...], in order); each outbound leg departs at the arrival nearest a time '
            "drawn from depart (the time-of-day profile weighs the trains). Null: depart as drawn."
        ),
    )

    @model_validator(mode="after")
    def _size(self) -> ExternalFlow:
        if (self.persons is None) == (self.persons_per_1000_residents is None):
            raise ValueError("expected either persons or persons_per_1000_residents")
        times = self.train_arrivals
        if times is not None:
            if not times:
                raise ValueError(
                    "expected train_arrivals to list at least one clock time (or null)"
                )
            for i in range(1, len(times)):
                if times[i] <= times[i - 1]:
                    raise ValueError(
                        f"expected train_arrivals in order: entry {i} ({format_clock(times[i])}) "
                        f"is not after entry {i - 1} ({format_clock(times[i - 1])})"
                    )
        return self

    def count(self, residents: int) -> int:
        """Number of persons of the flow for a town of ``residents`` residents."""
        if self.persons is not None:
            return self.persons
        return round(self.persons_per_1000_residents * residents / 1000.0)


SCHOOL_MODES = ["walk", "bike", "ebike", "escooter", "segway", "shuttle", "bus", "drt"]


def default_groups() -> list[DemandGroup]:
    """The plan's resident groups with the reference sheet's time-of-day defaults (docs/demand.md)."""
    return [
        DemandGroup(
            name="workers",
            share=0.45,
            destinations=Destinations(kinds={"institution": 0.3, "industrial": 0.4, "centre": 0.3}),
            depart=normal(8.0, 63),  # [D1]
            return_depart=normal(18.25, 60),  # [D2]
            car_share=0.7,
        ),
        DemandGroup(
            name="students",
            share=0.18,
            destinations=Destinations(kinds={"school": 1.0}),
            depart=windows((8.25, 8 + 50 / 60, 1.0)),  # 08:15–08:50 for 09:00 [D3][D4]
            return_depart=windows((13.0, 15.0, 0.5), (16.5, 18.5, 0.5)),  # [D1][D5]
            car_share=0.0,
            allowed_modes=SCHOOL_MODES,
            purpose="school",
        ),
        DemandGroup(
            name="homemakers",
            share=0.12,
            destinations=Destinations(kinds={"shopping": 0.7, "centre": 0.3}),
            depart=normal(10.5, 60),  # [D1][D2]
            duration_h=1.5,  # [D1][D2]
            duration_sd_h=0.5,
            car_share=0.5,
            purpose="shopping",
        ),
        DemandGroup(
            name="rail_travellers",
            share=0.02,
            destinations=Destinations(kinds={"rail_station": 1.0}),
            depart=normal(9.0, 120),
            return_depart=normal(19.0, 120),
            car_share=0.6,
            purpose="rail",
        ),
        DemandGroup(
            name="others",
            share=0.23,
            destinations=Destinations(kinds={"centre": 0.5, "shopping": 0.3, "institution": 0.2}),
            depart=normal(13.0, 150),
            duration_h=2.0,
            duration_sd_h=1.0,
            trip_rate=0.7,
            car_share=0.4,
            purpose="errand",
        ),
    ]


def default_external() -> list[ExternalFlow]:
    """Industrial commuters and regional-rail visitors from outside the town (A, see docs/demand.md)."""
    return [
        ExternalFlow(
            name="industrial_commuters",
            persons_per_1000_residents=20.0,
            origin=Destinations(kinds={"bus_terminal": 0.5, "rail_station": 0.5}),
            destinations=Destinations(kinds={"industrial": 1.0}),
            depart=normal(8.0, 63),  # [D1]
            return_depart=normal(18.25, 60),  # [D2]
            purpose="work",
        ),
        ExternalFlow(
            name="rail_visitors",
            persons_per_1000_residents=10.0,
            origin=Destinations(kinds={"rail_station": 1.0}),
            destinations=Destinations(kinds={"institution": 0.6, "centre": 0.4}),
            depart=normal(9.0, 120),
            return_depart=normal(17.5, 120),
            purpose="business",
        ),
    ]


class SyntheticPopulation(StrictModel):
    """Residents in households on residential zones, in demand groups with daily patterns."""

    residents: int = Field(
        default=4000,
        ge=0,
        description="Number of residents (scaled-down demo; the Chungbuk plan has 42,000).",
    )
    households: int = Field(
        default=1500, ge=1, description="Number of households (Chungbuk plan: 15,000 for 42,000)."
    )
    home_kind: str = Field(
        default="residential", description="Place kind of the homes, chosen by place weight."
    )
    groups: list[DemandGroup] = Field(
        default_factory=default_groups,
        description="Resident groups (default: workers, students, homemakers, rail_travellers, others).",
    )
    external: list[ExternalFlow] = Field(
        default_factory=default_external,
        description="Non-resident flows (default: industrial_commuters, rail_visitors).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticPopulation:
        total = sum(g.share for g in self.groups)
        if total > 1 + 1e-9:
            raise ValueError(f"expected group shares summing to at most 1 (got {total:.3f})")
        if self.households > max(self.residents, 1):
            raise ValueError(
                f"expected households <= residents (got {self.households} > {self.residents})"
            )
        names = [p.name for p in [*self.groups, *self.external]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"expected unique group and flow names (repeated: {repeated})")
        return self


class TripTable(StrictModel):
    """A trip table file (CSV or Parquet); the columns are listed in docs/demand.md."""

    file: str = Field(description="CSV or Parquet file, relative to the scenario file.")
    on_bad_rows: Literal["error", "drop"] = Field(
        default="error",
        description="Bad rows stop the run with a list (error), or are dropped and counted (drop).",
    )
    default_group: str = Field(default="table", description="Group of rows without a group value.")


class DemandConfig(StrictModel):
    """Either a synthetic population or a trip table; neither = the default synthetic population."""

    synthetic: SyntheticPopulation | None = Field(
        default=None, description="Generate a population."
    )
    trip_table: TripTable | None = Field(default=None, description="Read trips from a file.")

    @model_validator(mode="after")
    def _one(self) -> DemandConfig:
        if self.synthetic is not None and self.trip_table is not None:
            raise ValueError("expected either synthetic or trip_table, not both")
        return self

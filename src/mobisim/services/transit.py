"""Scheduled transit: bus and rail lines that keep a timetable or headways by period.

One service block is one line (as for ``fixed_route``: several lines are several blocks, and a
line's name is its service name in events and KPIs). A transit line is a fixed route whose
operator keeps a published schedule, so this module reuses the fixed-route operator and rider
stories (:mod:`mobisim.services.fixed_route`: depot queue, doors, dwell, seats, denied boardings,
give-ups) and the shared helpers for stops (:mod:`mobisim.services.stops`) and moves
(:mod:`mobisim.services.vehicle`). It changes three things:

- **Schedule.** Departures from the first stop are an explicit ``timetable`` (clock times that
  must go forward) or ``headways``: periods ``{start, end, headway_min}`` in order, each running
  departures every ``headway_min`` from ``start`` up to (not including) ``end``.
- **Mode.** ``mode: bus`` drives the road path between stops on the router (drive view, speed cap
  ``speed_cap_kmh``). ``mode: rail`` runs off the road graph: the stations are network nodes
  (where riders walk to and from), and the ride time between consecutive stations is the
  timetable's ``run_times_min`` (station to station, dwell excluded); the distance between them is
  ``distances_km`` or, by default, the straight line between the station nodes.
- **Defaults by mode.** A bus defaults to a 12 m diesel bus (``diesel_bus_12m``: 40 L/100 km
  [B1][B2]), 70 places (A), a 400 m walk [T4], 20 s dwell [P10], 50 km/h cap (A: urban limit);
  rail to an electric train (``e_train``: 15 kWh per train-km, A, of the order measured
  [R1]; the catenary is modelled as a store too large to run low in a day, so the energy
  accounting and balance work as for any electric vehicle), 300 places (A), an 800 m walk to a station [T6], 60 s dwell (A).
  ``vehicle_type: e_bus_12m`` runs an electric bus with a battery (charging as fixed routes).

When a vehicle is full, riders who do not fit are logged ``denied_boarding`` and stay in the
queue for the next vehicle; after ``max_wait_min`` they give up and the commuter falls back.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from mobisim.scenario.base import ClockTime, StrictModel
from mobisim.services.fixed_route import FixedRouteConfig, FixedRouteService, Visit
from mobisim.units import min_to_s

#: defaults that depend on the line's mode (keys the scenario leaves out)
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "bus": {
        "vehicle_type": "diesel_bus_12m",  # [B1][B2]
        "capacity_pax": 70,  # A (as the built-in bus types)
        "seated_pax": 25,  # A
        "max_walk_m": 400.0,  # [T4]
        "speed_cap_kmh": 50.0,  # A: the urban speed limit; the router's road speeds below it
        "dwell_fixed_s": 20.0,  # [P10]
        "layover_min": 5.0,  # A
        "mode_label": "bus",
    },
    "rail": {
        "vehicle_type": "e_train",  # [R1]
        "capacity_pax": 300,  # A: a 4-car regional train
        "seated_pax": 200,  # A
        "max_walk_m": 800.0,  # [T6]
        "dwell_fixed_s": 60.0,  # A
        "layover_min": 10.0,  # A
        "max_wait_min": 30.0,  # A
        "mode_label": "rail",
        "shape": "line",  # a train runs there and back
    },
}


class HeadwayPeriod(StrictModel):
    """Departures every ``headway_min`` from ``start`` up to (not including) ``end``."""

    start: ClockTime = Field(description='First departure of the period ("07:00").')
    end: ClockTime = Field(description='End of the period ("09:00"); no departure at or after it.')
    headway_min: float = Field(gt=0, description="Minutes between departures in the period.")

    @model_validator(mode="after")
    def _forward(self) -> HeadwayPeriod:
        if self.end <= self.start:
            raise ValueError("expected end after start")
        return self


class TransitConfig(FixedRouteConfig):
    """``type: transit``: a scheduled bus or rail line (timetable or headways by period)."""

    type: Literal["transit"] = "transit"  # type: ignore[assignment]
    mode: Literal["bus", "rail"] = Field(
        default="bus",
        description="bus: drives the roads (router times); rail: station to station on run_times_min.",
    )
    headways: list[HeadwayPeriod] | None = Field(
        default=None,
        description="Headways by period, in order: [{start, end, headway_min}, ...]; or a timetable.",
    )
    run_times_min: list[float] | None = Field(
        default=None,
        validate_default=True,
        description="Rail: minutes from each station to the next (dwell excluded), one per gap; required for rail.",
    )
    distances_km: list[float] | None = Field(
        default=None,
        description="Rail: km from each station to the next (default: the straight line between them).",
    )

    @model_validator(mode="before")
    @classmethod
    def _mode_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            mode = data.get("mode", "bus")
            data = {**MODE_DEFAULTS.get(mode, {}), **data}
            capacity, seated = data.get("capacity_pax"), data.get("seated_pax")
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (capacity, seated)
            )
            if numbers:  # a mode's default seats never exceed the line's capacity; bad types: validation says
                data["seated_pax"] = min(seated, capacity)
        return data

    @field_validator("timetable")
    @classmethod
    def _timetable_forward(cls, times: list[float] | None) -> list[float] | None:
        for i in range(1, len(times or [])):
            if times[i] <= times[i - 1]:
                raise ValueError(
                    f"timetable goes backwards at entry {i}: {times[i] / 3600:.2f} h "
                    f"is not after entry {i - 1} ({times[i - 1] / 3600:.2f} h); "
                    "expected departure times in increasing order"
                )
        return times

    @field_validator("headways")
    @classmethod
    def _periods_in_order(cls, periods: list[HeadwayPeriod] | None) -> list[HeadwayPeriod] | None:
        for i in range(1, len(periods or [])):
            if periods[i].start < periods[i - 1].end:
                raise ValueError(
                    f"headway period {i} starts before period {i - 1} ends; "
                    "expected periods in time order, not overlapping"
                )
        return periods

    @field_validator("run_times_min", "distances_km")
    @classmethod
    def _per_gap(cls, values: list[float] | None, info: ValidationInfo) -> list[float] | None:
        mode, stops = info.data.get("mode"), info.data.get("stops")
        if mode == "bus":
            if values is not None:
                raise ValueError("is for rail lines (a bus drives the roads on router times)")
            return values
        if values is None:
            if info.field_name == "run_times_min":
                raise ValueError(
                    "rail: expected run_times_min, minutes from each station to the next"
                )
            return values
        for i, value in enumerate(values):
            if not value > 0:
                raise ValueError(f"entry {i} is {value}; expected a value > 0")
        if stops is not None and len(values) != len(stops) - 1:
            raise ValueError(
                f"expected {len(stops) - 1} entries (one per gap between {len(stops)} stations), "
                f"got {len(values)}"
            )
        return values

    @model_validator(mode="after")
    def _operation(self) -> TransitConfig:  # replaces the fixed-route check
        for key in ("headway_min", "service_start", "service_end"):
            if getattr(self, key) is not None:
                raise ValueError(
                    f"{key} is a fixed_route key; a transit line takes a timetable or "
                    "headways: [{start, end, headway_min}, ...]"
                )
        schedules = [self.timetable is not None, self.headways is not None]
        if sum(schedules) != 1:
            raise ValueError("expected exactly one of timetable or headways")
        if self.mode == "rail" and self.shape != "line":
            raise ValueError("rail: expected shape: line (a train runs there and back)")
        if self.timetable is not None and not self.timetable:
            raise ValueError("expected at least one departure in timetable")
        if self.seated_pax is not None and self.seated_pax > self.capacity_pax:
            raise ValueError(
                f"expected seated_pax <= capacity_pax (got {self.seated_pax} > {self.capacity_pax})"
            )
        return self


class TransitService(FixedRouteService):
    """A scheduled line: the fixed-route stories with a published schedule (see module doc)."""

    type_name = "transit"
    Config = TransitConfig
    mode = "bus"

    # ------------------------------------------------------------------ set-up
    def _build_pattern(self) -> tuple[list[Visit], list[float], list[float]]:
        """Bus: the road legs (fixed route). Rail: legs from the run times and station spacing."""
        if self.config.mode == "bus":
            return super()._build_pattern()
        cfg, nodes = self.config, self.stop_nodes
        n = len(nodes)
        run_s = [min_to_s(m) for m in cfg.run_times_min]
        gap_m = (
            [km * 1000.0 for km in cfg.distances_km]
            if cfg.distances_km is not None
            else [self._straight_m(int(nodes[i]), int(nodes[i + 1])) for i in range(n - 1)]
        )
        visits = [Visit(i, int(nodes[i]), i < n - 1, i == n - 1) for i in range(n)]
        visits += [Visit(i, int(nodes[i]), i > 0, i == 0) for i in range(n - 1, -1, -1)]
        leg_s = run_s + run_s[::-1]
        leg_m = gap_m + gap_m[::-1]
        # the turn at the far terminal is the same station: no leg (visits n-1 and n coincide)
        leg_s.insert(n - 1, 0.0)
        leg_m.insert(n - 1, 0.0)
        self._time_visits(visits, leg_s, leg_m)
        return visits, leg_s, leg_m

    def _straight_m(self, a: int, b: int) -> float:
        """Straight-line distance between nodes ``a`` and ``b``, m (projected coordinates)."""
        nodes = self.ctx.network.nodes
        dx = float(nodes["x_m"].iat[a] - nodes["x_m"].iat[b])
        dy = float(nodes["y_m"].iat[a] - nodes["y_m"].iat[b])
        return math.hypot(dx, dy)

    def _departures(self) -> tuple[np.ndarray, float]:
        """Departures from the first stop (s after midnight) and the mean headway (s)."""
        cfg = self.config
        if cfg.timetable is not None:
            times = np.asarray(cfg.timetable, dtype=float)
        else:
            parts = []
            for period in cfg.headways:
                headway_s = min_to_s(period.headway_min)
                count = math.ceil((period.end - period.start) / headway_s - 1e-9)
                parts.append(period.start + headway_s * np.arange(count))
            times = np.concatenate(parts) if parts else np.zeros(0)
        gaps = np.diff(times)
        return times, float(gaps.mean()) if gaps.size else self.cycle_s

    def _expected_wait_s(self, arrival_s: float, position: int) -> float | None:
        """The time to the next scheduled passage at ``position`` (timetables and headways alike:
        a published schedule is known to the rider); None when no vehicle passes any more."""
        departures_s = self._departures_list
        offset_s = self._offsets_list[position]
        index = bisect.bisect_left(departures_s, arrival_s - offset_s - 1e-9)
        if index == len(departures_s):
            return None
        return departures_s[index] + offset_s - arrival_s

"""GTFS feeds in and out: the scenario's lines as a feed, and transit service blocks from a feed.

A GTFS feed is a folder (or zip) of CSV files (the GTFS Schedule reference, gtfs.org). It is read here with pandas, every value as
text, so an error can name the file, the row (the line number in the file, header = line 1) and
the field. No GTFS library is used: gtfs-kit 13.0.1 installs (pip) only with a source build of
its ``json2html`` dependency and brings folium, branca, rtree and xyzservices for maps mobisim
does not draw; partridge 1.1.2 installs as wheels, but the errors a planner needs here (file, row
and field of a bad value) mean checking the rows here anyway, and the files a line needs
(stops, routes, trips, stop_times, calendar, calendar_dates, frequencies) are plain CSV.

**Export** (:func:`export_feed`): every ``fixed_route`` and ``transit`` block becomes a route
(``route_id`` = the service name; ``route_type`` 2 for rail, 3 otherwise) with one stop per
network node it calls at (coordinates of the node). A line's outbound run is direction 0 and, for
``shape: line``, the way back direction 1; a loop is one trip from the first stop back to it. A
timetable gives one trip per departure; headways give one trip per period and direction with a
``frequencies.txt`` row (``exact_times`` 1). Times are the model's: the run departs the first stop
at the departure time, every later stop is reached at the departure + its schedule offset (the
router's drive times for a bus, ``run_times_min`` for rail, plus dwell and layover) and left a
dwell later. Every trip runs every day (one ``calendar.txt`` service, ``mobisim_daily``).

**Import** (:func:`import_feed`): one route becomes one ``type: transit`` block. The trips kept
are those of direction 0 (or of every direction when the feed has no ``direction_id``) running on
``service_date`` (``calendar.txt`` weekdays and date range, then ``calendar_dates.txt`` additions
and removals, as GTFS says; no date: every trip), and among those the most common stop pattern.
Its stops become the block's ``stops`` (lat/lon of the feed), each snapped to the nearest network
node with the distance reported: beyond ``warn_snap_m`` a warning, beyond ``max_snap_m`` (5 km) an
error. A pattern that ends where it starts is a ``loop``, any other a ``line``. Departures are the
first stop's ``arrival_time`` (in mobisim a run departs when its doors open at the first stop); when every kept trip is in ``frequencies.txt`` they become
``headways`` periods, otherwise a ``timetable`` (frequency trips expanded). GTFS times past 24:00
("25:10:00") are times of the same service day, after midnight; they stay so ("25:10").
Rail (``route_type`` 0, 1, 2, 12 or 100-199, 400-499, 900-999) takes ``run_times_min`` from the
first kept trip (arrival at a stop minus the departure from the one before); a bus drives the
roads on the router, as any bus.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mobisim.errors import ScenarioError
from mobisim.units import format_clock

#: a stop farther than this from the nearest network node is an error (issue 23: 5 km from any road)
MAX_SNAP_M = 5000.0
#: a stop farther than this is reported as a warning (A: a 250 m walk added to the stop)
WARN_SNAP_M = 250.0
#: the feed's only service: every day of the week
SERVICE_ID = "mobisim_daily"

REQUIRED = {
    "stops.txt": ["stop_id", "stop_lat", "stop_lon"],
    "routes.txt": ["route_id", "route_type"],
    "trips.txt": ["route_id", "service_id", "trip_id"],
    "stop_times.txt": ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"],
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _is_rail(route_type: int) -> bool:
    return (
        route_type in (0, 1, 2, 12)
        or 100 <= route_type < 200
        or 400 <= route_type < 500
        or (900 <= route_type < 1000)
    )


# ---------------------------------------------------------------------- times


def parse_gtfs_time(text: str) -> float:
    """Seconds after midnight of the service day for a GTFS time ``H:MM:SS`` (hours may be >= 24)."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected a time H:MM:SS (got {text!r})")
    hours, minutes, seconds = (int(p) for p in parts)
    if minutes > 59 or seconds > 59:
        raise ValueError(f"expected minutes and seconds 00-59 (got {text!r})")
    return hours * 3600.0 + minutes * 60.0 + seconds


def format_gtfs_time(seconds: float) -> str:
    """``HH:MM:SS`` for seconds after midnight of the service day (25:10:00 after midnight)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


# ---------------------------------------------------------------------- export


def _line_schedule(service) -> dict[str, Any]:
    """The stop calls (node, name, arrival offset s, departure offset s) of each direction."""
    cfg, pattern = service.config, service.pattern
    n = len(service.stop_nodes)
    directions = [pattern] if cfg.shape == "loop" else [pattern[:n], pattern[n:]]
    calls = []
    for visits in directions:
        base = visits[0].offset_s  # the way back leaves the far terminal after the layover
        rows = [
            (
                v.node,
                cfg.stops[v.stop].name,
                v.offset_s - base,
                v.offset_s - base + cfg.dwell_fixed_s,
            )
            for v in visits
        ]
        calls.append((base, rows))
    return calls


def export_feed(services, network, out_dir: str | Path, timezone: str = "Asia/Seoul") -> Path:
    """Write the ``fixed_route`` and ``transit`` lines as a GTFS feed in ``out_dir``; its path.

    Parameters
    ----------
    services : list of FixedRouteService (or TransitService)
        Built services (their stop nodes, schedule offsets and departures).
    network : Network
        The network whose node coordinates the stops take.
    out_dir : folder to write (created).
    timezone : the agency's time zone (GTFS ``agency_timezone``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stops, routes, trips, stop_times, frequencies = {}, [], [], [], []
    for service in services:
        cfg = service.config
        mode = getattr(cfg, "mode", "bus")
        routes.append(
            {
                "route_id": cfg.name,
                "agency_id": "mobisim",
                "route_short_name": cfg.name,
                "route_long_name": f"{cfg.stops[0].name} - {cfg.stops[-1].name}",
                "route_type": 2 if mode == "rail" else 3,
            }
        )
        headways = getattr(cfg, "headways", None)
        for direction, (base_s, rows) in enumerate(_line_schedule(service)):
            for node, name, _, _ in rows:  # one stop per node and name (lines may name it apart)
                if (node, name) in stops:
                    continue
                shared = any(key[0] == node for key in stops)
                stops[(node, name)] = {
                    "stop_id": f"n{node}_{len(stops)}" if shared else f"n{node}",
                    "stop_name": name,
                    "stop_lat": f"{network.nodes['lat'].iat[node]:.7f}",
                    "stop_lon": f"{network.nodes['lon'].iat[node]:.7f}",
                }
            if headways:
                starts = [(p.start, p.end, p.headway_min) for p in headways]
            else:
                starts = [(t, None, None) for t in service.departures_s]
            for k, (start_s, end_s, headway_min) in enumerate(starts):
                trip_id = f"{cfg.name}_d{direction}_{k}"
                trips.append(
                    {
                        "route_id": cfg.name,
                        "service_id": SERVICE_ID,
                        "trip_id": trip_id,
                        "direction_id": direction,
                    }
                )
                first_s = start_s + base_s
                for seq, (node, name, arrive, depart) in enumerate(rows):
                    stop_times.append(
                        {
                            "trip_id": trip_id,
                            "arrival_time": format_gtfs_time(first_s + arrive),
                            "departure_time": format_gtfs_time(first_s + depart),
                            "stop_id": stops[(node, name)]["stop_id"],
                            "stop_sequence": seq,
                        }
                    )
                if headway_min is not None:
                    frequencies.append(
                        {
                            "trip_id": trip_id,
                            "start_time": format_gtfs_time(first_s),
                            "end_time": format_gtfs_time(end_s + base_s),
                            "headway_secs": round(headway_min * 60),
                            "exact_times": 1,
                        }
                    )
    agency = [
        {
            "agency_id": "mobisim",
            "agency_name": "mobisim scenario",
            "agency_url": "https://example.org/mobisim",
            "agency_timezone": timezone,
        }
    ]
    calendar = [
        {"service_id": SERVICE_ID, **dict.fromkeys(WEEKDAYS, 1)}
        | {"start_date": "20000101", "end_date": "20991231"}
    ]
    tables = {
        "agency.txt": agency,
        "stops.txt": list(stops.values()),
        "routes.txt": routes,
        "trips.txt": trips,
        "stop_times.txt": stop_times,
        "calendar.txt": calendar,
    }
    if frequencies:
        tables["frequencies.txt"] = frequencies
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(out / name, index=False)
    return out


def build_lines(scenario, network, router=None) -> list:
    """The scenario's enabled ``fixed_route`` and ``transit`` services, built (not started)."""
    import simpy

    from mobisim.events import EventLog
    from mobisim.network.router import Router
    from mobisim.scenario.registry import service_class
    from mobisim.services.base import ServiceContext

    router = router or Router(network, scenario.network.router)
    start_s, end_s = scenario.period.start_s, scenario.period.end_s
    ctx = ServiceContext(
        simpy.Environment(initial_time=start_s),
        network,
        router,
        EventLog(),
        np.random.default_rng(0),
        start_s,
        end_s,
    )
    built = []
    for block in scenario.services:
        if block.type in ("fixed_route", "transit") and block.enabled:
            built.append(service_class(block.type)(block, ctx))
    return built


# ---------------------------------------------------------------------- import


@dataclass
class StopSnap:
    """Where a feed stop landed on the network."""

    stop_id: str
    name: str
    node: int
    snap_m: float


@dataclass
class ImportResult:
    """Service blocks (plain dicts, as in a scenario file), stop snaps and warnings."""

    blocks: list[dict[str, Any]]
    snaps: list[StopSnap]
    warnings: list[str]


class _Feed:
    """The feed's tables as text, read from a folder or a zip."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise ScenarioError(
                self.path, [("", "GTFS feed not found (expected a folder or .zip)")]
            )
        self._zip = zipfile.ZipFile(self.path) if self.path.is_file() else None

    def where(self, name: str) -> str:
        return str(self.path / name) if self._zip is None else f"{self.path}:{name}"

    def has(self, name: str) -> bool:
        if self._zip is None:
            return (self.path / name).is_file()
        return name in self._zip.namelist()

    def table(self, name: str, required: bool = True) -> pd.DataFrame | None:
        if not self.has(name):
            if required:
                raise ScenarioError(self.where(name), [("", f"missing: a GTFS feed needs {name}")])
            return None
        if self._zip is None:
            source: Any = self.path / name
        else:
            source = io.BytesIO(self._zip.read(name))
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame.columns = [c.strip() for c in frame.columns]
        missing = [c for c in REQUIRED.get(name, []) if c not in frame.columns]
        if missing:
            raise ScenarioError(
                self.where(name), [("", f"missing field(s) {', '.join(missing)} in the header")]
            )
        return frame

    def error(self, name: str, index: int, field: str, message: str) -> ScenarioError:
        """A problem at data row ``index`` (0-based) of ``name``: line index + 2 in the file."""
        return ScenarioError(self.where(name), [(f"row {index + 2}, field {field}", message)])


def _active_services(feed: _Feed, date: dt.date | None) -> set[str] | None:
    """Service ids running on ``date`` (calendar.txt then calendar_dates.txt); None: all."""
    if date is None:
        return None
    calendar = feed.table("calendar.txt", required=False)
    dates = feed.table("calendar_dates.txt", required=False)
    if calendar is None and dates is None:
        raise ScenarioError(
            feed.where("calendar.txt"),
            [("", "missing: a service_date needs calendar.txt or calendar_dates.txt")],
        )
    active: set[str] = set()
    stamp = date.strftime("%Y%m%d")
    weekday = WEEKDAYS[date.weekday()]
    for i, row in (calendar if calendar is not None else pd.DataFrame()).iterrows():
        for field in ("service_id", weekday, "start_date", "end_date"):
            if field not in row or row[field] == "":
                raise feed.error("calendar.txt", i, field, "expected a value")
        if row["start_date"] <= stamp <= row["end_date"] and row[weekday] == "1":
            active.add(row["service_id"])
    for i, row in (dates if dates is not None else pd.DataFrame()).iterrows():
        if row.get("date") == stamp:
            kind = row.get("exception_type")
            if kind == "1":
                active.add(row["service_id"])
            elif kind == "2":
                active.discard(row["service_id"])
            else:
                raise feed.error("calendar_dates.txt", i, "exception_type", "expected 1 or 2")
    return active


def _snap_stops(feed: _Feed, stops: pd.DataFrame, ids: list[str], network, warn_m, max_m):
    """StopSnap of each stop id (nearest node by straight line); errors beyond ``max_m``."""
    index = {sid: i for i, sid in enumerate(stops["stop_id"])}
    lats, lons = [], []
    for sid in ids:
        i = index[sid]
        try:
            lats.append(float(stops["stop_lat"].iat[i]))
        except ValueError:
            raise feed.error("stops.txt", i, "stop_lat", "expected a latitude in degrees") from None
        try:
            lons.append(float(stops["stop_lon"].iat[i]))
        except ValueError:
            raise feed.error(
                "stops.txt", i, "stop_lon", "expected a longitude in degrees"
            ) from None
    x_m, y_m = network.projector.to_xy_m(np.asarray(lats), np.asarray(lons))
    nx_m, ny_m = network.nodes["x_m"].to_numpy(), network.nodes["y_m"].to_numpy()
    snaps, warnings = {}, []
    for k, sid in enumerate(ids):
        d_m = np.hypot(nx_m - x_m[k], ny_m - y_m[k])
        node = int(np.argmin(d_m))
        i = index[sid]
        name = stops["stop_name"].iat[i] if "stop_name" in stops.columns else sid
        snap = StopSnap(sid, name or sid, node, float(d_m[node]))
        if snap.snap_m > max_m:
            raise feed.error(
                "stops.txt",
                i,
                "stop_lat/stop_lon",
                f"stop {sid!r} ({snap.name}) is {snap.snap_m:.0f} m from the nearest road node; "
                f"expected a stop within {max_m:.0f} m of the network",
            )
        if snap.snap_m > warn_m:
            warnings.append(
                f"stop {sid!r} ({snap.name}) snapped {snap.snap_m:.0f} m to node {node} "
                f"(more than {warn_m:.0f} m)"
            )
        snaps[sid] = snap
    return snaps, warnings


def _timed(feed: _Feed, trip_id: str, group: pd.DataFrame) -> pd.DataFrame:
    """A trip's stop times with the gaps filled: a missing arrival or departure takes the other;
    stops with neither are interpolated linearly in stop order between the timed ones (GTFS lets
    a feed time only its timepoints; the first and last stop must be timed)."""
    arrive, depart = group["arrival_time"], group["departure_time"]
    group["arrival_time"], group["departure_time"] = arrive.fillna(depart), depart.fillna(arrive)
    for end in (0, len(group) - 1):
        if math.isnan(group["arrival_time"].iat[end]):
            raise feed.error(
                "stop_times.txt",
                int(group["row"].iat[end]),
                "arrival_time",
                f"trip {trip_id!r}: expected a time at its {'first' if end == 0 else 'last'} stop",
            )
    if group["arrival_time"].isna().any():
        position = np.arange(len(group), dtype=float)
        known = ~group["arrival_time"].isna().to_numpy()
        for field in ("arrival_time", "departure_time"):
            values = group[field].to_numpy(dtype=float)
            group[field] = np.interp(position, position[known], values[known])
    return group


def import_feed(
    path: str | Path,
    network,
    route_ids: list[str] | None = None,
    service_date: dt.date | str | None = None,
    warn_snap_m: float = WARN_SNAP_M,
    max_snap_m: float = MAX_SNAP_M,
) -> ImportResult:
    """``type: transit`` blocks for the routes of the GTFS feed at ``path`` (see module doc).

    Raises ScenarioError naming the feed file, row and field of a problem.
    """
    feed = _Feed(path)
    if isinstance(service_date, str):
        service_date = dt.date.fromisoformat(service_date)
    stops = feed.table("stops.txt")
    routes = feed.table("routes.txt")
    trips = feed.table("trips.txt")
    stop_times = feed.table("stop_times.txt")
    frequencies = feed.table("frequencies.txt", required=False)
    active = _active_services(feed, service_date)
    known_stops = set(stops["stop_id"])
    known_trips = set(trips["trip_id"])

    # stop_times: parsed times, known stops and trips, in order within each trip
    parsed = stop_times.copy()
    parsed["row"] = np.arange(len(parsed))
    for field in ("arrival_time", "departure_time"):
        values = []
        for i, text in enumerate(parsed[field]):
            try:  # an untimed stop (both times empty) is interpolated below, as GTFS says
                values.append(math.nan if text.strip() == "" else parse_gtfs_time(text))
            except ValueError as exc:
                raise feed.error("stop_times.txt", i, field, str(exc)) from None
        parsed[field] = values
    for i, (sid, tid, seq) in enumerate(
        zip(parsed["stop_id"], parsed["trip_id"], parsed["stop_sequence"], strict=True)
    ):
        if sid not in known_stops:
            raise feed.error(
                "stop_times.txt", i, "stop_id", f"unknown stop id {sid!r} (not in stops.txt)"
            )
        if tid not in known_trips:
            raise feed.error(
                "stop_times.txt", i, "trip_id", f"unknown trip id {tid!r} (not in trips.txt)"
            )
        if not seq.isdigit():
            raise feed.error(
                "stop_times.txt", i, "stop_sequence", f"expected an integer (got {seq!r})"
            )
    parsed["stop_sequence"] = parsed["stop_sequence"].astype(int)
    parsed = parsed.sort_values(["trip_id", "stop_sequence"], kind="stable")
    by_trip = {
        tid: _timed(feed, tid, group.copy()) for tid, group in parsed.groupby("trip_id", sort=False)
    }
    for tid, group in by_trip.items():
        times = np.column_stack([group["arrival_time"], group["departure_time"]]).ravel()
        back = np.nonzero(np.diff(times) < 0)[0]
        if back.size:
            k = int(back[0]) + 1  # the first time earlier than the one before it
            row = int(group["row"].iat[k // 2])
            field = "arrival_time" if k % 2 == 0 else "departure_time"
            raise feed.error(
                "stop_times.txt",
                row,
                field,
                f"trip {tid!r} goes backwards: {format_gtfs_time(times[k])} is before "
                f"{format_gtfs_time(times[k - 1])}; expected times that do not decrease along the trip",
            )

    freq_by_trip: dict[str, list[tuple[float, float, float, int]]] = {}
    for i, row in (frequencies if frequencies is not None else pd.DataFrame()).iterrows():
        for field in ("trip_id", "start_time", "end_time", "headway_secs"):
            if field not in row or row[field] == "":
                raise feed.error("frequencies.txt", i, field, "expected a value")
        try:
            start, end = parse_gtfs_time(row["start_time"]), parse_gtfs_time(row["end_time"])
            headway = float(row["headway_secs"])
        except ValueError as exc:
            raise feed.error(
                "frequencies.txt", i, "start_time/end_time/headway_secs", str(exc)
            ) from None
        if not headway > 0 or end <= start:
            raise feed.error(
                "frequencies.txt",
                i,
                "headway_secs",
                "expected headway_secs > 0 and end_time after start_time",
            )
        freq_by_trip.setdefault(row["trip_id"], []).append((start, end, headway, i))

    wanted = list(routes["route_id"]) if route_ids is None else list(route_ids)
    blocks, all_snaps, warnings = [], {}, []
    for route_id in wanted:
        match = routes.index[routes["route_id"] == route_id]
        if match.empty:
            raise ScenarioError(
                feed.where("routes.txt"), [("route_id", f"unknown route id {route_id!r}")]
            )
        r = int(match[0])
        try:
            route_type = int(routes["route_type"].iat[r])
        except ValueError:
            raise feed.error("routes.txt", r, "route_type", "expected an integer") from None
        mode = "rail" if _is_rail(route_type) else "bus"
        chosen = trips[trips["route_id"] == route_id]
        if active is not None:
            chosen = chosen[chosen["service_id"].isin(active)]
        if "direction_id" in chosen.columns and (chosen["direction_id"] == "0").any():
            chosen = chosen[chosen["direction_id"] == "0"]
        patterns = {
            tid: tuple(by_trip[tid]["stop_id"]) for tid in chosen["trip_id"] if tid in by_trip
        }
        if not patterns:
            day = f" on {service_date}" if service_date else ""
            warnings.append(f"route {route_id!r}: no trip with stop times{day}; skipped")
            continue
        pattern, _ = Counter(patterns.values()).most_common(1)[0]
        kept = [tid for tid, p in patterns.items() if p == pattern]
        if len(kept) < len(patterns):
            warnings.append(
                f"route {route_id!r}: {len(patterns) - len(kept)} trip(s) with another stop "
                "pattern left out (one block per pattern is not built)"
            )
        shape = "loop" if len(pattern) > 2 and pattern[0] == pattern[-1] else "line"
        stop_ids = list(pattern[:-1] if shape == "loop" else pattern)
        if len(stop_ids) < 2:
            warnings.append(f"route {route_id!r}: fewer than two stops; skipped")
            continue
        snaps, snap_warnings = _snap_stops(feed, stops, stop_ids, network, warn_snap_m, max_snap_m)
        warnings += snap_warnings
        all_snaps.update(snaps)
        # a run's departure in mobisim is when the doors open at the first stop: its arrival_time
        first = {tid: float(by_trip[tid]["arrival_time"].iat[0]) for tid in kept}
        name = routes["route_short_name"].iat[r] if "route_short_name" in routes.columns else ""
        block: dict[str, Any] = {"name": name or route_id, "type": "transit", "mode": mode}
        block["shape"] = shape
        row_of = {sid: i for i, sid in enumerate(stops["stop_id"])}
        block["stops"] = [
            {
                "name": snaps[sid].name,
                "lat": float(stops["stop_lat"].iat[row_of[sid]]),
                "lon": float(stops["stop_lon"].iat[row_of[sid]]),
            }
            for sid in stop_ids
        ]
        periods = sorted({p[:3] for tid in kept for p in freq_by_trip.get(tid, [])})
        apart = all(a[1] <= b[0] for a, b in itertools.pairwise(periods))
        if all(tid in freq_by_trip for tid in kept) and apart:
            block["headways"] = [
                {"start": format_clock(s), "end": format_clock(e), "headway_min": h / 60.0}
                for s, e, h in periods
            ]
        else:  # single trips, or frequency periods that overlap: every departure
            times: set[float] = set()
            for tid in kept:
                if tid not in freq_by_trip:
                    times.add(first[tid])
                for s, e, h, _ in freq_by_trip.get(tid, []):
                    times.update(s + h * np.arange(math.ceil((e - s) / h - 1e-9)))
            block["timetable"] = [format_clock(t) for t in sorted(times)]
        group = by_trip[kept[0]]
        dwell_s = (group["departure_time"] - group["arrival_time"]).to_numpy()
        if dwell_s.size and float(np.median(dwell_s)) > 0:
            block["dwell_fixed_s"] = float(np.median(dwell_s))
        if mode == "rail":
            group = by_trip[kept[0]]
            arrive, depart = group["arrival_time"].to_numpy(), group["departure_time"].to_numpy()
            gaps = len(stop_ids) - 1
            # a run time of 0 (two stations in the same minute of the feed) becomes 6 s
            block["run_times_min"] = [
                max(round(float(arrive[k + 1] - depart[k]) / 60.0, 4), 0.1) for k in range(gaps)
            ]
        blocks.append(block)
    return ImportResult(blocks, list(all_snaps.values()), warnings)

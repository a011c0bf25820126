"""Import an NREL HIVE scenario (the format of its Denver demo) as a mobisim scenario.

``convert_hive(scenario_file, out_dir)`` reads a HIVE scenario YAML and its input files and writes
``<out_dir>/scenario.yaml``, ``trips.csv`` and ``network.graphml``, which ``mobisim run`` takes as
they are. What maps to what (HIVE 1.3 input format):

- road network (osmnx node-link JSON; edges ``length`` m, ``speed_kmph``) -> GraphML whose edges
  carry the HIVE speed as ``maxspeed`` (missing: ``network.default_speed_kmph``) and
  ``highway: unclassified`` (HIVE drives every link of its file);
- positions, with ``hive_step`` (``positions="links"``, :mod:`mobisim.convert.hive_links`): each
  request end, vehicle, base and station is put on its HIVE link (nearest link centroid) as an
  extra node whose two edges charge the whole origin and destination links of a drive, as HIVE's
  routes do, and is written at that node's coordinates; ``positions="nodes"`` (the default with
  ``native``) snaps each point to its nearest node;
- requests -> trip table: ``depart`` in seconds after midnight of the start day, origin and
  destination lat/lon, ``party_size`` 1 (HIVE gives a whole vehicle to each request whatever
  its ``passengers``; they are kept as the ignored column ``hive_passengers``);
- vehicles -> one ``type: drt`` service per mechatronics id, ``capacity_pax: 1`` (non-pooled),
  one depot per vehicle at its start point (mobisim starts vehicle *i* at depot *i*), pick-up
  within ``sim.request_cancel_time_seconds`` (``max_wait_s``), no dwell at stops (HIVE boards
  within its time step);
- dispatch, by default the one **closest to HIVE**: ``dispatch: hive_step``
  (:mod:`mobisim.services.drt_hive`), HIVE's time-stepped dispatch emulated: every
  ``sim.timestep_duration_seconds`` (``time_step_s``) the open requests are matched to the
  vehicles idle since before the step by least total straight-line distance, with no
  arrival-time check; a request waits (``queue_requests``) until its cancel time
  (``sim.request_cancel_time_seconds``), which also cancels it while a vehicle drives to it, and
  pick-ups and drop-offs take effect at step boundaries. ``convert_hive(..., dispatch="native")``
  writes mobisim's own event-driven dispatch instead: cheapest feasible insertion at once,
  a request no vehicle can reach in time waits until its cancel time and is matched again every
  time step (``rematch_interval_s``) and whenever a vehicle frees up;
- idle vehicles (with ``hive_step``: ``idle_policy: hive_base_after_idle``, an autonomous
  vehicle that reached a base after the time-out retires there, as HIVE's never leave
  ReserveBase; native: ``nearest_base_after_idle``): an idle vehicle drives to the nearest base after
  ``dispatcher.idle_time_out_seconds`` without work (``idle_policy: nearest_base_after_idle``,
  ``idle_after_min``, the bases as ``idle_bases``; no bases: it stays where it is). Nearest
  is by road time here (HIVE: great-circle distance), base membership and stall counts are not
  modelled;
- mechatronics -> ``energy.vehicle_types``: BEV Wh/mile -> kWh/km, battery, charge power; ICE
  miles per gallon -> litres per 100 km, idle gallons/h -> litres/h; a BEV's idle kWh/h becomes
  its auxiliary power ``hvac_kw`` (mobisim also draws it while moving, HIVE only when standing);
- stations' electric chargers open on shift (``on_shift_access``, true when the column is absent)
  -> ``energy.charging_sites`` (plugs = ``charger_count``, power = the charger's rate); base
  chargers (``on_shift_access: false``) are left out: HIVE uses them only for vehicles parked at
  their base, and charging at a base is not modelled;
- ``initial_soc`` -> ``energy.initial_soc_share`` when every vehicle starts alike; when they
  differ, each vehicle's depot carries its own ``initial_soc_share`` (and the energy default is
  the fleet mean); BEVs carry a battery of the mechatronics' ``battery_capacity_kwh`` and go
  to charge when idle and low; combustion vehicles have no battery and never charge;
- ``dispatcher.ideal_fastcharge_soc_limit`` -> ``charge_to_share``;
  ``dispatcher.charging_range_km_threshold`` (HIVE charges an idle vehicle whose range is below
  it plus the road distance to the nearest station) -> ``charge_below_share``: that range plus
  the mean road distance from the requests' destinations (where vehicles fall idle) to the
  nearest charging site, over the first BEV's kWh/km and battery;
  ``dispatcher.matching_range_km_threshold`` (HIVE matches only vehicles with more range) ->
  the BEV services' ``battery_reserve_share`` (mobisim keeps it after the work it accepts);
- choice: the cheapest offer, and a request no vehicle can reach in time is unserved (as HIVE
  cancels it).

- human drivers (``schedule_id``, ``home_base_id``; schedules from ``input.schedules_file``,
  else ``default_schedules.csv`` in the scenario folder, else HIVE's built-in one) -> the
  vehicle's depot ``shift_start`` / ``shift_end`` / ``home_base``: off shift the vehicle finishes
  its work, drives home and parks (HIVE also charges it there and, on shift, sends an idle
  human driver toward demand: not modelled, noted).

Not carried over, each listed in :attr:`HiveConversion.notes`: base stalls and base charging, gas pumps (no refuelling: a
combustion vehicle does not run dry within a day), fleets, prices and the geofence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import yaml
from scipy.spatial import cKDTree

from mobisim.convert.hive_links import add_position_nodes, link_positions, whole_second_links
from mobisim.errors import ScenarioError
from mobisim.units import METRES_PER_KM, format_clock

MILE_M = 1609.344
US_GALLON_L = 3.785411784
EARTH_RADIUS_M = 6_371_008.8
#: snap limit written to the scenario when every HIVE point is closer than this, m
MIN_SNAP_M = 500.0
#: HIVE 1.3.1 defaults (nrel/hive/resources/defaults/hive_config.yaml), used when a key is absent
HIVE_DEFAULTS = {
    "request_cancel_time_seconds": 600,
    "default_speed_kmph": 40.0,
    "charging_range_km_threshold": 20.0,
    "matching_range_km_threshold": 20.0,
    "ideal_fastcharge_soc_limit": 0.8,
    # as HIVE's resolved configuration of its Denver demo shows them (run log of denver_demo)
    "timestep_duration_seconds": 60,
    "idle_time_out_seconds": 1800,
}
#: HIVE 1.3.1 built-in human-driver schedules (resources/schedules/default_schedules.csv, the
#: ``time_range`` type): schedule id -> (start, end) clock times, end exclusive, past midnight
#: when before the start
HIVE_SCHEDULES = {
    "first": ("09:00:00", "17:00:00"),
    "second": ("17:00:00", "01:00:00"),
    "third": ("00:00:00", "08:00:00"),
}
#: HIVE 1.3.1 built-in mechatronics (resources/mechatronics/mechatronics.yaml)
HIVE_MECHATRONICS = {
    "leaf_50": {
        "mechatronics_type": "bev",
        "battery_capacity_kwh": 50,
        "nominal_max_charge_kw": 50,
        "nominal_watt_hour_per_mile": 225,
        "idle_kwh_per_hour": 0.8,
    },
    "toyota_corolla": {
        "mechatronics_type": "ice",
        "tank_capacity_gallons": 10,
        "idle_gallons_per_hour": 0.2,
        "nominal_miles_per_gallon": 30,
    },
}
#: HIVE 1.3.1 built-in chargers (resources/chargers/default_chargers.csv): id -> (energy type, kW)
HIVE_CHARGERS = {
    "LEVEL_1": ("electric", 3.3),
    "LEVEL_2": ("electric", 7.2),
    "DCFC": ("electric", 50.0),
    "GAS_PUMP": ("gasoline", 0.0),
}


@dataclass
class HiveConversion:
    """What :func:`convert_hive` wrote and what it had to leave out or approximate."""

    scenario_file: Path
    trips_file: Path
    network_file: Path
    requests_read: int
    trips_written: int
    vehicles: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class HiveInputs:
    """The parsed input files of a HIVE scenario (frames as read, settings with defaults)."""

    scenario_file: Path
    config: dict[str, Any]
    vehicles: pd.DataFrame
    requests: pd.DataFrame
    stations: pd.DataFrame
    bases: pd.DataFrame
    mechatronics: dict[str, dict[str, Any]]
    chargers: dict[str, tuple[str, float]]
    graph: nx.MultiDiGraph
    #: human-driver schedules: id -> (start, end) as HIVE's time strings
    schedules: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(HIVE_SCHEDULES))

    def setting(self, section: str, key: str):
        """``config[section][key]`` or HIVE's default for it."""
        value = (self.config.get(section) or {}).get(key)
        return HIVE_DEFAULTS[key] if value is None else value


# ---------------------------------------------------------------------- reading HIVE files
def find_input(scenario_file: Path, file: str, folder: str, key: str) -> Path:
    """Path of a HIVE input as HIVE looks for it: next to the scenario, then in ``folder/``.

    Parameters: ``scenario_file`` the HIVE YAML; ``file`` the name given under ``input:``;
    ``folder`` HIVE's default sub-folder for that kind (vehicles, requests, ...); ``key`` the
    YAML key, for the error message. Raises ScenarioError when neither exists.
    """
    base = scenario_file.parent
    for path in (base / file, base / folder / file):
        if path.is_file():
            return path
    raise ScenarioError(
        scenario_file,
        [(f"input.{key}", f"file {file!r} not found in {base} nor in {base / folder}")],
    )


def read_csv(path: Path, required: tuple[str, ...], scenario_file: Path) -> pd.DataFrame:
    """A HIVE CSV (byte-order mark allowed) with its ``required`` columns checked."""
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype={"passengers": "Int64"})
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ScenarioError(
            scenario_file,
            [
                (
                    str(path.name),
                    f"missing column(s) {', '.join(missing)} (columns: {list(frame.columns)})",
                )
            ],
        )
    return frame


def read_network_json(path: Path, scenario_file: Path) -> nx.MultiDiGraph:
    """The osmnx node-link JSON road network HIVE reads, as a MultiDiGraph (edges ``length`` m)."""
    try:
        data = json.loads(path.read_text())
        links = "links" if "links" in data else "edges"
        graph = nx.node_link_graph(data, directed=True, multigraph=True, edges=links)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(
            scenario_file,
            [("input.road_network_file", f"{path}: not an osmnx node-link JSON ({exc})")],
        ) from None
    if graph.number_of_edges() == 0:
        raise ScenarioError(scenario_file, [("input.road_network_file", f"{path}: no edges")])
    return graph


def read_hive(scenario_file: str | Path) -> HiveInputs:
    """Read a HIVE scenario YAML and every input file it names (see the module docstring).

    Mechatronics and chargers files absent from the scenario folder fall back to HIVE 1.3.1's
    built-in ones (copied here, so HIVE need not be installed).
    """
    scenario_file = Path(scenario_file)
    if not scenario_file.is_file():
        raise ScenarioError(scenario_file, [("", "HIVE scenario file not found")])
    config = yaml.safe_load(scenario_file.read_text()) or {}
    inputs = config.get("input") or {}
    problems = [
        (f"input.{key}", "required key missing")
        for key in ("vehicles_file", "requests_file", "stations_file", "bases_file")
        if not inputs.get(key)
    ]
    if problems:
        raise ScenarioError(scenario_file, problems)

    def csv(key: str, folder: str, required: tuple[str, ...]) -> pd.DataFrame:
        return read_csv(
            find_input(scenario_file, inputs[key], folder, key), required, scenario_file
        )

    vehicles = csv(
        "vehicles_file", "vehicles", ("vehicle_id", "lat", "lon", "mechatronics_id", "initial_soc")
    )
    requests = csv(
        "requests_file", "requests", ("o_lat", "o_lon", "d_lat", "d_lon", "departure_time")
    )
    stations = csv(
        "stations_file", "stations", ("station_id", "lat", "lon", "charger_count", "charger_id")
    )
    bases = csv("bases_file", "bases", ("base_id", "lat", "lon"))
    if not inputs.get("road_network_file"):
        raise ScenarioError(
            scenario_file,
            [
                (
                    "input.road_network_file",
                    "a road network is needed (HIVE's euclidean mode is not imported)",
                )
            ],
        )
    graph = read_network_json(
        find_input(scenario_file, inputs["road_network_file"], "road_network", "road_network_file"),
        scenario_file,
    )
    mechatronics = dict(HIVE_MECHATRONICS)
    if inputs.get("mechatronics_file"):
        path = find_input(
            scenario_file, inputs["mechatronics_file"], "mechatronics", "mechatronics_file"
        )
        mechatronics.update(yaml.safe_load(path.read_text()) or {})
    chargers = dict(HIVE_CHARGERS)
    if inputs.get("chargers_file"):
        path = find_input(scenario_file, inputs["chargers_file"], "chargers", "chargers_file")
        table = read_csv(path, ("charger_id", "energy_type", "rate"), scenario_file)
        chargers.update(
            {str(r.charger_id): (str(r.energy_type), float(r.rate)) for r in table.itertuples()}
        )
    schedules = dict(HIVE_SCHEDULES)
    schedules_file = inputs.get("schedules_file") or "default_schedules.csv"
    try:
        path = find_input(scenario_file, schedules_file, "schedules", "schedules_file")
    except ScenarioError:
        if inputs.get("schedules_file"):
            raise
        path = None  # HIVE's built-in default_schedules.csv
    if path is not None:
        table = read_csv(path, ("schedule_id", "start_time", "end_time"), scenario_file)
        schedules.update(
            {str(r.schedule_id): (str(r.start_time), str(r.end_time)) for r in table.itertuples()}
        )
    unknown = sorted(set(vehicles["mechatronics_id"].astype(str)) - set(mechatronics))
    if unknown:
        raise ScenarioError(
            scenario_file,
            [
                (
                    "vehicles_file.mechatronics_id",
                    f"unknown mechatronics id(s) {unknown}; known: {sorted(mechatronics)}",
                )
            ],
        )
    return HiveInputs(
        scenario_file,
        config,
        vehicles,
        requests,
        stations,
        bases,
        mechatronics,
        chargers,
        graph,
        schedules,
    )


# ---------------------------------------------------------------------- converting parts
def hive_time_s(values: pd.Series, day_start: pd.Timestamp) -> np.ndarray:
    """Seconds after ``day_start`` (midnight of the start day) of HIVE times (ISO text or epoch s)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        stamps = pd.to_datetime(numeric.astype("int64"), unit="s")
    else:
        stamps = pd.to_datetime(values.astype(str), format="ISO8601")
    return (stamps - day_start).dt.total_seconds().to_numpy(dtype=float)


def mobisim_graph(graph: nx.MultiDiGraph, default_speed_kmh: float) -> nx.MultiDiGraph:
    """Copy of a HIVE road graph with the edge keys mobisim's GraphML loader reads.

    ``default_speed_kmh`` (km/h) fills links without ``speed_kmph``; lengths stay in metres.
    """
    out = nx.MultiDiGraph(crs="epsg:4326")
    for node, data in graph.nodes(data=True):
        out.add_node(node, x=float(data["x"]), y=float(data["y"]))
    for u, v, key, data in graph.edges(keys=True, data=True):
        speed = data.get("speed_kmph")
        speed = (
            float(speed) if speed is not None and math.isfinite(float(speed)) else default_speed_kmh
        )
        out.add_edge(
            u, v, key, length=float(data["length"]), maxspeed=f"{speed:g}", highway="unclassified"
        )
    return out


def _xy_m(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular metres around latitude ``lat0`` (degrees) — enough for nearest-node tests."""
    rad = np.radians
    return np.column_stack(
        [EARTH_RADIUS_M * rad(lon) * math.cos(rad(lat0)), EARTH_RADIUS_M * rad(lat)]
    )


def snap_nodes(
    graph: nx.MultiDiGraph, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(node id, distance m) of the nearest node of the largest strongly connected component.

    That component is what mobisim keeps when it loads a network; ``lat``/``lon`` in degrees.
    """
    keep = max(nx.strongly_connected_components(graph), key=len)
    ids = np.array(sorted(keep))
    node_lat = np.array([graph.nodes[n]["y"] for n in ids])
    node_lon = np.array([graph.nodes[n]["x"] for n in ids])
    lat0 = float(node_lat.mean())
    distance_m, index = cKDTree(_xy_m(node_lat, node_lon, lat0)).query(_xy_m(lat, lon, lat0))
    return ids[index], distance_m


def vehicle_type(mechatronics_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A mobisim ``energy.vehicle_types`` entry for a HIVE mechatronics spec (bev or ice)."""
    kind = spec.get("mechatronics_type")
    source = f"HIVE mechatronics {mechatronics_id}"
    if kind == "bev":
        return {
            "powertrain": "electric",
            "kwh_per_km": float(spec["nominal_watt_hour_per_mile"]) / MILE_M,
            "battery_kwh": float(spec["battery_capacity_kwh"]),
            "max_charge_kw": float(spec["nominal_max_charge_kw"]),
            "hvac_kw": float(spec.get("idle_kwh_per_hour", 0.0)),
            "capacity_pax": 1,
            "description": source,
        }
    if kind == "ice":
        litres_per_km = US_GALLON_L / (
            float(spec["nominal_miles_per_gallon"]) * MILE_M / METRES_PER_KM
        )
        return {
            "powertrain": "petrol",
            "fuel_per_100km": 100.0 * litres_per_km,
            "idle_fuel_per_h": float(spec.get("idle_gallons_per_hour", 0.0)) * US_GALLON_L,
            "capacity_pax": 1,
            "description": source,
        }
    raise ScenarioError(
        None,
        [
            (
                f"mechatronics.{mechatronics_id}.mechatronics_type",
                f"expected bev or ice (got {kind!r})",
            )
        ],
    )


def _on_shift(value: Any) -> bool:
    """HIVE's ``on_shift_access`` cell as a bool (absent or empty: true)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).strip().lower() in ("true", "t", "yes", "y", "1", "1.0")


def charging_sites(hive: HiveInputs, notes: list[str]) -> list[dict[str, Any]]:
    """``energy.charging_sites`` from the stations' electric chargers open on shift (one site per
    row); gas pumps and base-only chargers are noted."""
    sites = []
    for row in hive.stations.itertuples():
        energy_type, rate_kw = hive.chargers.get(str(row.charger_id), ("unknown", 0.0))
        if energy_type != "electric":
            notes.append(f"station {row.station_id}: {row.charger_id} ({energy_type}) not modelled")
            continue
        if not _on_shift(getattr(row, "on_shift_access", None)):
            notes.append(
                f"station {row.station_id}: {row.charger_id} is a base charger "
                "(on_shift_access false) and charging at a base is not modelled: left out"
            )
            continue
        sites.append(
            {
                "name": f"{row.station_id}_{row.charger_id}",
                "lat": float(row.lat),
                "lon": float(row.lon),
                "plugs": int(row.charger_count),
                "power_kw": float(rate_kw),
            }
        )
    return sites


def mean_station_distance_km(
    graph: nx.MultiDiGraph, from_nodes: np.ndarray, sites: list[dict[str, Any]]
) -> float:
    """Mean road distance (km) from ``from_nodes`` to the nearest of the charging ``sites``.

    Sites are snapped like the points of the trips; a node that reaches no site is left out
    (0 with no site or no reachable node).
    """
    if not sites or len(from_nodes) == 0:
        return 0.0
    site_nodes, _ = snap_nodes(
        graph,
        np.array([site["lat"] for site in sites], dtype=float),
        np.array([site["lon"] for site in sites], dtype=float),
    )
    to_site = nx.multi_source_dijkstra_path_length(
        graph.reverse(copy=False), {int(n) for n in site_nodes}, weight="length"
    )
    metres = [to_site[int(n)] for n in from_nodes if int(n) in to_site]
    return float(np.mean(metres)) / METRES_PER_KM if metres else 0.0


def hive_clock_s(text: str) -> float:
    """Seconds after midnight of a HIVE schedule time ("09:00:00" or "09:00")."""
    parts = [float(p) for p in str(text).strip().split(":")]
    hours, minutes, seconds = [*parts, 0.0, 0.0][:3]
    return hours * 3600.0 + minutes * 60.0 + seconds


def driver_shifts(hive: HiveInputs, notes: list[str]) -> dict[str, dict[str, Any]]:
    """vehicle id -> the depot keys of its human driver's shift (``shift_start``, ``shift_end``,
    ``home_base``) for the vehicles with a ``schedule_id``; ScenarioError for an unknown
    schedule or home base."""
    veh = hive.vehicles
    if "schedule_id" not in veh:
        return {}
    bases = {str(b.base_id): b for b in hive.bases.itertuples()}
    shifts, problems = {}, []
    for row in veh.itertuples():
        schedule = getattr(row, "schedule_id", None)
        if schedule is None or pd.isna(schedule) or str(schedule).strip() == "":
            continue
        schedule = str(schedule).strip()
        if schedule not in hive.schedules:
            problems.append(
                (
                    "vehicles_file.schedule_id",
                    f"vehicle {row.vehicle_id}: unknown schedule {schedule!r}; known: "
                    f"{sorted(hive.schedules)}",
                )
            )
            continue
        start, end = (hive_clock_s(t) for t in hive.schedules[schedule])
        keys: dict[str, Any] = {
            "shift_start": format_clock(start),
            "shift_end": format_clock(end),
        }
        home = getattr(row, "home_base_id", None)
        if home is not None and not pd.isna(home) and str(home).strip():
            base = bases.get(str(home).strip())
            if base is None:
                problems.append(
                    (
                        "vehicles_file.home_base_id",
                        f"vehicle {row.vehicle_id}: home base {home!r} is not among the bases "
                        f"{sorted(bases)}",
                    )
                )
                continue
            keys["home_base"] = {"name": str(home), "lat": float(base.lat), "lon": float(base.lon)}
        shifts[str(row.vehicle_id)] = keys
        notes.append(
            f"vehicle {row.vehicle_id}: human driver on schedule {schedule!r}, works "
            f"{keys['shift_start']}-{keys['shift_end']}, off shift parks at "
            f"{home if 'home_base' in keys else 'its start point'} (HIVE's off-shift charging "
            "at home and its on-shift repositioning toward demand are not modelled)"
        )
    if problems:
        raise ScenarioError(hive.scenario_file, problems)
    return shifts


def fleet_initial_soc(values: pd.Series) -> float:
    """``energy.initial_soc_share``: the vehicles' common ``initial_soc`` (0..1), or their mean
    when they differ (then each vehicle's depot also carries its own, see ``convert_hive``)."""
    soc = values.astype(float).clip(0.0, 1.0)
    if soc.nunique() > 1:
        return float(soc.mean())
    return float(soc.iloc[0]) if len(soc) else 1.0


# ---------------------------------------------------------------------- the conversion
#: ``convert_hive(dispatch=...)`` choices: HIVE's dispatch emulated, or mobisim's own
DISPATCH_CHOICES = ("hive_step", "native")
POSITION_CHOICES = ("links", "nodes")


def place_on_links(graph: nx.MultiDiGraph, hive: HiveInputs) -> tuple[nx.MultiDiGraph, HiveInputs]:
    """``graph`` with a node for each HIVE link position of the requests' ends, the vehicles,
    bases and stations (:func:`mobisim.convert.hive_links.add_position_nodes`) and HIVE's
    whole-second link times (:func:`~mobisim.convert.hive_links.whole_second_links`), and ``hive``
    with those points moved onto their nodes (so each snaps to its own)."""
    req = hive.requests
    points = [
        (req["o_lat"], req["o_lon"]),
        (req["d_lat"], req["d_lon"]),
        (hive.vehicles["lat"], hive.vehicles["lon"]),
        (hive.bases["lat"], hive.bases["lon"]) if len(hive.bases) else ([], []),
        (hive.stations["lat"], hive.stations["lon"]) if len(hive.stations) else ([], []),
    ]
    lat = np.concatenate([np.asarray(a, dtype=float) for a, _ in points])
    lon = np.concatenate([np.asarray(b, dtype=float) for _, b in points])
    graph, _, new_lat, new_lon = add_position_nodes(graph, link_positions(graph, lat, lon))
    graph = whole_second_links(graph)
    cuts = np.cumsum([len(a) for a, _ in points])[:-1]
    (o_lat, d_lat, v_lat, b_lat, s_lat) = np.split(new_lat, cuts)
    (o_lon, d_lon, v_lon, b_lon, s_lon) = np.split(new_lon, cuts)
    moved = replace(
        hive,
        requests=req.assign(o_lat=o_lat, o_lon=o_lon, d_lat=d_lat, d_lon=d_lon),
        vehicles=hive.vehicles.assign(lat=v_lat, lon=v_lon),
        bases=hive.bases.assign(lat=b_lat, lon=b_lon) if len(hive.bases) else hive.bases,
        stations=(
            hive.stations.assign(lat=s_lat, lon=s_lon) if len(hive.stations) else hive.stations
        ),
    )
    return graph, moved


def convert_hive(
    scenario_file: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    seed: int = 0,
    dispatch: str = "hive_step",
    positions: str | None = None,
) -> HiveConversion:
    """Convert a HIVE scenario into ``out_dir`` (scenario.yaml, trips.csv, network.graphml).

    Parameters:
        scenario_file: the HIVE scenario YAML (its inputs are found as HIVE finds them).
        out_dir: folder to write into (created; existing files of those names are replaced).
        name: mobisim scenario name (default: HIVE's ``sim.sim_name``).
        seed: seed of the mobisim run (HIVE's demo is deterministic).
        dispatch: ``hive_step`` (default, closest to HIVE: its time-stepped, arrival-blind
            dispatch emulated, :mod:`mobisim.services.drt_hive`) or ``native`` (mobisim's
            event-driven insertion with queued requests).
        positions: ``links`` (default with ``hive_step``): every request end, vehicle, base and
            station gets HIVE's position on a link, as an extra node whose two edges charge the
            end links as HIVE's routes do (:mod:`mobisim.convert.hive_links`); ``nodes`` (default
            with ``native``): each point snaps to its nearest node.

    Requests outside the simulated period, or whose origin and destination snap to the same
    node, are left out and counted in ``dropped``. Raises ScenarioError for unreadable input.
    """
    if dispatch not in DISPATCH_CHOICES:
        raise ValueError(
            f"dispatch expects one of {', '.join(DISPATCH_CHOICES)} (got {dispatch!r})"
        )
    positions = positions or ("links" if dispatch == "hive_step" else "nodes")
    if positions not in POSITION_CHOICES:
        raise ValueError(
            f"positions expects one of {', '.join(POSITION_CHOICES)} (got {positions!r})"
        )
    hive = read_hive(scenario_file)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = hive.config.get("sim") or {}
    start = pd.Timestamp(sim.get("start_time", "1970-01-01T00:00:00"))
    end = pd.Timestamp(sim.get("end_time", start + pd.Timedelta(days=1)))
    day_start = start.normalize()
    start_s = (start - day_start).total_seconds()
    end_s = (end - day_start).total_seconds()
    if not 0 <= start_s < end_s <= 48 * 3600:
        raise ScenarioError(
            hive.scenario_file,
            [("sim.end_time", "expected an end after the start, within 48 h of the start day")],
        )
    notes: list[str] = []
    dropped: dict[str, int] = {}

    graph = mobisim_graph(hive.graph, float(hive.setting("network", "default_speed_kmph")))
    if positions == "links":
        graph, hive = place_on_links(graph, hive)
        notes.append(
            "HIVE's link positions emulated: each request end, vehicle, base and station is a "
            "node on its nearest link (by centroid), drives charge the whole origin and "
            "destination links as HIVE's routes do, and each link takes HIVE's whole seconds"
        )
    network_file = out_dir / "network.graphml"
    ox.save_graphml(graph, network_file)

    # trips
    req = hive.requests
    depart_s = hive_time_s(req["departure_time"], day_start)
    o_node, o_snap = snap_nodes(graph, req["o_lat"].to_numpy(float), req["o_lon"].to_numpy(float))
    d_node, d_snap = snap_nodes(graph, req["d_lat"].to_numpy(float), req["d_lon"].to_numpy(float))
    outside = (depart_s < start_s) | (depart_s > end_s)
    same = ~outside & (o_node == d_node)
    dropped.update(
        {"outside_period": int(outside.sum()), "origin_equals_destination": int(same.sum())}
    )
    keep = ~(outside | same)
    ids = req["request_id"].astype(str) if "request_id" in req else pd.Series(req.index.astype(str))
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(len(req))[keep],
            "person_id": np.arange(len(req))[keep],
            "depart": depart_s[keep],
            "origin_lat": req["o_lat"].to_numpy(float)[keep],
            "origin_lon": req["o_lon"].to_numpy(float)[keep],
            "dest_lat": req["d_lat"].to_numpy(float)[keep],
            "dest_lon": req["d_lon"].to_numpy(float)[keep],
            "party_size": 1,
            "hive_request_id": ids.to_numpy()[keep],
            "hive_passengers": (
                req["passengers"] if "passengers" in req else pd.Series(1, index=req.index)
            ).to_numpy()[keep],
        }
    )
    trips_file = out_dir / "trips.csv"
    trips.to_csv(trips_file, index=False)

    # fleet, energy and the scenario
    # starting charge, share of capacity; used per vehicle (at its depot) when vehicles differ
    veh = hive.vehicles.assign(soc_share=hive.vehicles["initial_soc"].astype(float).clip(0.0, 1.0))
    max_snap = float(np.max(np.concatenate([o_snap[keep], d_snap[keep]]), initial=0.0))
    _, v_snap = snap_nodes(graph, veh["lat"].to_numpy(float), veh["lon"].to_numpy(float))
    max_snap = max(max_snap, float(v_snap.max(initial=0.0)))
    if len(hive.bases):
        _, b_snap = snap_nodes(
            graph, hive.bases["lat"].to_numpy(float), hive.bases["lon"].to_numpy(float)
        )
        max_snap = max(max_snap, float(b_snap.max(initial=0.0)))
    vehicle_types = {
        f"hive_{mech_id}": vehicle_type(mech_id, hive.mechatronics[mech_id])
        for mech_id in veh["mechatronics_id"].astype(str).unique()
    }
    bev = next((t for t in vehicle_types.values() if t["powertrain"] == "electric"), None)
    sites = charging_sites(hive, notes)
    charge_to = float(hive.setting("dispatcher", "ideal_fastcharge_soc_limit"))
    energy: dict[str, Any] = {
        "vehicle_types": vehicle_types,
        "charging_sites": sites,
        "initial_soc_share": fleet_initial_soc(veh["soc_share"]),
        "charge_to_share": charge_to,
    }
    reserve_share = None
    if bev is not None:
        per_km = bev["kwh_per_km"] / bev["battery_kwh"]  # share of the pack per km
        station_km = mean_station_distance_km(graph, d_node[keep], sites)
        below_km = float(hive.setting("dispatcher", "charging_range_km_threshold")) + station_km
        # must stay under charge_to_share (mobisim checks it): a vehicle leaves the charger above it
        energy["charge_below_share"] = min(below_km * per_km, 0.99 * charge_to)
        match_km = float(hive.setting("dispatcher", "matching_range_km_threshold"))
        reserve_share = min(1.0, match_km * per_km)
        notes.append(
            f"BEVs charge below {below_km:.1f} km of range ({station_km:.1f} km mean distance "
            f"to the nearest station added to HIVE's threshold) and keep {match_km:g} km after "
            "the work they accept"
        )
    # vehicles that start alike share energy.initial_soc_share; otherwise each depot (one per
    # vehicle, where it starts) carries that vehicle's own state of charge
    per_vehicle_soc = veh["soc_share"].nunique() > 1
    if per_vehicle_soc:
        notes.append("vehicles start with different SoC: each depot carries its vehicle's")
    shifts = driver_shifts(hive, notes)
    services, counts = [], {}
    max_wait_s = float(hive.setting("sim", "request_cancel_time_seconds"))
    timestep_s = float(hive.setting("sim", "timestep_duration_seconds"))
    idle_after_min = float(hive.setting("dispatcher", "idle_time_out_seconds")) / 60.0
    bases = [
        {"name": str(b.base_id), "lat": float(b.lat), "lon": float(b.lon)}
        for b in hive.bases.itertuples()
    ]
    idle = (
        {
            # HIVE's autonomous vehicles retire at the base (emulated); native: stay in service
            "idle_policy": "hive_base_after_idle"
            if dispatch == "hive_step"
            else "nearest_base_after_idle",
            "idle_after_min": idle_after_min,
            "idle_bases": bases,
        }
        if bases
        else {"idle_policy": "stay"}
    )
    if dispatch == "hive_step":
        matching = {"dispatch": "hive_step", "time_step_s": min(timestep_s, max_wait_s)}
    else:
        matching = {"dispatch": "insertion", "rematch_interval_s": min(timestep_s, max_wait_s)}
    for mech_id, group in veh.groupby(veh["mechatronics_id"].astype(str), sort=False):
        type_name = f"hive_{mech_id}"
        counts[type_name] = len(group)
        service = {
            "name": type_name,
            "type": "drt",
            "vehicles": len(group),
            "capacity_pax": 1,
            "vehicle_type": type_name,
            "depots": [
                {"name": str(v.vehicle_id), "lat": float(v.lat), "lon": float(v.lon)}
                | ({"initial_soc_share": float(v.soc_share)} if per_vehicle_soc else {})
                | shifts.get(str(v.vehicle_id), {})
                for v in group.itertuples()
            ],
            "max_wait_s": max_wait_s,
            "stop_s": 0.0,
            "queue_requests": True,
            **matching,
            **idle,
            "fare_base_krw": 0.0,
            "mode_label": "taxi",
        }
        if vehicle_types[type_name]["powertrain"] == "electric" and reserve_share is not None:
            service["battery_reserve_share"] = reserve_share
        services.append(service)
    if bases:
        notes.append(
            f"idle vehicles go to the nearest of {len(bases)} base(s) after {idle_after_min:g} min "
            "idle (nearest by road time; base membership and stalls not modelled)"
            + (
                "; autonomous ones retire there for the rest of the run, as in HIVE"
                if dispatch == "hive_step"
                else ""
            )
        )
    else:
        notes.append("no bases: idle vehicles stay where they are")
    if dispatch == "hive_step":
        notes.append(
            f"HIVE's dispatch emulated (dispatch hive_step): every {min(timestep_s, max_wait_s):g} s "
            "the open requests go to the vehicles idle since before the step by least total "
            f"straight-line distance; requests are cancelled at HIVE's cancel time ({max_wait_s:g} s) "
            "even with a vehicle on the way"
        )
        if len(services) > 1:
            notes.append(
                "one service per vehicle model: each matches its own vehicles (HIVE matches the "
                "whole fleet at once)"
            )
    else:
        notes.append(
            f"requests no vehicle can take wait until HIVE's cancel time ({max_wait_s:g} s), "
            f"matched again every {min(timestep_s, max_wait_s):g} s and when a vehicle frees up"
        )
    scenario = {
        "name": name or str(sim.get("sim_name", "hive")),
        "description": f"Imported from HIVE scenario {hive.scenario_file.name} by mobisim.convert.hive.",
        "seed": seed,
        "period": {"start": format_clock(start_s), "end": format_clock(end_s)},
        "network": {
            "source": "graphml",
            "file": network_file.name,
            "max_snap_m": max(MIN_SNAP_M, math.ceil(max_snap + 1.0)),
        },
        "demand": {"trip_table": {"file": trips_file.name, "on_bad_rows": "error"}},
        "services": services,
        "mode_choice": {"policy": "cheapest", "fallback": "unserved"},
        "energy": energy,
    }
    scenario_out = out_dir / "scenario.yaml"
    scenario_out.write_text(yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True))
    return HiveConversion(
        scenario_file=scenario_out,
        trips_file=trips_file,
        network_file=network_file,
        requests_read=len(req),
        trips_written=len(trips),
        vehicles=counts,
        dropped=dropped,
        notes=notes,
    )

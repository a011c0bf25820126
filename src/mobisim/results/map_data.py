"""What both maps of a run show, as data: plot coordinates (degrees or projected metres), the view
fitted to the study area, named places and the outlying ones, the mode of each service, shared-device
pick-ups, and vehicle legs laid along road paths as volumes per link.

results/gis.py draws these with matplotlib (the static map), results/maps.py with plotly (the
interactive map); both take every position and every number from here, so they agree.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from mobisim.metrics.common import DEVICE_MODES as PERSONAL_DEVICE_MODES
from mobisim.metrics.common import as_str
from mobisim.metrics.common import service_modes as trip_service_modes

#: modes of shared devices (bikes, e-bikes, scooters, segways): drawn as a density of pick-ups,
#: not as legs (shared cars are vehicles: their legs are drawn)
DEVICE_MODES = (*sorted(PERSONAL_DEVICE_MODES), "micromobility")

#: target width of a density hexagon on the ground, m
DENSITY_HEX_M = 250.0

#: mean Earth radius, m (IUGG), for distances on a map in degrees
EARTH_RADIUS_M = 6_371_008.8

#: nodes farther from the median node than this many times the median distance are not the town
CORE_RADIUS_FACTOR = 3.0

#: named places farther from the median place than this many times the median distance are outlying
PLACE_RADIUS_FACTOR = 3.0

#: share of the core nodes' span cut at each end (sparse tails of roads leaving the town)
CORE_TAIL_SHARE = 0.02

#: margin around the fitted view, share of its span
VIEW_MARGIN_SHARE = 0.08


def in_degrees(nodes: pd.DataFrame) -> bool:
    """Whether the nodes' ``lat``/``lon`` are degrees (WGS84) rather than projected metres.

    A network read from a projected GraphML file (osmnx ``project_graph``) carries eastings and
    northings in metres where lat/lon should be; no |lat| > 90 or |lon| > 180 means degrees.
    """
    if nodes.empty:
        return True
    lat = nodes["lat"].to_numpy(dtype=float)
    lon = nodes["lon"].to_numpy(dtype=float)
    return bool(np.nanmax(np.abs(lat)) <= 90.0 and np.nanmax(np.abs(lon)) <= 180.0)


def node_xy(nodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Plot coordinates of every node index; NaN if unknown.

    Degrees: (lon × cos(mean lat), lat), so one unit is one degree of latitude either way and the
    map is not stretched east-west. Projected metres: (easting, northing) as they are.
    """
    size = int(nodes["node"].max()) + 1 if len(nodes) else 0
    x = np.full(size, np.nan)
    y = np.full(size, np.nan)
    idx = nodes["node"].to_numpy(dtype=np.int64)
    degrees = in_degrees(nodes)
    scale = math.cos(math.radians(float(nodes["lat"].mean()))) if len(nodes) and degrees else 1.0
    x[idx] = nodes["lon"].to_numpy(dtype=float) * scale
    y[idx] = nodes["lat"].to_numpy(dtype=float)
    return x, y


def metres_per_unit(nodes: pd.DataFrame) -> float:
    """Ground metres of one plot unit of :func:`node_xy` (1 for projected metres).

    In degrees one unit is one degree of latitude: π/180 × the mean Earth radius ≈ 111.2 km (within
    0.5 % of the WGS84 ellipsoid's at any latitude, for a town-sized area).
    """
    return EARTH_RADIUS_M * math.pi / 180.0 if in_degrees(nodes) else 1.0


def _robust_core(x: np.ndarray, y: np.ndarray, factor: float) -> np.ndarray:
    """Mask of the points within ``factor`` × the median distance of the median point."""
    cx, cy = np.median(x), np.median(y)
    distance = np.hypot(x - cx, y - cy)
    scale = float(np.median(distance))
    return distance <= factor * scale if scale > 0 else np.ones(len(x), dtype=bool)


def inlying_places(
    centres: dict[str, tuple[float, float]], box: tuple[float, float, float, float] | None = None
) -> dict[str, tuple[float, float]]:
    """The places of the town: those inside ``box`` (x0, x1, y0, y1: the core nodes' extent), and,
    with three places or more, those within :data:`PLACE_RADIUS_FACTOR` × the median distance of
    the median place (an industrial park or a rail station 10 km out is neither)."""
    names = list(centres)
    if not names:
        return {}
    xy = np.array([centres[n] for n in names], dtype=float)
    keep = np.zeros(len(names), dtype=bool)
    if box is not None:
        x0, x1, y0, y1 = box
        keep |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    if len(names) >= 3:
        keep |= _robust_core(xy[:, 0], xy[:, 1], PLACE_RADIUS_FACTOR)
    return {n: centres[n] for n, k in zip(names, keep, strict=True) if k}


def fitted_view(
    x: np.ndarray, y: np.ndarray, places: dict[str, tuple[float, float]] | None = None
) -> tuple[list[float], list[float]]:
    """The view (x range, y range) fitted to the study area, so a few long roads out to outlying
    places do not shrink the town to a small box.

    The core nodes are those within :data:`CORE_RADIUS_FACTOR` × the median distance of the median
    node; the view spans them without the sparsest :data:`CORE_TAIL_SHARE` at each end, widened to
    hold every inlying named place (:func:`inlying_places`), plus a :data:`VIEW_MARGIN_SHARE` margin.

    Parameters
    ----------
    x, y : plot coordinates of the nodes (NaN for unknown ones are ignored).
    places : place -> plot position (:func:`place_centres`), optional.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    px, py = np.asarray(x, dtype=float)[ok], np.asarray(y, dtype=float)[ok]
    if not len(px):
        return [0.0, 1.0], [0.0, 1.0]
    core = _robust_core(px, py, CORE_RADIUS_FACTOR)
    tail = 100 * CORE_TAIL_SHARE
    x_lo, x_hi = np.percentile(px[core], [tail, 100 - tail])
    y_lo, y_hi = np.percentile(py[core], [tail, 100 - tail])
    box = (float(x_lo), float(x_hi), float(y_lo), float(y_hi))
    for place_x, place_y in inlying_places(places or {}, box).values():
        x_lo, x_hi = min(x_lo, place_x), max(x_hi, place_x)
        y_lo, y_hi = min(y_lo, place_y), max(y_hi, place_y)
    ranges = []
    for lo, hi in ((x_lo, x_hi), (y_lo, y_hi)):
        pad = VIEW_MARGIN_SHARE * (hi - lo) or max(abs(lo) * 1e-4, 1e-3)
        ranges.append([float(lo - pad), float(hi + pad)])
    return ranges[0], ranges[1]


def fitted_range(values: np.ndarray) -> list[float]:
    """One axis of :func:`fitted_view` for values on a line (no places)."""
    values = np.asarray(values, dtype=float)
    return fitted_view(values, np.zeros(len(values)))[0]


def service_modes(tables: dict[str, Any]) -> dict[str, str]:
    """Mode label of each service of a run: the mode most of its trips carry (``trips.mode``), else
    the ``mode_label`` or ``type`` of the service in the manifest's scenario, else its name."""
    modes: dict[str, str] = {}
    manifest = tables.get("manifest") or {}
    for block in (manifest.get("scenario") or {}).get("services") or []:
        if isinstance(block, dict) and block.get("name"):
            modes[str(block["name"])] = str(block.get("mode_label") or block.get("type") or "")
    trips = tables.get("trips")
    if trips is not None:
        modes.update(trip_service_modes(trips))
    return modes


def device_services(tables: dict[str, Any]) -> set[str]:
    """Services of shared devices (micromobility): type ``micromobility`` in the manifest or a
    device mode (:data:`DEVICE_MODES`) in the trips."""
    manifest = tables.get("manifest") or {}
    services = {
        str(block["name"])
        for block in (manifest.get("scenario") or {}).get("services") or []
        if isinstance(block, dict) and block.get("type") == "micromobility" and block.get("name")
    }
    return services | {s for s, m in service_modes(tables).items() if m in DEVICE_MODES}


def device_pickups(events: pd.DataFrame, services: set[str]) -> pd.DataFrame:
    """Pick-ups of shared devices: time_s, service, node (``pickup`` rows of those services)."""
    rows = events[
        (as_str(events["event"]) == "pickup")
        & as_str(events["service"]).isin(sorted(services))
        & (events["node"] >= 0)
    ]
    return pd.DataFrame(
        {
            "time_s": rows["time_s"].to_numpy(dtype=float),
            "service": as_str(rows["service"]).to_numpy(),
            "node": rows["node"].to_numpy(dtype=np.int64),
        }
    )


def stations_of(events: pd.DataFrame) -> pd.DataFrame:
    """Stations seen in ``station_stock`` rows: service, station (name), node."""
    rows = events[as_str(events["event"]) == "station_stock"]
    frame = pd.DataFrame(
        {
            "service": as_str(rows["service"]).to_numpy(),
            "station": as_str(rows["detail"]).to_numpy(),
            "node": rows["node"].to_numpy(),
        }
    )
    return frame.drop_duplicates(["service", "station"], keep="last").reset_index(drop=True)


def place_centres(
    trips: pd.DataFrame, x: np.ndarray, y: np.ndarray
) -> dict[str, tuple[float, float]]:
    """Plot position of each named place: the mean position of the trip ends at that place."""
    if "origin_place" not in trips or trips.empty:
        return {}
    ends = pd.DataFrame(
        {
            "place": np.concatenate([as_str(trips["origin_place"]), as_str(trips["dest_place"])]),
            "node": np.concatenate([trips["origin_node"], trips["dest_node"]]).astype(np.int64),
        }
    )
    ends = ends[(ends["place"] != "") & (ends["node"] >= 0) & (ends["node"] < len(x))]
    ends = ends.assign(x=x[ends["node"]], y=y[ends["node"]])
    centres = ends.groupby("place")[["x", "y"]].mean()
    return {str(p): (float(r.x), float(r.y)) for p, r in centres.iterrows()}


def place_label(place: str) -> str:
    """A place name as a reader writes it: ``industrial_complex`` -> ``Industrial complex``."""
    text = place.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _edge_point(centre, target, view, inset: float) -> tuple[float, float]:
    """Where the ray from ``centre`` to ``target`` leaves ``view`` (x0, x1, y0, y1) shrunk by
    ``inset`` (a share of its width and height on each side)."""
    x0, x1, y0, y1 = view
    dx_in, dy_in = inset * (x1 - x0), inset * (y1 - y0)
    bounds_x = (x0 + dx_in, x1 - dx_in)
    bounds_y = (y0 + dy_in, y1 - dy_in)
    dx, dy = target[0] - centre[0], target[1] - centre[1]
    steps = []
    if dx:
        steps.append(((bounds_x[1] if dx > 0 else bounds_x[0]) - centre[0]) / dx)
    if dy:
        steps.append(((bounds_y[1] if dy > 0 else bounds_y[0]) - centre[1]) / dy)
    step = min(steps) if steps else 0.0
    return centre[0] + step * dx, centre[1] + step * dy


def outlying_arrows(
    centres: dict[str, tuple[float, float]], view: tuple[float, float, float, float], unit_m: float
) -> list[dict[str, Any]]:
    """Arrows at the edge of ``view`` toward the named places outside it, nearest first.

    Parameters
    ----------
    centres : place -> plot position (:func:`place_centres`).
    view : x0, x1, y0, y1 of the view, plot units.
    unit_m : ground metres of one plot unit.

    Returns one dict per arrow: ``places`` (names; places whose arrows would touch share one),
    ``head`` (3 % inside the edge, on the ray from the view's centre to the first place), ``tail``
    (14 % inside) and ``text`` (a line per place: its name and straight-line distance from the
    view's centre, km).
    """
    x0, x1, y0, y1 = view
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    outside = {
        place: pos
        for place, pos in centres.items()
        if not (x0 <= pos[0] <= x1 and y0 <= pos[1] <= y1)
    }
    heads = {p: _edge_point(centre, pos, view, 0.03) for p, pos in outside.items()}
    distance_km = {
        p: math.hypot(pos[0] - centre[0], pos[1] - centre[1]) * unit_m / 1000.0
        for p, pos in outside.items()
    }
    groups: list[list[str]] = []
    close = 0.08 * max(x1 - x0, y1 - y0)
    for place in sorted(outside, key=lambda p: (distance_km[p], p)):
        for group in groups:
            hx, hy = heads[group[0]]
            if math.hypot(heads[place][0] - hx, heads[place][1] - hy) < close:
                group.append(place)
                break
        else:
            groups.append([place])
    return [
        {
            "places": group,
            "head": heads[group[0]],
            "tail": _edge_point(centre, outside[group[0]], view, 0.14),
            "text": "\n".join(
                f"{place_label(p)}, {distance_km[p]:.{1 if distance_km[p] < 10 else 0}f} km"
                for p in group
            ),
        }
        for group in groups
    ]


def leg_paths(legs: pd.DataFrame, links: pd.DataFrame | None) -> list[list[int]]:
    """Node path of each leg (columns from_node, to_node): shortest by ``length_m`` over ``links``.

    Without links, or with no path between the ends, the leg is its two end nodes.
    """
    graph = nx.DiGraph()
    if links is not None and len(links):
        weight = links["length_m"] if "length_m" in links else pd.Series(1.0, index=links.index)
        graph.add_weighted_edges_from(
            zip(
                links["from_node"].astype(int),
                links["to_node"].astype(int),
                weight.astype(float),
                strict=False,
            ),
            weight="length_m",
        )
    paths: list[list[int]] = []
    cache: dict[tuple[int, int], list[int]] = {}
    for o, d in zip(legs["from_node"].astype(int), legs["to_node"].astype(int), strict=True):
        if (o, d) not in cache:
            try:
                cache[o, d] = nx.shortest_path(graph, o, d, weight="length_m")
            except (nx.NodeNotFound, nx.NetworkXNoPath):
                cache[o, d] = [o, d]
        paths.append(cache[o, d])
    return paths


def edge_volumes(paths: list[list[int]]) -> pd.DataFrame:
    """Vehicles per directed link (from_node, to_node, vehicles): each path adds 1 to each of its links."""
    pairs = [(u, v) for path in paths for u, v in itertools.pairwise(path)]
    frame = pd.DataFrame(pairs, columns=["from_node", "to_node"], dtype=np.int64)
    out = frame.groupby(["from_node", "to_node"], sort=True).size().rename("vehicles")
    return out.reset_index()


def mode_edge_volumes(
    events: pd.DataFrame,
    links: pd.DataFrame | None,
    modes: dict[str, str],
    skip: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Vehicles per directed road link and mode: mode, from_node, to_node, vehicles.

    Parameters
    ----------
    events : the event table; legs of registered vehicles (vehicle_id ≥ 0) count, private cars not.
    links : the road links (from_node, to_node, length_m) the legs are laid along (:func:`leg_paths`).
    modes : service -> mode label (results/gis.service_modes); a service not in it is its own mode.
    skip : services left out (shared devices, drawn as a density instead).
    """
    legs = shared_legs(events)
    legs = legs[~legs["service"].isin(sorted(skip))].reset_index(drop=True)
    if legs.empty:
        return pd.DataFrame({"mode": [], "from_node": [], "to_node": [], "vehicles": []}).astype(
            {"from_node": np.int64, "to_node": np.int64, "vehicles": np.int64}
        )
    paths = leg_paths(legs, links)
    mode = legs["service"].map(lambda service: modes.get(service) or service or "vehicles")
    parts = []
    for label, rows in mode.groupby(mode, sort=True).groups.items():
        part = edge_volumes([paths[i] for i in rows])
        parts.append(part.assign(mode=str(label)))
    out = pd.concat(parts, ignore_index=True)
    return out[["mode", "from_node", "to_node", "vehicles"]]


def shared_legs(events: pd.DataFrame) -> pd.DataFrame:
    """Legs of registered vehicles (vehicle_id ≥ 0) with both end nodes: time_s, vehicle_id,
    service, from_node, to_node."""
    legs = events[
        (as_str(events["event"]) == "vehicle_leg")
        & (events["node"] >= 0)
        & (events["to_node"] >= 0)
        & (events["vehicle_id"] >= 0)
    ]
    return pd.DataFrame(
        {
            "time_s": legs["time_s"].to_numpy(dtype=float),
            "vehicle_id": legs["vehicle_id"].to_numpy(dtype=np.int64),
            "service": as_str(legs["service"]).to_numpy(),
            "from_node": legs["node"].to_numpy(dtype=np.int64),
            "to_node": legs["to_node"].to_numpy(dtype=np.int64),
        }
    )

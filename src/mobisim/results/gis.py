"""Geography of a run: a map of the network with flows and stations, and a GeoPackage export.

Coordinates come from the run folder's ``nodes.parquet`` (node, lat, lon). When the folder also
holds ``links.parquet`` (from_node, to_node: the road network's links) they are drawn as the
background; otherwise the nodes are. Vehicle legs are laid along the shortest road path between
their end nodes (the path is not logged; results/maps.leg_paths). geopandas is an optional extra: ``pip install "mobisim[gis]"``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.font_manager import FontProperties

from mobisim.errors import MobisimError, ResultsError
from mobisim.metrics.common import as_str
from mobisim.metrics.stations import station_kpis
from mobisim.metrics.tables import kpi_meta
from mobisim.metrics.timeline import link_volumes, trip_flows
from mobisim.scenario.chains_config import ACCESS_MODES

#: most trip flows drawn on the map (the largest; more make a hairball of dashed lines)
MAX_TRIP_FLOWS = 30
#: line widths of flows on the map, points (smallest, largest)
FLOW_WIDTH_PT = (0.6, 7.0)


#: modes of shared devices (bikes, e-bikes, scooters): drawn as a density of pick-ups, not as legs
DEVICE_MODES = (*ACCESS_MODES, "micromobility")
#: target width of a density hexagon on the ground, m
DENSITY_HEX_M = 250.0
#: density hexagons across the view (fewest, most)
DENSITY_GRID = (8, 40)

#: mean Earth radius, m (IUGG), for distances on a map in degrees
EARTH_RADIUS_M = 6_371_008.8
#: round lengths a scale bar may show, km (× powers of ten)
_ROUND_KM = (1.0, 2.0, 5.0)


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


def round_km(target_km: float) -> float:
    """The largest round length (1, 2 or 5 × 10^k km) not longer than ``target_km`` (km)."""
    if not target_km > 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(target_km))
    return max(step * power for step in _ROUND_KM if step * power <= target_km * (1 + 1e-9))


def add_scale_bar(ax, unit_m: float) -> Any:
    """A scale bar of a round length (about a fifth of the view's width) in the lower right.

    Parameters
    ----------
    ax : matplotlib axes with the view set (plot units of :func:`node_xy`).
    unit_m : ground metres of one plot unit (:func:`metres_per_unit`).

    Returns the AnchoredSizeBar; its ``length_km`` is the stated length, km.
    """
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = ax.get_xlim()
    length_km = round_km(abs(x1 - x0) * unit_m / 1000.0 / 5.0)
    label = f"{length_km:g} km" if length_km >= 1 else f"{length_km * 1000:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length_km * 1000.0 / unit_m,
        label,
        loc="lower right",
        pad=0.4,
        borderpad=0.6,
        sep=4,
        frameon=True,
        size_vertical=0,
        fontproperties=FontProperties(size=8),
    )
    bar.patch.set_alpha(0.85)
    bar.patch.set_edgecolor("none")
    bar.size_bar.get_children()[0].set_linewidth(2.5)
    bar.length_km = length_km
    bar.set_gid("scale-bar")
    bar.set_zorder(6)
    ax.add_artist(bar)
    return bar


def add_north_arrow(ax) -> Any:
    """A north arrow in the upper left corner (up is north: the map is not rotated; for projected
    networks up is grid north, within a degree or two of true north in a UTM zone)."""
    arrow = ax.annotate(
        "N",
        xy=(0.05, 0.97),
        xytext=(0.05, 0.87),
        xycoords="axes fraction",
        ha="center",
        va="top",
        fontsize=10,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "#212529", "lw": 1.5},
        zorder=6,
    )
    arrow.set_gid("north-arrow")
    return arrow


def _segments(x, y, origins, dests) -> np.ndarray:
    o = np.asarray(origins, dtype=np.int64)
    d = np.asarray(dests, dtype=np.int64)
    ok = (o < len(x)) & (d < len(x)) & (o >= 0) & (d >= 0)
    return np.stack([np.c_[x[o[ok]], y[o[ok]]], np.c_[x[d[ok]], y[d[ok]]]], axis=1), ok


def _widths(volume: np.ndarray) -> np.ndarray:
    low, high = FLOW_WIDTH_PT
    top = float(volume.max()) if len(volume) else 1.0
    return low + (high - low) * volume / (top or 1.0)


#: nodes farther from the median node than this many times the median distance are not the town
CORE_RADIUS_FACTOR = 3.0
#: named places farther from the median place than this many times the median distance are outlying
PLACE_RADIUS_FACTOR = 3.0
#: share of the core nodes' span cut at each end (sparse tails of roads leaving the town)
CORE_TAIL_SHARE = 0.02
#: margin around the fitted view, share of its span
VIEW_MARGIN_SHARE = 0.08


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
    if trips is not None and len(trips) and {"service", "mode"} <= set(trips.columns):
        pairs = pd.DataFrame({"service": as_str(trips["service"]), "mode": as_str(trips["mode"])})
        pairs = pairs[(pairs["service"] != "") & (pairs["mode"] != "")]
        for service, group in pairs.groupby("service", sort=True):
            modes[str(service)] = str(group["mode"].value_counts().index[0])
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


def add_device_density(ax, x, y, pickups: pd.DataFrame, unit_m: float) -> Any:
    """Hexagon density of device pick-ups over the current view (hexagons about
    :data:`DENSITY_HEX_M` across), with a small colour bar; None without pick-ups in view.

    Parameters
    ----------
    ax : matplotlib axes with the view set (plot units of :func:`node_xy`).
    x, y : plot coordinates of every node index.
    pickups : :func:`device_pickups`.
    unit_m : ground metres of one plot unit.
    """
    from matplotlib.colors import LinearSegmentedColormap

    from mobisim.results.style import mode_colour

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    nodes = pickups["node"].to_numpy(dtype=np.int64)
    nodes = nodes[nodes < len(x)]
    px, py = x[nodes], y[nodes]
    inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    if not inside.any():
        return None
    across = int(np.clip(round((x1 - x0) * unit_m / DENSITY_HEX_M), *DENSITY_GRID))
    cmap = LinearSegmentedColormap.from_list(
        "devices", ["#ebfbee", mode_colour("micromobility"), "#0b3d16"]
    )
    density = ax.hexbin(
        px[inside],
        py[inside],
        gridsize=across,
        extent=(x0, x1, y0, y1),
        mincnt=1,
        cmap=cmap,
        alpha=0.6,
        linewidths=0.2,
        edgecolors="white",
        zorder=1.5,
    )
    density.set_gid("device-density")
    hex_m = (x1 - x0) * unit_m / across
    bar_ax = ax.inset_axes([1.04, 0.58, 0.36, 0.022])  # beside the map, under the legend
    bar = ax.figure.colorbar(density, cax=bar_ax, orientation="horizontal")
    bar.ax.tick_params(labelsize=7)
    bar.set_label(f"bike/scooter pick-ups per {hex_m:.0f} m hexagon", fontsize=7)
    ax.set_xlim(x0, x1)  # hexbin autoscales: keep the fitted view
    ax.set_ylim(y0, y1)
    return density


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


def add_outlying_places(ax, centres: dict[str, tuple[float, float]], unit_m: float) -> list:
    """Draw :func:`outlying_arrows` of the current view on ``ax``; returns the annotations
    (gid ``outlying:<place>|<place>…``)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    drawn = []
    for arrow in outlying_arrows(centres, (x0, x1, y0, y1), unit_m):
        note = ax.annotate(
            arrow["text"],
            xy=arrow["head"],
            xytext=arrow["tail"],
            ha="center",
            va="center",
            fontsize=7.5,
            color="#343a40",
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#adb5bd", "alpha": 0.9},
            arrowprops={"arrowstyle": "-|>", "color": "#343a40", "lw": 1.4},
            zorder=7,
        )
        note.set_gid("outlying:" + "|".join(arrow["places"]))
        drawn.append(note)
    return drawn


def add_place_labels(ax, centres: dict[str, tuple[float, float]]) -> list:
    """Small grey names of the named places inside the view (gid ``place:<name>``)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    labels = []
    for place, (px, py) in sorted(centres.items()):
        if x0 <= px <= x1 and y0 <= py <= y1:
            low = py < y0 + 0.15 * (y1 - y0)  # above the point near the bottom (the scale bar)
            text = ax.annotate(
                place_label(place),
                (px, py),
                xytext=(0, 7 if low else -7),
                textcoords="offset points",
                ha="center",
                va="bottom" if low else "top",
                fontsize=6.5,
                color="#343a40",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
                zorder=5,
            )
            text.set_gid(f"place:{place}")
            labels.append(text)
    return labels


def _legend_width(ax, vehicles: float, top: float) -> None:
    """A grey legend line as wide as ``vehicles`` legs per link would be drawn."""
    width = float(_widths(np.array([vehicles, top], dtype=float))[0])
    legs = "vehicle leg" if vehicles == 1 else "vehicle legs"
    ax.plot([], [], color="#868e96", lw=width, label=f"{vehicles:g} {legs} per link")


def plot_network_map(ax, tables: dict[str, Any], title: str = "Network") -> None:
    """Draw the network, shared-fleet link volumes by mode, device pick-ups, trip flows, stations,
    a scale bar and a north arrow of a run on ``ax``.

    Vehicle legs are laid along the shortest road path between their end nodes; line width is
    proportional to vehicles per road link, the same scale for every mode, colour the mode's colour
    (results/style.py). Private car legs are left out: they go door to door, so the trip flows show
    them. Shared devices (bikes, scooters) are drawn as a density of their pick-ups, not as legs.
    The view is fitted to the study area (:func:`fitted_view`); named places outside it are
    arrows at its edge (:func:`add_outlying_places`).
    """
    from mobisim.results.maps import mode_edge_volumes
    from mobisim.results.plots import no_data
    from mobisim.results.style import mode_colour, mode_name, ordered_modes

    nodes = tables.get("nodes")
    if nodes is None or nodes.empty:
        no_data(ax, title, "the run folder has no nodes.parquet (node, lat, lon)")
        return
    x, y = node_xy(nodes)
    unit_m = metres_per_unit(nodes)
    centres = place_centres(tables["trips"], x, y)
    view_x, view_y = fitted_view(x, y, centres)  # the study area; outlying places fall outside
    ax.set_xlim(*view_x)
    ax.set_ylim(*view_y)
    ax.set_aspect("equal")
    links = tables.get("links")
    if links is not None and {"from_node", "to_node"} <= set(links.columns):
        segs, _ = _segments(x, y, links["from_node"], links["to_node"])
        ax.add_collection(
            LineCollection(segs, colors="#dee2e6", linewidths=0.5, zorder=1), autolim=False
        )
    else:
        ax.scatter(x, y, s=1, color="#ced4da", zorder=1)
    devices = device_services(tables)
    volumes = mode_edge_volumes(tables["events"], links, service_modes(tables), skip=devices)
    top = float(volumes["vehicles"].max()) if len(volumes) else 1.0
    for mode in ordered_modes(volumes["mode"]):
        part = volumes[volumes["mode"] == mode]
        segs, ok = _segments(x, y, part["from_node"], part["to_node"])
        widths = _widths(np.r_[part["vehicles"].to_numpy(dtype=float), top])[:-1][ok]
        lines = LineCollection(
            segs, colors=mode_colour(mode), linewidths=widths, alpha=0.75, zorder=3
        )
        lines.set_gid(f"link-volumes:{mode}")
        ax.add_collection(lines, autolim=False)
        ax.plot([], [], color=mode_colour(mode), lw=3, label=mode_name(mode))
    if len(volumes):
        _legend_width(ax, 1, top)
        if top > 1:
            _legend_width(ax, top, top)
    add_device_density(ax, x, y, device_pickups(tables["events"], devices), unit_m)
    flows = trip_flows(tables["trips"]).nlargest(MAX_TRIP_FLOWS, "trips")
    if len(flows):
        segs, ok = _segments(x, y, flows["origin_node"], flows["dest_node"])
        if centres and set(flows["origin"]) | set(flows["destination"]) <= set(centres):
            ends = [
                (centres[o], centres[d])
                for o, d in zip(flows["origin"], flows["destination"], strict=True)
            ]
            segs, ok = np.array(ends, dtype=float), np.ones(len(flows), dtype=bool)
        widths = _widths(flows["trips"].to_numpy(dtype=float))[ok]
        ax.add_collection(
            LineCollection(
                segs, colors="#7048e8", linewidths=widths, alpha=0.3, linestyles="--", zorder=2
            ),
            autolim=False,
        )
        ax.plot(
            [],
            [],
            color="#7048e8",
            lw=3,
            ls="--",
            alpha=0.5,
            label=f"{len(flows)} largest trip flows (O→D)",
        )
    stations = stations_of(tables["events"])
    if len(stations):
        nodes_idx = stations["node"].to_numpy(dtype=np.int64)
        ax.scatter(
            x[nodes_idx],
            y[nodes_idx],
            s=30,
            marker="s",
            color="#212529",
            zorder=4,
            label="stations",
        )
    ax.set_xlim(*view_x)  # scatter and hexbin autoscale: keep the fitted view
    ax.set_ylim(*view_y)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    add_place_labels(ax, centres)
    add_outlying_places(ax, centres, unit_m)
    add_scale_bar(ax, unit_m)
    add_north_arrow(ax)
    if ax.get_legend_handles_labels()[0]:
        # beside the map (map_chart leaves room), so it hides no part of the town
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _geopandas():
    try:
        import geopandas
        import shapely
    except ImportError as exc:
        raise MobisimError(
            'GIS export needs geopandas, an optional extra: pip install "mobisim[gis]"'
        ) from exc
    return geopandas, shapely


def gis_layers(tables: dict[str, Any]) -> dict[str, Any]:
    """GeoDataFrames (EPSG:4326) of a loaded run: ``links`` (vehicle volumes), ``stations`` (with
    their KPIs), ``trip_flows``. Raises MobisimError without geopandas, ResultsError without nodes."""
    geopandas, shapely = _geopandas()
    nodes = tables.get("nodes")
    if nodes is None or nodes.empty:
        raise ResultsError("the run folder has no nodes.parquet (node, lat, lon): cannot place it")
    lon = pd.Series(nodes["lon"].to_numpy(dtype=float), index=nodes["node"].to_numpy())
    lat = pd.Series(nodes["lat"].to_numpy(dtype=float), index=nodes["node"].to_numpy())

    def lines(frame: pd.DataFrame, a: str, b: str):
        coords = np.stack(
            [
                np.c_[lon.reindex(frame[a]).to_numpy(), lat.reindex(frame[a]).to_numpy()],
                np.c_[lon.reindex(frame[b]).to_numpy(), lat.reindex(frame[b]).to_numpy()],
            ],
            axis=1,
        )
        return geopandas.GeoDataFrame(
            frame.reset_index(drop=True), geometry=shapely.linestrings(coords), crs="EPSG:4326"
        )

    layers = {
        "links": lines(link_volumes(tables["events"]), "from_node", "to_node"),
        "trip_flows": lines(trip_flows(tables["trips"]), "origin_node", "dest_node"),
    }
    manifest = tables.get("manifest")
    meta = kpi_meta(manifest) if manifest else {}
    period = (meta.get("period_start_s", 0.0), meta.get("period_end_s", 0.0))
    kpis = station_kpis(tables["events"], period)
    stations = stations_of(tables["events"])
    keys = [
        f"{s}/{n}" if s else n
        for s, n in zip(stations["service"], stations["station"], strict=True)
    ]
    if keys:
        stations = stations.join(pd.DataFrame([kpis[k] for k in keys]).drop(columns="node"))
    layers["stations"] = geopandas.GeoDataFrame(
        stations,
        geometry=shapely.points(
            lon.reindex(stations["node"]).to_numpy(), lat.reindex(stations["node"]).to_numpy()
        ),
        crs="EPSG:4326",
    )
    return layers


def export_gis(run_dir: str | Path, out_gpkg: str | Path) -> Path:
    """Write a run's links (vehicle volumes), stations (KPIs) and trip flows as GeoPackage layers.

    Parameters
    ----------
    run_dir : a run folder with nodes.parquet.
    out_gpkg : the GeoPackage file to write (replaced if it exists).
    """
    from mobisim.metrics.tables import load_run

    layers = gis_layers(load_run(run_dir))
    out_gpkg = Path(out_gpkg)
    out_gpkg.unlink(missing_ok=True)
    for name, frame in layers.items():
        frame.to_file(out_gpkg, layer=name, driver="GPKG")
    return out_gpkg

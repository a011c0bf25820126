"""Geography of a run: the static map (matplotlib) and a GeoPackage export.

Coordinates come from the run folder's ``nodes.parquet`` (node, lat, lon). When the folder also
holds ``links.parquet`` (from_node, to_node: the road network's links) they are drawn as the
background; otherwise the nodes are. What is drawn (positions, the fitted view, places, link
volumes along road paths, device pick-ups) comes from results/map_data.py, which the interactive
map (results/maps.py) shares. geopandas is an optional extra: ``pip install "mobisim[gis]"``.
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
from mobisim.metrics.stations import station_kpis
from mobisim.metrics.tables import kpi_meta
from mobisim.metrics.timeline import link_volumes, trip_flows
from mobisim.results.map_data import (
    DENSITY_HEX_M,
    device_pickups,
    device_services,
    fitted_view,
    metres_per_unit,
    mode_edge_volumes,
    node_xy,
    outlying_arrows,
    place_centres,
    place_label,
    service_modes,
    stations_of,
)

#: most trip flows drawn on the map (the largest; more make a hairball of dashed lines)
MAX_TRIP_FLOWS = 30
#: line widths of flows on the map, points (smallest, largest)
FLOW_WIDTH_PT = (0.6, 7.0)
#: density hexagons across the view (fewest, most)
DENSITY_GRID = (8, 40)

#: round lengths a scale bar may show, km (× powers of ten)
_ROUND_KM = (1.0, 2.0, 5.0)


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

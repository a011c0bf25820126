"""An interactive, self-contained map of one run for the HTML report (plotly, no tiles, no network).

Layers: the road network (``links.parquet``, thin grey), shared-device (bike/scooter) pick-ups as
a density, link volumes by mode in the mode colours of results/style.py (vehicle legs of registered
vehicles aggregated onto road links; a leg's path is not logged, so it is rebuilt as the
shortest-length path over the run's links, results/map_data.py), stations, stops, and the vehicles' positions by hour
(hour slider: each vehicle, not device, at the start node of its last leg begun before the end of
that hour).
Coordinates are those of results/gis.node_xy (degrees or projected metres). plotly.js is embedded inline once per
report (``include_js=True`` for the first map only), so the page works offline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mobisim.metrics.common import as_str
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
    shared_legs,
    stations_of,
)
from mobisim.results.style import mode_colour, mode_name, ordered_modes

#: line-width classes of link volumes: (lowest, highest share of the busiest link, width px)
WIDTH_CLASSES = ((0.0, 0.34, 2.0), (0.34, 0.67, 4.5), (0.67, 1.01, 7.0))


def _lines(x, y, pairs: pd.DataFrame) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for u, v in zip(pairs["from_node"], pairs["to_node"], strict=True):
        xs += [x[u], x[v], None]
        ys += [y[u], y[v], None]
    return xs, ys


def _add_device_density(fig, px: np.ndarray, py: np.ndarray, unit_m: float) -> None:
    """Shared-device pick-ups as a 2-D histogram (square cells :data:`DENSITY_HEX_M` wide; empty
    cells transparent), in the micromobility colour, under the link volumes."""
    import plotly.graph_objects as go

    size = DENSITY_HEX_M / unit_m
    fig.add_trace(
        go.Histogram2d(
            x=px,
            y=py,
            xbins={"size": size},
            ybins={"size": size},
            colorscale=[
                [0.0, "rgba(255,255,255,0)"],
                [1e-9, "#ebfbee"],
                [0.5, mode_colour("micromobility")],
                [1.0, "#0b3d16"],
            ],
            opacity=0.6,
            name="bike/scooter pick-ups",
            showlegend=True,
            showscale=True,
            colorbar={  # lower right, under the legend
                "title": {
                    "text": f"pick-ups per<br>{DENSITY_HEX_M:.0f} m cell",
                    "font": {"size": 11},
                },
                "x": 1.02,
                "xanchor": "left",
                "y": 0.0,
                "yanchor": "bottom",
                "len": 0.35,
                "thickness": 12,
            },
            hovertemplate="%{z} bike/scooter pick-ups<extra></extra>",
            meta={"layer": "device-density"},
        )
    )


def interactive_map_figure(tables: dict[str, Any]):
    """The interactive map of one run as a plotly Figure; None without nodes.

    Traces: roads; bike/scooter pick-ups (2-D histogram, ``meta.layer`` = ``device-density``);
    link volumes per mode in that mode's colour (results/style.py) and three width classes
    (``meta`` = {layer: link-volumes, mode}); place names; stations; stops; vehicles by hour
    (slider).
    """
    import plotly.graph_objects as go

    nodes = tables.get("nodes")
    if nodes is None or nodes.empty:
        return None
    x, y = node_xy(nodes)
    view_x, view_y = fitted_view(x, y, place_centres(tables["trips"], x, y))  # as the static map
    links = tables.get("links")
    events = tables["events"]
    fig = go.Figure()
    if links is not None and len(links):
        lx, ly = _lines(x, y, links)
        fig.add_trace(
            go.Scatter(
                x=lx,
                y=ly,
                mode="lines",
                line={"color": "#ced4da", "width": 0.6},
                name="roads",
                hoverinfo="skip",
            )
        )
    legs = shared_legs(events)
    devices = device_services(tables)
    pickups = device_pickups(events, devices)
    if len(pickups):
        _add_device_density(fig, x[pickups["node"]], y[pickups["node"]], metres_per_unit(nodes))
    volumes = mode_edge_volumes(events, links, service_modes(tables), skip=devices)
    top = float(volumes["vehicles"].max()) if len(volumes) else 1.0
    for mode in ordered_modes(volumes["mode"]):
        of_mode = volumes[volumes["mode"] == mode]
        first = True
        for lo, hi, width in WIDTH_CLASSES:
            share = of_mode["vehicles"] / top
            part = of_mode[(share >= lo) & (share < hi)]
            if part.empty:
                continue
            vx, vy = _lines(x, y, part)
            low, high = int(part.vehicles.min()), int(part.vehicles.max())
            fig.add_trace(
                go.Scatter(
                    x=vx,
                    y=vy,
                    mode="lines",
                    line={"color": mode_colour(mode), "width": width},
                    opacity=0.75,
                    name=mode_name(mode),
                    legendgroup=mode,
                    showlegend=first,
                    hovertemplate=f"{mode_name(mode)}: {low}–{high} vehicle legs per link"
                    "<extra></extra>",
                    meta={"layer": "link-volumes", "mode": mode},
                )
            )
            first = False
    centres = place_centres(tables["trips"], x, y)
    if centres:
        names = sorted(centres)
        fig.add_trace(
            go.Scatter(
                x=[centres[n][0] for n in names],
                y=[centres[n][1] for n in names],
                mode="text",
                text=[place_label(n) for n in names],
                textposition="bottom center",
                textfont={"size": 10, "color": "#343a40"},
                name="place names",
                hoverinfo="skip",
                meta={"layer": "places"},
            )
        )
    stations = stations_of(events)
    if len(stations):
        idx = stations["node"].to_numpy(dtype=np.int64)
        fig.add_trace(
            go.Scatter(
                x=x[idx],
                y=y[idx],
                mode="markers",
                name="stations",
                marker={"symbol": "square", "size": 9, "color": "#212529"},
                text=stations["station"],
                hoverinfo="text",
            )
        )
    stops = events[as_str(events["event"]).isin(["board", "alight", "stop_arrive"])]
    stop_nodes = np.unique(stops["node"][stops["node"] >= 0].to_numpy(dtype=np.int64))
    if len(stop_nodes):
        fig.add_trace(
            go.Scatter(
                x=x[stop_nodes],
                y=y[stop_nodes],
                mode="markers",
                name="stops",
                marker={"symbol": "circle-open", "size": 4, "color": "#e8590c"},
                hoverinfo="skip",
            )
        )
    static = len(fig.data)
    legs = legs[~legs["service"].isin(sorted(devices))]  # devices are the density layer
    # every hour from the first leg to the last event: vehicles that stand still stay on the map
    last_hour = int(events["time_s"].max() // 3600) if len(events) else 0
    hours = list(range(int(legs["time_s"].min() // 3600), last_hour + 1)) if len(legs) else []
    for hour in hours:
        begun = legs[legs["time_s"] < (hour + 1) * 3600].groupby("vehicle_id").last()
        idx = begun["from_node"].to_numpy(dtype=np.int64)
        fig.add_trace(
            go.Scatter(
                x=x[idx],
                y=y[idx],
                mode="markers",
                name=f"vehicles {hour:02d}:00",
                marker={"size": 10, "color": "#fab005", "line": {"width": 1, "color": "#495057"}},
                text=[f"vehicle {v}" for v in begun.index],
                hoverinfo="text",
                visible=hour == hours[0],
            )
        )
    steps = [
        {
            "method": "update",
            "label": f"{hour:02d}:00",
            "args": [{"visible": [True] * static + [h == hour for h in hours]}],
        }
        for hour in hours
    ]
    for arrow in outlying_arrows(centres, (*view_x, *view_y), metres_per_unit(nodes)):
        # outlying places: arrows at the edge of the first view (data coordinates, like the map)
        fig.add_annotation(
            x=arrow["head"][0],
            y=arrow["head"][1],
            ax=arrow["tail"][0],
            ay=arrow["tail"][1],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            text=arrow["text"].replace("\n", "<br>"),
            showarrow=True,
            arrowhead=2,
            arrowwidth=1.5,
            arrowcolor="#343a40",
            font={"size": 11, "color": "#343a40"},
            bgcolor="rgba(255,255,255,0.9)",
            bordercolor="#adb5bd",
            name="outlying:" + "|".join(arrow["places"]),
        )
    fig.update_layout(
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": "vehicle positions at the end of hour "},
                "steps": steps,
            }
        ]
        if steps
        else [],
        xaxis={"visible": False, "scaleanchor": "y", "range": view_x},
        yaxis={"visible": False, "range": view_y},
        plot_bgcolor="white",
        height=640,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"bgcolor": "rgba(255,255,255,0.8)"},
    )
    return fig


def interactive_map_html(
    tables: dict[str, Any], div_id: str = "map", include_js: bool = True
) -> str:
    """An HTML fragment (``<div>`` + script) with the interactive map of one run; '' without nodes."""
    fig = interactive_map_figure(tables)
    if fig is None:
        return ""
    return fig.to_html(
        full_html=False, include_plotlyjs=include_js, div_id=div_id, config={"displaylogo": False}
    )


def interactive_maps_html(runs) -> str:
    """One interactive map per run (label, tables) with a heading; plotly.js inlined before the first."""
    import html

    parts = []
    for i, (label, tables) in enumerate(runs):
        fragment = interactive_map_html(tables, div_id=f"interactive-map-{i}", include_js=not parts)
        if fragment:
            parts.append(
                f"<section class='interactive-map' data-run='{html.escape(str(label))}'>"
                f"<h3>Interactive map — {html.escape(str(label))}</h3>{fragment}</section>"
            )
    return "".join(parts)

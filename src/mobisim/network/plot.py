"""Plot a network and its named places to an image file (matplotlib, Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection

from mobisim.network.graph import Network

#: line width by highway class (others: 0.5)
WIDTHS = {"motorway": 2.5, "trunk": 2.0, "primary": 1.8, "secondary": 1.4, "tertiary": 1.0}
KIND_COLOURS = {
    "residential": "tab:green",
    "institution": "tab:purple",
    "school": "tab:orange",
    "shopping": "tab:red",
    "bus_terminal": "tab:blue",
    "centre": "black",
    "industrial": "tab:brown",
    "rail_station": "tab:cyan",
}


def plot_network(network: Network, out_file: Path | str, title: str | None = None) -> Path:
    """Draw the streets (width by class) and the named places; write ``out_file`` (PNG, SVG, PDF).

    Parameters
    ----------
    network : Network
        The network to draw (lon/lat axes, degrees).
    out_file : Path
        Image file to write; its folder is created if needed.
    title : str, optional
        Figure title (default: the network name).
    """
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    lat = network.nodes["lat"].to_numpy()
    lon = network.nodes["lon"].to_numpy()
    segments, widths = [], []
    for u, v, data in network.graph.edges(data=True):
        geometry = data.get("geometry")
        if geometry is not None:
            segments.append(list(geometry.coords))
        else:
            i, j = network.node_index[u], network.node_index[v]
            segments.append([(lon[i], lat[i]), (lon[j], lat[j])])
        highway = data.get("highway")
        highway = highway[0] if isinstance(highway, list) else str(highway)
        widths.append(WIDTHS.get(highway.removesuffix("_link"), 0.5))
    fig, ax = plt.subplots(figsize=(10, 10))
    ax.add_collection(LineCollection(segments, linewidths=widths, colors="0.35"))
    for kind, group in network.places.groupby("kind"):
        ax.scatter(
            group["lon"],
            group["lat"],
            s=40,
            zorder=3,
            label=kind,
            color=KIND_COLOURS.get(kind, "tab:pink"),
        )
        for row in group.itertuples():
            ax.annotate(
                row.name, (row.lon, row.lat), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    ax.autoscale()
    # equal metres on both axes: a degree of longitude is cos(latitude) degrees of latitude long
    ax.set_aspect(1.0 / max(0.1, math.cos(math.radians(float(lat.mean())))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or network.name)
    if len(network.places):
        ax.legend(loc="best", fontsize=8)
    fig.savefig(out_file, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out_file

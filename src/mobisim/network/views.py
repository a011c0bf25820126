"""Per-mode views of one network: which edges each mode may use, over the shared node indices.

- ``drive`` (cars, shuttles, DRT, buses): edges whose highway class is drivable (osmnx's drive
  filter classes), in their OSM direction.
- ``bike`` (bikes, e-bikes, e-scooters, segways): every edge except motorways, trunk roads, their
  links, stairs, footways and corridors, and ways tagged ``bicycle=no`` or ``motorroad=yes``;
  made bidirectional (riders may push against one-way traffic).
- ``walk``: every edge except motorways and their links, cycleways, and ways tagged ``foot=no`` or
  ``motorroad=yes``; made bidirectional.

On a file that only has drive roads the walk and bike views are therefore the drive roads made
bidirectional (minus motorways, and for bike also trunk roads). Nodes keep their index in every view;
a node no edge of a view touches is simply unreachable in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mobisim.errors import NetworkError

if TYPE_CHECKING:
    from mobisim.network.graph import Network

VIEW_NAMES = ("drive", "bike", "walk")

#: highway classes osmnx's drive filter excludes
NOT_DRIVE = {
    "abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
    "escalator", "footway", "no", "path", "pedestrian", "planned", "platform", "proposed",
    "raceway", "razed", "rest_area", "service", "services", "steps", "track",
}  # fmt: skip
#: service=* values osmnx's drive filter excludes
NOT_DRIVE_SERVICE = {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}
MOTORWAY = {"motorway", "motorway_link"}
TRUNK = {"trunk", "trunk_link"}
NOT_BIKE = MOTORWAY | TRUNK | {"footway", "steps", "corridor", "elevator", "escalator", "platform"}
NOT_WALK = MOTORWAY | {"cycleway", "bus_guideway", "raceway", "platform"}


@dataclass(frozen=True)
class View:
    """Edge arrays of one mode view (parallel arrays, one entry per directed edge).

    Attributes: ``name``; ``n_nodes``; ``u``, ``v`` (node indices); ``length_m`` (m);
    ``speed_kph`` (km/h, edge speed); ``travel_time_s`` (s at edge speed); ``highway`` (the
    edge's first OSM highway class, a string; "" when untagged), for time-of-day speed factors.
    """

    name: str
    n_nodes: int
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kph: np.ndarray
    travel_time_s: np.ndarray
    highway: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.u)


def _first(value) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def _values(value) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return set() if value is None else {str(value)}


def _allowed(view: str, data: dict) -> bool:
    highway = _first(data.get("highway"))
    if view == "drive":
        return highway not in NOT_DRIVE and not (_values(data.get("service")) & NOT_DRIVE_SERVICE)
    if "yes" in _values(data.get("motorroad")):
        return False
    if view == "bike":
        return highway not in NOT_BIKE and "no" not in _values(data.get("bicycle"))
    return highway not in NOT_WALK and "no" not in _values(data.get("foot"))


def build_view(network: Network, name: str) -> View:
    """Build the view ``name`` (drive, bike or walk) of ``network``.

    Parameters
    ----------
    network : Network
        The prepared network (edges must carry ``length`` m, ``speed_kph``, ``travel_time`` s).
    name : str
        View name, one of ``VIEW_NAMES``.
    """
    if name not in VIEW_NAMES:
        raise NetworkError(
            f"unknown network view '{name}'; expected one of {', '.join(VIEW_NAMES)}"
        )
    index = network.node_index
    u, v, length, speed, time, highway = [], [], [], [], [], []
    for a, b, data in network.graph.edges(data=True):
        if not _allowed(name, data):
            continue
        u.append(index[a])
        v.append(index[b])
        length.append(float(data["length"]))
        speed.append(float(data["speed_kph"]))
        time.append(float(data["travel_time"]))
        highway.append(_first(data.get("highway")))
    u_arr, v_arr = np.array(u, np.int64), np.array(v, np.int64)
    arrays = [np.array(x, float) for x in (length, speed, time)] + [np.array(highway, object)]
    if name in ("bike", "walk"):
        u_arr, v_arr = np.concatenate([u_arr, v_arr]), np.concatenate([v_arr, u_arr])
        arrays = [np.concatenate([x, x]) for x in arrays]
    return View(name, network.n_nodes, u_arr, v_arr, *arrays)


def main_component(view: View) -> np.ndarray:
    """Boolean mask (length ``n_nodes``) of the nodes in the largest strongly connected component
    of ``view``: from any of them a mode can reach every other and come back. Nodes no edge of the
    view touches are outside it. Used by the network check and the sharing fleets' default zones."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = view.n_nodes
    mask = np.zeros(n, dtype=bool)
    if view.n_edges == 0:
        return mask
    graph = csr_matrix((np.ones(view.n_edges), (view.u, view.v)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    touched = np.zeros(n, dtype=bool)
    touched[view.u] = touched[view.v] = True
    counts = np.bincount(labels[touched], minlength=int(labels.max()) + 1)
    return (labels == int(np.argmax(counts))) & touched

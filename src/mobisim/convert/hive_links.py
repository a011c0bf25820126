"""HIVE's link-based positions, emulated on a node-based road graph (for :mod:`mobisim.convert.hive`).

HIVE 1.3 (``nrel.hive``) places every request end, vehicle, base and station on a *link*, not on
a node (``model/roadnetwork/roadnetwork.py``, ``position_from_geoid``): the link whose centroid
is nearest (a k-d tree over the centroids in latitude/longitude degrees,
``osm/osm_road_network_link_helper.py``; the centroid is the H3 cell one before the middle of the
link's H3 line, so the two directions of a street differ by about one cell) and, on it, the H3
cell of the line from the link's start to its end nearest to the point. A route between two
positions (``osm/osm_roadnetwork.py``, ``route``; ``osm_roadnetwork_ops.py``,
``resolve_route_src_dst_positions``) is the origin link, the shortest path from the origin
link's end node to the destination link's start node, and the destination link. The two end
links keep their *whole* length and travel time (``LinkTraversal.update_start`` /
``update_end`` move the end cell, not the distance); an end link is skipped only when the
position is at the far end of it (a departure from a link's end cell, an arrival at a link's start
cell: its start equals its end, ``linktraversal.traverse_up_to``). A vehicle ends its drive at
the destination position (``vehicle_state_ops.py``), so its next route starts with that link
again. Hence, for positions ``p`` on link ``u -> v`` (length ``L``) and ``q`` on ``u' -> v'``::

    HIVE drive(p, q) = depart(p) + shortest(v, u') + arrive(q)
    depart(p) = 0 if p is at v's cell else L;   arrive(q) = 0 if q is at u''s cell else L'

and 0 when ``p == q``. Emulated exactly by one extra node per (link, kind) used — kind ``start``,
``end`` or ``inner`` — with the edges ``u -> p`` (length ``arrive``) and ``p -> v`` (length
``depart``): any shortest path from ``p`` leaves by ``p -> v`` and any to ``q`` arrives by
``u' -> q``, and no shortest path passes through a position node (``u -> p -> v`` is never
shorter than the link ``u -> v`` itself). Zero lengths become ``ZERO_LENGTH_M`` (1 mm) because
the router's sparse matrices drop zero-weight entries.

HIVE also counts each link's time in whole seconds (``LinkTraversal.travel_time_seconds`` goes
through ``util/units.py`` ``hours_to_seconds``, which truncates with ``int``: a 105 m link at
40 km/h takes 9 s, not 9.45 s); :func:`whole_second_links` sets each edge's speed so that
mobisim's router gives that time (4.7 % less drive time on the Denver demo's requests).

Approximations (each small): the centroid is the point ``HEX_SPACING_M`` before the middle of
the straight segment, and a point's position is its projection on the segment, at the start or
end cell when the projection lies within ``HEX_SPACING_M / 2`` of that end (HIVE: the nearest H3
cell at resolution 15, about 0.9 m apart). Two positions of the same kind on the same link share
a node, so a drive between them is 0 where HIVE would drive around the block, and straight-line
distances (HIVE's matching cost) are measured to the node, not to the exact cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

EARTH_RADIUS_M = 6_371_008.8
#: distance between neighbouring H3 cells at HIVE's resolution 15 (edge 0.51 m × sqrt 3), m
HEX_SPACING_M = 0.88
#: a HIVE link of zero length (skipped end link) becomes this, m: the router drops 0 weights
ZERO_LENGTH_M = 1e-3
#: sideways offset of a position node from its link, m (to the right of the direction of travel:
#: the two directions of a street get distinct nodes)
SIDE_OFFSET_M = 1.0
KINDS = ("start", "inner", "end")
#: speed written for a link HIVE crosses in 0 whole seconds (under 1 s), km/h
INSTANT_KMH = 999_999.0


@dataclass(frozen=True)
class LinkPositions:
    """HIVE positions of a set of points: the link ``u -> v`` (node ids) and the kind of each."""

    u: np.ndarray
    v: np.ndarray
    kind: np.ndarray  # str: "start", "inner" or "end"


def _local_m(lat, lon, lat0: float) -> np.ndarray:
    """Equirectangular metres (east, north) around latitude ``lat0`` (degrees)."""
    rad = np.radians
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    return np.column_stack(
        [EARTH_RADIUS_M * rad(lon) * math.cos(rad(lat0)), EARTH_RADIUS_M * rad(lat)]
    )


def hive_links(graph: nx.MultiDiGraph) -> list[tuple[int, int, float, float]]:
    """HIVE's links: (u, v, length m, speed km/h) of key 0 of each node pair, as HIVE reads them
    (``get_edge_data(src, dst, 0)``), in the graph's edge order. ``maxspeed`` (the converted
    graph) or ``speed_kmph`` (HIVE's own) gives the speed."""
    links, seen = [], set()
    for u, v, data in graph.edges(data=True):
        if (u, v) in seen:
            continue
        seen.add((u, v))
        first = graph.get_edge_data(u, v, 0) or data
        speed = first.get("maxspeed", first.get("speed_kmph"))
        links.append((u, v, float(first["length"]), float(speed)))
    return links


def link_positions(graph: nx.MultiDiGraph, lat, lon) -> LinkPositions:
    """HIVE's ``position_from_geoid`` for points ``lat``/``lon`` (degrees): nearest link by
    centroid (in degrees, as HIVE's k-d tree), then the kind of the point's place on it."""
    links = hive_links(graph)
    u = np.array([link[0] for link in links])
    v = np.array([link[1] for link in links])
    ys = np.array([[graph.nodes[a]["y"], graph.nodes[b]["y"]] for a, b in zip(u, v, strict=True)])
    xs = np.array([[graph.nodes[a]["x"], graph.nodes[b]["x"]] for a, b in zip(u, v, strict=True)])
    lat0 = float(ys.mean())
    start_m = _local_m(ys[:, 0], xs[:, 0], lat0)
    end_m = _local_m(ys[:, 1], xs[:, 1], lat0)
    segment_m = np.hypot(*(end_m - start_m).T)
    # HIVE's centroid: the cell one before the middle of the link's H3 line (toward its start)
    centre = np.clip(0.5 - HEX_SPACING_M / np.maximum(segment_m, 1e-9), 0.0, 0.5)
    centroid = np.column_stack(
        [ys[:, 0] + centre * (ys[:, 1] - ys[:, 0]), xs[:, 0] + centre * (xs[:, 1] - xs[:, 0])]
    )
    _, index = cKDTree(centroid).query(np.column_stack([lat, lon]))
    point_m = _local_m(lat, lon, lat0)
    a, b, length = start_m[index], end_m[index], segment_m[index]
    along_m = np.einsum("ij,ij->i", point_m - a, b - a) / np.maximum(length, 1e-9)
    half = HEX_SPACING_M / 2
    kind = np.where(along_m <= half, "start", np.where(along_m >= length - half, "end", "inner"))
    return LinkPositions(u=u[index], v=v[index], kind=kind)


def add_position_nodes(
    graph: nx.MultiDiGraph, positions: LinkPositions
) -> tuple[nx.MultiDiGraph, np.ndarray, np.ndarray, np.ndarray]:
    """A copy of ``graph`` with one node per distinct (link, kind) of ``positions`` and its two
    edges (module docstring), and, per position, that node's id and its lat/lon (degrees).

    A node sits ``SIDE_OFFSET_M`` to the right of its link: at a quarter of it (``start``), the
    middle (``inner``) or three quarters (``end``); a point given its lat/lon snaps to it exactly.
    """
    out = graph.copy()
    speed = {(u, v): (length, kmh) for u, v, length, kmh in hive_links(graph)}
    next_id = max(int(n) for n in graph.nodes) + 1
    made: dict[tuple[int, int, str], int] = {}
    lat0 = float(np.mean([d["y"] for _, d in graph.nodes(data=True)]))
    metres_per_deg_lat = EARTH_RADIUS_M * math.pi / 180
    metres_per_deg_lon = metres_per_deg_lat * math.cos(math.radians(lat0))
    ids = np.empty(len(positions.u), dtype=np.int64)
    for i, key in enumerate(zip(positions.u, positions.v, positions.kind, strict=True)):
        u, v, kind = int(key[0]), int(key[1]), str(key[2])
        node = made.get((u, v, kind))
        if node is None:
            node = made[(u, v, kind)] = next_id
            next_id += 1
            length_m, kmh = speed[(u, v)]
            start, end = out.nodes[u], out.nodes[v]
            east = (end["x"] - start["x"]) * metres_per_deg_lon
            north = (end["y"] - start["y"]) * metres_per_deg_lat
            norm = math.hypot(east, north) or 1.0
            share = {"start": 0.25, "inner": 0.5, "end": 0.75}[kind]
            # right of the direction of travel: (north, -east) rotated from (east, north)
            lon = start["x"] + share * (end["x"] - start["x"])
            lon += SIDE_OFFSET_M * north / norm / metres_per_deg_lon
            lat = start["y"] + share * (end["y"] - start["y"])
            lat -= SIDE_OFFSET_M * east / norm / metres_per_deg_lat
            out.add_node(node, x=lon, y=lat)
            arrive_m = ZERO_LENGTH_M if kind == "start" else length_m
            depart_m = ZERO_LENGTH_M if kind == "end" else length_m
            edge = {"maxspeed": f"{kmh:g}", "highway": "unclassified"}
            out.add_edge(u, node, 0, length=arrive_m, **edge)
            out.add_edge(node, v, 0, length=depart_m, **edge)
        ids[i] = node
    lats = np.array([out.nodes[n]["y"] for n in ids], dtype=float)
    lons = np.array([out.nodes[n]["x"] for n in ids], dtype=float)
    return out, ids, lats, lons


def whole_second_links(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph`` with every edge's ``maxspeed`` (km/h) set so that its time is HIVE's: the whole
    seconds of ``length`` / speed, truncated (module docstring); under 1 s: ``INSTANT_KMH``.
    Lengths stay, so vehicle-km do not change."""
    for _, _, data in graph.edges(data=True):
        length_m, kmh = float(data["length"]), float(data["maxspeed"])
        whole_s = math.floor(length_m / 1000 / kmh * 3600)
        speed = length_m / 1000 / (whole_s / 3600) if whole_s > 0 else INSTANT_KMH
        data["maxspeed"] = f"{speed:.6f}"
    return graph

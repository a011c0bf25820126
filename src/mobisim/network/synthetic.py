"""Synthetic new-town road network, shaped like a Korean innovation city (e.g. Chungbuk, 6.9 km²).

The town is a square street grid inside a ring road (``primary``, 60 km/h), crossed by arterials
(``secondary``, 50 km/h) at thirds and collectors (``tertiary``, 50 km/h) at sixths; the other lines
are local residential streets (untagged, so the per-highway default applies). Two pairs of adjacent
local streets near the centre are one-way in opposite directions, and short cul-de-sacs branch off
some local streets. A primary road (70 km/h, open to bikes) links the ring to an industrial complex
and a trunk road (80 km/h, no bikes) to a regional rail station (KTX Osong-like), each ending in a
small street grid of its own.

The output is an osmnx-compatible ``MultiDiGraph`` (node attrs ``y``, ``x``, ``street_count``; edge
attrs ``highway``, ``maxspeed`` where tagged, ``lanes``, ``oneway``, ``reversed``, ``length`` (m),
``geometry``, ``name``) and a list of named places (residential blocks with weights, public
institutions, schools, supermarket, bus terminal, town centre, industrial complex, rail station).
Speeds and travel times are added later, like for real networks (load.prepare_graph).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import shapely

from mobisim.errors import NetworkError

EARTH_RADIUS_M = 6_371_009.0
MIN_BLOCK_M = 50.0
LINK_NODE_SPACING_M = 400.0

#: road class -> (highway, maxspeed km/h tag or None, lanes)
ROAD_CLASSES = {
    "ring": ("primary", "60", "4"),
    "arterial": ("secondary", "50", "4"),
    "collector": ("tertiary", "50", "2"),
    "local": ("residential", None, "2"),
    "link": ("trunk", "80", "4"),
    "industrial_link": ("primary", "70", "4"),
    "estate": ("unclassified", None, "2"),
}
LINE_LABELS = {"ring": "Ring Road", "arterial": "Avenue", "collector": "Road", "local": "Street"}

#: named places inside the town: name, kind, (east, north) as fractions of the half side, weight, radius as fraction of side
TOWN_PLACES = [
    ("town_centre", "centre", (0.0, 0.0), 1.0, 0.12),
    ("public_institutions", "institution", (0.5, 0.15), 1.0, 0.12),
    ("supermarket", "shopping", (0.18, -0.22), 1.0, 0.05),
    ("bus_terminal", "bus_terminal", (-0.12, -0.42), 1.0, 0.05),
    ("elementary_school_north", "school", (-0.3, 0.5), 1.0, 0.05),
    ("elementary_school_south", "school", (0.35, -0.55), 1.0, 0.05),
    ("middle_school", "school", (-0.5, -0.3), 1.0, 0.05),
    ("high_school", "school", (0.3, 0.62), 1.0, 0.05),
    ("residential_nw", "residential", (-0.6, 0.6), 0.18, 0.14),
    ("residential_n", "residential", (0.05, 0.62), 0.16, 0.14),
    ("residential_ne", "residential", (0.65, 0.62), 0.10, 0.14),
    ("residential_w", "residential", (-0.62, 0.0), 0.16, 0.14),
    ("residential_sw", "residential", (-0.6, -0.62), 0.14, 0.14),
    ("residential_s", "residential", (0.0, -0.68), 0.14, 0.14),
    ("residential_se", "residential", (0.65, -0.6), 0.12, 0.14),
]
INDUSTRIAL_BEARING_DEG = 70.0
RAIL_BEARING_DEG = 215.0


class _Layout:
    """Nodes (local metres east/north of the centre) and street segments under construction."""

    def __init__(self) -> None:
        self.east: list[float] = []
        self.north: list[float] = []
        # segment: (a, b, road class, name, oneway) ; oneway means a -> b only
        self.segments: list[tuple[int, int, str, str, bool]] = []

    def node(self, east_m: float, north_m: float) -> int:
        self.east.append(float(east_m))
        self.north.append(float(north_m))
        return len(self.east) - 1

    def xy(self, node: int) -> tuple[float, float]:
        return self.east[node], self.north[node]

    def street(self, a: int, b: int, cls: str, name: str, oneway: bool = False) -> None:
        self.segments.append((a, b, cls, name, oneway))

    def estate(self, centre: tuple[float, float], spacing_m: float, name: str) -> int:
        """A 3×3 street grid around ``centre``; returns its centre node."""
        ids = [
            [
                self.node(centre[0] + (i - 1) * spacing_m, centre[1] + (j - 1) * spacing_m)
                for j in range(3)
            ]
            for i in range(3)
        ]
        for i in range(3):
            for j in range(3):
                if i < 2:
                    self.street(ids[i][j], ids[i + 1][j], "estate", name)
                if j < 2:
                    self.street(ids[i][j], ids[i][j + 1], "estate", name)
        return ids[1][1]

    def link(self, start: int, end: int, cls: str, name: str, bend_m: float) -> None:
        """A road of class ``cls`` from ``start`` to ``end``, a node every ~400 m, a gentle bend."""
        (sx, sy), (ex, ey) = self.xy(start), self.xy(end)
        dist = math.hypot(ex - sx, ey - sy)
        pieces = max(2, round(dist / LINK_NODE_SPACING_M))
        px, py = -(ey - sy) / dist, (ex - sx) / dist
        previous = start
        for t in range(1, pieces):
            f = t / pieces
            offset = bend_m * math.sin(math.pi * f)
            node = self.node(sx + f * (ex - sx) + offset * px, sy + f * (ey - sy) + offset * py)
            self.street(previous, node, cls, name)
            previous = node
        self.street(previous, end, cls, name)


def _grid_size(side_m: float, target_nodes: int) -> int:
    """Lines per axis: about half the target nodes are intersections, blocks at least 50 m."""
    wanted = round(math.sqrt(0.5 * target_nodes))
    return int(max(4, min(wanted, math.floor(side_m / MIN_BLOCK_M) + 1)))


def _line_classes(n: int) -> list[str]:
    classes = ["local"] * n
    for k in (1, 3, 5):
        classes[round(k * (n - 1) / 6)] = "collector"
    for k in (1, 2):
        classes[round(k * (n - 1) / 3)] = "arterial"
    classes[0] = classes[-1] = "ring"
    return classes


def _line_name(cls: str, axis: str, index: int) -> str:
    return "Ring Road" if cls == "ring" else f"{LINE_LABELS[cls]} {axis}{index}"


def _local_pair(classes: list[str]) -> int | None:
    """Index j of two adjacent local lines (j, j+1) nearest the middle, or None."""
    n = len(classes)
    pairs = [j for j in range(1, n - 2) if classes[j] == classes[j + 1] == "local"]
    return min(pairs, key=lambda j: abs(j + 0.5 - (n - 1) / 2)) if pairs else None


def _build_grid(
    layout: _Layout, n: int, side_m: float, rng: np.random.Generator
) -> list[list[int]]:
    spacing = side_m / (n - 1)
    half = side_m / 2
    classes = _line_classes(n)
    ids = []
    for i in range(n):
        column = []
        for j in range(n):
            jitter = (
                rng.uniform(-0.08, 0.08, 2) * spacing if 0 < i < n - 1 and 0 < j < n - 1 else (0, 0)
            )
            column.append(
                layout.node(-half + i * spacing + jitter[0], -half + j * spacing + jitter[1])
            )
        ids.append(column)
    pair = _local_pair(classes)
    lo, hi = round((n - 1) / 3), round(2 * (n - 1) / 3)
    local_segments = []
    for j in range(n):  # east-west lines (rows)
        for i in range(n - 1):
            a, b = ids[i][j], ids[i + 1][j]
            name = _line_name(classes[j], "EW", j)
            if pair is not None and j in (pair, pair + 1) and lo <= i < hi:
                # one-way pair: the lower row runs east, the upper row west
                ends = (a, b) if j == pair else (b, a)
                layout.street(*ends, "local", name, oneway=True)
            else:
                layout.street(a, b, classes[j], name)
                if classes[j] == "local":
                    local_segments.append((len(layout.segments) - 1, "north"))
    for i in range(n):  # north-south lines (columns)
        for j in range(n - 1):
            a, b = ids[i][j], ids[i][j + 1]
            name = _line_name(classes[i], "NS", i)
            if pair is not None and i in (pair, pair + 1) and lo <= j < hi:
                # one-way pair: the western column runs north, the eastern one south
                ends = (a, b) if i == pair else (b, a)
                layout.street(*ends, "local", name, oneway=True)
            else:
                layout.street(a, b, classes[i], name)
                if classes[i] == "local":
                    local_segments.append((len(layout.segments) - 1, "east"))
    _add_cul_de_sacs(layout, local_segments, spacing, rng)
    return ids


def _add_cul_de_sacs(layout: _Layout, local_segments, spacing: float, rng) -> None:
    """Split some local segments at their midpoint and add a dead-end street into the block."""
    if not local_segments:
        return
    count = max(2, round(0.04 * len(local_segments)))
    chosen = rng.choice(len(local_segments), size=min(count, len(local_segments)), replace=False)
    for pick in sorted(chosen):
        index, side = local_segments[pick]
        a, b, cls, name, _ = layout.segments[index]
        (ax, ay), (bx, by) = layout.xy(a), layout.xy(b)
        middle = layout.node((ax + bx) / 2, (ay + by) / 2)
        layout.segments[index] = (a, middle, cls, name, False)
        layout.street(middle, b, cls, name)
        dx, dy = (0.0, 0.4 * spacing) if side == "north" else (0.4 * spacing, 0.0)
        end = layout.node((ax + bx) / 2 + dx, (ay + by) / 2 + dy)
        layout.street(middle, end, "local", f"{name} cul-de-sac")


def _ring_node_towards(layout: _Layout, ids: list[list[int]], bearing_deg: float) -> int:
    ux, uy = math.sin(math.radians(bearing_deg)), math.cos(math.radians(bearing_deg))
    n = len(ids)
    ring = {ids[i][j] for i in range(n) for j in range(n) if i in (0, n - 1) or j in (0, n - 1)}
    return max(sorted(ring), key=lambda node: layout.east[node] * ux + layout.north[node] * uy)


def _subdivide(layout: _Layout, extra_nodes: int, rng) -> list[tuple[int, int, int]]:
    """Pieces (a, b, segment index) after adding ``extra_nodes`` shape nodes along segments."""
    n_seg = len(layout.segments)
    splits = np.zeros(n_seg, dtype=int)
    if extra_nodes > 0:
        splits += extra_nodes // n_seg
        splits[rng.choice(n_seg, size=extra_nodes % n_seg, replace=False)] += 1
    pieces = []
    for s, (a, b, *_rest) in enumerate(layout.segments):
        (ax, ay), (bx, by) = layout.xy(a), layout.xy(b)
        previous = a
        for t in range(1, splits[s] + 1):
            f = t / (splits[s] + 1)
            node = layout.node(ax + f * (bx - ax), ay + f * (by - ay))
            pieces.append((previous, node, s))
            previous = node
        pieces.append((previous, b, s))
    return pieces


def generate_new_town(
    centre_lat: float = 36.91,
    centre_lon: float = 127.53,
    area_km2: float = 6.9,
    target_nodes: int = 1500,
    seed: int = 0,
    industrial_distance_km: float = 6.5,
    rail_distance_km: float = 15.0,
) -> tuple[nx.MultiDiGraph, list[dict]]:
    """Generate a synthetic new town and its named places.

    Parameters
    ----------
    centre_lat, centre_lon : float
        Town centre, degrees (default: Chungbuk Innovation City).
    area_km2 : float
        Area inside the ring road, km² (a square of side sqrt(area)).
    target_nodes : int
        Approximate node count (hit within the external-link rounding); half are intersections
        (blocks no smaller than 50 m), the rest shape nodes along streets.
    seed : int
        Seed of the layout details (jitter, cul-de-sacs, where shape nodes go).
    industrial_distance_km, rail_distance_km : float
        Distance from the town centre to the industrial complex and to the rail station, km.

    Returns
    -------
    (graph, places): an osmnx-compatible MultiDiGraph and a list of place dicts with keys
    name, kind, lat, lon, weight (relative within its kind), radius_m (zone radius, m).
    """
    if area_km2 <= 0 or target_nodes < 50:
        raise NetworkError(
            f"synthetic network: need area_km2 > 0 and target_nodes >= 50 (got {area_km2}, {target_nodes})"
        )
    side_m = math.sqrt(area_km2) * 1000.0
    if min(industrial_distance_km, rail_distance_km) * 1000.0 <= side_m:
        raise NetworkError(
            f"synthetic network: industrial and rail distances must exceed the town side ({side_m / 1000:.1f} km)"
        )
    rng = np.random.default_rng(seed)
    layout = _Layout()
    ids = _build_grid(layout, _grid_size(side_m, target_nodes), side_m, rng)

    places = []
    for name, kind, (fx, fy), weight, radius in TOWN_PLACES:
        places.append((name, kind, fx * side_m / 2, fy * side_m / 2, weight, radius * side_m))
    for name, bearing, dist_km, spacing_m, radius_m, cls, road in (
        (
            "industrial_complex",
            INDUSTRIAL_BEARING_DEG,
            industrial_distance_km,
            300.0,
            450.0,
            "industrial_link",
            "Industrial Road",
        ),
        ("rail_station", RAIL_BEARING_DEG, rail_distance_km, 150.0, 250.0, "link", "Station Road"),
    ):
        ux, uy = math.sin(math.radians(bearing)), math.cos(math.radians(bearing))
        centre = (ux * dist_km * 1000.0, uy * dist_km * 1000.0)
        hub = layout.estate(centre, spacing_m, f"{road} Estate")
        start = _ring_node_towards(layout, ids, bearing)
        layout.link(start, hub, cls, road, bend_m=0.02 * dist_km * 1000.0)
        kind = "industrial" if name == "industrial_complex" else "rail_station"
        places.append((name, kind, centre[0], centre[1], 1.0, radius_m))

    pieces = _subdivide(layout, target_nodes - len(layout.east), rng)
    graph = _to_graph(layout, pieces, centre_lat, centre_lon, seed)
    place_dicts = []
    for name, kind, east, north, weight, radius_m in places:
        lat, lon = _to_latlon(np.array([east]), np.array([north]), centre_lat, centre_lon)
        place_dicts.append(
            {
                "name": name,
                "kind": kind,
                "lat": float(lat[0]),
                "lon": float(lon[0]),
                "weight": weight,
                "radius_m": round(radius_m, 1),
            }
        )
    return graph, place_dicts


def _to_latlon(east_m, north_m, centre_lat: float, centre_lon: float):
    lat = centre_lat + np.degrees(np.asarray(north_m) / EARTH_RADIUS_M)
    lon = centre_lon + np.degrees(
        np.asarray(east_m) / (EARTH_RADIUS_M * math.cos(math.radians(centre_lat)))
    )
    return lat, lon


def great_circle_m(lat1, lon1, lat2, lon2, earth_radius_m: float = EARTH_RADIUS_M):
    """Haversine distance (m) between points given in degrees, element-wise on arrays.

    The same expression, operation for operation, as ``osmnx.distance.great_circle`` (so the
    same floats; a test compares them). It is repeated here because importing osmnx takes about
    0.45 s (it imports matplotlib.pyplot), and a run on the synthetic town needs nothing else
    from it.
    """
    y1 = np.deg2rad(lat1)
    y2 = np.deg2rad(lat2)
    delta_y = y2 - y1
    x1 = np.deg2rad(lon1)
    x2 = np.deg2rad(lon2)
    delta_x = x2 - x1
    h = np.sin(delta_y / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(delta_x / 2) ** 2
    h = np.minimum(1, h)  # protect against floating point errors
    arc = 2 * np.arcsin(np.sqrt(h))
    return arc * earth_radius_m


def _to_graph(layout: _Layout, pieces, centre_lat: float, centre_lon: float, seed: int):
    lat, lon = _to_latlon(np.array(layout.east), np.array(layout.north), centre_lat, centre_lon)
    a = np.array([p[0] for p in pieces])
    b = np.array([p[1] for p in pieces])
    seg = np.array([p[2] for p in pieces])
    length_m = great_circle_m(lat[a], lon[a], lat[b], lon[b])
    coords = np.stack(
        [np.column_stack([lon[a], lat[a]]), np.column_stack([lon[b], lat[b]])], axis=1
    )
    forward = shapely.linestrings(coords)
    backward = shapely.linestrings(coords[:, ::-1, :])
    graph = nx.MultiDiGraph(crs="epsg:4326", created_with="mobisim synthetic new town", seed=seed)
    neighbours: list[set[int]] = [set() for _ in layout.east]
    for u, v in zip(a.tolist(), b.tolist(), strict=True):
        neighbours[u].add(v)
        neighbours[v].add(u)
    graph.add_nodes_from(
        (i, {"y": float(lat[i]), "x": float(lon[i]), "street_count": len(neighbours[i])})
        for i in range(len(layout.east))
    )
    edges = []
    for k in range(len(pieces)):
        _, _, cls, name, oneway = layout.segments[seg[k]]
        highway, maxspeed, lanes = ROAD_CLASSES[cls]
        attrs = {
            "highway": highway,
            "lanes": lanes,
            "oneway": oneway,
            "name": name,
            "length": float(length_m[k]),
        }
        if maxspeed is not None:
            attrs["maxspeed"] = maxspeed
        u, v = int(a[k]), int(b[k])
        edges.append((u, v, {**attrs, "reversed": False, "geometry": forward[k]}))
        if not oneway:
            edges.append((v, u, {**attrs, "reversed": True, "geometry": backward[k]}))
    graph.add_edges_from(edges)
    return graph

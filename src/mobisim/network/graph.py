"""The ``Network``: an osmnx graph plus the tables and lookups the rest of mobisim uses.

Node indices ``0..N-1`` (row positions of ``Network.nodes``, sorted by OSM id) are how every other
module refers to places; they are the same in every mode view. OSM ids appear only at I/O edges.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd

from mobisim.errors import NetworkError
from mobisim.network.snap import Projector, Snapper

if TYPE_CHECKING:
    from mobisim.network.views import View

PLACE_COLUMNS = ["name", "kind", "lat", "lon", "node", "weight", "radius_m", "snap_m"]


class Network:
    """A prepared road network.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        osmnx-compatible graph: node attrs ``y`` (lat), ``x`` (lon); edge attrs ``length`` (m),
        ``speed_kph`` (km/h), ``travel_time`` (s), ``highway``.
    places : list of dict, optional
        Named places with keys name, kind, lat, lon, weight (relative), radius_m (zone radius, m).
        Each is snapped to its nearest node (SnapError if farther than ``max_snap_m``).
    max_snap_m : float
        Largest allowed snap distance, metres.
    report : dict, optional
        What loading did (source, nodes/edges dropped, ...); kept as ``Network.report``.
    name : str
        Label for messages and plots.
    """

    def __init__(
        self,
        graph: nx.MultiDiGraph,
        places: list[dict] | None = None,
        max_snap_m: float = 500.0,
        report: dict | None = None,
        name: str = "network",
    ):
        if graph.number_of_nodes() == 0:
            raise NetworkError(f"{name}: the network has no nodes")
        self.graph = graph
        self.name = name
        self.report = dict(report or {})
        self.max_snap_m = float(max_snap_m)
        osmids = np.array(sorted(graph.nodes), dtype=np.int64)
        lat = np.array([graph.nodes[n]["y"] for n in osmids], dtype=float)
        lon = np.array([graph.nodes[n]["x"] for n in osmids], dtype=float)
        self.projector = Projector(float(np.mean(lat)), float(np.mean(lon)))
        x_m, y_m = self.projector.to_xy_m(lat, lon)
        self.nodes = pd.DataFrame({"osmid": osmids, "lat": lat, "lon": lon, "x_m": x_m, "y_m": y_m})
        self.node_index: dict[int, int] = {int(o): i for i, o in enumerate(osmids)}
        self._snapper = Snapper(self.projector, x_m, y_m, self.max_snap_m)
        self._views: dict[str, View] = {}
        self.places = self._snap_places(places or [])

    # ------------------------------------------------------------------ places
    def _snap_places(self, places: list[dict]) -> pd.DataFrame:
        if not places:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PLACE_COLUMNS})
        names = [str(p["name"]) for p in places]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise NetworkError(f"{self.name}: place names must be unique (repeated: {repeated})")
        lats = [float(p["lat"]) for p in places]
        lons = [float(p["lon"]) for p in places]
        labels = [f"place '{n}'" for n in names]
        nodes, snap_m = self._snapper.snap_many(lats, lons, labels=labels)
        return pd.DataFrame(
            {
                "name": names,
                "kind": [str(p.get("kind", "zone")) for p in places],
                "lat": lats,
                "lon": lons,
                "node": nodes,
                "weight": [float(p.get("weight", 1.0)) for p in places],
                "radius_m": [float(p.get("radius_m", 300.0)) for p in places],
                "snap_m": snap_m,
            }
        )

    def _place_row(self, name: str) -> pd.Series:
        match = self.places.index[self.places["name"] == name]
        if len(match) == 0:
            known = ", ".join(self.places["name"]) or "(none)"
            raise NetworkError(f"{self.name}: unknown place '{name}'; known places: {known}")
        return self.places.loc[match[0]]

    def place_node(self, name: str) -> int:
        """Node index of the named place ``name``; NetworkError listing known names if unknown."""
        return int(self._place_row(name)["node"])

    def zone_nodes(self, name: str) -> np.ndarray:
        """Node indices of the zone ``name``: nodes within its ``radius_m`` (always incl. its node)."""
        row = self._place_row(name)
        node = int(row["node"])
        x_m, y_m = self.projector.to_xy_m([row["lat"]], [row["lon"]])
        inside = self._snapper.within_m(float(x_m[0]), float(y_m[0]), float(row["radius_m"]))
        return np.union1d(inside, [node]).astype(np.int64)

    # ------------------------------------------------------------------ snapping
    def snap(self, lat: float, lon: float) -> tuple[int, float]:
        """Nearest node index and its distance in metres to the point (lat, lon) in degrees.

        Raises SnapError when the nearest node is farther than ``max_snap_m``.
        """
        nodes, snap_m = self._snapper.snap_many([lat], [lon])
        return int(nodes[0]), float(snap_m[0])

    def snap_many(self, lats, lons) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node indices and snap distances (m) for arrays of lat/lon degrees.

        Raises SnapError naming the first point farther than ``max_snap_m``.
        """
        return self._snapper.snap_many(lats, lons)

    # ------------------------------------------------------------------ views & ids
    def view(self, name: str) -> View:
        """The mode view ``name`` (drive, bike, walk): edge arrays over the shared node indices."""
        if name not in self._views:
            from mobisim.network.views import build_view

            self._views[name] = build_view(self, name)
        return self._views[name]

    def osmid(self, node: int) -> int:
        """OSM id (graph node key) of node index ``node``."""
        return int(self.nodes["osmid"].iat[node])

    def index_of(self, osmid: int) -> int:
        """Node index of the graph node key ``osmid``; NetworkError if absent."""
        try:
            return self.node_index[int(osmid)]
        except KeyError:
            raise NetworkError(f"{self.name}: node {osmid} is not in the network") from None

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def links(self) -> pd.DataFrame:
        """The road links as node-index pairs: ``from_node``, ``to_node``, ``length_m``, ``highway``.

        One row per directed node pair (parallel edges keep the shortest), sorted; written as
        ``links.parquet`` so maps of a run folder can draw the network without the graph.
        """
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for u, v, data in self.graph.edges(data=True):
            key = (self.node_index[u], self.node_index[v])
            length_m = float(data.get("length", 0.0))
            highway = data.get("highway", "")
            highway = "|".join(highway) if isinstance(highway, list) else str(highway)
            if key not in best or length_m < best[key][0]:
                best[key] = (length_m, highway)
        rows = sorted((u, v, m, h) for (u, v), (m, h) in best.items())
        frame = pd.DataFrame(rows, columns=["from_node", "to_node", "length_m", "highway"])
        return frame.astype({"from_node": np.int64, "to_node": np.int64, "length_m": float})

    @cached_property
    def fingerprint(self) -> str:
        """Stable content hash (sha256 hex) of the nodes and edges, used to key router caches."""
        digest = hashlib.sha256()
        digest.update(self.nodes["osmid"].to_numpy(np.int64).tobytes())
        digest.update(np.round(self.nodes[["lat", "lon"]].to_numpy(), 7).tobytes())
        rows = []
        for u, v, k, data in self.graph.edges(keys=True, data=True):
            highway = data.get("highway", "")
            rows.append(
                (
                    self.node_index[u],
                    self.node_index[v],
                    k,
                    round(float(data.get("length", 0.0)), 2),
                    round(float(data.get("travel_time", 0.0)), 2),
                    "|".join(highway) if isinstance(highway, list) else str(highway),
                    str(data.get("oneway", "")),
                    str(data.get("foot", "")) + str(data.get("bicycle", "")),
                    str(data.get("motorroad", "")),
                )
            )
        rows.sort()
        digest.update(repr(rows).encode("utf-8"))
        return digest.hexdigest()

    def __repr__(self) -> str:
        return (
            f"Network({self.name!r}, nodes={self.n_nodes}, edges={self.graph.number_of_edges()}, "
            f"places={len(self.places)})"
        )

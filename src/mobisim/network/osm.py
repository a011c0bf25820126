"""Read raw OSM data (.osm/.osm.bz2/.osm.gz XML, .osm.pbf) into a graph, keeping only the ways
osmnx's own filter for the network type allows.

``osmnx.graph_from_xml`` turns *every* way of a file into edges (buildings and footways included);
here the ways are filtered first with the very Overpass filter osmnx uses when downloading
(``osmnx._overpass._get_network_filter``), evaluated with Overpass semantics (a ``!~`` clause passes
when the tag is absent or its value does not contain a regex match), and only then is the graph
built with osmnx's own graph constructor.
"""

from __future__ import annotations

import bz2
import gzip
import re
import xml.sax
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import networkx as nx
import osmnx as ox
from osmnx import _overpass
from osmnx import graph as ox_graph

from mobisim.errors import NetworkError

#: way tags kept on edges beyond osmnx's defaults, used by the mode views (views.py)
EXTRA_WAY_TAGS = ["foot", "bicycle", "motorroad", "sidewalk", "cycleway"]
_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')


def way_filter(network_type: str) -> Callable[[dict], bool]:
    """A predicate on a way's tags equal to osmnx's Overpass filter for ``network_type``.

    Parameters
    ----------
    network_type : str
        drive, drive_service, bike, walk, all or all_public.
    """
    try:
        text = _overpass._get_network_filter(network_type)
    except ValueError:
        raise NetworkError(f"unknown network_type '{network_type}'") from None
    clauses = [
        (key, op, re.compile(pattern) if op else None) for key, op, pattern in _CLAUSE.findall(text)
    ]

    def allowed(tags: dict) -> bool:
        for key, op, pattern in clauses:
            value = tags.get(key)
            if not op:
                if value is None:
                    return False
            elif op == "!~":
                if value is not None and pattern.search(value):
                    return False
            elif value is None or not pattern.search(value):
                return False
        return True

    return allowed


@contextmanager
def extra_way_tags() -> Iterator[None]:
    """Temporarily keep ``EXTRA_WAY_TAGS`` as edge attributes when osmnx builds a graph."""
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = saved + [t for t in EXTRA_WAY_TAGS if t not in saved]
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


class _NodesAndWays(xml.sax.ContentHandler):
    """SAX handler collecting nodes and ways as Overpass-like elements (relations ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self._current: dict | None = None

    def startElement(self, name, attrs):
        if name == "node":
            self._current = {
                "type": "node",
                "id": int(attrs["id"]),
                "lat": float(attrs["lat"]),
                "lon": float(attrs["lon"]),
                "tags": {},
            }
        elif name == "way":
            self._current = {"type": "way", "id": int(attrs["id"]), "nodes": [], "tags": {}}
        elif name == "relation":
            self._current = None
        elif name == "tag" and self._current is not None:
            self._current["tags"][attrs["k"]] = attrs["v"]
        elif name == "nd" and self._current is not None and self._current["type"] == "way":
            self._current["nodes"].append(int(attrs["ref"]))

    def endElement(self, name):
        if name in ("node", "way") and self._current is not None:
            self.elements.append(self._current)
            self._current = None


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def read_osm_xml(path: Path) -> list[dict]:
    """Nodes and ways of an OSM XML file (plain, .bz2 or .gz) as Overpass-like elements.

    Parameters
    ----------
    path : Path
        The file. NetworkError if it is missing or not well-formed OSM XML.
    """
    if not path.is_file():
        raise NetworkError(f"{path}: network file not found")
    handler = _NodesAndWays()
    try:
        with _open(path) as handle:
            xml.sax.parse(handle, handler)
    except (xml.sax.SAXException, OSError, EOFError, ValueError, KeyError) as exc:
        raise NetworkError(f"{path}: not a readable OSM XML file ({exc})") from None
    return handler.elements


def read_pbf(path: Path) -> list[dict]:
    """Nodes and ways of an ``.osm.pbf`` file as Overpass-like elements (needs the osmium package).

    Parameters
    ----------
    path : Path
        The file. NetworkError if it is missing, unreadable, or osmium is not installed.
    """
    if not path.is_file():
        raise NetworkError(f"{path}: network file not found")
    try:
        import osmium
    except ImportError:
        raise NetworkError(
            f"{path}: reading .osm.pbf files needs the 'osmium' package (pip install osmium); "
            "or convert the file to OSM XML first (osmium cat in.osm.pbf -o out.osm.bz2)"
        ) from None
    elements = []
    try:
        for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
            tags = {tag.k: tag.v for tag in obj.tags}
            if obj.is_node():
                if obj.location.valid():
                    elements.append(
                        {
                            "type": "node",
                            "id": obj.id,
                            "lat": obj.location.lat,
                            "lon": obj.location.lon,
                            "tags": tags,
                        }
                    )
            elif obj.is_way():
                nodes = [ref.ref for ref in obj.nodes]
                elements.append({"type": "way", "id": obj.id, "nodes": nodes, "tags": tags})
    except RuntimeError as exc:
        raise NetworkError(f"{path}: not a readable .osm.pbf file ({exc})") from None
    return elements


def _longest_known_run(refs: list[int], known: set[int]) -> list[int]:
    best: list[int] = []
    run: list[int] = []
    for ref in refs:
        if ref in known:
            run.append(ref)
            if len(run) > len(best):
                best = run
        else:
            run = []
    return list(best)


def graph_from_elements(
    elements: list[dict], network_type: str, label: str
) -> tuple[nx.MultiDiGraph, dict]:
    """Build a simplified osmnx graph from the ways passing ``network_type``'s filter.

    Parameters
    ----------
    elements : list of dict
        Overpass-like nodes and ways (``read_osm_xml`` / ``read_pbf``).
    network_type : str
        osmnx network type whose way filter is applied; ``walk`` graphs are built bidirectional.
    label : str
        File name for messages.

    Returns
    -------
    (graph, report) with the numbers of ways read and kept.
    """
    allowed = way_filter(network_type)
    ways = [e for e in elements if e["type"] == "way"]
    kept = [w for w in ways if allowed(w["tags"])]
    report = {"ways_read": len(ways), "ways_kept": len(kept)}
    if not kept:
        raise NetworkError(
            f"{label}: no ways pass the '{network_type}' filter ({len(ways)} ways in the file); "
            "the network is empty"
        )
    used = {ref for w in kept for ref in w["nodes"]}
    nodes = [e for e in elements if e["type"] == "node" and e["id"] in used]
    missing = len(used) - len(nodes)
    if missing:
        # ways cut at the file's edge reference nodes the file lacks: keep the longest run of
        # consecutive nodes the file has (never join nodes across a gap)
        known = {n["id"] for n in nodes}
        kept = [{**w, "nodes": _longest_known_run(w["nodes"], known)} for w in kept]
        kept = [w for w in kept if len(w["nodes"]) >= 2]
        report["missing_node_refs"] = missing
    bidirectional = network_type in ox.settings.bidirectional_network_types
    with extra_way_tags():
        graph = ox_graph._create_graph([{"elements": nodes + kept}], bidirectional)
    if graph.number_of_edges() == 0:
        raise NetworkError(
            f"{label}: the '{network_type}' ways form no edges; the network is empty"
        )
    graph = ox.simplify_graph(graph)
    return graph, report

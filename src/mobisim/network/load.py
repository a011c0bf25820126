"""Build a ``Network`` from a scenario's ``network:`` section: synthetic, OSM XML, PBF, GraphML, or a
place name / bounding box downloaded with osmnx (cached as GraphML).

Every source goes through ``prepare_graph``: keep the largest strongly connected component (what
is dropped is reported), add edge speeds (``maxspeed`` where tagged, else the per-highway default
``DEFAULT_SPEEDS_KMH``; table and basis in docs/networks.md) and travel times.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import networkx as nx
import numpy as np

from mobisim.errors import NetworkError
from mobisim.network.graph import Network
from mobisim.network.synthetic import generate_new_town
from mobisim.scenario.network_config import NetworkConfig

#: default free-flow speed per OSM highway class where no maxspeed is tagged, km/h.
#: Basis (assumption A): Korean Road Traffic Act enforcement rule art. 19 as amended for
#: "Safe Speed 5030" (2021): 50 km/h on urban roads, 30 km/h on residential streets and in
#: protected zones; 100 km/h on expressways (80 on urban expressways). See docs/networks.md.
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 40.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 20.0,
    "service": 20.0,
    "road": 30.0,
    "busway": 50.0,
}
#: speed for highway classes missing from the table and untagged everywhere in the graph, km/h
FALLBACK_SPEED_KMH = 30.0
XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2", ".xml.gz")


def _osmnx():
    """The osmnx module, imported on first use.

    Importing osmnx takes about 0.45 s (it pulls in matplotlib.pyplot), more than a small run's
    simulation; a synthetic town never needs it, so only the paths that do import it.
    """
    import osmnx

    return osmnx


def prepare_graph(graph: nx.MultiDiGraph, label: str) -> tuple[nx.MultiDiGraph, dict]:
    """Largest strongly connected component, edge speeds (km/h) and travel times (s).

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        osmnx-compatible graph with edge ``length`` in metres.
    label : str
        Name of the source, for messages.

    Returns
    -------
    (graph, report): report holds nodes/edges before and after and how many edges had a tagged
    ``maxspeed`` versus a default speed.
    """
    if graph.number_of_edges() == 0:
        raise NetworkError(f"{label}: the network has no edges")
    report = {"nodes_read": graph.number_of_nodes(), "edges_read": graph.number_of_edges()}
    graph = _in_lat_lon(graph, label, report)
    if not nx.is_strongly_connected(graph):  # osmnx makes the same check first
        graph = _osmnx().truncate.largest_component(graph, strongly=True)
    if graph.number_of_edges() == 0:
        raise NetworkError(f"{label}: no two nodes are mutually reachable; the network is empty")
    report["scc_dropped_nodes"] = report["nodes_read"] - graph.number_of_nodes()
    report["scc_dropped_edges"] = report["edges_read"] - graph.number_of_edges()
    report["nodes"], report["edges"] = graph.number_of_nodes(), graph.number_of_edges()
    tagged = sum(1 for *_, d in graph.edges(data=True) if d.get("maxspeed") not in (None, ""))
    report["edges_maxspeed_tagged"] = tagged
    report["edges_default_speed"] = graph.number_of_edges() - tagged
    graph = add_speeds(graph)
    for *_, data in graph.edges(data=True):
        # maxspeed values osmnx cannot parse (e.g. "signals") or absurd ones fall back to the default
        if not (math.isfinite(data["speed_kph"]) and data["speed_kph"] >= 1.0):
            highway = data.get("highway")
            highway = highway[0] if isinstance(highway, list) else highway
            data["speed_kph"] = DEFAULT_SPEEDS_KMH.get(highway, FALLBACK_SPEED_KMH)
    return add_travel_times(graph), report


def _in_lat_lon(graph: nx.MultiDiGraph, label: str, report: dict) -> nx.MultiDiGraph:
    """The graph with node ``x``/``y`` in degrees of longitude/latitude (WGS 84).

    A graph saved after ``osmnx.project_graph`` has ``x``/``y`` in metres of a projected CRS
    (e.g. UTM); it is projected back with ``osmnx.project_graph(..., to_latlong=True)`` and the
    report notes the original CRS. Coordinates outside ±180° / ±90° without a projected CRS are
    an error naming the first bad node, not a crash deep in the spatial index.
    """
    crs = graph.graph.get("crs")
    plainly_lat_lon = crs is None or any(k in str(crs).lower() for k in ("4326", "longlat"))
    if not plainly_lat_lon:  # spares a synthetic town the osmnx import
        ox = _osmnx()
        try:
            projected = ox.projection.is_projected(crs)
        except Exception as exc:  # pyproj raises CRSError for a CRS string it cannot read
            raise NetworkError(
                f"{label}: graph attribute crs={crs!r} is not a readable CRS ({exc})"
            ) from None
        if projected:
            graph = ox.project_graph(graph, to_latlong=True)
            report["reprojected_from_crs"] = str(crs)
    for node, data in graph.nodes(data=True):
        x, y = data.get("x"), data.get("y")
        if not (_is_number(x) and _is_number(y) and -180 <= x <= 180 and -90 <= y <= 90):
            raise NetworkError(
                f"{label}: node {node} has x={x!r}, y={y!r}; expected longitude/latitude in "
                "degrees (WGS 84). A projected graph needs its 'crs' graph attribute, as "
                "osmnx.project_graph writes it, so it can be projected back"
            )
    return graph


#: a ``maxspeed`` that is a plain number of km/h (osmnx reads it as that number)
PLAIN_KMH = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def add_speeds(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Edge ``speed_kph`` as ``ox.add_edge_speeds`` with this module's defaults sets it.

    When every edge either carries a plain numeric ``maxspeed`` (km/h) or has none and a
    ``highway`` class listed in ``DEFAULT_SPEEDS_KMH`` (the synthetic town, a converted
    network), osmnx takes the number as it is or the class default, and imputes nothing from
    other edges; so that is read here directly (the same floats, without importing osmnx and
    building its GeoDataFrame of the edges). Otherwise osmnx does the work.
    """
    edges = list(graph.edges(data=True))
    speeds = []
    for *_, data in edges:
        maxspeed = data.get("maxspeed")
        if isinstance(maxspeed, str) and PLAIN_KMH.fullmatch(maxspeed):
            speeds.append(float(maxspeed))
        elif maxspeed is None and str(data.get("highway")) in DEFAULT_SPEEDS_KMH:
            speeds.append(DEFAULT_SPEEDS_KMH[data["highway"]])
        else:
            return _osmnx().add_edge_speeds(
                graph, hwy_speeds=DEFAULT_SPEEDS_KMH, fallback=FALLBACK_SPEED_KMH
            )
    for (*_, data), speed in zip(edges, speeds, strict=True):
        data["speed_kph"] = speed
    return graph


def add_travel_times(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Edge ``travel_time`` (s) = ``length`` (m) / ``speed_kph``, with osmnx's arithmetic.

    ``ox.add_edge_travel_times`` computes (length / 1000) / (speed_kph / 3600) through a
    GeoDataFrame of the edges; the same expression edge by edge gives the same floats without
    that detour. Graphs with a missing or non-numeric length or speed go to osmnx (and its errors).
    """
    edges = list(graph.edges(data=True))
    for *_, data in edges:
        length, speed = data.get("length"), data.get("speed_kph")
        if not (_is_number(length) and _is_number(speed)):
            return _osmnx().add_edge_travel_times(graph)
    for *_, data in edges:
        data["travel_time"] = float((data["length"] / 1000) / (data["speed_kph"] / (60 * 60)))
    return graph


def _is_number(value) -> bool:
    """A real, non-NaN number (bools excluded)."""
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and value == value
    )


def load_osm_xml(path: Path, network_type: str = "drive") -> tuple[nx.MultiDiGraph, dict]:
    """Graph of the ways of an OSM XML file (.osm, .osm.bz2, .osm.gz) allowed for ``network_type``."""
    from mobisim.network.osm import graph_from_elements, read_osm_xml

    graph, report = graph_from_elements(read_osm_xml(path), network_type, str(path))
    return graph, report


def load_pbf(path: Path, network_type: str = "drive") -> tuple[nx.MultiDiGraph, dict]:
    """Graph of the ways of an ``.osm.pbf`` file allowed for ``network_type`` (needs osmium)."""
    from mobisim.network.osm import graph_from_elements, read_pbf

    return graph_from_elements(read_pbf(path), network_type, str(path))


def load_graphml(path: Path) -> nx.MultiDiGraph:
    """An osmnx GraphML file as a MultiDiGraph; NetworkError if missing or unreadable."""
    if not path.is_file():
        raise NetworkError(f"{path}: network file not found")
    try:
        return _osmnx().load_graphml(path)
    except Exception as exc:  # networkx/lxml/osmnx raise many types for a bad file
        raise NetworkError(f"{path}: not a readable osmnx GraphML file ({exc})") from None


def cache_path(cache_dir: Path, kind: str, query, network_type: str) -> Path:
    """GraphML cache file of a download, named by a slug and a hash of the query.

    Parameters
    ----------
    cache_dir : Path
        Cache folder.
    kind : str
        ``place`` or ``bbox``.
    query : str or list of float
        Place name or [west, south, east, north] degrees.
    network_type : str
        osmnx network type.
    """
    key = json.dumps({"kind": kind, "query": query, "network_type": network_type}, sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    slug = re.sub(r"[^a-z0-9]+", "-", str(query).lower()).strip("-")[:40] or kind
    return cache_dir / f"{kind}-{slug}-{network_type}-{digest}.graphml"


def fetch_graph(
    kind: str, query, network_type: str, cache_dir: Path
) -> tuple[nx.MultiDiGraph, Path, bool]:
    """Download a network with osmnx (place name or bbox) unless cached; returns (graph, file, downloaded).

    Parameters
    ----------
    kind : str
        ``place`` (query = place name) or ``bbox`` (query = [west, south, east, north] degrees).
    query : str or list of float
        What to download.
    network_type : str
        osmnx network type.
    cache_dir : Path
        Folder of cached GraphML files.
    """
    path = cache_path(cache_dir, kind, query, network_type)
    if path.is_file():
        return load_graphml(path), path, False
    from mobisim.network.osm import extra_way_tags

    ox = _osmnx()
    try:
        with extra_way_tags():
            if kind == "place":
                graph = ox.graph_from_place(query, network_type=network_type, simplify=True)
            else:
                graph = ox.graph_from_bbox(tuple(query), network_type=network_type, simplify=True)
    except Exception as exc:  # no internet, unknown place, Overpass errors ...
        raise NetworkError(f"could not download the {kind} {query!r} with osmnx: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    ox.save_graphml(graph, path)
    return graph, path, True


def _resolve(file: str, base_dir: Path) -> Path:
    path = Path(file).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def build_network(config: NetworkConfig, base_dir: Path | str = ".") -> Network:
    """Build the prepared ``Network`` a scenario asks for.

    Parameters
    ----------
    config : NetworkConfig
        The scenario's ``network:`` section.
    base_dir : Path
        Folder of the scenario file; ``config.file`` is relative to it.
    """
    base_dir = Path(base_dir)
    places: list[dict] = []
    report: dict = {"source": config.source, "network_type": config.network_type}
    if config.source == "synthetic":
        syn = config.synthetic
        graph, places = generate_new_town(**syn.model_dump())
        label = f"synthetic new town ({syn.area_km2:g} km², seed {syn.seed})"
        report["network_type"] = "synthetic"
    elif config.source in ("osm_xml", "pbf", "graphml"):
        path = _resolve(config.file, base_dir)
        label, report["file"] = str(path), str(path)
        if config.source == "osm_xml":
            graph, extra = load_osm_xml(path, config.network_type)
            report.update(extra)
        elif config.source == "pbf":
            graph, extra = load_pbf(path, config.network_type)
            report.update(extra)
        else:
            graph = load_graphml(path)
    else:
        query = config.place if config.source == "place" else list(config.bbox)
        graph, path, downloaded = fetch_graph(
            config.source, query, config.network_type, Path(config.cache_dir)
        )
        label = f"{config.source} {query!r}"
        report.update({"file": str(path), "downloaded": downloaded})
    graph, prepared = prepare_graph(graph, label)
    report.update(prepared)
    places = places + [p.model_dump() for p in config.places]
    return Network(graph, places, max_snap_m=config.max_snap_m, report=report, name=label)


def config_for(source: str, network_type: str = "drive", **synthetic) -> NetworkConfig:
    """A NetworkConfig for a file path (source inferred from its suffix) or the word ``synthetic``.

    Parameters
    ----------
    source : str
        ``synthetic`` or a path to .osm/.osm.bz2/.osm.gz, .osm.pbf or .graphml.
    network_type : str
        osmnx network type for OSM files.
    **synthetic
        Generator parameters (SyntheticNetworkConfig keys) when ``source`` is ``synthetic``.
    """
    if source == "synthetic":
        return NetworkConfig(source="synthetic", synthetic=synthetic)
    name = Path(source).name.lower()
    if name.endswith(".pbf"):
        kind = "pbf"
    elif name.endswith(".graphml"):
        kind = "graphml"
    elif name.endswith(XML_SUFFIXES):
        kind = "osm_xml"
    else:
        raise NetworkError(
            f"{source}: cannot tell the network format; expected 'synthetic' or a file ending in "
            f"{', '.join(XML_SUFFIXES)}, .osm.pbf or .graphml"
        )
    return NetworkConfig(source=kind, file=str(Path(source).resolve()), network_type=network_type)

"""Loading real networks (OSM XML, GraphML, PBF, downloads with caching) and the errors users meet."""

from __future__ import annotations

import bz2
import math
import sys
from pathlib import Path

import numpy as np
import osmnx as ox
import pytest
from pydantic import ValidationError

from mobisim.errors import NetworkError, SnapError
from mobisim.network import load
from mobisim.network.load import DEFAULT_SPEEDS_KMH, build_network, config_for
from mobisim.network.osm import way_filter
from mobisim.scenario.network_config import NetworkConfig

# (file, nodes, edges) after keeping the largest strongly connected component; the counts agree
# with the drive-filter verification recorded in shared/networks/SOURCES.md
REAL = [
    ("seoul-songpa-jamsil-asan-roads.osm.bz2", 347, 944),
    ("seoul-dongjak-heukseok-cau-roads.osm.bz2", 129, 327),
    ("west-oakland-osmnx-test.osm.bz2", 22, 51),
    ("nootdorp-maassim.graphml", 533, 1283),
]


@pytest.mark.parametrize(("name", "nodes", "edges"), REAL)
def test_real_networks_load_and_snap(shared_networks, name, nodes, edges):
    net = build_network(config_for(str(shared_networks / name)), ".")
    assert (net.n_nodes, net.graph.number_of_edges()) == (nodes, edges)
    assert net.report["nodes"] == nodes
    assert net.report["nodes_read"] - net.report["scc_dropped_nodes"] == nodes
    speeds = np.array([d["speed_kph"] for *_, d in net.graph.edges(data=True)])
    assert np.isfinite(speeds).all() and (speeds >= 1).all()
    assert list(net.nodes.columns) == ["osmid", "lat", "lon", "x_m", "y_m"]
    assert net.nodes["osmid"].is_monotonic_increasing
    # every node snaps to itself; the projection is metric (UTM)
    node, snap_m = net.snap(net.nodes["lat"].iat[7], net.nodes["lon"].iat[7])
    assert node == 7 and snap_m < 0.01
    nodes_many, dist_many = net.snap_many(net.nodes["lat"].to_numpy(), net.nodes["lon"].to_numpy())
    assert (nodes_many == np.arange(net.n_nodes)).all() and dist_many.max() < 0.01
    a, b = net.nodes.iloc[0], net.nodes.iloc[1]
    beeline_m = ox.distance.great_circle(a["lat"], a["lon"], b["lat"], b["lon"])
    assert math.hypot(a["x_m"] - b["x_m"], a["y_m"] - b["y_m"]) == pytest.approx(
        beeline_m, rel=0.01
    )


def test_west_oakland_without_maxspeed_uses_the_default_table(shared_networks):
    net = build_network(config_for(str(shared_networks / "west-oakland-osmnx-test.osm.bz2")), ".")
    assert net.report["edges_maxspeed_tagged"] == 0
    for *_, data in net.graph.edges(data=True):
        highway = data["highway"][0] if isinstance(data["highway"], list) else data["highway"]
        assert data["speed_kph"] == DEFAULT_SPEEDS_KMH[highway]
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))


def test_network_type_filter_is_applied(shared_networks):
    path = str(shared_networks / "west-oakland-osmnx-test.osm.bz2")
    drive = build_network(config_for(path), ".")
    walk = build_network(config_for(path, network_type="walk"), ".")
    assert walk.report["ways_kept"] > drive.report["ways_kept"] == 17
    highways = {
        d["highway"] for *_, d in walk.graph.edges(data=True) if isinstance(d["highway"], str)
    }
    assert highways & {"footway", "path", "steps", "pedestrian", "service"}
    assert drive.report["ways_read"] == walk.report["ways_read"] == 66


def test_way_filter_follows_overpass_semantics():
    drive = way_filter("drive")
    assert drive({"highway": "residential"})
    assert not drive({"highway": "footway"})
    assert not drive({"highway": "residential", "access": "private"})
    assert not drive({"highway": "service", "service": "parking_aisle"})
    assert not drive({"building": "yes"})
    walk = way_filter("walk")
    assert walk({"highway": "footway"}) and not walk({"highway": "motorway"})
    assert not walk({"highway": "residential", "foot": "no"})


def test_fingerprint_is_stable(shared_networks):
    path = str(shared_networks / "nootdorp-maassim.graphml")
    assert (
        build_network(config_for(path), ".").fingerprint
        == build_network(config_for(path), ".").fingerprint
    )


def test_file_is_relative_to_the_scenario_folder(shared_networks):
    config = NetworkConfig(source="graphml", file="nootdorp-maassim.graphml")
    assert build_network(config, shared_networks).n_nodes == 533


def test_user_places_on_a_real_network(shared_networks):
    config = NetworkConfig(
        source="osm_xml",
        file=str(shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2"),
        places=[
            {"name": "jamsil_station", "kind": "rail_station", "lat": 37.5133, "lon": 127.1000},
            {
                "name": "asan_hospital",
                "kind": "institution",
                "lat": 37.5268,
                "lon": 127.1082,
                "radius_m": 500,
            },
        ],
    )
    net = build_network(config, ".")
    zone = net.zone_nodes("asan_hospital")
    assert net.place_node("asan_hospital") in zone and len(zone) > 3
    assert net.places.set_index("name").loc["jamsil_station", "snap_m"] < 500
    with pytest.raises(NetworkError, match=r"unknown place 'city_hall'.*jamsil_station"):
        net.place_node("city_hall")


def test_snap_too_far_names_the_point(shared_networks):
    net = build_network(config_for(str(shared_networks / "nootdorp-maassim.graphml")), ".")
    with pytest.raises(SnapError, match=r"point #1 \(lat=52\.1"):
        net.snap_many([52.045, 52.1], [4.40, 4.40])
    with pytest.raises(SnapError, match="max_snap_m"):
        net.snap(37.5, 127.0)
    config = NetworkConfig(
        source="graphml",
        file=str(shared_networks / "nootdorp-maassim.graphml"),
        places=[{"name": "far_away", "lat": 52.2, "lon": 4.4}],
    )
    with pytest.raises(SnapError, match="far_away"):
        build_network(config, ".")


def test_missing_file(tmp_path):
    for name in ("nothere.osm.bz2", "nothere.graphml", "nothere.osm.pbf"):
        with pytest.raises(NetworkError, match="not found"):
            build_network(config_for(str(tmp_path / name)), ".")


def test_corrupt_xml(tmp_path):
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1' lat='1' lon='2'><tag k='a'")
    with pytest.raises(NetworkError, match="not a readable OSM XML"):
        build_network(config_for(str(bad)), ".")
    not_bz2 = tmp_path / "bad.osm.bz2"
    not_bz2.write_text("plain text, not bzip2")
    with pytest.raises(NetworkError, match="not a readable"):
        build_network(config_for(str(not_bz2)), ".")
    bad_graphml = tmp_path / "bad.graphml"
    bad_graphml.write_text("<graphml><broken")
    with pytest.raises(NetworkError, match="GraphML"):
        build_network(config_for(str(bad_graphml)), ".")


def test_empty_after_filtering(tmp_path):
    xml = (
        "<?xml version='1.0'?><osm version='0.6'>"
        "<node id='1' lat='37.5' lon='127.0'/><node id='2' lat='37.501' lon='127.0'/>"
        "<way id='10'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way>"
        "<way id='11'><nd ref='1'/><nd ref='2'/><tag k='building' v='yes'/></way></osm>"
    )
    path = tmp_path / "footway.osm.bz2"
    path.write_bytes(bz2.compress(xml.encode()))
    with pytest.raises(NetworkError, match="no ways pass the 'drive' filter"):
        build_network(config_for(str(path)), ".")
    # as a walk network the footway is kept (walk graphs are bidirectional, so it is connected)
    assert build_network(config_for(str(path), network_type="walk"), ".").n_nodes == 2


def test_unknown_format_and_bad_config(tmp_path):
    with pytest.raises(NetworkError, match="cannot tell the network format"):
        config_for(str(tmp_path / "roads.shp"))
    with pytest.raises(ValidationError, match="needs the key 'file'"):
        NetworkConfig(source="osm_xml")
    with pytest.raises(ValidationError, match="west < east"):
        NetworkConfig(source="bbox", bbox=[127.6, 36.8, 127.5, 36.9])


def test_pbf_needs_osmium(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "osmium", None)  # as if the package were not installed
    path = tmp_path / "x.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0d")
    with pytest.raises(NetworkError, match="pip install osmium"):
        build_network(config_for(str(path)), ".")


def test_pbf_gives_the_same_network_as_the_xml(shared_networks, tmp_path):
    import osmium

    xml = tmp_path / "songpa.osm"
    xml.write_bytes(
        bz2.decompress((shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2").read_bytes())
    )
    pbf = tmp_path / "songpa.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    from_xml = build_network(config_for(str(xml)), ".")
    from_pbf = build_network(config_for(str(pbf)), ".")
    assert from_pbf.n_nodes == from_xml.n_nodes == 347
    assert from_pbf.graph.number_of_edges() == from_xml.graph.number_of_edges() == 944
    assert from_pbf.fingerprint == from_xml.fingerprint


@pytest.mark.parametrize("source", ["place", "bbox"])
def test_download_is_cached_as_graphml(shared_networks, tmp_path, monkeypatch, source):
    calls = []
    nootdorp = ox.load_graphml(shared_networks / "nootdorp-maassim.graphml")

    def fake_download(query, **kwargs):
        calls.append((query, kwargs["network_type"]))
        return nootdorp.copy()

    monkeypatch.setattr(ox, "graph_from_place", fake_download)
    monkeypatch.setattr(ox, "graph_from_bbox", fake_download)
    keys = {
        "place": {"place": "Nootdorp, Netherlands"},
        "bbox": {"bbox": [4.37, 52.03, 4.43, 52.05]},
    }
    config = NetworkConfig(source=source, cache_dir=str(tmp_path / "cache"), **keys[source])
    first = build_network(config, ".")
    second = build_network(config, ".")
    assert len(calls) == 1 and calls[0][1] == "drive"
    assert first.report["downloaded"] is True and second.report["downloaded"] is False
    assert len(list((tmp_path / "cache").glob("*.graphml"))) == 1
    assert first.fingerprint == second.fingerprint and first.n_nodes == 533
    other_type = NetworkConfig(
        source=source, network_type="walk", cache_dir=str(tmp_path / "cache"), **keys[source]
    )
    build_network(other_type, ".")
    assert len(calls) == 2


def test_download_failure_is_a_network_error(tmp_path, monkeypatch):
    def offline(query, **kwargs):
        raise ConnectionError("no internet")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    config = NetworkConfig(source="place", place="Jincheon-gun", cache_dir=str(tmp_path))
    with pytest.raises(NetworkError, match="could not download"):
        build_network(config, ".")


def test_ways_cut_at_the_file_edge_are_not_bridged(tmp_path):
    nodes = "".join(f"<node id='{i}' lat='37.5{i}' lon='127.0{i % 2}'/>" for i in (1, 2, 3, 4, 5))
    # way 10 references node 99, which the file lacks: 2 and 3 must not be joined across the gap;
    # the longest run of known nodes (3, 4, 5) is kept
    ways = (
        "<way id='10'><nd ref='1'/><nd ref='2'/><nd ref='99'/><nd ref='3'/><nd ref='4'/>"
        "<nd ref='5'/><tag k='highway' v='residential'/></way>"
    )
    path = tmp_path / "cut.osm"
    path.write_text(f"<?xml version='1.0'?><osm version='0.6'>{nodes}{ways}</osm>")
    net = build_network(config_for(str(path)), ".")
    assert net.report["missing_node_refs"] == 1
    assert {3, 5} <= set(net.nodes["osmid"]) <= {3, 4, 5}  # 4 may be simplified away
    assert not net.graph.has_edge(2, 3)


def _speed_graph(maxspeeds, odd_highway="residential"):
    """A path graph whose edges carry these ``maxspeed`` values (None: untagged)."""
    import networkx as nx

    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(len(maxspeeds) + 1):
        g.add_node(i, x=127.0 + i * 0.001, y=37.0)
    for i, maxspeed in enumerate(maxspeeds):
        data = {"length": 100.0 + 7.3 * i, "highway": odd_highway if i % 2 else "primary"}
        if maxspeed is not None:
            data["maxspeed"] = maxspeed
        g.add_edge(i, i + 1, 0, **data)
    return g


@pytest.mark.parametrize(
    ("maxspeeds", "odd_highway"),
    [
        (["36", "36.5", "036", "50", "7"], "residential"),  # plain numbers: read directly
        (["60", None, "50", None, None], "residential"),  # untagged, class default: directly
        (["60", None, "50", None, None], "pedestrian"),  # no default for the class: osmnx
        (["30", "50 mph", None, "signals", "30|50", "50,5", "60"], "residential"),  # osmnx
    ],
)
def test_speeds_and_travel_times_are_osmnx_ones(maxspeeds, odd_highway):
    ours = load.add_travel_times(load.add_speeds(_speed_graph(maxspeeds, odd_highway)))
    ref = ox.add_edge_travel_times(
        ox.add_edge_speeds(
            _speed_graph(maxspeeds, odd_highway),
            hwy_speeds=DEFAULT_SPEEDS_KMH,
            fallback=load.FALLBACK_SPEED_KMH,
        )
    )
    for key in ("speed_kph", "travel_time"):
        mine = [d[key] for *_, d in ours.edges(data=True)]
        theirs = [d[key] for *_, d in ref.edges(data=True)]
        assert mine == theirs and all(type(v) is float for v in mine)


def test_synthetic_town_speeds_are_osmnx_ones():
    from mobisim.network.synthetic import generate_new_town

    graph, _ = generate_new_town(area_km2=2.0, target_nodes=300, seed=3)
    ours = load.add_speeds(graph.copy())
    ref = ox.add_edge_speeds(
        graph.copy(), hwy_speeds=DEFAULT_SPEEDS_KMH, fallback=load.FALLBACK_SPEED_KMH
    )
    mine = [d["speed_kph"] for *_, d in ours.edges(data=True)]
    assert mine == [d["speed_kph"] for *_, d in ref.edges(data=True)]
    assert len(set(mine)) > 2  # tagged and untagged classes both present


def test_a_run_on_the_synthetic_town_does_not_import_osmnx(tmp_path):
    """osmnx takes ~0.45 s to import (it pulls in matplotlib); the synthetic path must not."""
    import subprocess
    import sys

    code = (
        "import sys, mobisim\n"
        "s = mobisim.load_scenario('scenarios/demo.yaml', overrides={"
        "'demand.synthetic.residents': 300, 'demand.synthetic.households': 110, "
        "'outputs.charts': False})\n"
        f"mobisim.run(s, out_dir={str(tmp_path)!r})\n"
        "print(sorted(m for m in ('osmnx', 'matplotlib') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_projected_graphml_is_projected_back_to_lat_lon(shared_networks, tmp_path):
    """A GraphML saved after ``ox.project_graph`` (x/y in UTM metres) loads like the original."""
    path = shared_networks / "nootdorp-maassim.graphml"
    projected = ox.project_graph(ox.load_graphml(path))
    assert ox.projection.is_projected(projected.graph["crs"])
    ox.save_graphml(projected, tmp_path / "utm.graphml")
    plain = build_network(config_for(str(path)), ".")
    again = build_network(config_for(str(tmp_path / "utm.graphml")), ".")
    assert again.report["reprojected_from_crs"] == str(projected.graph["crs"])
    assert "reprojected_from_crs" not in plain.report
    assert again.graph.number_of_nodes() == plain.graph.number_of_nodes()
    node = next(iter(plain.graph.nodes))
    assert again.graph.nodes[node]["x"] == pytest.approx(plain.graph.nodes[node]["x"], abs=1e-7)
    assert again.graph.nodes[node]["y"] == pytest.approx(plain.graph.nodes[node]["y"], abs=1e-7)


def test_metre_coordinates_without_a_crs_name_the_node(shared_networks, tmp_path):
    graph = ox.project_graph(ox.load_graphml(shared_networks / "nootdorp-maassim.graphml"))
    del graph.graph["crs"]
    ox.save_graphml(graph, tmp_path / "no-crs.graphml")
    with pytest.raises(NetworkError, match=r"node \d+ has x=.*expected longitude/latitude"):
        build_network(config_for(str(tmp_path / "no-crs.graphml")), ".")

"""The synthetic new-town generator: connectivity, named places, osmnx compatibility, determinism."""

from __future__ import annotations

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely

from mobisim.errors import NetworkError
from mobisim.network.load import build_network
from mobisim.network.synthetic import TOWN_PLACES, generate_new_town
from mobisim.scenario.network_config import NetworkConfig

EXPECTED_PLACES = {p[0] for p in TOWN_PLACES} | {"industrial_complex", "rail_station"}


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(synthetic={"target_nodes": 1500, "seed": 3}), ".")


@pytest.mark.parametrize("target", [120, 600, 3000, 9000])
def test_sizes_are_strongly_connected_with_all_places(target):
    graph, places = generate_new_town(target_nodes=target, seed=1)
    assert nx.is_strongly_connected(graph)
    assert abs(graph.number_of_nodes() - target) <= max(0.05 * target, 60)
    assert {p["name"] for p in places} == EXPECTED_PLACES


def test_places_table_and_zones(town):
    places = town.places.set_index("name")
    assert set(places.index) == EXPECTED_PLACES
    residential = places[places["kind"] == "residential"]
    assert len(residential) >= 5
    assert residential["weight"].sum() == pytest.approx(1.0)
    for kind in (
        "institution",
        "school",
        "shopping",
        "bus_terminal",
        "centre",
        "industrial",
        "rail_station",
    ):
        assert (places["kind"] == kind).any(), kind
    for name in places.index:
        zone = town.zone_nodes(name)
        assert town.place_node(name) in zone
        assert zone.min() >= 0 and zone.max() < town.n_nodes
    assert len(town.zone_nodes("residential_nw")) > 10
    assert (places["snap_m"] < 100).all()


def test_external_places_are_far_from_the_centre(town):
    from osmnx.distance import great_circle

    centre = town.places.set_index("name").loc["town_centre"]
    for name, low_km, high_km in (("industrial_complex", 5, 8), ("rail_station", 13, 17)):
        row = town.places.set_index("name").loc[name]
        dist_km = great_circle(centre["lat"], centre["lon"], row["lat"], row["lon"]) / 1000
        assert low_km <= dist_km <= high_km, (name, dist_km)


def test_great_circle_is_osmnx_one():
    from osmnx.distance import great_circle

    from mobisim.network.synthetic import great_circle_m

    rng = np.random.default_rng(5)
    lat1, lat2 = rng.uniform(-80, 80, (2, 500))
    lon1, lon2 = rng.uniform(-180, 180, (2, 500))
    mine = great_circle_m(lat1, lon1, lat2, lon2)
    assert np.array_equal(mine, great_circle(lat1, lon1, lat2, lon2))
    assert great_circle_m(36.91, 127.53, 36.91, 127.53) == 0.0


def test_osmnx_attributes_and_street_types(town):
    graph = town.graph
    node = next(iter(graph.nodes(data=True)))[1]
    assert {"y", "x", "street_count"} <= set(node)
    highways = {d["highway"] for *_, d in graph.edges(data=True)}
    assert {"primary", "secondary", "tertiary", "residential", "trunk"} <= highways
    for *_, data in graph.edges(data=True):
        assert {"highway", "lanes", "oneway", "length", "geometry", "name"} <= set(data)
        assert isinstance(data["geometry"], shapely.LineString)
        assert data["length"] > 0 and data["speed_kph"] > 0 and data["travel_time"] > 0
    oneway = [d for *_, d in graph.edges(data=True) if d["oneway"]]
    assert len(oneway) >= 4
    dead_ends = [n for n, d in graph.nodes(data=True) if d["street_count"] == 1]
    assert len(dead_ends) >= 2
    # residential streets carry no maxspeed tag, so the per-highway default (30 km/h) applies
    residential = [d for *_, d in graph.edges(data=True) if d["highway"] == "residential"]
    assert all(d["speed_kph"] == 30.0 for d in residential)
    nodes, edges = ox.graph_to_gdfs(graph)
    assert len(nodes) == town.n_nodes and len(edges) == graph.number_of_edges()
    route = ox.shortest_path(
        graph, town.osmid(0), town.osmid(town.n_nodes - 1), weight="travel_time"
    )
    assert route[0] == town.osmid(0)


def test_deterministic_for_a_seed():
    a = build_network(NetworkConfig(synthetic={"target_nodes": 400, "seed": 5}), ".")
    b = build_network(NetworkConfig(synthetic={"target_nodes": 400, "seed": 5}), ".")
    c = build_network(NetworkConfig(synthetic={"target_nodes": 400, "seed": 6}), ".")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    assert np.allclose(a.nodes[["lat", "lon"]], b.nodes[["lat", "lon"]])


def test_centre_and_area_are_respected():
    graph, places = generate_new_town(
        centre_lat=37.5, centre_lon=127.0, area_km2=2.0, target_nodes=500
    )
    centre = next(p for p in places if p["name"] == "town_centre")
    assert centre["lat"] == pytest.approx(37.5, abs=1e-6)
    assert centre["lon"] == pytest.approx(127.0, abs=1e-6)
    ring = {u for u, _, d in graph.edges(data=True) if d["name"] == "Ring Road"}
    lats = np.array([graph.nodes[n]["y"] for n in ring])
    # the ring is a square of side sqrt(2) km: its edges lie ~0.707 km (0.00636°) north/south
    assert np.max(np.abs(lats - 37.5)) == pytest.approx(0.7071 / 111.2, rel=0.01)


def test_bad_parameters_raise():
    with pytest.raises(NetworkError):
        generate_new_town(area_km2=400.0, industrial_distance_km=6.5)


def test_user_places_are_added_and_clashes_rejected():
    extra = {"name": "city_hall", "kind": "institution", "lat": 36.912, "lon": 127.531}
    net = build_network(NetworkConfig(synthetic={"target_nodes": 300}, places=[extra]), ".")
    assert net.place_node("city_hall") >= 0
    clash = {"name": "town_centre", "lat": 36.91, "lon": 127.53}
    with pytest.raises(NetworkError, match="unique"):
        build_network(NetworkConfig(synthetic={"target_nodes": 300}, places=[clash]), ".")

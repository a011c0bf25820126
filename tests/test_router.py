"""The router: agreement with networkx, LRU = all-pairs, disk cache, unreachable pairs, profiles."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from mobisim.errors import NetworkError, UnreachableError
from mobisim.network.graph import Network
from mobisim.network.load import build_network, config_for, prepare_graph
from mobisim.network.router import Router
from mobisim.scenario.network_config import NetworkConfig, RouterSettings

LRU = RouterSettings(all_pairs_max_nodes=0, lru_size=64)


@pytest.fixture(scope="module")
def networks(shared_networks):
    return {
        "synthetic": build_network(NetworkConfig(synthetic={"target_nodes": 900, "seed": 2}), "."),
        "nootdorp": build_network(
            config_for(str(shared_networks / "nootdorp-maassim.graphml")), "."
        ),
        "songpa": build_network(
            config_for(str(shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2")), "."
        ),
    }


def _view_digraph(net: Network, view_name: str, weight: str) -> nx.DiGraph:
    """A simple DiGraph of a view keeping the least-``weight`` edge per node pair."""
    view = net.view(view_name)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    values = {"length": view.length_m, "travel_time": view.travel_time_s}[weight]
    for u, v, w, length in zip(view.u, view.v, values, view.length_m, strict=True):
        if u == v:
            continue
        old = graph.get_edge_data(u, v)
        if old is None or (w, length) < (old["w"], old["length"]):
            graph.add_edge(int(u), int(v), w=float(w), length=float(length))
    return graph


def _random_pairs(net: Network, count: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, net.n_nodes, size=(count, 2))


@pytest.mark.parametrize("name", ["synthetic", "nootdorp", "songpa"])
def test_car_agrees_with_networkx(networks, name):
    net = networks[name]
    router = Router(net)
    graph = _view_digraph(net, "drive", "travel_time")
    for origin, dest in _random_pairs(net, 40, seed=1):
        expected_s = nx.shortest_path_length(graph, origin, dest, weight="w")
        path = nx.shortest_path(graph, origin, dest, weight="w")
        expected_m = sum(graph[a][b]["length"] for a, b in itertools.pairwise(path))
        assert router.travel_time_s("car", origin, dest) == pytest.approx(
            expected_s, rel=1e-5, abs=1e-3
        )
        assert router.distance_m("car", origin, dest) == pytest.approx(
            expected_m, rel=1e-5, abs=1e-2
        )
        # also against the raw osmnx MultiDiGraph with its own travel_time attribute
        osm_s = nx.shortest_path_length(
            net.graph, net.osmid(origin), net.osmid(dest), weight="travel_time"
        )
        assert router.travel_time_s("car", origin, dest) == pytest.approx(osm_s, rel=1e-5, abs=1e-3)


@pytest.mark.parametrize("name", ["synthetic", "nootdorp", "songpa"])
def test_walk_agrees_with_networkx(networks, name):
    net = networks[name]
    router = Router(net)
    graph = _view_digraph(net, "walk", "length")
    for origin, dest in _random_pairs(net, 40, seed=2):
        expected_m = nx.shortest_path_length(graph, origin, dest, weight="w")
        assert router.distance_m("walk", origin, dest) == pytest.approx(
            expected_m, rel=1e-5, abs=1e-2
        )
        assert router.travel_time_s("walk", origin, dest) == pytest.approx(
            expected_m / 1.2, rel=1e-5, abs=1e-2
        )


def test_paths_are_connected_and_timed(networks):
    net = networks["synthetic"]
    router = Router(net)
    graph = _view_digraph(net, "drive", "travel_time")
    for origin, dest in _random_pairs(net, 20, seed=3):
        path = router.path("car", origin, dest)
        assert path[0] == origin and path[-1] == dest
        time_s = sum(graph[a][b]["w"] for a, b in itertools.pairwise(path))
        assert time_s == pytest.approx(
            router.travel_time_s("car", origin, dest), rel=1e-5, abs=1e-3
        )
    assert router.path("walk", 5, 5) == [5]


@pytest.mark.parametrize("name", ["synthetic", "songpa"])
def test_lru_mode_equals_all_pairs(networks, name):
    net = networks[name]
    full, lru = Router(net), Router(net, LRU)
    assert (full.mode, lru.mode) == ("all_pairs", "lru")
    rng = np.random.default_rng(4)
    many_origins = rng.integers(0, net.n_nodes, 3000)
    few_dests = rng.integers(0, net.n_nodes, 3000) % 7  # grouped by destination (reverse rows)
    for profile in ("car", "walk", "bike"):
        for origins, dests in ((many_origins, few_dests), (few_dests, many_origins)):
            t_full, d_full = full.legs(profile, origins, dests)
            t_lru, d_lru = lru.legs(profile, origins, dests)
            np.testing.assert_allclose(t_lru, t_full, rtol=1e-6, equal_nan=True)
            np.testing.assert_allclose(d_lru, d_full, rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(
            lru.times_to_s(profile, 3), full.times_to_s(profile, 3), rtol=1e-6
        )
        assert lru.path(profile, 1, 50) == full.path(profile, 1, 50)
    assert len(lru.table("car")._rows) <= 64


def test_all_pairs_matrices_are_cached_on_disk(networks, tmp_path):
    net = networks["nootdorp"]
    settings = RouterSettings(cache_dir=str(tmp_path / "router"))
    first = Router(net, settings)
    times = first.times_from_s("car", 10)
    walk = first.times_from_s("walk", 10)
    files = sorted(p.name for p in (tmp_path / "router").glob("*.npz"))
    assert len(files) == 2 and all(f.startswith(net.fingerprint[:24]) for f in files)
    assert not first.table("car").loaded_from_cache
    second = Router(net, settings)
    assert second.table("car").loaded_from_cache and second.table("walk").loaded_from_cache
    np.testing.assert_array_equal(second.times_from_s("car", 10), times)
    np.testing.assert_array_equal(second.times_from_s("walk", 10), walk)
    assert second.distance_m("car", 10, 400) == first.distance_m("car", 10, 400)


def _tiny_network() -> Network:
    """0 <-> 1 residential, 1 <-> 2 motorway: node 2 is unreachable on foot and by bike."""
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node, lat in ((10, 37.500), (11, 37.501), (12, 37.502)):
        graph.add_node(node, y=lat, x=127.0, street_count=2)
    for u, v, highway in ((10, 11, "residential"), (11, 12, "motorway")):
        for a, b in ((u, v), (v, u)):
            graph.add_edge(a, b, highway=highway, length=111.2, oneway=False)
    graph, _ = prepare_graph(graph, "tiny")
    return Network(graph, name="tiny")


@pytest.mark.parametrize("settings", [None, LRU])
def test_unreachable_is_never_a_silent_infinity(settings):
    router = Router(_tiny_network(), settings)
    assert router.travel_time_s("car", 0, 2) > 0
    with pytest.raises(UnreachableError, match="no walk path from node 0 to node 2"):
        router.travel_time_s("walk", 0, 2)
    with pytest.raises(UnreachableError):
        router.distance_m("bike", 2, 0)
    with pytest.raises(UnreachableError):
        router.path("walk", 0, 2)
    assert router.try_travel_time_s("walk", 0, 2) is None
    assert router.try_distance_m("walk", 0, 1) == pytest.approx(111.2)
    times = router.travel_times_s("walk", [0, 0, 2], [1, 2, 2])
    assert times[0] == pytest.approx(111.2 / 1.2) and np.isnan(times[1]) and times[2] == 0.0
    assert np.isnan(router.times_from_s("walk", 0)[2])
    assert not np.isinf(router.times_from_s("walk", 0)).any()
    with pytest.raises(UnreachableError, match="any of 1 candidates"):
        router.nearest_by_time("walk", 0, [2])


def test_profiles_speed_cap_and_constant_speeds(networks):
    net = networks["synthetic"]
    router = Router(net)
    router.add_profile("shuttle", view="drive", speed_cap_kmh=25)
    router.add_profile("shuttle", view="drive", speed_cap_kmh=25)  # idempotent
    with pytest.raises(NetworkError, match="already exists"):
        router.add_profile("shuttle", view="drive", speed_cap_kmh=30)
    with pytest.raises(NetworkError, match="unknown view"):
        router.add_profile("boat", view="water", speed_kmh=10)
    with pytest.raises(NetworkError, match="unknown routing profile 'tram'"):
        router.travel_time_s("tram", 0, 1)
    view = net.view("drive")
    graph = nx.DiGraph()
    capped = view.length_m / (np.minimum(view.speed_kph, 25.0) / 3.6)
    for u, v, w in zip(view.u, view.v, capped, strict=True):
        if not graph.has_edge(u, v) or w < graph[u][v]["w"]:
            graph.add_edge(int(u), int(v), w=float(w))
    for origin, dest in _random_pairs(net, 15, seed=5):
        expected = nx.shortest_path_length(graph, origin, dest, weight="w")
        assert router.travel_time_s("shuttle", origin, dest) == pytest.approx(
            expected, rel=1e-5, abs=1e-3
        )
        assert (
            router.travel_time_s("shuttle", origin, dest)
            >= router.travel_time_s("car", origin, dest) - 1e-3
        )
        bike_m = router.try_distance_m("bike", origin, dest)
        if bike_m is None:  # the rail-station trunk road and the station are closed to bikes
            near = {
                d["highway"]
                for n in (origin, dest)
                for *_, d in net.graph.edges(net.osmid(n), data=True)
            }
            assert near & {"trunk", "unclassified"}
            continue
        assert router.travel_time_s("bike", origin, dest) == pytest.approx(bike_m / (15 / 3.6))
        assert router.travel_time_s("escooter", origin, dest) == pytest.approx(bike_m / (13 / 3.6))
    # constant-speed profiles on one view share one table
    assert router.table("bike") is router.table("segway")


def test_vectorised_queries_and_nearest(networks):
    net = networks["nootdorp"]
    router = Router(net)
    origins = np.arange(0, 500, 5)
    times = router.travel_times_s("car", origins, 42)
    assert times.shape == origins.shape
    assert times[3] == pytest.approx(router.travel_time_s("car", int(origins[3]), 42))
    row = router.times_from_s("car", 42)
    candidates = np.array([10, 20, 30, 400])
    position, time_s = router.nearest_by_time("car", 42, candidates)
    assert position == int(np.argmin(row[candidates])) and time_s == pytest.approx(
        row[candidates].min()
    )
    position, time_s = router.nearest_by_time("car", 42, candidates, reverse=True)
    assert time_s == pytest.approx(min(router.travel_time_s("car", int(c), 42) for c in candidates))
    with pytest.raises(NetworkError, match="outside"):
        router.travel_time_s("car", 0, net.n_nodes)
    with pytest.raises(NetworkError, match="must lie in"):
        router.travel_times_s("car", [0, -1], [1, 2])

"""HIVE's link positions emulated by the importer (mobisim.convert.hive_links; HIVE not needed).

HIVE puts each point on its nearest link and charges the whole origin and destination links on
every drive; the converter adds one node per (link, kind) so that mobisim's router gives the same
drive times. Each rule is tested on its own, and the router's times are held equal to a direct
reading of HIVE's route formula on random positions.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import yaml

from mobisim.convert.hive import convert_hive, mobisim_graph
from mobisim.convert.hive_links import add_position_nodes, hive_links, link_positions

LAT0, LON0 = 39.75, -104.99
DEG_PER_M = 1 / 111_195.0  # degrees of latitude per metre


def _road_graph(n_nodes: int, link_m: float, speed_kmph: float) -> nx.MultiDiGraph:
    """HIVE's node-link graph of a two-way north-south road, nodes ``link_m`` apart."""
    graph = nx.MultiDiGraph()
    for k in range(n_nodes):
        graph.add_node(10 + k, y=LAT0 + k * link_m * DEG_PER_M, x=LON0)
    for k in range(n_nodes - 1):
        for u, v in ((10 + k, 11 + k), (11 + k, 10 + k)):
            graph.add_edge(u, v, 0, length=link_m, speed_kmph=speed_kmph)
    return graph


def _at(share: float, link_m: float, east_m: float = 0.0) -> tuple[float, float]:
    """lat, lon of the point ``share`` link lengths north of node 10 and ``east_m`` east of it."""
    return LAT0 + share * link_m * DEG_PER_M, LON0 + east_m * DEG_PER_M / np.cos(np.radians(LAT0))


def test_a_point_takes_the_link_of_the_nearest_centroid_and_its_direction():
    """HIVE's centroid lies one H3 cell before the middle, toward the link's start: a point just
    south of a middle is on the northbound link, just north of it on the southbound one."""
    graph = mobisim_graph(_road_graph(3, 100.0, 36.0), 40.0)
    lat, lon = zip(_at(0.45, 100.0), _at(0.55, 100.0), _at(1.7, 100.0, east_m=20.0), strict=True)
    pos = link_positions(graph, np.array(lat), np.array(lon))
    assert list(zip(pos.u.tolist(), pos.v.tolist(), strict=True)) == [(10, 11), (11, 10), (12, 11)]
    assert pos.kind.tolist() == ["inner", "inner", "inner"]


def test_a_point_beyond_a_link_end_is_at_that_end():
    """A point whose projection falls past the start (or the end) is at the link's start (end)
    cell, as HIVE's nearest cell on the link's H3 line (a one-way link 10 -> 11 here)."""
    hive_graph = _road_graph(2, 100.0, 36.0)
    hive_graph.remove_edge(11, 10)
    graph = mobisim_graph(hive_graph, 40.0)
    lat, lon = zip(_at(-0.2, 100.0), _at(1.2, 100.0), _at(0.3, 100.0), strict=True)
    pos = link_positions(graph, np.array(lat), np.array(lon))
    assert pos.u.tolist() == [10, 10, 10]
    assert pos.kind.tolist() == ["start", "end", "inner"]


def _hive_drive_s(graph: nx.MultiDiGraph, p: tuple, q: tuple) -> float:
    """HIVE's route time from position p to q, each (u, v, kind), read off ``route`` directly:
    the origin link unless p is at its end, the shortest path from its end to the start of q's
    link, and q's link unless q is at its start; 0 for the same position."""
    if p == q:
        return 0.0
    time = {(u, v): length / 1000 / speed * 3600 for u, v, length, speed in hive_links(graph)}
    between = nx.shortest_path_length(
        nx.DiGraph([(u, v, {"t": t}) for (u, v), t in time.items()]), p[1], q[0], weight="t"
    )
    depart = 0.0 if p[2] == "end" else time[(p[0], p[1])]
    arrive = 0.0 if q[2] == "start" else time[(q[0], q[1])]
    return depart + between + arrive


def test_router_drive_times_between_position_nodes_equal_hive_s_route_formula():
    """On a 4 x 4 grid with mixed speeds, 60 random positions: mobisim's drive time between
    their nodes equals HIVE's route formula for every pair (1 mm zero-length links aside)."""
    from mobisim.network.graph import Network
    from mobisim.network.load import prepare_graph
    from mobisim.network.router import Router

    rng = np.random.default_rng(7)
    hive_graph = nx.MultiDiGraph()
    for i in range(4):
        for j in range(4):
            hive_graph.add_node(100 + 4 * i + j, y=LAT0 + i * 0.001, x=LON0 + j * 0.0013)
    for i in range(4):
        for j in range(4):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < 4 and j + dj < 4:
                    a, b = 100 + 4 * i + j, 100 + 4 * (i + di) + j + dj
                    for u, v in ((a, b), (b, a)):
                        hive_graph.add_edge(
                            u,
                            v,
                            0,
                            length=float(rng.uniform(80, 160)),
                            speed_kmph=float(rng.choice([20.0, 30.0, 50.0])),
                        )
    graph = mobisim_graph(hive_graph, 40.0)
    links = hive_links(graph)
    picks = rng.integers(0, len(links), 60)
    kinds = rng.choice(["start", "inner", "end"], 60)
    from mobisim.convert.hive_links import LinkPositions

    positions = LinkPositions(
        u=np.array([links[k][0] for k in picks]),
        v=np.array([links[k][1] for k in picks]),
        kind=kinds,
    )
    augmented, nodes, _, _ = add_position_nodes(graph, positions)
    prepared, _ = prepare_graph(augmented, "grid")
    network = Network(prepared, name="grid")
    router = Router(network)
    index = [network.index_of(int(n)) for n in nodes]
    keys = list(zip(positions.u.tolist(), positions.v.tolist(), kinds.tolist(), strict=True))
    for a in range(60):
        for b in range(60):
            want = _hive_drive_s(graph, keys[a], keys[b])
            got = router.travel_time_s("car", index[a], index[b])
            assert got == pytest.approx(want, abs=0.01), (keys[a], keys[b])


def _write_hive_road(folder: Path, link_m: float, speed_kmph: float, cancel_s: int) -> Path:
    """A HIVE scenario on a three-node road: one Corolla at node 10, one request picked up 90 %
    of the way to node 11 and taken near node 12."""
    for sub in ("vehicles", "requests", "stations", "bases", "road_network"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    graph = _road_graph(3, link_m, speed_kmph)
    (folder / "road_network" / "net.json").write_text(
        json.dumps(nx.node_link_data(graph, edges="links"))
    )
    v_lat, v_lon = _at(0.0, link_m)
    o_lat, o_lon = _at(0.9, link_m)
    d_lat, d_lon = _at(1.8, link_m, east_m=5.0)
    (folder / "vehicles" / "veh.csv").write_text(
        "vehicle_id,lat,lon,mechatronics_id,initial_soc,schedule_id,home_base_id\n"
        f"v1,{v_lat},{v_lon},toyota_corolla,1.0,,\n"
    )
    (folder / "requests" / "req.csv").write_text(
        "request_id,o_lat,o_lon,d_lat,d_lon,departure_time,passengers\n"
        f"r0,{o_lat},{o_lon},{d_lat},{d_lon},1970-01-01T00:02:00,1\n"
    )
    (folder / "stations" / "st.csv").write_text(
        f"station_id,lat,lon,charger_count,charger_id\ns1,{v_lat},{v_lon},1,GAS_PUMP\n"
    )
    (folder / "bases" / "b.csv").write_text("base_id,lat,lon,station_id,stall_count\n")
    scenario = {
        "sim": {
            "sim_name": "road",
            "start_time": "1970-01-01T00:00:00",
            "end_time": "1970-01-01T02:00:00",
            "request_cancel_time_seconds": cancel_s,
        },
        "network": {"network_type": "osm_network", "default_speed_kmph": 40.0},
        "input": {
            "vehicles_file": "veh.csv",
            "requests_file": "req.csv",
            "stations_file": "st.csv",
            "bases_file": "b.csv",
            "road_network_file": "net.json",
        },
    }
    path = folder / "road.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def _run(scenario_file: Path, out: Path):
    from mobisim import api

    scenario = api.load_scenario(scenario_file)
    scenario.outputs.charts = False
    return api.run(scenario, out_dir=out)


@pytest.mark.parametrize("positions", ["links", "nodes"])
def test_the_link_offset_decides_whether_the_vehicle_arrives_before_the_cancel_time(
    tmp_path, positions
):
    """1 km links at 10 km/h (360 s each), cancel time 600 s. On nodes the vehicle drives from
    node 10 to node 11 (360 s) and serves the request; on HIVE's links it drives its own link
    (10 -> 11, 360 s) and then the request's (11 -> 10, its point is nearer that link's
    centroid): 720 s, so the request is cancelled first, as in HIVE."""
    hive = _write_hive_road(tmp_path / "hive", 1000.0, 10.0, cancel_s=600)
    result = convert_hive(hive, tmp_path / f"out_{positions}", positions=positions)
    run = _run(result.scenario_file, tmp_path / f"res_{positions}")
    status = run.trips["status"].tolist()
    assert len(status) == 1
    legs = run.events[run.events["event"] == "vehicle_leg"]
    to_pickup = legs[legs["state"].astype(str) == "to_pickup"]
    if positions == "links":
        assert status == ["unserved"]
        # the vehicle drives on to the cancelled pick-up: both whole links, 2 km
        assert to_pickup["distance_m"].sum() == pytest.approx(2000.0, abs=0.1)
    else:
        assert status != ["unserved"]
        assert to_pickup["distance_m"].sum() == pytest.approx(1000.0, abs=0.1)


def test_link_positions_are_the_default_with_hive_step_only(tmp_path):
    """``hive_step`` conversions get the position nodes (network grows), ``native`` keeps the
    node snapping; points are written at their nodes, so each snaps to its own exactly."""
    hive = _write_hive_road(tmp_path / "hive", 1000.0, 10.0, cancel_s=600)
    links = convert_hive(hive, tmp_path / "links")
    nodes = convert_hive(hive, tmp_path / "nodes", dispatch="native")
    import osmnx as ox

    assert len(ox.load_graphml(links.network_file)) > len(ox.load_graphml(nodes.network_file)) == 3
    assert any("link positions" in note for note in links.notes)
    with pytest.raises(ValueError, match="positions"):
        convert_hive(hive, tmp_path / "bad", positions="cells")


def test_links_take_hive_s_whole_seconds():
    """HIVE truncates each link's time to whole seconds (units.hours_to_seconds: int): 105 m at
    40 km/h is 9 s (not 9.45), 8 m at 40 km/h 0 s; the lengths stay."""
    from mobisim.convert.hive_links import whole_second_links
    from mobisim.network.graph import Network
    from mobisim.network.load import prepare_graph
    from mobisim.network.router import Router

    hive_graph = nx.MultiDiGraph()
    for k, north_m in enumerate((0.0, 105.0, 113.0)):
        hive_graph.add_node(10 + k, y=LAT0 + north_m * DEG_PER_M, x=LON0)
    for u, v, length_m in ((10, 11, 105.0), (11, 12, 8.0)):
        hive_graph.add_edge(u, v, 0, length=length_m, speed_kmph=40.0)
        hive_graph.add_edge(v, u, 0, length=length_m, speed_kmph=40.0)
    graph = whole_second_links(mobisim_graph(hive_graph, 40.0))
    prepared, _ = prepare_graph(graph, "road")
    network = Network(prepared, name="road")
    router = Router(network)
    a, b, c = (network.index_of(n) for n in (10, 11, 12))
    assert router.travel_time_s("car", a, b) == pytest.approx(9.0, abs=1e-3)
    assert router.travel_time_s("car", b, c) == pytest.approx(0.0, abs=1e-3)
    assert router.distance_m("car", a, c) == pytest.approx(113.0, abs=1e-3)

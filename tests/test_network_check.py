"""The network check before the run (mobisim.network.check, issue 26 item 2): places its vehicles
or riders cannot use are reported before the run, naming the place, the service and the nearest
usable node; far snaps and motorway/trunk nodes are warnings; ``move_to_usable`` moves them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import mobisim
from mobisim.cli import app
from mobisim.errors import ScenarioError
from mobisim.network.check import check_network
from mobisim.network.load import build_network, config_for
from mobisim.network.synthetic import generate_new_town

runner = CliRunner()

#: OSM ids of the nodes added to the synthetic town
DEAD_END, FOOT_ONLY, MOTORWAY_NODE = 10_001, 10_002, 10_003


def _offset(graph, node: int, north_m: float, east_m: float) -> tuple[float, float]:
    lat, lon = graph.nodes[node]["y"], graph.nodes[node]["x"]
    return lat + north_m / 111_320.0, lon + east_m / (111_320.0 * math.cos(math.radians(lat)))


def _edge(graph, a: int, b: int, highway: str, oneway: bool = False) -> None:
    graph.add_edge(a, b, highway=highway, oneway=oneway, reversed=False, length=60.0)


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> dict:
    """A synthetic town as GraphML with three bad nodes, and its places.

    - DEAD_END: entered by a one-way street, left only on a footway (outside the drive SCC);
    - FOOT_ONLY: reached by footways only (not on the drive view at all);
    - MOTORWAY_NODE: reached by a motorway only (not on the bike or walk views).
    The whole graph stays strongly connected, so loading keeps all three.
    """
    import osmnx

    graph, places = generate_new_town(target_nodes=300, seed=2)

    def nearest_place_deg2(n: int) -> float:
        y, x = graph.nodes[n]["y"], graph.nodes[n]["x"]
        return min((y - p["lat"]) ** 2 + (x - p["lon"]) ** 2 for p in places)

    def in_town(n: int) -> bool:  # inside the ring road, away from the rail station's streets
        y, x = graph.nodes[n]["y"], graph.nodes[n]["x"]
        return abs(y - 36.91) < 0.01 and abs(x - 127.53) < 0.012

    # a town street no place snaps near, so that only the bad places are on the bad nodes
    hub = max(filter(in_town, graph.nodes), key=nearest_place_deg2)
    spots = {}
    for osmid, (north_m, east_m) in zip(
        (DEAD_END, FOOT_ONLY, MOTORWAY_NODE), ((60, 0), (0, 60), (-60, 0)), strict=True
    ):
        lat, lon = _offset(graph, hub, north_m, east_m)
        graph.add_node(osmid, y=lat, x=lon, street_count=1)
        spots[osmid] = (lat, lon)
    _edge(graph, hub, DEAD_END, "residential", oneway=True)
    _edge(graph, DEAD_END, hub, "footway")
    _edge(graph, hub, FOOT_ONLY, "footway")
    _edge(graph, FOOT_ONLY, hub, "footway")
    _edge(graph, hub, MOTORWAY_NODE, "motorway")
    _edge(graph, MOTORWAY_NODE, hub, "motorway")
    folder = tmp_path_factory.mktemp("town")
    osmnx.save_graphml(graph, folder / "town.graphml")
    return {"folder": folder, "spots": spots, "places": places, "hub": hub}


def _scenario(town: dict, **check) -> Path:
    """An every-service scenario on the town; shuttle stop, car station and bike station on the
    three bad nodes (given by lat/lon)."""
    spots = town["spots"]
    stop = {"name": "DeadEnd", "lat": spots[DEAD_END][0], "lon": spots[DEAD_END][1]}
    station = {"name": "Footpath", "lat": spots[FOOT_ONLY][0], "lon": spots[FOOT_ONLY][1]}
    dock = {"name": "Motorway", "lat": spots[MOTORWAY_NODE][0], "lon": spots[MOTORWAY_NODE][1]}
    data = {
        "name": "bad-places",
        "network": {
            "source": "graphml",
            "file": "town.graphml",
            "places": town["places"],
            "check": check,
        },
        "demand": {"synthetic": {"residents": 300, "households": 120}},
        "services": [
            {"name": "walk", "type": "walk"},
            {"name": "car", "type": "private_car"},
            {
                "name": "shuttle",
                "type": "fixed_route",
                "headway_min": 15,
                "stops": [{"name": "Centre", "place": "town_centre"}, stop,
                          {"name": "Institutions", "place": "public_institutions"}],
            },
            {
                "name": "carshare",
                "type": "carsharing",
                "scheme": "one_way",
                "stations": [{"name": "Centre", "place": "town_centre", "vehicles": 2, "spaces": 4},
                             {**station, "vehicles": 2, "spaces": 4}],
            },
            {
                "name": "bikes",
                "type": "micromobility",
                "parking": "docked",
                "devices": [{"type": "bike", "count": 10}],
                "stations": [{"name": "Centre", "place": "town_centre", "spaces": 8},
                             {**dock, "spaces": 8}],
            },
            {"name": "drt", "type": "drt", "vehicles": 2,
             "depots": [{"name": "Depot", "place": "town_centre"}]},
        ],
    }  # fmt: skip
    path = town["folder"] / f"bad-{len(check)}-{'-'.join(map(str, check.values()))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def checked(town):
    scenario = mobisim.load_scenario(_scenario(town))
    network = build_network(scenario.network, scenario.base_dir)
    return scenario, network, check_network(scenario, network)


def _node(network, osmid: int) -> int:
    return network.index_of(osmid)


def test_a_fixed_route_stop_outside_the_drive_scc_is_an_error_naming_stop_service_and_usable_node(
    checked,
):
    _, network, check = checked
    found = [f for f in check.errors if f.name == "DeadEnd" and f.problem == "unreachable"]
    assert len(found) == 1
    finding = found[0]
    assert finding.service == "shuttle" and finding.node == _node(network, DEAD_END)
    assert finding.key == "services.shuttle.stops[1] (DeadEnd)"
    assert "stop 'DeadEnd' of service 'shuttle'" in finding.message
    assert "drive view" in finding.message
    assert f"nearest usable node: {finding.usable_node} (" in finding.message
    assert finding.usable_node not in (-1, finding.node) and 0 < finding.usable_m < 200
    # and the route cannot drive on from it to the next stop
    order = [f for f in check.errors if f.problem == "route_order"]
    assert order and "from stop 'DeadEnd'" in order[0].message


def test_a_carsharing_station_cars_cannot_reach_is_an_error(checked):
    _, network, check = checked
    found = [f for f in check.errors if f.name == "Footpath"]
    assert [f.problem for f in found] == ["unreachable"]
    assert found[0].service == "carshare" and found[0].node == _node(network, FOOT_ONLY)
    assert "station 'Footpath' of service 'carshare'" in found[0].message
    assert "nearest usable node" in found[0].message and 0 < found[0].usable_m < 200


def test_a_bike_station_on_a_motorway_node_is_reported_with_the_road_class(checked):
    _, network, check = checked
    found = {f.problem: f for f in check.findings if f.name == "Motorway"}
    assert set(found) == {"unreachable", "walk_unreachable", "road_class"}
    assert found["unreachable"].severity == "error" and "bike view" in found["unreachable"].message
    assert found["road_class"].severity == "warning"
    assert "motorway only" in found["road_class"].message
    usable = found["road_class"].usable_node
    assert usable >= 0 and usable != _node(network, MOTORWAY_NODE)
    assert 0 < found["road_class"].usable_m < 200  # the street it hangs off


def test_good_places_have_no_findings_and_every_place_is_snapped(checked):
    _, _, check = checked
    bad = {"DeadEnd", "Footpath", "Motorway"}
    assert {f.name for f in check.findings if f.problem != "route_order"} == bad
    assert len(check.snaps) == 3 + 2 + 2 + 1  # stops, stations, docks, the DRT depot
    assert all(s.usable for s in check.snaps if s.name not in bad)
    assert all(s.snap_m < 1.0 for s in check.snaps if s.name in bad)  # given on the node


def test_the_run_stops_before_it_starts_with_every_error(town, tmp_path):
    with pytest.raises(ScenarioError) as caught:
        mobisim.run(_scenario(town), out_dir=tmp_path)
    text = str(caught.value)
    for name in ("DeadEnd", "Footpath", "Motorway"):
        assert f"({name})" in text and "nearest usable node" in text
    assert not list(tmp_path.rglob("manifest.json"))


def test_validate_and_network_check_report_it_and_exit_1(town):
    path = _scenario(town)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "network check: 8 places snapped" in result.output
    assert "error:" in result.output and "stop 'DeadEnd' of service 'shuttle'" in result.output
    assert "warning:" in result.output and "motorway only" in result.output
    skipped = runner.invoke(app, ["validate", str(path), "--no-network"])
    assert skipped.exit_code == 0 and "network check" not in skipped.output
    checked = runner.invoke(app, ["network", "check", str(path)])
    assert checked.exit_code == 1 and "Footpath" in checked.output
    assert "out of reach of service 'bikes'" in checked.output


def test_move_to_usable_moves_them_and_the_run_goes_on(town, tmp_path):
    scenario = mobisim.load_scenario(_scenario(town, move_to_usable=True))
    network = build_network(scenario.network, scenario.base_dir)
    check = check_network(scenario, network)
    assert check.errors == []
    moved = {f.name: f for f in check.findings if f.problem == "moved"}
    assert set(moved) == {"DeadEnd", "Footpath", "Motorway"}
    shuttle = next(b for b in check.scenario.services if b.name == "shuttle")
    assert shuttle.stops[1].node == moved["DeadEnd"].usable_node and shuttle.stops[1].lat is None
    again = check_network(check.scenario, network)  # the moved places are usable
    assert again.errors == [] and not [f for f in again.findings if f.problem == "moved"]
    result = mobisim.run(check.scenario.model_copy(), out_dir=tmp_path)
    assert result.manifest["network"]["check"]["errors"] == 0
    assert len(result.trips) > 0


def test_far_snaps_are_warnings_with_the_distance(town):
    path = _scenario(town, far_snap_m=1.0)
    scenario = mobisim.load_scenario(path)
    network = build_network(scenario.network, scenario.base_dir)
    far = [f for f in check_network(scenario, network).findings if f.problem == "far_snap"]
    assert far and all(f.severity == "warning" and f.snap_m > 1.0 for f in far)
    assert "network.check.far_snap_m 1 m" in far[0].message


def test_demand_coverage_shares_are_between_0_and_1(checked):
    _, _, check = checked
    services = {row["service"] for row in check.coverage if row["service"]}
    assert services == {"shuttle", "carshare", "bikes"}
    for row in check.coverage:
        for key in ("homes_out_of_reach", "destinations_out_of_reach"):
            assert row[key] is None or 0.0 <= row[key] <= 1.0
    walk_access = {r["service"]: r for r in check.coverage if r["service"]}
    assert walk_access["carshare"]["homes_out_of_reach"] > 0  # two stations, 300 m walk


NETWORKS = [
    "nootdorp-maassim.graphml",
    "seoul-dongjak-heukseok-cau-roads.osm.bz2",
    "seoul-songpa-jamsil-asan-roads.osm.bz2",
    "west-oakland-osmnx-test.osm.bz2",
]


@pytest.mark.parametrize("name", NETWORKS)
def test_an_all_services_scenario_validates_on_each_shared_network(name, shared_networks, tmp_path):
    """Places on a 3 x 3 grid over the network's extent; every service uses them."""
    file = shared_networks / name
    network = build_network(config_for(str(file)), ".")
    lat, lon = network.nodes["lat"].to_numpy(), network.nodes["lon"].to_numpy()
    places = []
    for i, q_lat in enumerate((0.25, 0.5, 0.75)):
        for j, q_lon in enumerate((0.25, 0.5, 0.75)):
            kind = "residential" if (i + j) % 2 else "centre"
            places.append({"name": f"p{i}{j}", "kind": kind, "weight": 1.0, "radius_m": 200.0,
                           "lat": float(np.quantile(lat, q_lat)), "lon": float(np.quantile(lon, q_lon))})  # fmt: skip
    names = [p["name"] for p in places]
    source = "graphml" if name.endswith(".graphml") else "osm_xml"
    data = {
        "name": "all-services",
        "network": {"source": source, "file": str(file), "places": places, "max_snap_m": 2000,
                    "check": {"move_to_usable": True}},
        "demand": {"synthetic": {"residents": 200, "households": 80}},
        "services": [
            {"name": "walk", "type": "walk"},
            {"name": "car", "type": "private_car"},
            {"name": "shuttle", "type": "fixed_route", "headway_min": 15,
             "stops": [{"name": n, "place": n} for n in names[:4]]},
            {"name": "drt", "type": "drt", "vehicles": 2, "depots": [{"name": "d", "place": names[4]}]},
            {"name": "carshare", "type": "carsharing", "scheme": "one_way",
             "stations": [{"name": n, "place": n, "vehicles": 1, "spaces": 2} for n in names[:3]]},
            {"name": "bikes", "type": "micromobility", "parking": "docked",
             "devices": [{"type": "bike", "count": 6}],
             "stations": [{"name": n, "place": n, "spaces": 4} for n in names[3:6]]},
            {"name": "scooters", "type": "micromobility", "parking": "dockless",
             "devices": [{"type": "escooter", "count": 10}]},
        ],
        "energy": {"charging_sites": [{"name": "c", "place": names[4]}]},
    }  # fmt: skip
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "network check: 12 places snapped" in result.output
    assert "out of reach of service 'shuttle' stops/stations" in result.output
    report = runner.invoke(app, ["network", "check", str(path), "--json"])
    assert report.exit_code == 0, report.output
    summary = json.loads(report.output)
    assert summary["places"] == 12 and summary["errors"] == 0
    assert all(s["snap_m"] >= 0 for s in summary["snaps"])
    # ... and it runs: every trip has an outcome and the manifest keeps the snaps
    out = tmp_path / "out"
    ran = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert ran.exit_code == 0, ran.output
    (run_dir,) = [p for p in (out / "all-services").iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["n_trips"] > 0
    assert len(manifest["network"]["check"]["snaps"]) == 12

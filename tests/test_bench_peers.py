"""The ridepy comparison's helpers (issue 21): the two-way graph and the diversion count."""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers"))
from diversions import count_diversions
from nootdorp_peers import two_way


def test_two_way_drives_every_street_both_ways_at_the_shorter_length():
    graph = nx.MultiDiGraph(crs="epsg:4326")
    graph.add_nodes_from((n, {"x": 0.0, "y": float(n)}) for n in (1, 2, 3))
    graph.add_edge(1, 2, length=10.0, oneway=True)  # one-way street
    graph.add_edge(2, 3, length=5.0, oneway=False)
    graph.add_edge(3, 2, length=7.0, oneway=False)  # the other way is longer
    graph.add_edge(3, 3, length=1.0)  # a loop is no street to drive
    both = two_way(graph)
    lengths = {(u, v): data["length"] for u, v, data in both.edges(data=True)}
    assert lengths == {(1, 2): 10.0, (2, 1): 10.0, (2, 3): 5.0, (3, 2): 5.0}
    assert not any(data["oneway"] for *_, data in both.edges(data=True))
    assert both.graph["crs"] == "epsg:4326" and both.nodes[3]["y"] == 3.0
    assert nx.shortest_path_length(both, 3, 1, weight="length") == 15.0  # no way back before


def test_count_diversions_counts_a_pick_up_put_before_the_stop_driven_to():
    # vehicle 1 drives rider A (made at 0 s) to A's drop-off; B (made at 20 s) is picked up on
    # the way, before A's drop-off: one diversion. Vehicle 2 takes D (made at 20 s) after its
    # drop-off of C: appended, no diversion. Vehicle 3 is idle when E is made: none either.
    stops = pd.DataFrame(
        [
            (1, 10.0, "A"),
            (1, 30.0, "B"),
            (1, 50.0, "A"),
            (1, 70.0, "B"),
            (2, 10.0, "C"),
            (2, 40.0, "C"),
            (2, 45.0, "D"),
            (2, 80.0, "D"),
            (3, 15.0, "E"),
            (3, 60.0, "E"),
        ],
        columns=["vehicle_id", "time_s", "request_id"],
    )
    requested_s = pd.Series({"A": 0.0, "B": 20.0, "C": 0.0, "D": 20.0, "E": 5.0})
    assert count_diversions(stops, requested_s) == 1
    # the same log with B picked up after A's drop-off: appended, no diversion
    appended = stops.copy()
    appended.loc[1, "time_s"], appended.loc[2, "time_s"] = 50.0, 30.0
    appended = appended.sort_values(["vehicle_id", "time_s"], kind="stable")
    assert count_diversions(appended, requested_s) == 0

"""Summary figures of a network: size, length, connectivity, speeds, highway classes."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np

from mobisim.network.graph import Network
from mobisim.network.views import VIEW_NAMES


def network_summary(network: Network) -> dict:
    """Key figures of ``network`` as a plain dict (JSON-friendly).

    Keys: name, nodes, edges, edge_km (sum of directed edge lengths, km), street_km (each
    two-way street counted once, km), strong/weak component counts, speed_kph min/median/max,
    edges_per_highway, per-view edge counts, places, and the load report.
    """
    graph = network.graph
    lengths, speeds, highways = [], [], Counter()
    undirected_m = {}
    for u, v, data in graph.edges(data=True):
        lengths.append(float(data["length"]))
        speeds.append(float(data["speed_kph"]))
        highway = data.get("highway")
        highways[highway[0] if isinstance(highway, list) else str(highway)] += 1
        pair = (u, v) if u <= v else (v, u)
        undirected_m[pair] = min(undirected_m.get(pair, np.inf), float(data["length"]))
    speeds_arr = np.array(speeds) if speeds else np.array([np.nan])
    return {
        "name": network.name,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "edge_km": round(sum(lengths) / 1000.0, 3),
        "street_km": round(sum(undirected_m.values()) / 1000.0, 3),
        "strong_components": nx.number_strongly_connected_components(graph),
        "weak_components": nx.number_weakly_connected_components(graph),
        "speed_kph_min": round(float(np.min(speeds_arr)), 1),
        "speed_kph_median": round(float(np.median(speeds_arr)), 1),
        "speed_kph_max": round(float(np.max(speeds_arr)), 1),
        "edges_per_highway": dict(highways.most_common()),
        "view_edges": {name: network.view(name).n_edges for name in VIEW_NAMES},
        "places": len(network.places),
        "fingerprint": network.fingerprint[:16],
        "load_report": dict(network.report),
    }

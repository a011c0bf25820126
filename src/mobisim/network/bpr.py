"""Congestion: the BPR link-performance function and a static user-equilibrium assignment (MSA).

The Bureau of Public Roads function gives a link's travel time at a volume::

    t = t0 · (1 + alpha · (v / c) ** beta)

with ``t0`` the free-flow time (s), ``v`` the volume and ``c`` the capacity (both vehicles per
hour), and the BPR defaults alpha = 0.15, beta = 4 [BPR64]. :func:`msa_equilibrium` finds the
link volumes at which no driver of an origin-destination demand can save time by changing route
(Wardrop's first principle) by the method of successive averages: all-or-nothing assignment on
the current times, then the volumes move 1/k of the way to it, until the relative gap is below a
threshold or ``max_iterations`` have run. Each iteration's gap is reported.

Capacities by road class (:data:`CAPACITY_VEH_H_PER_LANE`) are assumptions (A) of the usual
order for planning models: about 2,000 vehicles per hour per lane on motorways, less on roads
with junctions and signals. A run uses them through mobisim.experiments.congestion
(docs/networks.md "Congestion feedback").

[BPR64] U.S. Department of Commerce, Bureau of Public Roads (1964), *Traffic Assignment Manual*.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from mobisim.errors import NetworkError
from mobisim.scenario.network_config import (
    CAPACITY_VEH_H_PER_LANE,
    DEFAULT_CAPACITY_VEH_H_PER_LANE,
)

if TYPE_CHECKING:
    from mobisim.network.router import Router

BPR_ALPHA = 0.15  # [BPR64]
BPR_BETA = 4.0  # [BPR64]


def bpr_time_s(
    free_time_s, volume_veh_h, capacity_veh_h, alpha: float = BPR_ALPHA, beta: float = BPR_BETA
) -> np.ndarray:
    """Link travel time in seconds at a volume: ``t0 · (1 + alpha · (v / c) ** beta)``.

    Parameters
    ----------
    free_time_s : array-like
        Free-flow travel time of each link, s.
    volume_veh_h : array-like
        Volume on each link, vehicles per hour.
    capacity_veh_h : array-like
        Capacity of each link, vehicles per hour (> 0).
    alpha, beta : float
        BPR parameters (defaults 0.15 and 4 [BPR64]).
    """
    ratio = np.asarray(volume_veh_h, float) / np.asarray(capacity_veh_h, float)
    return np.asarray(free_time_s, float) * (1.0 + alpha * ratio**beta)


def link_capacity_veh_h(highway, lanes=None, per_lane_by_class=None) -> np.ndarray:
    """Capacity of each link, vehicles per hour: per-lane capacity of its class × lanes.

    Parameters
    ----------
    highway : array-like of str
        OSM highway class of each link (a ``*_link`` road takes its base class).
    lanes : array-like of float, optional
        Lanes in the link's direction (missing, NaN or < 1 count as 1).
    per_lane_by_class : dict, optional
        Per-lane capacities replacing the defaults by class (``default``: any other class).
    """
    table = {**CAPACITY_VEH_H_PER_LANE, **(per_lane_by_class or {})}
    other = table.pop("default", DEFAULT_CAPACITY_VEH_H_PER_LANE)
    classes = [str(h).removesuffix("_link") for h in np.asarray(highway, object)]
    per_lane = np.array([table.get(c, other) for c in classes], float)
    if lanes is None:
        return per_lane
    n_lanes = np.nan_to_num(np.asarray(lanes, float), nan=1.0)
    return per_lane * np.maximum(n_lanes, 1.0)


@dataclass
class Equilibrium:
    """What :func:`msa_equilibrium` found.

    ``volume_veh_h`` and ``time_s`` per link; ``gaps`` the relative gap after each iteration;
    ``converged`` whether the last gap is below the threshold.
    """

    volume_veh_h: np.ndarray
    time_s: np.ndarray
    gaps: list[float] = field(default_factory=list)
    converged: bool = False

    @property
    def iterations(self) -> int:
        """Number of iterations run."""
        return len(self.gaps)


def all_or_nothing(
    n_nodes: int, u: np.ndarray, v: np.ndarray, time_s: np.ndarray, origins, dests, demand_veh_h
) -> np.ndarray:
    """Link volumes (veh/h) when every demand takes its fastest path at the times ``time_s``.

    Of parallel links the fastest carries the flow. Raises NetworkError if a demand with
    volume > 0 has no path.
    """
    order = np.lexsort((time_s, v, u))  # by pair, fastest first
    first = np.ones(len(order), bool)
    first[1:] = (u[order][1:] != u[order][:-1]) | (v[order][1:] != v[order][:-1])
    edge = order[first]  # one link per node pair: the fastest
    weights = np.maximum(time_s[edge], 1e-9)  # csgraph drops zero-weight entries
    graph = csr_matrix((weights, (u[edge], v[edge])), shape=(n_nodes, n_nodes))
    link_of = {(int(a), int(b)): int(e) for a, b, e in zip(u[edge], v[edge], edge, strict=True)}
    volume = np.zeros(len(u))
    origins, dests = np.asarray(origins, np.int64), np.asarray(dests, np.int64)
    demand = np.asarray(demand_veh_h, float)
    for origin in np.unique(origins):
        rows = origins == origin
        dist, pred = dijkstra(graph, indices=int(origin), return_predecessors=True)
        load = np.bincount(dests[rows], weights=demand[rows], minlength=n_nodes)
        stuck = (load > 0) & ~np.isfinite(dist)
        if stuck.any():
            raise NetworkError(
                f"no path from node {int(origin)} to node {int(np.flatnonzero(stuck)[0])}"
            )
        # push each node's load to its predecessor, farthest nodes first (the shortest-path tree)
        for node in np.argsort(-np.where(np.isfinite(dist), dist, -1.0)):
            if load[node] == 0 or node == origin:
                continue
            parent = int(pred[node])
            volume[link_of[(parent, int(node))]] += load[node]
            load[parent] += load[node]
    return volume


def relative_gap(time_s: np.ndarray, volume_veh_h: np.ndarray, aon_veh_h: np.ndarray) -> float:
    """``(Σ t·v − Σ t·y) / Σ t·v``: how much total time exceeds everyone on a fastest path.

    ``y`` is the all-or-nothing volume at the times ``t``; 0 at user equilibrium.
    """
    total_s = float(np.dot(time_s, volume_veh_h))
    if total_s <= 0:
        return 0.0
    return (total_s - float(np.dot(time_s, aon_veh_h))) / total_s


def msa_equilibrium(
    n_nodes: int,
    u,
    v,
    free_time_s,
    capacity_veh_h,
    origins,
    dests,
    demand_veh_h,
    *,
    gap_threshold: float = 1e-4,
    max_iterations: int = 200,
    alpha: float = BPR_ALPHA,
    beta: float = BPR_BETA,
) -> Equilibrium:
    """User-equilibrium link volumes by the method of successive averages.

    Parameters
    ----------
    n_nodes : int
        Number of nodes (links join node indices 0..n_nodes-1).
    u, v : array-like of int
        From and to node of each link.
    free_time_s : array-like
        Free-flow time of each link, s.
    capacity_veh_h : array-like
        Capacity of each link, vehicles per hour (> 0).
    origins, dests, demand_veh_h : array-like
        The demand: one row per origin-destination pair, vehicles per hour.
    gap_threshold : float
        Stop when the relative gap (:func:`relative_gap`) is below this.
    max_iterations : int
        Stop after this many iterations at the latest (``converged`` then says whether the gap
        was reached).
    alpha, beta : float
        BPR parameters.
    """
    u, v = np.asarray(u, np.int64), np.asarray(v, np.int64)
    free_s = np.asarray(free_time_s, float)
    capacity = np.asarray(capacity_veh_h, float)
    if np.any(capacity <= 0):
        raise NetworkError("link capacities must be > 0 veh/h")
    if max_iterations < 1:
        raise NetworkError(f"max_iterations must be >= 1 (got {max_iterations})")
    volume = all_or_nothing(n_nodes, u, v, free_s, origins, dests, demand_veh_h)
    result = Equilibrium(volume, bpr_time_s(free_s, volume, capacity, alpha, beta))
    for k in range(2, max_iterations + 2):
        aon = all_or_nothing(n_nodes, u, v, result.time_s, origins, dests, demand_veh_h)
        gap = relative_gap(result.time_s, result.volume_veh_h, aon)
        result.gaps.append(gap)
        if gap < gap_threshold:
            result.converged = True
            break
        result.volume_veh_h = result.volume_veh_h + (aon - result.volume_veh_h) / k
        result.time_s = bpr_time_s(free_s, result.volume_veh_h, capacity, alpha, beta)
    return result


def link_volumes_veh_h(
    router: Router, from_nodes, to_nodes, depart_s, profile: str = "car", scale: float = 1.0
) -> np.ndarray:
    """Volumes of vehicle legs on the links of ``profile``'s view, veh/h, per time-of-day period.

    Each leg (e.g. a run's ``vehicle_leg`` events of cars and road vehicles: ``node``,
    ``to_node``, ``time_s``) follows the router's fastest path in the period it departs in and
    counts once on every link of it in that period; a period's count divided by its length in
    hours is its volume. Of parallel links the one with the shortest free-flow time is counted.

    Parameters
    ----------
    router : Router
        The run's router (its ``periods`` set the periods).
    from_nodes, to_nodes : array-like of int
        Start and end node of each leg.
    depart_s : array-like of float
        Departure of each leg, s after midnight.
    profile : str
        Routing profile the legs drive with (its view's links are counted).
    scale : float
        Real vehicles per simulated one (e.g. real population / simulated residents).

    Returns
    -------
    ndarray of shape (number of periods, number of links of the view), veh/h.
    """
    view = router.network.view(router.profiles[profile].view)
    order = np.lexsort((view.travel_time_s, view.v, view.u))
    link_of: dict[tuple[int, int], int] = {}
    for edge in order[::-1]:  # the fastest of parallel links is written last
        link_of[(int(view.u[edge]), int(view.v[edge]))] = int(edge)
    counts = np.zeros((len(router.periods), view.n_edges))
    for a, b, at_s in zip(
        np.asarray(from_nodes, np.int64), np.asarray(to_nodes, np.int64), np.asarray(depart_s),
        strict=True,
    ):  # fmt: skip
        if a == b:
            continue
        period = router.period_index(float(at_s))
        nodes = router.path(profile, int(a), int(b), float(at_s))
        for pair in itertools.pairwise(nodes):
            counts[period, link_of[pair]] += 1.0
    hours = np.array([p.end_h - p.start_h for p in router.periods], float)
    return counts * scale / hours[:, None]

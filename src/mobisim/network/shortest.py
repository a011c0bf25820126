"""Shortest-path tables of one weighted view: all-pairs matrices or per-source rows (LRU).

A ``PathTable`` answers, for one view and one edge weight (time at edge speed, time capped at a
speed, or length), the least weight between node pairs and the length in metres of that same path.
Unreachable pairs hold NaN. The router (router.py) turns weights into times per profile.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

#: smallest edge weight (s or m): csgraph must never see a zero-weight edge
MIN_WEIGHT = 1e-6
#: elements per block of all-pairs rows (small blocks keep pointer doubling in cache)
BLOCK_ELEMENTS = 100_000
CACHE_FORMAT = "v1"
PRED_LRU_SIZE = 256
#: point-to-point searches (:meth:`PathTable.pair` on LRU tables): the first limit, in median
#: edge weights, and the factor it grows by until the destination is settled (the runs before
#: the last cost at most a third of it: Dijkstra's work grows with the area, the limit squared)
PAIR_FIRST_LIMIT_EDGES = 32
PAIR_LIMIT_GROWTH = 2.0
#: partial searches kept, one per source (each n × 12 bytes), and pairs remembered
PAIR_SOURCES = 128
PAIR_MEMORY = 200_000


def clean_edges(n_nodes: int, u, v, weight, length_m):
    """Drop self-loops, clamp weights, keep the least-weight edge per (u, v) pair.

    Returns ``(u, v, weight, length_m, keys)`` sorted by ``keys = u * n_nodes + v``.
    """
    u, v = np.asarray(u, np.int64), np.asarray(v, np.int64)
    weight = np.maximum(np.asarray(weight, float), MIN_WEIGHT)
    length_m = np.maximum(np.asarray(length_m, float), 0.0)
    keep = u != v
    u, v, weight, length_m = u[keep], v[keep], weight[keep], length_m[keep]
    keys = u * n_nodes + v
    order = np.lexsort((length_m, weight, keys))
    keys = keys[order]
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    pick = order[first]
    return u[pick], v[pick], weight[pick], length_m[pick], keys[first]


def adjacency_slots(owner, other, length_m, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded per-node edge tables: ``other[slot, node]`` (-1 = empty) and ``length_m[slot, node]``.

    With ``owner`` = edge heads this lists each node's in-edges; with ``owner`` = tails, out-edges.
    """
    owner = np.asarray(owner, np.int64)
    counts = np.bincount(owner, minlength=n_nodes)
    depth = int(counts.max()) if len(owner) else 0
    order = np.argsort(owner, kind="stable")
    owner_sorted = owner[order]
    slot = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner_sorted]
    table_other = np.full((depth, n_nodes), -1, np.int64)
    table_length = np.zeros((depth, n_nodes), float)
    table_other[slot, owner_sorted] = np.asarray(other)[order]
    table_length[slot, owner_sorted] = np.asarray(length_m)[order]
    return table_other, table_length


def path_lengths(pred: np.ndarray, slots: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Length along the shortest-path trees given by predecessor rows (pointer doubling).

    Parameters
    ----------
    pred : ndarray (k, n) int
        Predecessor rows from ``scipy.sparse.csgraph.dijkstra`` (negative at roots/unreachable).
        For trees on the reversed graph ``pred[j]`` is the node *after* j.
    slots : (other, length_m)
        ``adjacency_slots`` of the in-edges (forward trees) or out-edges (reversed trees): the
        length in metres of the edge between each node and its tree parent.

    Returns
    -------
    ndarray (k, n) float64 of path lengths in metres (0 at roots and unreachable nodes).
    """
    k, n = pred.shape
    other, length = slots
    step = np.zeros((k, n), float)
    for s in range(other.shape[0]):
        step += np.where(pred == other[s], length[s], 0.0)
    # flat index of each entry's parent; roots and unreachable nodes point to themselves
    flat_self = np.arange(k * n, dtype=np.int64)
    row_start = (flat_self // n) * n
    parent = np.where(pred.ravel() >= 0, row_start + pred.ravel(), flat_self)
    return _sum_to_root(step.ravel(), parent).reshape(k, n)


def chain_length_m(steps_m: np.ndarray) -> float:
    """Length (m) of one path given its edge lengths ``steps_m`` from the origin on, summed as
    :func:`path_lengths` sums the same path in a whole tree (the same float, bit for bit: the
    pointer doubling adds a node's value to its ancestors' in an order that depends only on
    the chain of its ancestors)."""
    steps = np.concatenate(([0.0], np.asarray(steps_m, float)))
    parent = np.arange(len(steps), dtype=np.int64) - 1
    parent[0] = 0  # the origin is the root
    return float(_sum_to_root(steps, parent)[-1])


def _sum_to_root(total: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Pointer doubling in place: ``total[j]`` becomes the sum of the steps from j up to its
    root (``parent[root] == root``)."""
    active = np.flatnonzero(parent[parent] != parent)
    while active.size:
        # simultaneous update: gather the old values before writing
        up = parent[active]
        total[active] += total[up]
        parent[active] = parent[up]
        active = active[parent[parent[active]] != parent[active]]
    return total


def _as_float32(values: np.ndarray) -> np.ndarray:
    out = values.astype(np.float32)
    out[~np.isfinite(values)] = np.nan
    return out


class PathTable:
    """Least-weight and path-length lookups for one (view, weight) pair.

    Parameters
    ----------
    n_nodes : int
        Number of nodes (indices 0..n-1).
    u, v, weight, length_m : array
        Directed edges: endpoints, weight (seconds or metres) and length in metres.
    weight_is_length : bool
        True when the weight is the length itself (no separate distance table needed).
    all_pairs : bool
        Build full N×N float32 matrices (True) or compute rows on demand with an LRU cache.
    lru_size : int
        Rows kept in LRU mode (each holds weight and length rows: n × 8 bytes).
    cache_file : Path, optional
        ``.npz`` file for the all-pairs matrices (loaded if present, written after a build).
    """

    def __init__(
        self,
        n_nodes: int,
        u,
        v,
        weight,
        length_m,
        weight_is_length: bool,
        all_pairs: bool,
        lru_size: int = 2048,
        cache_file: Path | None = None,
    ):
        self.n = int(n_nodes)
        u, v, weight, length_m, keys = clean_edges(self.n, u, v, weight, length_m)
        #: the cleaned edges (sorted by ``keys = u * n + v``): a path's edge lengths and the
        #: frontier of a partial search (:meth:`_search_until`)
        self._edges = (u, v, keys, length_m)
        self._first_limit = PAIR_FIRST_LIMIT_EDGES * (
            float(np.median(weight)) if len(weight) else 1.0
        )
        self._in_slots = adjacency_slots(v, u, length_m, self.n)
        self._out_slots = adjacency_slots(u, v, length_m, self.n)
        self.weight_is_length = weight_is_length
        self.csr = csr_matrix((weight, (u, v)), shape=(self.n, self.n))
        self.csr_reverse = csr_matrix((weight, (v, u)), shape=(self.n, self.n))
        self.all_pairs = all_pairs
        self.lru_size = int(lru_size)
        self.loaded_from_cache = False
        self._rows: OrderedDict[tuple[bool, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._preds: OrderedDict[int, np.ndarray] = OrderedDict()
        #: source -> (limit, distances, predecessors or None, exhausted) of its last partial search
        self._partial: OrderedDict[int, tuple[float, np.ndarray, np.ndarray | None, bool]] = (
            OrderedDict()
        )
        self._pairs: dict[tuple[int, int], tuple[float, float]] = {}
        self.weight_matrix: np.ndarray | None = None
        self.length_matrix: np.ndarray | None = None
        if all_pairs:
            self._build_all_pairs(cache_file)

    # ------------------------------------------------------------------ building
    def _solve(self, sources: np.ndarray, reverse: bool = False, need_pred: bool = True):
        graph = self.csr_reverse if reverse else self.csr
        if not need_pred:
            return dijkstra(graph, directed=True, indices=sources), None
        return dijkstra(graph, directed=True, indices=sources, return_predecessors=True)

    def _rows_for(self, sources: np.ndarray, reverse: bool = False):
        """(weight rows, length rows) as float32 with NaN where unreachable; also predecessor rows."""
        need_pred = not self.weight_is_length
        weight, pred = self._solve(sources, reverse, need_pred)
        weight = np.atleast_2d(weight)
        weight32 = _as_float32(weight)
        if self.weight_is_length:
            return weight32, weight32, pred
        length = path_lengths(np.atleast_2d(pred), self._out_slots if reverse else self._in_slots)
        length[~np.isfinite(weight)] = np.nan
        return weight32, length.astype(np.float32), pred

    def _build_all_pairs(self, cache_file: Path | None) -> None:
        if cache_file is not None and cache_file.is_file():
            with np.load(cache_file) as data:
                weight = data["weight"]
                length = weight if self.weight_is_length else data["length"]
            if weight.shape == (self.n, self.n):
                self.weight_matrix, self.length_matrix = weight, length
                self.loaded_from_cache = True
                return
        self.weight_matrix = np.empty((self.n, self.n), np.float32)
        self.length_matrix = (
            self.weight_matrix if self.weight_is_length else np.empty((self.n, self.n), np.float32)
        )
        block = max(1, BLOCK_ELEMENTS // max(self.n, 1))
        for start in range(0, self.n, block):
            sources = np.arange(start, min(start + block, self.n))
            weight32, length32, _ = self._rows_for(sources)
            self.weight_matrix[sources] = weight32
            if not self.weight_is_length:
                self.length_matrix[sources] = length32
        if cache_file is not None:
            self._save(cache_file)

    def _save(self, cache_file: Path) -> None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"weight": self.weight_matrix}
        if not self.weight_is_length:
            arrays["length"] = self.length_matrix
        # write to a temporary file then rename, so parallel runs never read a half-written cache
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=cache_file.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, cache_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ rows
    def row(self, node: int, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(weight, length_m) float32 rows from ``node`` (to ``node`` if ``reverse``); NaN = unreachable."""
        if self.all_pairs:
            if reverse:
                return self.weight_matrix[:, node], self.length_matrix[:, node]
            return self.weight_matrix[node], self.length_matrix[node]
        key = (reverse, int(node))
        cached = self._rows.get(key)
        if cached is not None:
            self._rows.move_to_end(key)
            return cached
        weight32, length32, pred = self._rows_for(np.array([node]), reverse)
        entry = (weight32[0], length32[0])
        self._rows[key] = entry
        if len(self._rows) > self.lru_size:
            self._rows.popitem(last=False)
        if pred is not None and not reverse:
            self._remember_pred(int(node), np.atleast_2d(pred)[0])
        return entry

    def bounded_row(self, node: int, limit: float, reverse: bool = False) -> np.ndarray:
        """Weights (s or m) from ``node`` (to ``node`` if ``reverse``) up to ``limit``, float64,
        inf beyond it and where unreachable: one ``scipy.sparse.csgraph.dijkstra`` run with
        ``limit`` (no predecessors, no path lengths), rounded to float32 as :meth:`row` stores
        its rows, so within the limit the floats are those of the whole row (the same
        relaxations). All-pairs tables: the matrix's row, inf beyond the limit."""
        if self.all_pairs:
            weight, _ = self.row(node, reverse)
            times = np.asarray(weight, dtype=np.float64)
            return np.where(times <= limit, times, np.inf)
        graph = self.csr_reverse if reverse else self.csr
        weight = dijkstra(
            graph, directed=True, indices=int(node), limit=limit if limit >= 0 else -1
        )
        return weight.astype(np.float32).astype(np.float64)  # inf stays inf

    def _remember_pred(self, node: int, pred: np.ndarray) -> None:
        self._preds[node] = pred
        if len(self._preds) > PRED_LRU_SIZE:
            self._preds.popitem(last=False)

    def pred_row(self, node: int) -> np.ndarray:
        """Predecessor row of the shortest-path tree from ``node`` (negative = root/unreachable)."""
        cached = self._preds.get(node)
        if cached is not None:
            self._preds.move_to_end(node)
            return cached
        _, pred = self._solve(np.array([node]), need_pred=True)
        pred = np.atleast_2d(pred)[0]
        self._remember_pred(node, pred)
        return pred

    def pair(self, origin: int, dest: int) -> tuple[float, float]:
        """(weight, length_m) of one pair; NaN when unreachable.

        All-pairs tables: the matrix cells. LRU tables: the cells of ``row(origin)`` when that
        row is kept, else :meth:`pair_search` (the same floats, without the whole row)."""
        if self.all_pairs:
            return float(self.weight_matrix[origin, dest]), float(self.length_matrix[origin, dest])
        cached = self._rows.get((False, int(origin)))
        if cached is not None:
            weight, length = cached
            return float(weight[dest]), float(length[dest])
        return self.pair_search(origin, dest)

    def pair_search(
        self, origin: int, dest: int, limit: float = math.inf, with_length: bool = True
    ) -> tuple[float, float]:
        """(weight, length_m) from ``origin`` to ``dest`` as ``row(origin)[dest]`` gives them
        (float32-rounded; NaN when unreachable, or when the weight is above ``limit``: the
        search then stops there), from Dijkstra runs that stop once ``dest`` is settled instead
        of one whole row. ``with_length`` False: the length is not worked out (NaN).

        ``scipy.sparse.csgraph.dijkstra`` is run from ``origin`` with a ``limit`` grown
        ``PAIR_LIMIT_GROWTH``-fold (from ``PAIR_FIRST_LIMIT_EDGES`` median edge weights, or from
        the last limit reached from ``origin``: searches are kept per source) until ``dest`` is
        within it, or until no edge leaves the settled nodes (unreachable). Within the limit the
        distances are those of the whole run (the same relaxations), and so is the shortest-path
        tree the length is read along (:func:`chain_length_m` sums its edges as
        :func:`path_lengths` does); ``tests/test_router_pair.py`` holds them equal. (Two equally
        fast paths could, in principle, be settled in another order by a shorter run and give
        the other one's length; never seen on the test networks.)
        """
        origin, dest = int(origin), int(dest)
        key = (origin, dest)
        found = self._pairs.get(key)
        if found is not None:
            return found if not found[0] > limit else (math.nan, math.nan)
        if origin == dest:
            return 0.0, 0.0
        dist, pred, beyond = self._search_until(origin, dest, limit)
        if beyond:
            return math.nan, math.nan  # not remembered: a larger limit may reach it
        weight = float(np.float32(dist[dest])) if np.isfinite(dist[dest]) else math.nan
        if not with_length and not self.weight_is_length:  # the time alone: no path walked
            return (weight, math.nan) if not weight > limit else (math.nan, math.nan)
        if math.isnan(weight) or self.weight_is_length:
            found = (weight, weight)
        else:
            nodes = [dest]
            node = dest
            while node != origin:
                node = int(pred[node])
                nodes.append(node)
            path = np.array(nodes[::-1], dtype=np.int64)
            _, _, keys, length_m = self._edges
            steps = length_m[np.searchsorted(keys, path[:-1] * self.n + path[1:])]
            found = (weight, float(np.float32(chain_length_m(steps))))
        if len(self._pairs) >= PAIR_MEMORY:
            self._pairs.clear()
        self._pairs[key] = found
        return found if not found[0] > limit else (math.nan, math.nan)

    def pair_within(self, origin: int, dest: int, limit: float) -> tuple[float, float]:
        """(weight, length_m) of one pair as :meth:`pair` gives them when the weight is at most
        ``limit``; (inf, inf) when it is beyond the limit (or ``dest`` is not reached within
        it: a path may exist further out), (NaN, NaN) when the search found ``dest``
        unreachable. LRU tables: :meth:`pair_search` stopped at the limit."""
        if self.all_pairs:
            weight, length = self.pair(origin, dest)
            return (math.inf, math.inf) if weight > limit else (weight, length)
        weight, length = self.pair_search(origin, dest, limit)
        if weight == weight:
            return weight, length
        found = self._pairs.get((int(origin), int(dest)))  # unreachable pairs are remembered
        if found is not None and found[0] != found[0]:
            return math.nan, math.nan
        return math.inf, math.inf

    def _search_until(
        self, origin: int, dest: int, max_limit: float = math.inf
    ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """(distances, predecessors or None, beyond) of a Dijkstra run from ``origin`` whose
        limit covers ``dest`` (or that reached every node it can); ``beyond``: ``dest`` is not
        within ``max_limit`` (the run stopped there)."""
        entry = self._partial.get(origin)
        if entry is not None:
            self._partial.move_to_end(origin)
            limit, dist, pred, exhausted = entry
            if exhausted or np.isfinite(dist[dest]):
                return dist, pred, False
            if limit >= max_limit:
                return dist, pred, True
            limit = min(limit * PAIR_LIMIT_GROWTH, max_limit)
        else:
            limit = min(self._first_limit, max_limit)
        u, v, _, _ = self._edges
        need_pred = not self.weight_is_length
        while True:
            if need_pred:
                dist, pred = dijkstra(
                    self.csr, directed=True, indices=origin, limit=limit, return_predecessors=True
                )
            else:
                dist, pred = dijkstra(self.csr, directed=True, indices=origin, limit=limit), None
            settled = np.isfinite(dist)
            exhausted = False
            if not settled[dest]:
                exhausted = not bool(np.any(settled[u] & ~settled[v]))
            if settled[dest] or exhausted or limit >= max_limit:
                break
            limit = min(limit * PAIR_LIMIT_GROWTH, max_limit)
        self._partial[origin] = (limit, dist, pred, exhausted)
        if len(self._partial) > PAIR_SOURCES:
            self._partial.popitem(last=False)
        return dist, pred, not (settled[dest] or exhausted)

    def lookup(self, origins: np.ndarray, dests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight, length_m) float64 arrays for paired origin/destination index arrays."""
        if self.all_pairs:
            return (
                self.weight_matrix[origins, dests].astype(float),
                self.length_matrix[origins, dests].astype(float),
            )
        weight = np.empty(origins.shape, float)
        length = np.empty(origins.shape, float)
        # group by whichever end has fewer distinct nodes: one Dijkstra per distinct node
        reverse = len(np.unique(dests)) < len(np.unique(origins))
        group, other = (dests, origins) if reverse else (origins, dests)
        flat_group, flat_other = group.ravel(), other.ravel()
        order = np.argsort(flat_group, kind="stable")
        sorted_group = flat_group[order]
        starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
        ends = np.r_[starts[1:], len(order)]
        flat_weight, flat_length = weight.reshape(-1), length.reshape(-1)
        for start, end in zip(starts, ends, strict=True):
            idx = order[start:end]
            row_weight, row_length = self.row(int(sorted_group[start]), reverse)
            flat_weight[idx] = row_weight[flat_other[idx]]
            flat_length[idx] = row_length[flat_other[idx]]
        return weight, length

    def path(self, origin: int, dest: int) -> list[int] | None:
        """Node indices origin..dest of the least-weight path, or None if unreachable."""
        if origin == dest:
            return [origin]
        pred = self.pred_row(origin)
        nodes = [dest]
        node = dest
        while node != origin:
            node = int(pred[node])
            if node < 0:
                return None
            nodes.append(node)
        nodes.reverse()
        return nodes

"""Which vehicles can possibly reach a pick-up in time: a grid of the vehicles' anchors.

Used by the batch options (:func:`~mobisim.services.drt_insertion_fast.fast_options`) and the
``approx_k`` approximation; the exact single-request search reads one row of drive times to the
pick-up for the whole fleet instead. The candidate search keeps a vehicle only if
``max(free, now) + drive(anchor → pick-up) <= latest pick-up``. Asking that of every vehicle costs
O(fleet) per request. This grid asks it only of the vehicles that are not ruled out by a
*valid lower bound* on the drive time:

    drive(a → b) >= straight_line(a, b) / speed_max_mps

where ``speed_max_mps`` is the largest straight-line speed of any edge of the routing profile
(edge chord / edge time, over every time-of-day period). It is a lower bound because a path's
time is the sum of its edges' times, each at least chord / ``speed_max_mps``, and the chords of
a path add up to at least the straight line from its start to its end (triangle inequality). A
vehicle can therefore make the pick-up only if its anchor lies within
``radius = (latest pick-up − now) × speed_max_mps`` of it; the grid hands back the vehicles of
the cells that touch that disc, and the exact bound decides among them. Nothing that could
serve the request is left out (``tests/test_drt_twins.py`` checks the candidates against the
whole fleet, and that a bound made invalid is caught).

The fleet's cell index lives on its :class:`~mobisim.services.drt_plan.DrtFleet` and is kept in
step by the vehicles' ``node`` setter, so a request costs O(vehicles near the pick-up), not
O(fleet).
"""

from __future__ import annotations

import math

import numpy as np

from mobisim.services.drt_plan import DrtFleet

#: relative margin added to the maximum speed: drive times are stored as float32 (relative
#: rounding 6e-8), so a stored time may be a hair below the exact edge sum
SPEED_MARGIN = 1e-5

#: grid cell side, m (a request looks at the cells touching a disc of radius wait × top speed)
CELL_M = 1000.0


class PickupGrid:
    """Nodes binned into square cells of ``cell_m`` metres, with the top speed that makes the
    straight line a lower bound of every drive time (m/s, margin included)."""

    def __init__(self, x_m: np.ndarray, y_m: np.ndarray, speed_max_mps: float, cell_m=CELL_M):
        self.x_m = np.asarray(x_m, dtype=float)
        self.y_m = np.asarray(y_m, dtype=float)
        self.speed_max_mps = float(speed_max_mps)
        self.cell_m = float(cell_m)
        self.x0, self.y0 = float(self.x_m.min()), float(self.y_m.min())
        col = np.floor((self.x_m - self.x0) / self.cell_m).astype(np.int64)
        row = np.floor((self.y_m - self.y0) / self.cell_m).astype(np.int64)
        self.n_cols = int(col.max()) + 1
        self.n_rows = int(row.max()) + 1
        self.cell_of_node = row * self.n_cols + col

    def candidates(self, fleet: DrtFleet, pickup: int, now_s: float, limit_s: float) -> list[int]:
        """Slots (sorted) of the fleet's vehicles that the straight-line bound does not rule out
        for a pick-up at node ``pickup`` by ``limit_s`` (s), seen at ``now_s``."""
        if limit_s < now_s:
            return []
        radius = (limit_s - now_s) * self.speed_max_mps
        cells = fleet.index_cells(self.cell_of_node)
        px, py = float(self.x_m[pickup]) - self.x0, float(self.y_m[pickup]) - self.y0
        size = self.cell_m
        c_lo = max(0, math.floor((px - radius) / size))
        c_hi = min(self.n_cols - 1, math.floor((px + radius) / size))
        r_lo = max(0, math.floor((py - radius) / size))
        r_hi = min(self.n_rows - 1, math.floor((py + radius) / size))
        if c_hi < c_lo or r_hi < r_lo:
            return []
        radius2 = radius * radius
        found: list[int] = []

        def touches(cell: int) -> bool:  # the cell's nearest point is within the radius
            row, col = divmod(cell, self.n_cols)
            dx = max(col * size - px, 0.0, px - (col + 1) * size)
            dy = max(row * size - py, 0.0, py - (row + 1) * size)
            return dx * dx + dy * dy <= radius2

        if (c_hi - c_lo + 1) * (r_hi - r_lo + 1) <= len(cells):
            for row in range(r_lo, r_hi + 1):
                for col in range(c_lo, c_hi + 1):
                    slots = cells.get(row * self.n_cols + col)
                    if slots and touches(row * self.n_cols + col):
                        found.extend(slots)
        else:  # fewer occupied cells than cells in the box: look at those
            for cell, slots in cells.items():
                if slots and touches(int(cell)):
                    found.extend(slots)
        found.sort()
        return found


def node_xy(network) -> tuple[np.ndarray, np.ndarray]:
    """Node coordinates (m, projected) of ``network``."""
    return network.nodes["x_m"].to_numpy(float), network.nodes["y_m"].to_numpy(float)


def dense_grid(network, times_s: np.ndarray, cell_m: float = CELL_M) -> PickupGrid | None:
    """The grid for all-pairs drive times ``times_s`` (s, inf/NaN = unreachable): the top speed
    is the largest straight line / drive time over every pair, so the bound holds by
    construction. None when some distinct points are 0 s apart (no bound)."""
    x, y = node_xy(network)
    speed = 0.0
    for start in range(0, len(x), 256):  # blocks of rows: memory stays small
        rows = slice(start, start + 256)
        chord = np.hypot(x[rows, None] - x[None, :], y[rows, None] - y[None, :])
        t = times_s[rows]
        ok = np.isfinite(t) & (chord > 0)
        if np.any(ok & (t <= 0)):
            return None
        if ok.any():
            speed = max(speed, float(np.max(chord[ok] / t[ok])))
    return PickupGrid(x, y, speed * (1 + SPEED_MARGIN), cell_m)


def router_grid(router, profile: str, cell_m: float = CELL_M) -> PickupGrid | None:
    """The grid for ``profile`` on ``router`` without all-pairs tables: the top speed is the
    largest edge chord / edge time over the profile's tables of every time-of-day period.
    None when an edge of non-zero chord takes 0 s."""
    x, y = node_xy(router.network)
    prof = router.profiles[profile]
    speed = 0.0
    for period in router.periods:
        table = router.table(profile, period.start_h * 3600.0)
        coo = table.csr.tocoo()
        u, v, weight = coo.row, coo.col, coo.data.astype(float)
        time_s = weight / (prof.speed_kmh / 3.6) if prof.speed_kmh is not None else weight
        chord = np.hypot(x[u] - x[v], y[u] - y[v])
        ok = chord > 0
        if np.any(time_s[ok] <= 0):
            return None
        if ok.any():
            speed = max(speed, float(np.max(chord[ok] / time_s[ok])))
    return PickupGrid(x, y, speed * (1 + SPEED_MARGIN), cell_m)

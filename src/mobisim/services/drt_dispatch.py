"""DRT dispatch and idle-vehicle policies (pluggable, chosen by name in the scenario file).

Every policy is registered under ``drt_dispatch`` or ``drt_idle`` in
:data:`mobisim.scenario.registry.POLICIES` (the one table of names).

``InsertionDispatch`` (``insertion``) gives each request the cheapest feasible insertion over the
whole fleet: the timing model, the limits and the cost are those of
:mod:`mobisim.services.drt_timing` (the readable reference), found fast by
:mod:`mobisim.services.drt_insertion_fast` (its twin, exact). A request is rejected only when no
vehicle can serve it within its limits, unless the approximation ``approx_candidates_k`` is set.
Idle policies say where an idle vehicle goes: ``StayPolicy``, ``ReturnToDepotPolicy``,
``ZoneDemandRebalancing``.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import numpy as np

from mobisim.scenario import registry
from mobisim.services.drt_insertion_fast import (
    DENSE_MAX_NODES,
    FLEET_ARRAYS_MIN,
    DenseDrive,
    DenseLegs,
    RouterDrive,
    dense_legs,
    fast_insert,
)
from mobisim.services.drt_plan import (
    DrtFleet,
    DrtRequest,
    DrtVehicle,
    Insertion,
    PlanStop,
    PlanWindows,
    drt_fleet,
    insert_stops,
    party_of,
    plan_windows,
)

__all__ = [
    "DENSE_MAX_NODES",
    "FLEET_ARRAYS_MIN",
    "DenseLegs",
    "DrtFleet",
    "DrtRequest",
    "DrtVehicle",
    "Insertion",
    "InsertionDispatch",
    "PlanStop",
    "PlanWindows",
    "ReturnToDepotPolicy",
    "StayPolicy",
    "ZoneDemandRebalancing",
    "dense_legs",
    "drt_fleet",
    "insert_stops",
    "known_policies",
    "party_of",
    "plan_windows",
    "resolve_policy",
]


class InsertionDispatch:
    """Cheapest feasible insertion over the fleet (exact; see the module docstring).

    Parameters
    ----------
    service : DrtService
        Gives ``router``, ``profile`` (routing profile name), ``dense`` (the profile's
        :class:`DenseLegs` or None), ``config`` (``stop_s``, ``approx_candidates_k``) and
        ``energy_ok(vehicle, nodes)`` (battery check).
    """

    def __init__(self, service):
        self.stop_s = float(service.config.stop_s)
        self.approx_k = service.config.approx_candidates_k
        self.energy_ok = service.energy_ok
        dense = service.dense
        self.drive = (
            DenseDrive(dense) if dense is not None else RouterDrive(service.router, service.profile)
        )

    def insert(
        self, request: DrtRequest, vehicles: list[DrtVehicle], now_s: float
    ) -> Insertion | None:
        """The cheapest feasible insertion of ``request`` at ``now_s`` (s), or None when no
        vehicle can serve it (with ``approx_candidates_k``: none of the K examined)."""
        return fast_insert(
            request, vehicles, now_s, self.drive, self.stop_s, self.energy_ok, self.approx_k
        )


# ---------------------------------------------------------------------- idle policies
class StayPolicy:
    """Idle vehicles stay where they are until dispatched."""

    recheck_s: float | None = None

    def __init__(self, service):
        self.service = service

    def note_request(self, node: int, now_s: float) -> None:
        """A request was made at ``node`` (index) at ``now_s`` (s); staying ignores it."""

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """Where the idle ``vehicle`` should drive at ``now_s`` (s): nowhere."""
        return None


class ReturnToDepotPolicy(StayPolicy):
    """Idle vehicles drive back to their depot (their starting node)."""

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The vehicle's depot node, unless it is there already."""
        return None if vehicle.node == vehicle.depot_node else vehicle.depot_node


class ZoneDemandRebalancing(StayPolicy):
    """Idle vehicles move toward zones with many recent requests per idle vehicle.

    The service area is cut into square zones of ``rebalance_zone_m`` (m); requests of the last
    ``rebalance_window_min`` count as demand. An idle vehicle moves to the zone with the most
    demand per idle vehicle there (itself counted as arriving) when that beats staying by at least
    one request (so vehicles do not shuttle between equal zones), and re-checks every
    ``rebalance_interval_min`` while idle.
    """

    #: a move must gain at least this many recent requests per idle vehicle (no ping-pong)
    MIN_GAIN = 1.0

    def __init__(self, service):
        super().__init__(service)
        cfg = service.config
        self.window_s = cfg.rebalance_window_min * 60.0
        self.recheck_s = cfg.rebalance_interval_min * 60.0
        nodes = service.ctx.network.nodes
        area = service.area_nodes
        x = nodes["x_m"].to_numpy()[area]
        y = nodes["y_m"].to_numpy()[area]
        size = float(cfg.rebalance_zone_m)
        cells = np.stack([np.floor(x / size), np.floor(y / size)], axis=1).astype(np.int64)
        keys, zone = np.unique(cells, axis=0, return_inverse=True)
        zone = zone.ravel()
        self.zone_of = np.full(len(nodes), -1, dtype=np.int64)
        self.zone_of[area] = zone
        centre_x, centre_y = (keys[:, 0] + 0.5) * size, (keys[:, 1] + 0.5) * size
        dist2 = (x - centre_x[zone]) ** 2 + (y - centre_y[zone]) ** 2
        order = np.lexsort((dist2, zone))
        first = np.unique(zone[order], return_index=True)[1]
        self.zone_node = area[order[first]]  # node nearest each zone's centre
        self.recent: deque[tuple[float, int]] = deque()
        self.demand: Counter[int] = Counter()

    def note_request(self, node: int, now_s: float) -> None:
        """Count a request at ``node`` (index) at ``now_s`` (s) in its zone's recent demand."""
        zone = int(self.zone_of[node])
        if zone >= 0:
            self.recent.append((now_s, zone))
            self.demand[zone] += 1

    def _forget(self, now_s: float) -> None:
        while self.recent and self.recent[0][0] < now_s - self.window_s:
            _, zone = self.recent.popleft()
            self.demand[zone] -= 1

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The node of the zone with most recent demand per idle vehicle, or None to stay."""
        self._forget(now_s)
        if not +self.demand:
            return None
        idle = Counter(
            int(self.zone_of[v.node])
            for v in self.service.vehicles
            if not v.plan and v is not vehicle
        )
        here = int(self.zone_of[vehicle.node])
        stay_score = self.demand.get(here, 0) / (1 + idle.get(here, 0)) if here >= 0 else -1.0
        zone, count = max(
            ((z, c / (1 + idle.get(z, 0))) for z, c in self.demand.items() if c > 0),
            key=lambda item: (item[1], -item[0]),
        )
        if zone == here or count < stay_score + self.MIN_GAIN:
            return None
        return int(self.zone_node[zone])


def known_policies(kind: str) -> list[str]:
    """Names a scenario may give for ``kind`` (``drt_dispatch`` or ``drt_idle``), sorted."""
    return sorted(registry.POLICIES.get(kind, {}))


def resolve_policy(kind: str, name: str) -> Any:
    """The policy class registered as ``name`` for ``kind`` (``drt_dispatch`` or ``drt_idle``)
    in :data:`mobisim.scenario.registry.POLICIES`; KeyError listing the known names otherwise."""
    if name not in registry.POLICIES.get(kind, {}):
        known = ", ".join(known_policies(kind))
        raise KeyError(f"unknown {kind} policy {name!r}; expected one of: {known}")
    return registry.policy(kind, name)

"""The network check before the run: can every service's vehicles and riders use its places?

For each service, every stop, station, depot and charger is snapped to a node as the service
will snap it, and that node must lie in the main strongly connected component (the largest one)
of the mode view its vehicles use (drive for shuttles, DRT, cars, vans and chargers; bike for
shared bikes and scooters): a node outside it can be reached but not left, or left but not
reached, or neither. Riders walk to stops and stations, so the node must also be in the walk
view's main component. Each fixed route's consecutive stops must be reachable in running order
on the drive view (loop back to the first stop; a line back along itself).

Findings (``Finding``, each names the service, the place, its key path, the snap distance and
the nearest usable node with its distance):

===================  ========  ===========================================================
problem              severity  what it means
===================  ========  ===========================================================
``not_on_network``   error     no node within ``network.max_snap_m``, an unknown place or node
``unreachable``      error     outside the main component of its vehicles' view
``route_order``      error     a fixed route cannot drive from one stop to the next
``walk_unreachable`` warning   riders cannot walk to it (outside the walk view's component)
``road_class``       warning   only motorway/trunk roads at the node, for walkers or cyclists
``far_snap``         warning   farther than ``network.check.far_snap_m`` from its node
``zone_unreachable`` warning   a free-floating zone's reference node is outside its view
``moved``            warning   moved to the nearest usable node (``move_to_usable: true``)
===================  ========  ===========================================================

With ``network.check.move_to_usable: true`` every place with an ``unreachable``,
``walk_unreachable`` or ``road_class`` finding is moved to its nearest usable node (the scenario
the run uses then gives it as ``node:``; its fingerprint changes) and reported as ``moved``.

Demand: for every service with fixed access points (stops, stations) the share of homes and of
destinations (the zone nodes of the network's places, weighted by place weight; homes are the
places of ``demand.synthetic.home_kind``, default residential) from which no access point lies
within the service's ``max_walk_m`` on the walk view; and for each view, the share outside its
main component (door-to-door services cannot serve them).

Only the network layer and the scenario's configuration are read: the service blocks are read
by their keys (``stops``, ``stations``, ``depots``, ``crews.depot``, ``zones``), so the check needs
no service module.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, dijkstra
from scipy.spatial import cKDTree

from mobisim.errors import NetworkError, ScenarioError
from mobisim.network.graph import Network
from mobisim.network.views import MOTORWAY, TRUNK, main_component

#: road classes walkers and cyclists may not be put on (a stop or station there is reported)
NOT_FOR_WALKERS_AND_CYCLISTS = MOTORWAY | TRUNK
#: problems that make the run impossible (errors before the run); the others are warnings
ERRORS = ("not_on_network", "unreachable", "route_order")
#: problems a ``move_to_usable`` check moves the place for
MOVABLE = ("unreachable", "walk_unreachable", "road_class")
#: longest walk to an access point when a service block has no ``max_walk_m``, m [T4]
DEFAULT_MAX_WALK_M = 400.0
#: the micromobility service's default longest walk to a docked device, m (A, DEFAULTS §6.2)
DOCKED_MAX_WALK_M = 300.0


@dataclass
class Snap:
    """Where one place of a service lands: its node, snap distance and whether it is usable.

    ``view`` is its vehicles' view, ``access`` the view riders reach it by ("" if none);
    ``usable_node`` / ``usable_m`` the nearest node its views can use and its distance from the
    place, m (the node itself and 0 when it is usable).
    """

    service: str
    kind: str
    name: str
    key: str
    view: str
    access: str
    node: int
    snap_m: float
    usable: bool
    usable_node: int
    usable_m: float
    road: str


@dataclass
class Finding:
    """One problem of one place (see the module docstring for ``problem`` and ``severity``)."""

    severity: str
    problem: str
    service: str
    name: str
    key: str
    node: int
    snap_m: float
    usable_node: int
    usable_m: float
    message: str


@dataclass
class NetworkCheck:
    """What the check found: every snap, the findings, demand coverage, and the scenario to run
    (the given one, or a copy with moved places)."""

    snaps: list[Snap] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    scenario: Any = None

    @property
    def errors(self) -> list[Finding]:
        """Findings that make the run impossible."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings the run goes on with."""
        return [f for f in self.findings if f.severity == "warning"]

    def raise_errors(self, file=None) -> None:
        """ScenarioError listing every error (key path and message), if there is one."""
        if self.errors:
            raise ScenarioError(file, [(f.key, f.message) for f in self.errors])

    def summary(self) -> dict[str, Any]:
        """Plain dict for the manifest and ``--json``: counts, findings, snaps, coverage."""
        return {
            "places": len(self.snaps),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "max_snap_m": max((s.snap_m for s in self.snaps), default=0.0),
            "findings": [asdict(f) for f in self.findings],
            "snaps": [asdict(s) for s in self.snaps],
            "coverage": self.coverage,
        }


class _Views:
    """Per view: main-component mask, graph for reachability, KD-trees of usable nodes."""

    def __init__(self, network: Network):
        self.network = network
        self._main: dict[str, np.ndarray] = {}
        self._graphs: dict[str, csr_matrix] = {}
        self._trees: dict[tuple, tuple[cKDTree, np.ndarray]] = {}
        self.roads = _node_roads(network)

    def graph(self, view: str) -> csr_matrix:
        """The view as a sparse matrix of edge lengths, m (parallel edges: the shortest)."""
        if view not in self._graphs:
            v = self.network.view(view)
            n = self.network.n_nodes
            order = np.lexsort((v.length_m, v.v, v.u))  # first of each (u, v): the shortest
            u, w, length = v.u[order], v.v[order], v.length_m[order]
            first = np.ones(len(u), dtype=bool)
            first[1:] = (u[1:] != u[:-1]) | (w[1:] != w[:-1])
            lengths = np.maximum(length[first], 1e-3)  # a zero-length edge still connects
            self._graphs[view] = csr_matrix((lengths, (u[first], w[first])), shape=(n, n))
        return self._graphs[view]

    def main(self, view: str) -> np.ndarray:
        """Boolean mask of the nodes in the view's largest strongly connected component."""
        if view not in self._main:
            self._main[view] = main_component(self.network.view(view))
        return self._main[view]

    def usable(self, views: tuple[str, ...], walkers: bool) -> np.ndarray:
        """Mask of the nodes in the main component of every view in ``views`` (and, for walkers
        and cyclists, with a road at the node other than motorway/trunk)."""
        mask = np.ones(self.network.n_nodes, dtype=bool)
        for view in views:
            mask &= self.main(view)
        if walkers:
            mask &= ~self.roads_forbidden()
        return mask

    def roads_forbidden(self) -> np.ndarray:
        """Mask of the nodes whose every road is a motorway or trunk road (or link)."""
        return np.array(
            [bool(r) and r <= NOT_FOR_WALKERS_AND_CYCLISTS for r in self.roads], dtype=bool
        )

    def nearest(self, views: tuple[str, ...], walkers: bool, x_m: float, y_m: float):
        """(node, distance m) of the usable node nearest to a projected point; (-1, nan) if none."""
        key = (views, walkers)
        if key not in self._trees:
            nodes = np.flatnonzero(self.usable(views, walkers))
            xy = self.network.nodes[["x_m", "y_m"]].to_numpy()[nodes]
            self._trees[key] = (cKDTree(xy) if len(nodes) else None, nodes)
        tree, nodes = self._trees[key]
        if tree is None:
            return -1, float("nan")
        dist_m, pos = tree.query([x_m, y_m])
        return int(nodes[pos]), float(dist_m)

    def reachable(self, view: str, origin: int, dest: int) -> bool:
        """Whether a path of ``view`` leads from node ``origin`` to node ``dest``."""
        if origin == dest:
            return True
        reached = breadth_first_order(
            self.graph(view), origin, directed=True, return_predecessors=False
        )
        return bool(np.isin(dest, reached))


def _node_roads(network: Network) -> list[frozenset[str]]:
    """Highway classes of the roads at each node (either direction)."""
    roads: list[set[str]] = [set() for _ in range(network.n_nodes)]
    index = network.node_index
    for a, b, data in network.graph.edges(data=True):
        highway = data.get("highway", "")
        classes = set(highway) if isinstance(highway, list) else {str(highway)}
        roads[index[a]] |= classes
        roads[index[b]] |= classes
    return [frozenset(r) for r in roads]


# ------------------------------------------------------------------------------ the places
@dataclass
class _Place:
    """One stop/station/depot/charger as the scenario gives it."""

    service: str
    kind: str
    key: str
    item: Any  # the StopConfig / StationConfig / DepotConfig / ChargingSiteConfig
    view: str  # its vehicles' view
    access: str  # how riders reach it ("" = nobody walks there)

    @property
    def walkers(self) -> bool:
        """Whether walkers or cyclists use the node (the motorway/trunk rule applies)."""
        return self.view in ("bike", "walk") or self.access in ("bike", "walk")

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(v for v in (self.view, self.access) if v)


def service_places(scenario) -> list[_Place]:
    """Every stop, station, depot and charger of the enabled services and of the energy block."""
    places: list[_Place] = []
    for block in scenario.enabled_services():
        key, kind = f"services.{block.name}", block.type

        def add(items, what, view, access, path, block=block):
            for i, item in enumerate(items or []):
                places.append(
                    _Place(block.name, what, f"{path}[{i}] ({item.name})", item, view, access)
                )

        if kind == "fixed_route":
            add(block.stops, "stop", "drive", "walk", f"{key}.stops")
        elif kind == "drt":
            if getattr(block, "stop_mode", "") == "stops":
                add(block.stops, "stop", "drive", "walk", f"{key}.stops")
            add(block.depots, "depot", "drive", "", f"{key}.depots")
        elif kind == "carsharing":
            if getattr(block, "scheme", "") != "free_floating":
                add(block.stations, "station", "drive", "walk", f"{key}.stations")
        elif kind == "micromobility":
            if getattr(block, "parking", "") == "docked":
                add(block.stations, "station", "bike", "walk", f"{key}.stations")
            crews = getattr(block, "crews", None)
            depot = getattr(crews, "depot", None)
            if depot is not None and getattr(crews, "policy", "none") != "none":
                places.append(
                    _Place(
                        block.name, "depot", f"{key}.crews.depot ({depot.name})", depot, "drive", ""
                    )
                )
    if scenario.energy.enabled:
        for i, site in enumerate(scenario.energy.charging_sites):
            who = ",".join(site.services) or "every service"
            places.append(
                _Place(
                    who, "charger", f"energy.charging_sites[{i}] ({site.name})", site, "drive", ""
                )
            )
    return places


class _Locator:
    """Node, snap distance and projected point of a place item, as the services place it."""

    def __init__(self, network: Network):
        self.network = network
        self.x_m = network.nodes["x_m"].to_numpy()
        self.y_m = network.nodes["y_m"].to_numpy()
        places = network.places
        self.places = {
            str(name): (int(node), float(lat), float(lon), float(snap_m))
            for name, node, lat, lon, snap_m in zip(
                places["name"], places["node"], places["lat"], places["lon"], places["snap_m"],
                strict=True,
            )
        }  # fmt: skip
        self._found: dict[tuple, tuple[int, float, float, float]] = {}

    def __call__(self, item) -> tuple[int, float, float, float]:
        """(node, snap_m, x_m, y_m of the point as given); NetworkError when it cannot be placed."""
        key = (item.node, item.place, item.lat, item.lon)
        if key not in self._found:
            self._found[key] = self._locate(item)
        return self._found[key]

    def _locate(self, item) -> tuple[int, float, float, float]:
        network = self.network
        if item.node is not None:
            if not 0 <= item.node < network.n_nodes:
                raise NetworkError(
                    f"node {item.node} is outside 0..{network.n_nodes - 1} of the network"
                )
            node = int(item.node)
            return node, 0.0, float(self.x_m[node]), float(self.y_m[node])
        if item.place is not None:
            if item.place not in self.places:
                network.place_node(item.place)  # NetworkError listing the known places
            node, lat, lon, snap_m = self.places[item.place]
        else:
            lat, lon = float(item.lat), float(item.lon)
            node, snap_m = network.snap(lat, lon)
        x_m, y_m = network.projector.to_xy_m([lat], [lon])
        return int(node), float(snap_m), float(x_m[0]), float(y_m[0])


def _road(roads: frozenset[str]) -> str:
    return "|".join(sorted(roads)) if roads else "(no road)"


def check_network(scenario, network: Network) -> NetworkCheck:
    """Check every service's places against the mode views (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        The validated scenario (services, energy sites, ``network.check`` settings, demand).
    network : Network
        Its built network (node indices, places, views).

    Returns a :class:`NetworkCheck`; its ``scenario`` is the one to run (places moved when
    ``network.check.move_to_usable`` is true). Raises nothing: call ``raise_errors``.
    """
    settings = scenario.network.check
    views = _Views(network)
    locate = _Locator(network)
    check = NetworkCheck(scenario=scenario)
    moves: dict[str, int] = {}  # key path -> node it moves to
    places = service_places(scenario)
    for place in places:
        label = f"{place.kind} '{place.item.name}' of {_who(place)}"
        try:
            node, snap_m, x_m, y_m = locate(place.item)
        except NetworkError as exc:
            check.findings.append(
                Finding("error", "not_on_network", place.service, place.item.name, place.key,
                        -1, float("nan"), -1, float("nan"), f"{label}: {exc}")
            )  # fmt: skip
            continue
        usable_mask = views.usable(place.views, place.walkers)
        usable_node, usable_m = views.nearest(place.views, place.walkers, x_m, y_m)
        ok = bool(usable_mask[node])
        if ok:
            usable_node, usable_m = node, snap_m
        roads = views.roads[node]
        check.snaps.append(
            Snap(place.service, place.kind, place.item.name, place.key, place.view, place.access,
                 node, round(snap_m, 1), ok, usable_node, round(usable_m, 1), _road(roads))
        )  # fmt: skip
        nearest = (
            f"nearest usable node: {usable_node} ({usable_m:.0f} m away)"
            if usable_node >= 0
            else "no usable node on the network"
        )
        problems: list[tuple[str, str]] = []
        if not views.main(place.view)[node]:
            problems.append(
                ("unreachable",
                 f"node {node} ({_road(roads)}) is outside the main strongly connected component "
                 f"of the {place.view} view: its vehicles cannot both reach and leave it")
            )  # fmt: skip
        if place.access and not views.main(place.access)[node]:
            problems.append(
                ("walk_unreachable",
                 f"node {node} is outside the main component of the {place.access} view: riders "
                 "cannot walk to it")
            )  # fmt: skip
        if place.walkers and roads and roads <= NOT_FOR_WALKERS_AND_CYCLISTS:
            problems.append(
                ("road_class",
                 f"node {node} is on {_road(roads)} only, a road walkers and cyclists may not use")
            )  # fmt: skip
        if snap_m > settings.far_snap_m:
            problems.append(
                ("far_snap",
                 f"it is {snap_m:.0f} m from its node {node} (network.check.far_snap_m "
                 f"{settings.far_snap_m:.0f} m): check its coordinates")
            )  # fmt: skip
        move = (
            settings.move_to_usable and usable_node >= 0 and any(p in MOVABLE for p, _ in problems)
        )
        for problem, text in problems:
            if move and problem in MOVABLE:
                continue
            severity = "error" if problem in ERRORS else "warning"
            check.findings.append(
                Finding(severity, problem, place.service, place.item.name, place.key, node,
                        round(snap_m, 1), usable_node, round(usable_m, 1),
                        f"{label} (snapped {snap_m:.0f} m): {text}; {nearest}")
            )  # fmt: skip
        if move:
            reasons = ", ".join(p for p, _ in problems if p in MOVABLE)
            moves[place.key] = usable_node
            check.findings.append(
                Finding("warning", "moved", place.service, place.item.name, place.key, node,
                        round(snap_m, 1), usable_node, round(usable_m, 1),
                        f"{label}: moved from node {node} ({reasons}) to the nearest usable node "
                        f"{usable_node}, {usable_m:.0f} m from where it was given "
                        "(network.check.move_to_usable)")
            )  # fmt: skip
    if moves:
        check.scenario = _moved(scenario, places, moves)
    _check_routes(check, check.scenario, locate, views)
    _check_zones(check, check.scenario, network, views)
    check.coverage = _coverage(check.scenario, network, views, locate)
    return check


def _who(place: _Place) -> str:
    if place.kind == "charger":
        return f"the charging sites ({place.service})"
    return f"service '{place.service}'"


def _moved(scenario, places: list[_Place], moves: dict[str, int]):
    """A copy of ``scenario`` with each moved place given as ``node:`` (lat/lon/place cleared)."""
    scenario = scenario.model_copy(deep=True)
    moved_places = service_places(scenario)  # the same order, in the copy
    for original, place in zip(places, moved_places, strict=True):
        node = moves.get(original.key)
        if node is None:
            continue
        new = place.item.model_copy(update={"node": node, "lat": None, "lon": None, "place": None})
        holder, attr, index = _holder(scenario, place)
        items = getattr(holder, attr)
        if index is None:
            object.__setattr__(holder, attr, new)  # crews.depot: one item, no re-validation
        else:
            items[index] = new
    return scenario


def _holder(scenario, place: _Place):
    """(object, attribute, list index or None) holding ``place.item`` in ``scenario``."""
    if place.kind == "charger":
        return scenario.energy, "charging_sites", scenario.energy.charging_sites.index(place.item)
    block = next(b for b in scenario.enabled_services() if b.name == place.service)
    if place.kind == "depot" and block.type == "micromobility":
        return block.crews, "depot", None
    attr = {"stop": "stops", "station": "stations", "depot": "depots"}[place.kind]
    items = getattr(block, attr)
    return block, attr, next(i for i, it in enumerate(items) if it is place.item)


def _check_routes(check: NetworkCheck, scenario, locate: _Locator, views: _Views) -> None:
    """``route_order`` errors: consecutive stops of each fixed route not reachable in order."""
    for block in scenario.enabled_services():
        if block.type != "fixed_route":
            continue
        try:
            nodes = [locate(stop)[0] for stop in block.stops]
        except NetworkError:
            continue  # already a not_on_network error
        n = len(nodes)
        back = [0] if block.shape == "loop" else list(range(n - 2, -1, -1))
        for a, b in itertools.pairwise([*range(n), *back]):
            if not views.reachable("drive", nodes[a], nodes[b]):
                stop_a, stop_b = block.stops[a].name, block.stops[b].name
                check.findings.append(
                    Finding("error", "route_order", block.name, stop_b, f"services.{block.name}.stops",
                            nodes[b], float("nan"), -1, float("nan"),
                            f"service '{block.name}': no drive path from stop '{stop_a}' "
                            f"(node {nodes[a]}) to the next stop '{stop_b}' (node {nodes[b]}); "
                            "move one of them, or the stops' order (a one-way street or a "
                            "dead end)")
                )  # fmt: skip


def _check_zones(check: NetworkCheck, scenario, network: Network, views: _Views) -> None:
    """``zone_unreachable`` warnings: a free-floating zone whose reference node is off its view."""
    for block in scenario.enabled_services():
        if block.type == "micromobility" and getattr(block, "parking", "") == "dockless":
            if block.zones is None:
                continue  # default zones leave such places out and say so (default_zones)
            view = "bike"
        elif block.type == "carsharing" and getattr(block, "scheme", "") == "free_floating":
            view = "drive"
        else:
            continue
        zones = block.zones
        names = list(zones) if zones is not None else list(network.places["name"])
        main = views.main(view)
        for name in names:
            try:
                node = network.place_node(name)
            except NetworkError:
                continue  # the service names it with its key path when it starts
            if not main[node]:
                check.findings.append(
                    Finding("warning", "zone_unreachable", block.name, name,
                            f"services.{block.name}.zones.{name}", node, 0.0, -1, float("nan"),
                            f"service '{block.name}': zone '{name}' has its node {node} outside "
                            f"the main component of the {view} view; its vehicles start there "
                            "and may never be used")
                )  # fmt: skip


def _zone_weights(scenario, network: Network) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Zone nodes of every place, place weights, and which places are homes."""
    home_kind = "residential"
    synthetic = getattr(scenario.demand, "synthetic", None)
    if synthetic is not None:
        home_kind = getattr(synthetic, "home_kind", home_kind)
    zones = [network.zone_nodes(name) for name in network.places["name"]]
    weights = network.places["weight"].to_numpy(dtype=float)
    homes = (network.places["kind"] == home_kind).to_numpy()
    return zones, weights, homes


def _share(zones, weights, mask_of_bad: np.ndarray, which: np.ndarray) -> float | None:
    """Place-weighted share of zone nodes where ``mask_of_bad`` holds, over places ``which``."""
    total, bad = 0.0, 0.0
    for nodes, weight, used in zip(zones, weights, which, strict=True):
        if used and len(nodes) and weight > 0:
            total += weight
            bad += weight * float(mask_of_bad[nodes].mean())
    return None if total == 0 else round(float(bad / total), 4)


def _coverage(scenario, network: Network, views: _Views, locate: _Locator) -> list[dict[str, Any]]:
    """Shares of homes and destinations out of reach, per view and per service's access points."""
    if len(network.places) == 0:
        return []
    zones, weights, homes = _zone_weights(scenario, network)
    rows = []
    for view in ("drive", "bike", "walk"):
        outside = ~views.main(view)
        rows.append(
            {"what": f"{view} view", "service": "", "max_walk_m": None,
             "homes_out_of_reach": _share(zones, weights, outside, homes),
             "destinations_out_of_reach": _share(zones, weights, outside, ~homes)}
        )  # fmt: skip
    walk = views.graph("walk")
    by_service: dict[str, list[int]] = {}
    for place in service_places(scenario):
        if place.access != "walk":
            continue
        try:
            by_service.setdefault(place.service, []).append(locate(place.item)[0])
        except NetworkError:
            continue  # already a not_on_network error
    for block in scenario.enabled_services():
        nodes = by_service.get(block.name)
        if not nodes:
            continue
        max_walk_m = getattr(block, "max_walk_m", None)
        if max_walk_m is None:  # docked devices: 300 m (the micromobility default), else [T4]
            max_walk_m = DOCKED_MAX_WALK_M if block.type == "micromobility" else DEFAULT_MAX_WALK_M
        dist_m = dijkstra(
            walk, directed=True, indices=sorted(set(nodes)), min_only=True, limit=max_walk_m
        )
        far = ~np.isfinite(dist_m)
        rows.append(
            {"what": "access points", "service": block.name, "max_walk_m": float(max_walk_m),
             "homes_out_of_reach": _share(zones, weights, far, homes),
             "destinations_out_of_reach": _share(zones, weights, far, ~homes)}
        )  # fmt: skip
    return rows

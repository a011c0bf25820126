"""Intermodal chains: two legs, each judged by its own service, with one transfer between.

The commuter's story of a chain (``chains.enabled``)::

    at departure, for the transfer points of every main service (its stops; a door-to-door
    DRT: its area's nodes) nearest the origin, ask the access services (shared devices,
    one-way car-sharing) for a ride origin -> that point, and the main service for its offer
    from there: the chain offer is their sum, plus one transfer penalty;
    if the chain is chosen: ride the access vehicle to the point (its service parks it there:
    a dock, the dockless node, the station nearest it, so it stays in its fleet), ask the main
    service again from there (its own judgement at that moment), ride it, walk on.

Two more kinds have the same two-leg shape (:class:`ChainPlan`: a first leg, then a second
asked again at the transfer point): ``line_transfers`` (a line to a stop another line serves,
then that line) and ``park_and_ride`` (the own car to a site with a free space, then a main
service; the way back: a main service to the site, then the car).

Each service judges its own leg; the chain adds nothing but the sum. A failed leg (the device
taken meanwhile, the main service refusing at the stop) makes the commuter fall back down the
ranking from where they stand, as any failed ride does. The second leg's wait is quoted at
departure from the stop; the commuter reaches the stop later, so the quote is an estimate.

:func:`chain_offers` is the readable reference of the device chains and line transfers;
:class:`ChainComposer` gives the same offers faster and adds park-and-ride (whose site spaces
are run state, SimPy containers).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import simpy

from mobisim.errors import NetworkError, ScenarioError
from mobisim.scenario.chains_config import ChainsConfig
from mobisim.services.base import Offer, Service, Trip
from mobisim.services.car import CAR_STATE
from mobisim.units import min_to_s

#: Offer.mode of every chain (its value of time: the default, bus and rail [T8])
CHAIN_MODE = "chain"
#: ``Service.mode`` of the device services asked for the access leg (services.micromobility)
ACCESS_SERVICE_MODE = "micromobility"
#: car-sharing schemes whose car may be left at the transfer point's station (a round-trip car
#: must come back to where it was taken, so it cannot be an access leg)
CARSHARE_ACCESS_SCHEMES = ("one_way", "free_floating")
#: ``Service.type_name`` of the own car driven to a park-and-ride site
PRIVATE_CAR_TYPE = "private_car"
#: ``trip.tour_state`` key: the index of the park-and-ride site where the tour's car stands
PARK_AND_RIDE_STATE = "park_and_ride"
#: ``trip.tour_state[CAR_STATE]`` of the private car being with the person (services.car)
WITH_PERSON = "with_person"


@dataclass(slots=True)
class ParkAndRide:
    """A park-and-ride site: its node and its spaces (a SimPy container, level = cars parked)."""

    name: str
    node: int
    parked: simpy.Container

    def has_space(self) -> bool:
        """Is a space free (no car is offered a full site)?"""
        return self.parked.level < self.parked.capacity


#: stops of each main service tried as the transfer point: the nearest to the origin (A)
CANDIDATE_STOPS = 3


@dataclass(slots=True)
class ChainPlan:
    """What a chain offer holds (``Offer.handle``): its two services and their own offers."""

    access_service: str
    access_trip: Trip  # origin -> the stop
    access_offer: Offer
    main_service: str
    stop_node: int
    main_offer: Offer  # quoted at departure, from the stop
    #: park-and-ride: the site's index in ChainComposer.sites (-1: none); ``fetch_car`` on the
    #: way back (the line to the site first, then the car)
    park_site: int = -1
    fetch_car: bool = False


def chain_name(access_service: str, main_service: str) -> str:
    """The ``service`` label of a chain offer: ``<access>+<main>``."""
    return f"{access_service}+{main_service}"


def access_services(services: list[Service], access_modes: set[str]) -> list[Service]:
    """The services asked for an access leg, in scenario order: every shared-device service,
    and every one-way or free-floating car-sharing service whose mode is in ``access_modes``."""
    return [
        s
        for s in services
        if s.mode == ACCESS_SERVICE_MODE
        or (
            getattr(s, "type_name", "") == "carsharing"
            and s.config.scheme in CARSHARE_ACCESS_SCHEMES
            and s.mode in access_modes
        )
    ]


def transfer_nodes(service: Service) -> np.ndarray:
    """The nodes where a chain may change onto ``service`` (sorted, unique): its stops (a
    ``fixed_route``/``transit`` line, a DRT with stops or virtual stops), the nodes of its
    service area (a door-to-door DRT: ``area_nodes``), none for a service without either."""
    stops = getattr(service, "stop_nodes", None)
    if stops is None:
        stops = getattr(service, "area_nodes", None)
    if stops is None:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.asarray(stops, dtype=np.int64))


def chain_offers(
    config: ChainsConfig, services: list[Service], trip: Trip, now_s: float
) -> list[Offer]:
    """The available chain offers of ``trip`` at ``now_s`` (s after midnight): the readable
    reference of :class:`ChainComposer` (which gives the same offers, faster).

    For every main service (not a device service, with :func:`transfer_nodes`, the origin not one
    of them: there it serves from the door): its ``CANDIDATE_STOPS`` transfer nodes nearest the
    origin (straight line, within ``max_access_m``); at each, the main service's offer from the
    stop (of a mode in ``main_modes``) and every device service's offer origin -> stop (ride at
    least ``min_access_m``, at most ``max_access_m``); the best chain (least door-to-door time,
    s) per (device service, main service) pair.
    """
    access_modes, main_modes = set(config.access_modes), set(config.main_modes)
    access_legs = access_services(services, access_modes)
    allowed = trip.allowed_modes
    nodes = services[0].ctx.network.nodes
    x_m, y_m = nodes["x_m"].to_numpy(), nodes["y_m"].to_numpy()
    best: dict[tuple[str, str], Offer] = {}
    for main_service in services:
        stops = transfer_nodes(main_service)
        if main_service.mode == ACCESS_SERVICE_MODE or stops.size == 0:
            continue
        if trip.origin_node in stops:
            continue
        crow_m = np.hypot(x_m[stops] - x_m[trip.origin_node], y_m[stops] - y_m[trip.origin_node])
        order = np.argsort(crow_m, kind="stable")[:CANDIDATE_STOPS]
        near = [int(stops[i]) for i in order if crow_m[i] <= config.max_access_m]
        for stop in near:
            if stop == trip.dest_node:
                continue
            main = _best(
                main_service.offers(
                    dataclasses.replace(trip, origin_node=stop, tour_state={}), now_s
                ),
                main_modes,
                allowed,
                0.0,
                math.inf,
            )
            if main is None:
                continue
            to_stop = dataclasses.replace(trip, dest_node=stop, tour_state={})
            for service in access_legs:
                access = _best(
                    service.offers(to_stop, now_s),
                    access_modes,
                    allowed,
                    config.min_access_m,
                    config.max_access_m,
                )
                if access is None:
                    continue
                plan = ChainPlan(service.name, to_stop, access, main_service.name, stop, main)
                chain = _sum(plan, config)
                key = (service.name, main_service.name)
                if key not in best or chain.door_to_door_s < best[key].door_to_door_s:
                    best[key] = chain
    if config.line_transfers:
        for first, second, shared in transfer_pairs(services, main_modes):
            for stop in shared:
                if stop in (trip.origin_node, trip.dest_node):
                    continue
                to_stop = dataclasses.replace(trip, dest_node=stop, tour_state={})
                ride_1 = _best(first.offers(to_stop, now_s), main_modes, allowed, 0.0, math.inf)
                if ride_1 is None:
                    continue
                from_stop = dataclasses.replace(trip, origin_node=stop, tour_state={})
                ride_2 = _best(second.offers(from_stop, now_s), main_modes, allowed, 0.0, math.inf)
                if ride_2 is None:
                    continue
                plan = ChainPlan(first.name, to_stop, ride_1, second.name, stop, ride_2)
                _keep(best, (first.name, second.name), _sum(plan, config))
    return list(best.values())


def transfer_pairs(
    services: list[Service], main_modes: set[str]
) -> list[tuple[Service, Service, list[int]]]:
    """(first line, second line, the stop nodes both serve, sorted) of every ordered pair of
    main services with stops (``stop_nodes``; not a door-to-door DRT) that share a stop, in
    scenario order; a line's mode is judged by its offers, so ``main_modes`` filters at offer
    time, except for services whose ``mode`` is a device's."""
    lines = [
        (s, set(np.asarray(s.stop_nodes, dtype=np.int64).tolist()))
        for s in services
        if s.mode != ACCESS_SERVICE_MODE and getattr(s, "stop_nodes", None) is not None
    ]
    pairs = []
    for first, first_stops in lines:
        for second, second_stops in lines:
            shared = sorted(first_stops & second_stops)
            if first is not second and shared:
                pairs.append((first, second, shared))
    return pairs


def _keep(best: dict[tuple[str, str], Offer], key: tuple[str, str], chain: Offer) -> None:
    """Keep ``chain`` as the best of ``key`` unless one as fast (door to door, s) is kept."""
    if key not in best or chain.door_to_door_s < best[key].door_to_door_s:
        best[key] = chain


class ChainComposer:
    """:func:`chain_offers`, fast: the same offers in the same order (tested on random trips).

    Built once per run: the device services, the main services with their transfer nodes (sorted)
    and the nodes' coordinates (m). Per trip: the straight lines to every transfer node in one
    array operation; the device services asked once per stop (several lines share a stop), and
    only at a stop where the main service has an offer. Services' offers have no side effects,
    so asking fewer times changes nothing.
    """

    def __init__(self, config: ChainsConfig, services: list[Service]) -> None:
        self.config = config
        self.access_modes, self.main_modes = set(config.access_modes), set(config.main_modes)
        self.access_services = access_services(services, self.access_modes)
        mains = []
        for service in services:
            stops = transfer_nodes(service)
            if service.mode != ACCESS_SERVICE_MODE and stops.size:
                mains.append((service, stops))
        self.mains = mains
        self.all_stops = (
            np.unique(np.concatenate([stops for _, stops in mains]))
            if mains
            else np.zeros(0, dtype=np.int64)
        )
        # per main service: its stops' positions in all_stops, and its stops as a set
        self.positions = [np.searchsorted(self.all_stops, stops) for _, stops in mains]
        self.stop_sets = [frozenset(stops.tolist()) for _, stops in mains]
        if services:
            nodes = services[0].ctx.network.nodes
            self.x_m, self.y_m = nodes["x_m"].to_numpy(), nodes["y_m"].to_numpy()
        self.stops_x_m = self.x_m[self.all_stops] if mains else None
        self.stops_y_m = self.y_m[self.all_stops] if mains else None
        self.car = next((s for s in services if s.type_name == PRIVATE_CAR_TYPE), None)
        self.sites = _sites(config, services) if config.park_and_ride and services else []
        #: origin node -> its candidate stops per main service (:meth:`_near`)
        self._near_by_origin: dict[int, list[tuple[Service, list[int]]]] = {}
        self.pairs = transfer_pairs(services, self.main_modes) if config.line_transfers else []

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """The available chain offers of ``trip`` at ``now_s`` (s after midnight)."""
        best = self._device_chains(trip, now_s) if self.access_services else {}
        if self.pairs:
            self._line_transfers(trip, now_s, best)
        if self.sites and self.car is not None:
            self._park_and_ride(trip, now_s, best)
        return list(best.values())

    def _park_and_ride(self, trip: Trip, now_s: float, best: dict) -> None:
        """Add the park-and-ride chains to ``best``: on a tour's first leg, the own car to every
        site with a free space, then each main service from there; on a later leg of a tour
        whose car stands at a site, each main service to the site, then the car on."""
        car, allowed, modes = self.car, trip.allowed_modes, self.main_modes
        site_index = trip.tour_state.get(PARK_AND_RIDE_STATE)
        if site_index is None and trip.leg_index > 0:
            return  # the car stayed at home (or is with the person: its own offer drives on)
        for index, site in enumerate(self.sites):
            if site_index is not None and index != site_index:
                continue
            if site.node in (trip.origin_node, trip.dest_node):
                continue
            if site_index is None and not site.has_space():
                continue  # full: not offered
            to_site, from_site = (
                _moved(trip, dest_node=site.node),
                _moved(trip, origin_node=site.node),
            )
            if site_index is not None:  # the car waits at the site for its driver
                from_site.tour_state[CAR_STATE] = WITH_PERSON
            drive_trip = to_site if site_index is None else from_site
            drive = _best(car.offers(drive_trip, now_s), {car.mode}, allowed, 0.0, math.inf)
            if drive is None:
                continue
            for main_service, _ in self.mains:
                ride_trip = from_site if site_index is None else to_site
                ride = _best(main_service.offers(ride_trip, now_s), modes, allowed, 0.0, math.inf)
                if ride is None:
                    continue
                if site_index is None:
                    plan = ChainPlan(
                        car.name, to_site, drive, main_service.name, site.node, ride, index
                    )
                else:
                    plan = ChainPlan(
                        main_service.name, to_site, ride, car.name, site.node, drive, index, True
                    )
                _keep(best, (plan.access_service, plan.main_service), _sum(plan, self.config))

    def _line_transfers(self, trip: Trip, now_s: float, best: dict) -> None:
        """Add the line -> line chains to ``best``; each line asked once per stop and trip."""
        allowed, modes = trip.allowed_modes, self.main_modes
        to_stop: dict[tuple[str, int], tuple[Trip, Offer | None]] = {}
        from_stop: dict[tuple[str, int], Offer | None] = {}
        for first, second, shared in self.pairs:
            for stop in shared:
                if stop == trip.origin_node or stop == trip.dest_node:
                    continue
                ride_1 = to_stop.get((first.name, stop))
                if ride_1 is None:
                    leg_trip = _moved(trip, dest_node=stop)
                    offer = _best(first.offers(leg_trip, now_s), modes, allowed, 0.0, math.inf)
                    ride_1 = to_stop[(first.name, stop)] = (leg_trip, offer)
                leg_trip, offer_1 = ride_1
                if offer_1 is None:
                    continue
                key_2 = (second.name, stop)
                if key_2 not in from_stop:
                    offers = second.offers(_moved(trip, origin_node=stop), now_s)
                    from_stop[key_2] = _best(offers, modes, allowed, 0.0, math.inf)
                offer_2 = from_stop[key_2]
                if offer_2 is None:
                    continue
                plan = ChainPlan(first.name, leg_trip, offer_1, second.name, stop, offer_2)
                _keep(best, (first.name, second.name), _sum(plan, self.config))

    def _device_chains(self, trip: Trip, now_s: float) -> dict[tuple[str, str], Offer]:
        """The device -> main service chains, best per (device service, main service)."""
        best: dict[tuple[str, str], Offer] = {}
        if not self.mains:
            return best
        config, allowed = self.config, trip.allowed_modes
        if allowed is not None and not allowed & self.access_modes:
            return best
        access_at: dict[int, list[tuple[Service, Trip, Offer]]] = {}
        from_stop: dict[int, Trip] = {}
        for main_service, near in self._near(trip.origin_node):
            for stop in near:
                if stop == trip.dest_node:
                    continue
                leg_trip = from_stop.get(stop)
                if leg_trip is None:
                    leg_trip = from_stop[stop] = _moved(trip, origin_node=stop)
                main = _best(
                    main_service.offers(leg_trip, now_s),
                    self.main_modes,
                    allowed,
                    0.0,
                    math.inf,
                )
                if main is None:
                    continue
                accesses = access_at.get(stop)
                if accesses is None:
                    accesses = access_at[stop] = self._accesses(trip, stop, now_s)
                for service, to_stop, access in accesses:
                    plan = ChainPlan(service.name, to_stop, access, main_service.name, stop, main)
                    _keep(best, (service.name, main_service.name), _sum(plan, config))
        return best

    def _near(self, origin: int) -> list[tuple[Service, list[int]]]:
        """(main service, its ``CANDIDATE_STOPS`` stops nearest node ``origin`` within
        ``max_access_m``, nearest first) of every main service not serving ``origin`` itself;
        worked out once per origin (straight lines, m)."""
        near = self._near_by_origin.get(origin)
        if near is None:
            crow_all = np.hypot(
                self.stops_x_m - self.x_m[origin], self.stops_y_m - self.y_m[origin]
            )
            near = []
            for (service, stops), positions, stop_set in zip(
                self.mains, self.positions, self.stop_sets, strict=True
            ):
                if origin in stop_set:
                    continue
                crow_m = crow_all[positions]
                order = np.argsort(crow_m, kind="stable")[:CANDIDATE_STOPS]
                kept = [int(stops[i]) for i in order if crow_m[i] <= self.config.max_access_m]
                near.append((service, kept))
            self._near_by_origin[origin] = near
        return near

    def _accesses(self, trip: Trip, stop: int, now_s: float) -> list[tuple[Service, Trip, Offer]]:
        """(device service, the trip origin -> ``stop``, its usable offer) of every device
        service with one, in scenario order."""
        to_stop = _moved(trip, dest_node=stop)
        found = []
        for service in self.access_services:
            access = _best(
                service.offers(to_stop, now_s),
                self.access_modes,
                trip.allowed_modes,
                self.config.min_access_m,
                self.config.max_access_m,
            )
            if access is not None:
                found.append((service, to_stop, access))
        return found


def _sites(config: ChainsConfig, services: list[Service]) -> list[ParkAndRide]:
    """The ``chains.park_and_ride`` sites on the network, each with an empty car park."""
    network, env = services[0].ctx.network, services[0].ctx.env
    sites, problems = [], []
    for i, site in enumerate(config.park_and_ride):
        try:
            node = network.place_node(site.place)
        except NetworkError as exc:
            problems.append((f"chains.park_and_ride[{i}].place", str(exc)))
            continue
        sites.append(ParkAndRide(site.name, node, simpy.Container(env, capacity=site.spaces)))
    if problems:
        raise ScenarioError(None, problems)
    return sites


def _moved(trip: Trip, origin_node: int | None = None, dest_node: int | None = None) -> Trip:
    """``trip`` from ``origin_node`` / to ``dest_node`` with an empty tour state (a leg of a
    chain binds nothing); ``dataclasses.replace`` without its cost."""
    return Trip(
        trip.trip_id,
        trip.person_id,
        trip.group,
        trip.purpose,
        trip.origin_node if origin_node is None else origin_node,
        trip.dest_node if dest_node is None else dest_node,
        trip.depart_s,
        trip.party_size,
        trip.car_available,
        trip.allowed_modes,
        trip.tour_id,
        trip.leg_index,
        {},
    )


def _best(
    offers: list[Offer],
    modes: set[str],
    allowed: frozenset[str] | None,
    min_m: float,
    max_m: float,
) -> Offer | None:
    """The available offer of ``modes`` (and ``allowed``) riding ``min_m`` .. ``max_m`` m with the
    least door-to-door time (s); None if there is none."""
    usable = [
        o
        for o in offers
        if o.available
        and o.mode in modes
        and (allowed is None or o.mode in allowed)
        and min_m <= o.distance_m <= max_m
    ]
    return min(usable, key=lambda o: o.door_to_door_s) if usable else None


def _sum(plan: ChainPlan, config: ChainsConfig) -> Offer:
    """The chain offer: the legs' times, distances and fares added (s, m, KRW)."""
    a, m = plan.access_offer, plan.main_offer
    return Offer(
        service=chain_name(plan.access_service, plan.main_service),
        mode=CHAIN_MODE,
        available=True,
        access_walk_m=a.access_walk_m,
        access_walk_s=a.access_walk_s + a.egress_walk_s + m.access_walk_s,  # to device, to stop
        wait_s=a.wait_s + m.wait_s,
        in_vehicle_s=a.in_vehicle_s + m.in_vehicle_s,
        egress_walk_m=m.egress_walk_m,
        egress_walk_s=m.egress_walk_s,
        distance_m=a.distance_m + m.distance_m,
        fare_krw=a.fare_krw + m.fare_krw,
        access_node=a.access_node,
        egress_node=m.egress_node,
        handle=plan,
        penalty_ivt_s=min_to_s(config.transfer_penalty_min),
    )


def is_chain(offer: Offer) -> bool:
    """Is ``offer`` an intermodal chain (made by :func:`chain_offers`)?"""
    return isinstance(offer.handle, ChainPlan)

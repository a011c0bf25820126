"""Fixed-route services: autonomous shuttles and conventional buses calling at stops in order.

A route is an ordered list of stops, run as a ``loop`` (s0 → s1 → … → s(n-1) → s0) or as a
``line`` run back and forth (s0 → … → s(n-1), then s(n-1) → … → s0). One *run* is one full cycle
from the first stop back to it; vehicles drive the road path between stops on the router profile
named after the service (drive view, speeds capped at ``speed_cap_kmh``).

The operator's story: at each departure time (a timetable, or every ``headway_min`` within the
service hours) a vehicle waiting at the first stop is taken from the depot queue (a SimPy
priority store: first come, first out; with batteries, the least charged vehicle first, so a
fleet runs its vehicles down one after the other and they charge in turn instead of all at once;
the departure waits if none is back yet) and makes one run. At every stop it opens its doors:
riders for this stop alight, then the queue of that stop and direction boards first come, first
served while seats (a SimPy container) are free; those who do not fit stay and are logged as
``denied_boarding``. The dwell lasts ``dwell_fixed_s`` plus ``dwell_per_pax_s`` per person
boarding or alighting. At a terminal the vehicle lays over ``layover_min``; at the end of a run it
joins the depot queue again. Riders board only at the moment the doors open.

The rider's story: walk to the boarding stop, join its queue, and either board a vehicle or give
up after ``max_wait_min`` (outcome ``gave_up_max_wait``); after boarding, ride to the alighting
stop. A ride does not continue past the end of a run (the vehicle lays over there).

Offers pick, among the stops within ``max_walk_m`` of the origin and of the destination, the
boarding/alighting pair with the least door-to-door time, walking weighted 1.5 × [T11]. The
expected wait is the time to the next scheduled passage with a timetable, half the headway
otherwise (or the time to the first passage before the service starts).

Energy (when the run simulates it and the vehicle type is electric): each vehicle carries a
battery; legs and stands draw their energy (mobisim.energy.consumption, the same formulas the
energy accounting applies to the events). At the end of a run, a vehicle below
``energy.charge_below_share``, or without enough charge for one more full run (at capacity) plus
``energy.reserve_share``, leaves service: it drives to the nearest charging site open to the
service (``to_charger``), charges to ``energy.charge_to_share`` and drives back to the first stop
(``repositioning``); departures meanwhile wait for the next vehicle back, so a fleet without
spare vehicles shows the charging as late departures and longer waits. A vehicle that needs
charge and has no charger in reach is withdrawn (``parked``) rather than run flat. Vehicles
waiting at the first stop after the service day are switched off (``parked``).
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import simpy
from pydantic import Field, model_validator

from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.errors import ScenarioError
from mobisim.network.router import WALK_SPEED_MPS
from mobisim.scenario.base import ClockTime, ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.services.stops import StopConfig, resolve_stops
from mobisim.services.vehicle import Motion
from mobisim.units import min_to_s

#: weight of walking time against in-vehicle time when choosing the stop pair [T11]
WALK_TIME_WEIGHT = 1.5
WALK_PROFILE = "walk"


class FixedRouteConfig(ServiceConfig):
    """``type: fixed_route``: a shuttle or bus route with stops, headway or timetable."""

    type: Literal["fixed_route"] = "fixed_route"
    stops: list[StopConfig] = Field(
        min_length=2, description="Stops in running order (at least two)."
    )
    shape: Literal["loop", "line"] = Field(
        default="loop",
        description="loop: last stop back to the first; line: run to the last stop and back.",
    )
    vehicles: int | None = Field(
        default=None,
        ge=1,
        description="Number of vehicles (default: enough for the headway or timetable).",
    )
    headway_min: float | None = Field(
        default=None,
        gt=0,
        description="Minutes between departures from the first stop (default: run time / vehicles).",
    )
    timetable: list[ClockTime] | None = Field(
        default=None,
        description='Departure clock times from the first stop ("07:05", ...); replaces the headway.',
    )
    service_start: ClockTime | None = Field(
        default=None, description="First departure (default: the scenario period start)."
    )
    service_end: ClockTime | None = Field(
        default=None, description="Last departure at the latest (default: the period end)."
    )
    speed_cap_kmh: float = Field(
        default=25.0,
        gt=0,
        description="Speed cap on every road, km/h (shuttles cruise 20, capped at 25 [P2][P3]).",
    )
    capacity_pax: int = Field(
        default=15, ge=1, description="Places, seated + standing (Navya: 15 [P2])."
    )
    seated_pax: int | None = Field(
        default=None,
        ge=0,
        description="Seated places, for reports (default: 11 as the Navya [P2], at most capacity_pax).",
    )
    dwell_fixed_s: float = Field(
        default=20.0,
        ge=0,
        description="Dwell at every stop before boarding time, s (shuttle boarding ~20 s [P10]).",
    )
    dwell_per_pax_s: float = Field(
        default=2.0,
        ge=0,
        description="Extra dwell per person boarding or alighting, s (assumption A).",
    )
    layover_min: float = Field(
        default=3.0, ge=0, description="Layover at a terminal, min (assumption A)."
    )
    max_walk_m: float = Field(
        default=400.0, gt=0, description="Longest walk to or from a stop, m [T4]."
    )
    max_wait_min: float = Field(
        default=20.0,
        gt=0,
        description="Riders give up after waiting this long at the stop, min (assumption A).",
    )
    fare_krw: float = Field(
        default=0.0, ge=0, description="Fare per ride, KRW (0: free, as on pilots; A)."
    )
    vehicle_type: str = Field(
        default="av_shuttle",
        description="Energy profile of the vehicles, a vehicle type of mobisim.energy.",
    )
    mode_label: str = Field(
        default="shuttle", description="Mode name in results (shuttle, bus, ...)."
    )

    @model_validator(mode="after")
    def _operation(self) -> FixedRouteConfig:
        if self.headway_min is None and self.vehicles is None and not self.timetable:
            raise ValueError("expected vehicles, headway_min or timetable")
        if self.seated_pax is not None and self.seated_pax > self.capacity_pax:
            raise ValueError(
                f"expected seated_pax <= capacity_pax (got {self.seated_pax} > {self.capacity_pax})"
            )
        return self

    @property
    def seated_places(self) -> int:
        """Seated places: ``seated_pax``, or 11 [P2] capped at the capacity."""
        return min(11, self.capacity_pax) if self.seated_pax is None else self.seated_pax


@dataclass(slots=True)
class Visit:
    """One stop call of a run: where, whether riders board/alight, its schedule offset."""

    stop: int  # index in the config's stop list
    node: int
    boards: bool
    layover_after: bool
    offset_s: float = 0.0  # doors open this long after the run's departure (no extra dwell)
    distance_m: float = 0.0  # route distance from the first stop, m


@dataclass(eq=False, slots=True)
class Rider:
    """A commuter booked on the route: boarding/alighting visit positions and events."""

    trip: Trip
    board_pos: int
    alight_pos: int
    boarded: simpy.Event
    done: simpy.Event
    ready_s: float = math.nan
    board_s: float = math.nan


@dataclass(eq=False, slots=True)
class RouteVehicle:
    """A vehicle of the route: id, seats (a SimPy container of occupied places), riders on board."""

    vehicle_id: int
    seats: simpy.Container
    node: int
    free_since_s: float
    riders: list[Rider] = field(default_factory=list)
    battery: Any = None  # mobisim.energy.battery.Battery when energy is on and the type electric
    vt: Any = None  # its VehicleType when it has a battery


class FixedRouteService(Service):
    """Vehicles run the route at a headway or timetable; riders queue at stops (see module doc)."""

    type_name = "fixed_route"
    Config = FixedRouteConfig
    mode = "shuttle"

    def __init__(self, config: FixedRouteConfig, ctx):
        super().__init__(config, ctx)
        self.mode = config.mode_label
        self.profile = config.name
        ctx.router.add_profile(self.profile, view="drive", speed_cap_kmh=config.speed_cap_kmh)
        self.stop_nodes = resolve_stops(ctx.network, config.stops, f"services.{self.name}.stops")
        self.pattern, self.leg_s, self.leg_m = self._build_pattern()
        last = self.pattern[-1]
        self.cycle_s = last.offset_s + config.dwell_fixed_s + min_to_s(config.layover_min)
        self.service_start_s = (
            ctx.period_start_s if config.service_start is None else config.service_start
        )
        self.service_end_s = ctx.period_end_s if config.service_end is None else config.service_end
        self.departures_s, self.headway_s = self._departures()
        self.n_vehicles = config.vehicles or self._vehicles_needed()
        self.offsets_s = np.array([v.offset_s for v in self.pattern])
        # the same as Python floats, for one offer at a time
        self._offsets_list: list[float] = self.offsets_s.tolist()
        self._departures_list: list[float] = self.departures_s.tolist()
        #: (node, boarding, max_walk_m) -> the visits within the walk (:meth:`_near_visits`)
        self._near: dict[tuple[int, bool, float], list[tuple[int, float, float]]] = {}
        self.queues: list[list[Rider]] = [[] for _ in self.pattern]
        self.depot: simpy.PriorityStore | None = None
        self._returns = itertools.count()  # arrival order at the depot (ties, no battery)
        self.vehicles: list[RouteVehicle] = []
        self.withdrawn: list[RouteVehicle] = []  # out of charge with no charger in reach
        self.vehicle_type = None  # the electric VehicleType when batteries are simulated
        self.run_kwh = 0.0  # battery energy of one full run at capacity, kWh
        self.motion = Motion(ctx, self.name, leg_detail=config.vehicle_type)

    # ------------------------------------------------------------------ set-up
    def _build_pattern(self) -> tuple[list[Visit], list[float], list[float]]:
        """The visits of one run and the drive time (s) / distance (m) from each to the next."""
        cfg, nodes = self.config, self.stop_nodes
        n = len(nodes)
        if cfg.shape == "loop":
            visits = [Visit(i, int(nodes[i]), True, False) for i in range(n)]
            visits.append(Visit(0, int(nodes[0]), False, True))
        else:
            visits = [Visit(i, int(nodes[i]), i < n - 1, i == n - 1) for i in range(n)]
            visits += [Visit(i, int(nodes[i]), i > 0, i == 0) for i in range(n - 1, -1, -1)]
        leg_s, leg_m = [], []
        for a, b in itertools.pairwise(visits):
            leg = self.ctx.router.try_leg(self.profile, a.node, b.node)
            if leg is None:
                raise ScenarioError(
                    None,
                    [
                        (
                            f"services.{self.name}.stops",
                            f"no drive path from stop {cfg.stops[a.stop].name!r} "
                            f"to stop {cfg.stops[b.stop].name!r}",
                        )
                    ],
                )
            leg_s.append(leg[0])
            leg_m.append(leg[1])
        self._time_visits(visits, leg_s, leg_m)
        return visits, leg_s, leg_m

    def _time_visits(self, visits: list[Visit], leg_s: list[float], leg_m: list[float]) -> None:
        """Set each visit's offset from the run's start (s) and distance along the run (m):
        the legs before it (``leg_s`` s, ``leg_m`` m), the dwell at each stop before it and the
        layover after a terminal."""
        cfg = self.config
        layover_s = min_to_s(cfg.layover_min)
        for p in range(1, len(visits)):
            prev = visits[p - 1]
            visits[p].offset_s = (
                prev.offset_s
                + cfg.dwell_fixed_s
                + (layover_s if prev.layover_after else 0.0)
                + leg_s[p - 1]
            )
            visits[p].distance_m = prev.distance_m + leg_m[p - 1]

    def _departures(self) -> tuple[np.ndarray, float]:
        """Departure times from the first stop (s after midnight) and the headway (s)."""
        cfg = self.config
        if cfg.timetable:
            times = np.sort(np.asarray(cfg.timetable, dtype=float))
            gaps = np.diff(times)
            return times, float(gaps.mean()) if gaps.size else self.cycle_s
        headway_s = min_to_s(cfg.headway_min) if cfg.headway_min else self.cycle_s / cfg.vehicles
        span_s = self.service_end_s - self.service_start_s
        count = math.floor(span_s / headway_s + 1e-9) + 1 if span_s >= 0 else 0
        return self.service_start_s + headway_s * np.arange(count), headway_s

    def _vehicles_needed(self) -> int:
        """Vehicles for the departures: the most runs under way at once (at least one)."""
        deps = self.departures_s
        if deps.size == 0:
            return 1
        ends = np.searchsorted(deps, deps + self.cycle_s, side="left")
        return max(1, int((ends - np.arange(deps.size)).max()))

    def start(self) -> None:
        """Register the vehicles at the first stop and start the departure process."""
        env, cfg = self.ctx.env, self.config
        self.depot = simpy.PriorityStore(env)
        first = self.pattern[0].node
        if self.ctx.energy is not None:
            vehicle_type = self.ctx.energy.vehicle_type(cfg.vehicle_type)
            if vehicle_type.is_electric:
                self.vehicle_type = vehicle_type
                self.run_kwh = self._run_kwh()
        for _ in range(self.n_vehicles):
            vehicle_id = self.ctx.new_vehicle(
                self.name,
                cfg.vehicle_type,
                capacity_pax=cfg.capacity_pax,
                seated_pax=cfg.seated_places,
                start_node=first,
            )
            vehicle = RouteVehicle(
                vehicle_id, simpy.Container(env, capacity=cfg.capacity_pax), first, env.now
            )
            if self.vehicle_type is not None:
                vehicle.battery = self.ctx.energy.new_battery(vehicle_id, self.vehicle_type)
                vehicle.vt = self.vehicle_type
            self.vehicles.append(vehicle)
            self._to_depot(vehicle)
        env.process(self._departures_process())

    # ------------------------------------------------------------------ operator
    def _departures_process(self):
        """Each departure time: take a vehicle waiting at the first stop and send it on a run."""
        env = self.ctx.env
        for depart_s in self.departures_s:
            if depart_s > env.now:
                yield env.timeout(depart_s - env.now)
            vehicle = (yield self.depot.get()).item
            env.process(self._run(vehicle))

    def _run(self, vehicle: RouteVehicle):
        """One run: drive stop to stop, alight and board at each, lay over at terminals."""
        env, cfg, motion = self.ctx.env, self.config, self.motion
        if env.now > vehicle.free_since_s:
            self._log_wait(vehicle, env.now, "idle")
        for pos, visit in enumerate(self.pattern):
            if pos > 0 and visit.node != vehicle.node:
                pax = vehicle.seats.level
                state = "occupied" if pax else "in_service_empty"
                leg_s, leg_m = self.leg_s[pos - 1], self.leg_m[pos - 1]
                yield from motion.drive(vehicle, visit.node, leg_s, leg_m, state=state, pax=pax)
            moved = self._alight(vehicle, pos) + self._board(vehicle, pos)
            dwell_s = cfg.dwell_fixed_s + cfg.dwell_per_pax_s * moved
            yield from motion.stand(vehicle, dwell_s, state="dwell", pax=vehicle.seats.level)
            if visit.layover_after:
                layover_s = min_to_s(cfg.layover_min)
                yield from motion.stand(
                    vehicle, layover_s, state="layover", pax=vehicle.seats.level
                )
        if vehicle.battery is not None and not (yield from self._charge_if_due(vehicle)):
            vehicle.free_since_s = env.now  # would run flat on the next run: withdrawn
            self.withdrawn.append(vehicle)
            return
        vehicle.free_since_s = env.now
        self._to_depot(vehicle)

    def _to_depot(self, vehicle: RouteVehicle) -> None:
        """Queue ``vehicle`` at the first stop: least charged first, then first come."""
        soc_kwh = vehicle.battery.soc_kwh if vehicle.battery is not None else 0.0
        self.depot.put(simpy.PriorityItem((soc_kwh, next(self._returns)), vehicle))

    # ------------------------------------------------------------------ energy
    def _leg_kwh(self, distance_m: float, duration_s: float, pax: int) -> float:
        """Battery energy of a leg of ``distance_m`` (m) in ``duration_s`` (s), kWh (0: none)."""
        if self.vehicle_type is None:
            return 0.0
        return leg_energy_kwh(self.vehicle_type, distance_m, duration_s, pax=pax)

    def _run_kwh(self) -> float:
        """Battery energy of one full run with every place taken, dwells and layovers, kWh."""
        cfg = self.config
        drive = sum(
            self._leg_kwh(m, s, cfg.capacity_pax)
            for m, s in zip(self.leg_m, self.leg_s, strict=True)
        )
        dwell_s = self.cycle_s - sum(self.leg_s)
        return drive + dwell_energy_kwh(self.vehicle_type, max(dwell_s, 0.0), "dwell")

    def _charge_if_due(self, vehicle: RouteVehicle):
        """At the end of a run, charge if the charging policy says so (``energy.charging_policy``);
        False when the vehicle cannot do one more run and keep the reserve (withdraw it)."""
        energy = self.ctx.energy
        policy = energy.charging_policy

        def nearest():
            return energy.nearest_site(self.ctx.router, self.profile, vehicle.node, self.name)

        site = policy.charge_site(vehicle.battery, self.run_kwh, nearest)
        if site is not None and not (yield from self._charge(vehicle, site)):
            return False  # could not reach the site, or not get back from it
        return not policy.needs_charge(vehicle.battery, self.run_kwh)

    def _charge(self, vehicle: RouteVehicle, site):
        """Drive to ``site``, charge, drive back to the first stop; False if it cannot get there."""
        env, first = self.ctx.env, self.pattern[0].node
        there = self.ctx.router.try_leg(self.profile, vehicle.node, site.node)
        back = self.ctx.router.try_leg(self.profile, site.node, first)
        if there is None or back is None:
            return False
        if not vehicle.battery.can_supply(self._leg_kwh(there[1], there[0], 0)):
            return False
        if site.node != vehicle.node:
            yield from self.motion.drive(vehicle, site.node, *there, state="to_charger", pax=0)
        yield env.process(
            site.charge(
                vehicle.battery,
                self.ctx.energy.charging_policy.target_share,
                vehicle.vehicle_id,
                self.name,
                self.vehicle_type,
            )
        )
        if not vehicle.battery.can_supply(self._leg_kwh(back[1], back[0], 0)):
            return False
        if first != vehicle.node:
            yield from self.motion.drive(vehicle, first, *back, state="repositioning", pax=0)
        return True

    def _log_wait(self, vehicle: RouteVehicle, until_s: float, state: str) -> None:
        """Draw and log the stand of a vehicle out of service since ``free_since_s``."""
        duration_s = until_s - vehicle.free_since_s
        self.motion.log_stand(vehicle, vehicle.free_since_s, duration_s, state=state)
        vehicle.free_since_s = until_s

    def _alight(self, vehicle: RouteVehicle, pos: int) -> int:
        """Riders whose stop this is get off; returns the number of persons alighting."""
        env, log = self.ctx.env, self.ctx.log
        leaving = [r for r in vehicle.riders if r.alight_pos == pos]
        persons = 0
        for rider in leaving:
            vehicle.riders.remove(rider)
            vehicle.seats.get(rider.trip.party_size)  # level drops at once (enough on board)
            persons += rider.trip.party_size
            trip_id = rider.trip.trip_id
            in_vehicle_s = env.now - rider.board_s
            at = {"service": self.name, "trip_id": trip_id, "vehicle_id": vehicle.vehicle_id}
            log.alight(env.now, node=vehicle.node, pax=vehicle.seats.level, **at)
            log.dropoff(env.now, node=vehicle.node, in_vehicle_s=in_vehicle_s, **at)
            board_visit, alight_visit = self.pattern[rider.board_pos], self.pattern[pos]
            rider.done.succeed(
                RideOutcome(
                    served=True,
                    wait_s=rider.board_s - rider.ready_s,
                    in_vehicle_s=in_vehicle_s,
                    distance_m=alight_visit.distance_m - board_visit.distance_m,
                    fare_krw=self.config.fare_krw,
                    vehicle_id=vehicle.vehicle_id,
                    egress_node=alight_visit.node,
                )
            )
        return persons

    def _board(self, vehicle: RouteVehicle, pos: int) -> int:
        """The stop's queue boards in order while places are free; returns persons boarding."""
        env, log = self.ctx.env, self.ctx.log
        queue = self.queues[pos]
        persons = 0
        for rider in list(queue):
            party = rider.trip.party_size
            at = {"service": self.name, "trip_id": rider.trip.trip_id, "node": vehicle.node}
            if vehicle.seats.level + party > vehicle.seats.capacity:
                log.denied_boarding(
                    env.now, vehicle_id=vehicle.vehicle_id, pax=vehicle.seats.level, **at
                )
                continue
            queue.remove(rider)
            vehicle.seats.put(party)  # level rises at once (room checked above)
            vehicle.riders.append(rider)
            persons += party
            rider.board_s = env.now
            log.board(env.now, vehicle_id=vehicle.vehicle_id, pax=vehicle.seats.level, **at)
            log.pickup(env.now, vehicle_id=vehicle.vehicle_id, wait_s=env.now - rider.ready_s, **at)
            rider.boarded.succeed()
        return persons

    # ------------------------------------------------------------------ rider
    def _rider(self, rider: Rider, access_walk_s: float):
        """Walk to the stop, queue, and board, or give up after the maximum wait."""
        env = self.ctx.env
        if access_walk_s > 0:
            yield env.timeout(access_walk_s)
        rider.ready_s = env.now
        self.queues[rider.board_pos].append(rider)
        max_wait_s = min_to_s(self.config.max_wait_min)
        yield rider.boarded | env.timeout(max_wait_s)
        if rider.boarded.triggered:
            return
        self.queues[rider.board_pos].remove(rider)
        self.ctx.log.give_up(
            env.now,
            service=self.name,
            trip_id=rider.trip.trip_id,
            node=self.pattern[rider.board_pos].node,
            waited_s=max_wait_s,
            reason="gave_up_max_wait",
        )
        rider.done.succeed(RideOutcome(served=False, reason="gave_up_max_wait", wait_s=max_wait_s))

    # ------------------------------------------------------------------ protocol
    def _expected_wait_s(self, arrival_s: float, position: int) -> float | None:
        """Expected wait (s) at boarding position ``position`` for a rider arriving at ``arrival_s``.

        None when no vehicle passes any more. With a timetable: time to the next passage; with a
        headway: half of it, or the time to the first passage before the service starts.
        """
        departures_s = self._departures_list
        offset_s = self._offsets_list[position]
        # the first departure passing here at or after the arrival (np.searchsorted, side left)
        index = bisect.bisect_left(departures_s, arrival_s - offset_s - 1e-9)
        if index == len(departures_s):
            return None
        if index > 0 and not self.config.timetable:
            return self.headway_s / 2.0
        return departures_s[index] + offset_s - arrival_s

    def _near_visits(self, node: int, boarding: bool) -> list[tuple[int, float, float]]:
        """(visit position, walk m, walk s) of the visits within ``max_walk_m`` of ``node``.

        ``boarding``: the walk from ``node`` to the visits where riders board; otherwise the walk
        on from the visits where riders alight (any but the first) to ``node``. Worked out once
        per node.
        """
        max_walk_m = self.config.max_walk_m
        key = (int(node), boarding, max_walk_m)
        near = self._near.get(key)
        if near is None:
            router = self.ctx.router
            # walks to (boarding) or from every node, stopped at the walk limit
            within_m = router.distances_within_m(
                WALK_PROFILE, key[0], max_walk_m, reverse=not boarding
            )
            walk_m = within_m[self.stop_nodes].tolist()
            near = self._near[key] = [
                (position, walk_m[visit.stop], walk_m[visit.stop] / WALK_SPEED_MPS)
                for position, visit in enumerate(self.pattern)
                if (visit.boards if boarding else position > 0)
                and walk_m[visit.stop] <= max_walk_m  # NaN (unreachable) compares False
            ]
        return near

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """The best boarding/alighting stop pair for ``trip`` leaving at ``now_s`` (s).

        Parameters
        ----------
        trip : Trip
            Origin and destination node indices, party size.
        now_s : float
            Clock, s after midnight.

        Unavailable reasons: ``party_too_large``, ``no_stop_within_walk`` (no stop within
        ``max_walk_m`` of the origin or of the destination), ``no_useful_stop_pair`` (the near
        stops coincide), ``outside_service_hours`` (no vehicle passes any more),
        ``wait_exceeds_max_wait``. Times in s, distances in m, fare in KRW.

        The pair of least cost (walk s × 1.5 + wait s + ride s), the first in (boarding,
        alighting) order among equals.
        """
        cfg = self.config
        if trip.party_size > cfg.capacity_pax:
            return [unavailable(self.name, self.mode, "party_too_large")]
        boards = self._near_visits(trip.origin_node, boarding=True)
        alights = self._near_visits(trip.dest_node, boarding=False)
        if not boards or not alights:
            return [unavailable(self.name, self.mode, "no_stop_within_walk")]
        pattern = self.pattern

        def useful(board: int, alight: int) -> bool:
            return alight > board and pattern[alight].node != pattern[board].node

        if not any(useful(b[0], a[0]) for b in boards for a in alights):
            return [unavailable(self.name, self.mode, "no_useful_stop_pair")]
        waits_s = [self._expected_wait_s(now_s + walk_s, board) for board, _, walk_s in boards]
        if all(wait_s is None for wait_s in waits_s):
            return [unavailable(self.name, self.mode, "outside_service_hours")]
        max_wait_s = min_to_s(cfg.max_wait_min)
        waits_s = [None if w is None or w > max_wait_s else w for w in waits_s]
        if all(wait_s is None for wait_s in waits_s):
            return [unavailable(self.name, self.mode, "wait_exceeds_max_wait")]
        offsets_s = self._offsets_list
        best = None  # (cost, boarding visit, alighting visit, wait s, ride s)
        for (board, _, access_s), wait_s in zip(boards, waits_s, strict=True):
            if wait_s is None:
                continue
            for alight, _, egress_s in alights:
                if not useful(board, alight):
                    continue
                ride_s = offsets_s[alight] - offsets_s[board]
                cost = WALK_TIME_WEIGHT * (access_s + egress_s) + wait_s + ride_s
                if best is None or cost < best[0]:
                    best = (cost, board, alight, wait_s, ride_s)
        if best is None:
            return [unavailable(self.name, self.mode, "no_useful_stop_pair")]
        _, board, alight, wait_s, ride_s = best
        _, access_m, access_s = next(b for b in boards if b[0] == board)
        _, egress_m, egress_s = next(a for a in alights if a[0] == alight)
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                access_walk_m=access_m,
                access_walk_s=access_s,
                wait_s=wait_s,
                in_vehicle_s=ride_s,
                egress_walk_m=egress_m,
                egress_walk_s=egress_s,
                distance_m=pattern[alight].distance_m - pattern[board].distance_m,
                fare_krw=cfg.fare_krw,
                access_node=pattern[board].node,
                egress_node=pattern[alight].node,
                handle=(board, alight),
            )
        ]

    def request(self, trip: Trip, offer: Offer) -> simpy.Event:
        """Book the ride of ``offer``: the rider walks to the stop and queues there.

        Parameters
        ----------
        trip : Trip
            The trip (its party takes ``party_size`` places).
        offer : Offer
            An offer of this service (``handle`` = boarding and alighting visit positions).

        Returns an event firing at alighting (served) or when the rider gives up
        (``gave_up_max_wait``).
        """
        env = self.ctx.env
        board, alight = offer.handle
        self.ctx.log.request(
            env.now,
            service=self.name,
            trip_id=trip.trip_id,
            node=offer.access_node,
            to_node=offer.egress_node,
        )
        rider = Rider(trip, board, alight, env.event(), env.event())
        env.process(self._rider(rider, offer.access_walk_s))
        return rider.done

    def finish(self, end_s: float) -> None:
        """Log the stand of every vehicle out of service up to ``end_s`` (s): ``idle`` while
        departures remain, ``parked`` (switched off) after the last one and when withdrawn."""
        if self.depot is None:
            return
        over = self.departures_s.size == 0 or end_s >= self.departures_s[-1]
        for vehicle in [entry.item for entry in self.depot.items]:
            if end_s > vehicle.free_since_s:
                self._log_wait(vehicle, end_s, "parked" if over else "idle")
        for vehicle in self.withdrawn:
            if end_s > vehicle.free_since_s:
                self._log_wait(vehicle, end_s, "parked")

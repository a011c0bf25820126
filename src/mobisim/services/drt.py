"""On-demand pooled rides (DRT); with ``capacity_pax: 1`` a ride-hailing / taxi fleet.

A request asks to be picked up at an access point (the door, the nearest virtual stop, or the
nearest given stop within ``max_walk_m``) and dropped at the egress point, inside the service area
and the service hours. The dispatch policy (default: the cheapest feasible insertion over the
whole fleet, :mod:`mobisim.services.drt_dispatch`; the timing model is
:mod:`mobisim.services.drt_timing`) puts the pick-up and drop-off into one vehicle's stop list so that every rider on board or assigned keeps its limits: pick-up within ``max_wait_s``
of being ready, arrival within ``max_travel_alpha`` × direct + ``max_travel_beta_s`` of being ready
[T3][T14], load within the capacity. No vehicle can: the request is rejected at once, or, with
``queue_requests``, waits until its latest pick-up and is dispatched again whenever a vehicle frees
a seat, comes back from charging or goes idle, and every ``rematch_interval_s``; it gives up at its
latest pick-up (event ``give_up``, reason ``gave_up_max_wait``). With ``dispatch: batch`` a
request is not inserted at once: it stays open, and every ``batch_interval_s`` the open requests
are assigned together (the optimal assignment over their insertion options,
:class:`~mobisim.services.drt_dispatch.BatchAssignment`); one left out waits for the next round
until its latest pick-up, then gives up the same way. A
pre-booked service (``booking_lead_min`` > 0) plans the pick-up no earlier than that many minutes
after the booking.

A vehicle's story: take the next stop of its plan, drive there (``to_pickup`` when empty,
``occupied`` otherwise), wait for the rider's booked time if early, let riders alight and board,
dwell ``stop_s``; with an empty plan ask the idle policy where to go (stay, back to the depot, or
toward recent demand, or to the nearest base after ``idle_after_min`` without work) and wait
there until dispatched. A plan is an exact forecast of the
vehicle's times until the next insertion, which may delay (never advance) earlier riders, always
within their limits.

With energy on, each vehicle carries a ``battery`` (mobisim.energy.battery.Battery); work whose
drive energy plus ``battery_reserve_share`` of the pack it cannot supply is not dispatched to it,
and each leg draws its energy (mobisim.energy.consumption.leg_energy_kwh). An idle vehicle whose
pack is below ``energy.charge_below_share`` drives to the nearest charging site open to the
service (``to_charger``), queues for a plug and charges to ``energy.charge_to_share``, taking no
work meanwhile; an idle wait never drains the pack below that threshold (the vehicle goes to
charge first, or, with no charger in reach, switches off: state ``parked``).
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Literal

import numpy as np
import shapely
import simpy
from pydantic import Field, field_validator, model_validator

from mobisim.energy.battery import EPS_KWH, can_finish
from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.errors import NetworkError, ScenarioError, UnreachableError
from mobisim.network.router import WALK_SPEED_MPS
from mobisim.scenario.base import ClockTime, ServiceConfig
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.services.drt_dispatch import (
    Assignment,
    DenseLegs,
    DispatchError,
    DrtRequest,
    DrtVehicle,
    FleetView,
    Insertion,
    dense_legs,
    insert_stops,
    known_policies,
    party_of,
    resolve_policy,
)
from mobisim.services.drt_grid import dense_grid, router_grid
from mobisim.services.drt_insertion_fast import DenseDrive, RouterDrive
from mobisim.services.drt_timing import (
    latest_dropoff_s,
    latest_pickup_s,
    reference_insertion_at,
)
from mobisim.services.stops import StopConfig, resolve_stops
from mobisim.services.vehicle import Motion
from mobisim.units import METRES_PER_KM, min_to_s

#: queued requests are not dispatched again while the fleet is as when they were last tried
#: (when the dispatcher allows it; see DrtService._rematch); off only to compare in tests
REMATCH_SKIPS_UNCHANGED = True

WALK_PROFILE = "walk"
#: node pairs whose leg energy :meth:`DrtService.energy_ok` keeps per period (about 30 MB)
LEG_KWH_MEMO = 200_000


DAY_S = 24 * 3600.0


class DepotConfig(StopConfig):
    """A DRT depot: a stop where vehicles start (in turn), optionally with their charge and a
    driver shift (the vehicles take work only from ``shift_start`` to ``shift_end``)."""

    initial_soc_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="State of charge of the electric vehicles starting here, share of battery capacity (none: energy.initial_soc_share).",
    )
    shift_start: ClockTime | None = Field(
        default=None,
        description='Driver shift of the vehicles starting here: they take work from this clock time ("09:00") every day (none: all day; with shift_end).',
    )
    shift_end: ClockTime | None = Field(
        default=None,
        description="...until this clock time, exclusive (before shift_start: the shift runs past midnight). Off shift a vehicle finishes its plan, drives to home_base and stands there (parked).",
    )
    home_base: StopConfig | None = Field(
        default=None,
        description="Where the vehicles starting here spend their off-shift time (name and lat/lon, node or place; none: this depot).",
    )

    @model_validator(mode="after")
    def _whole_shift(self) -> DepotConfig:
        if (self.shift_start is None) != (self.shift_end is None):
            raise ValueError(
                f"depot {self.name!r}: expected both shift_start and shift_end (or neither)"
            )
        if self.shift_start is not None and self.shift_start % DAY_S == self.shift_end % DAY_S:
            raise ValueError(
                f"depot {self.name!r}: shift_end expects a clock time other than shift_start "
                "(leave both out for a vehicle that works all day)"
            )
        return self


#: SimPy priority of a batch round: after every ordinary event of the same instant (NORMAL = 1)
LATE = 2


class LateTimeout(simpy.events.Event):
    """A timeout that fires after every ordinary event scheduled for the same instant, also
    those scheduled meanwhile (so a batch round at t sees the requests made at t, as HIVE
    adds a step's requests before it dispatches)."""

    def __init__(self, env: simpy.Environment, delay_s: float):
        super().__init__(env)
        self._ok, self._value = True, None
        env.schedule(self, LATE, delay_s)


def on_shift(now_s: float, start_s: float, end_s: float) -> bool:
    """Is the clock ``now_s`` (s) within the daily shift [``start_s``, ``end_s``) (clock times,
    s; end before start: past midnight)? HIVE's ``time_in_range``."""
    start, end, now = start_s % DAY_S, end_s % DAY_S, now_s % DAY_S
    return start <= now < end if start < end else (now >= start or now < end)


def next_shift_start_s(now_s: float, start_s: float) -> float:
    """The first shift start (clock ``start_s`` on some day) at or after ``now_s`` (s)."""
    day_s = math.floor(now_s / DAY_S) * DAY_S
    first = day_s + start_s % DAY_S
    return first if first >= now_s else first + DAY_S


def shift_end_after_s(now_s: float, end_s: float) -> float:
    """The first shift end (clock ``end_s`` on some day) after ``now_s`` (s)."""
    day_s = math.floor(now_s / DAY_S) * DAY_S
    first = day_s + end_s % DAY_S
    return first if first > now_s else first + DAY_S


class DrtConfig(ServiceConfig):
    """``type: drt``: an on-demand pooled fleet (capacity 1: taxis / ride-hailing)."""

    type: Literal["drt"] = "drt"
    vehicles: int = Field(default=10, ge=1, description="Fleet size (assumption A).")
    capacity_pax: int = Field(
        default=8, ge=1, description="Places per vehicle (8: a DRT minibus, A; 1: taxi)."
    )
    vehicle_type: str = Field(
        default="av_shuttle",
        description="Energy profile of the vehicles, a vehicle type of mobisim.energy.",
    )
    speed_cap_kmh: float | None = Field(
        default=None,
        gt=0,
        description="Speed cap on every road, km/h (none: edge speeds; AV shuttles 25 [P2][P3]).",
    )
    stop_mode: Literal["door_to_door", "virtual_stops", "stops"] = Field(
        default="door_to_door",
        description="Where riders board: at the door, at virtual stops every virtual_stop_spacing_m, or at the given stops.",
    )
    stops: list[StopConfig] | None = Field(
        default=None, description="Stops (stop_mode: stops): name and lat/lon, node or place."
    )
    virtual_stop_spacing_m: float = Field(
        default=300.0,
        gt=0,
        description="Spacing of the virtual-stop grid, m (one network node per cell; A).",
    )
    max_walk_m: float = Field(
        default=400.0,
        gt=0,
        description="Longest walk to or from a stop, m (400 [T4]; DRT stops up to 1,500 [T3]).",
    )
    service_area: list[tuple[float, float]] | None = Field(
        default=None,
        description="Service-area polygon as [lat, lon] corners (none: the whole network).",
    )
    service_zones: list[str] | None = Field(
        default=None, description="Service area as named zones of the network (places)."
    )
    depots: list[DepotConfig] | None = Field(
        default=None,
        description="Depots (name and lat/lon, node or place, optional initial_soc_share); vehicles start there in turn (none: spread at random over the area).",
    )
    service_start: ClockTime | None = Field(
        default=None, description="Requests accepted from (default: the period start)."
    )
    service_end: ClockTime | None = Field(
        default=None, description="Requests accepted until (default: the period end)."
    )
    booking_lead_min: float = Field(
        default=0.0,
        ge=0,
        description="Pre-booking: pick-up no earlier than this after the booking, min (0: immediate).",
    )
    max_wait_s: float = Field(
        default=600.0, gt=0, description="Latest pick-up after the rider is ready, s [T3][T14]."
    )
    max_travel_alpha: float = Field(
        default=1.5, ge=1, description="Travel-time limit factor on the direct drive [T3][T14]."
    )
    max_travel_beta_s: float = Field(
        default=1200.0,
        ge=0,
        description="Travel-time limit allowance, s: arrival ≤ ready + α·direct + β [T3][T14].",
    )
    stop_s: float = Field(
        default=60.0, ge=0, description="Dwell at each pick-up or drop-off, s [T3][T14]."
    )
    dispatch: str = Field(
        default="insertion",
        description="Dispatch policy (registered name): insertion (each request at once), batch (open requests assigned together every batch_interval_s), hive_step (NREL HIVE's time-stepped dispatch, for converted HIVE scenarios: mobisim.services.drt_hive).",
    )
    time_step_s: float = Field(
        default=60.0,
        gt=0,
        description="dispatch hive_step: the time step, s (HIVE's sim.timestep_duration_seconds, 60 in its demo); at most max_wait_s.",
    )
    batch_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="dispatch batch: open requests are assigned together this often, s (A); at most max_wait_s.",
    )
    approx_candidates_k: int | None = Field(
        default=None,
        ge=1,
        description="Approximation, off by default: examine only the K vehicles reaching the pick-up soonest (faster on large busy fleets; may reject a request another vehicle could serve). None: exact search over the fleet.",
    )
    queue_requests: bool = Field(
        default=False,
        description="Requests no vehicle can serve at once wait (until max_wait_s after ready) and are matched when a vehicle frees up or at the periodic re-match; false: rejected at once.",
    )
    rematch_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="With queue_requests: waiting requests are tried again this often, s (A); at most max_wait_s.",
    )
    idle_policy: str = Field(
        default="stay",
        description="What idle vehicles do (registered name): stay, return_to_depot, zone_rebalancing, nearest_base_after_idle, hive_base_after_idle (HIVE: retire at the base after the time-out).",
    )
    idle_after_min: float = Field(
        default=30.0,
        ge=0,
        description="nearest_base_after_idle: minutes without work before an idle vehicle drives to the nearest base, min (30: HIVE's dispatcher.idle_time_out_seconds 1,800 s).",
    )
    idle_bases: list[StopConfig] | None = Field(
        default=None,
        description="nearest_base_after_idle: the bases (name and lat/lon, node or place; none: the depots, or each vehicle's start node without depots).",
    )
    rebalance_zone_m: float = Field(
        default=1000.0, gt=0, description="Side of a rebalancing zone, m (A)."
    )
    rebalance_window_min: float = Field(
        default=30.0, gt=0, description="Recent demand counted over this window, min (A)."
    )
    rebalance_interval_min: float = Field(
        default=10.0, gt=0, description="Idle vehicles re-check where to go this often, min (A)."
    )
    battery_reserve_share: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Share of the battery kept in reserve when dispatching (energy on; A).",
    )
    fare_base_krw: float = Field(
        default=1500.0, ge=0, description="Fare per ride, KRW (about a city-bus fare; A)."
    )
    fare_per_km_krw: float = Field(default=0.0, ge=0, description="Fare per direct km, KRW/km (A).")
    mode_label: str = Field(default="drt", description="Mode name in results (drt, taxi, ...).")

    @field_validator("dispatch", "idle_policy")
    @classmethod
    def _known_policy(cls, name: str, info) -> str:
        kind = "drt_dispatch" if info.field_name == "dispatch" else "drt_idle"
        known = known_policies(kind)
        if name not in known:
            raise ValueError(f"expected one of: {', '.join(known)} (got {name!r})")
        return name

    @model_validator(mode="after")
    def _batch_within_wait(self) -> DrtConfig:
        if self.dispatch == "batch" and self.batch_interval_s > self.max_wait_s:
            raise ValueError(
                f"batch_interval_s ({self.batch_interval_s:g} s) expects at most max_wait_s "
                f"({self.max_wait_s:g} s) with dispatch batch: a request would give up before "
                "its first assignment round"
            )
        return self

    @model_validator(mode="after")
    def _step_within_wait(self) -> DrtConfig:
        if self.dispatch == "hive_step" and self.time_step_s > self.max_wait_s:
            raise ValueError(
                f"time_step_s ({self.time_step_s:g} s) expects at most max_wait_s "
                f"({self.max_wait_s:g} s) with dispatch hive_step: a request would be cancelled "
                "before its first step"
            )
        return self

    @model_validator(mode="after")
    def _rematch_within_wait(self) -> DrtConfig:
        rematching = self.queue_requests and self.dispatch != "batch"
        if rematching and self.rematch_interval_s > self.max_wait_s:
            raise ValueError(
                f"rematch_interval_s ({self.rematch_interval_s:g} s) expects at most max_wait_s "
                f"({self.max_wait_s:g} s) with queue_requests on: a waiting request would give "
                "up before its first re-match"
            )
        return self

    @model_validator(mode="after")
    def _stops_given(self) -> DrtConfig:
        if self.stop_mode == "stops" and not self.stops:
            raise ValueError("stop_mode 'stops' expects a non-empty 'stops' list")
        if self.service_area is not None and len(self.service_area) < 3:
            raise ValueError(
                f"service_area expects at least 3 [lat, lon] corners (got {len(self.service_area)})"
            )
        return self


class DrtService(Service):
    """On-demand pooled rides planned by insertion (see the module docstring)."""

    type_name = "drt"
    Config = DrtConfig
    mode = "drt"

    def __init__(self, config: DrtConfig, ctx):
        super().__init__(config, ctx)
        self.mode = config.mode_label
        self.router = ctx.router
        self.profile = config.name
        # many pairs: each request's insertion search reads rows and thousands of pairs
        ctx.router.add_profile(
            self.profile, view="drive", speed_cap_kmh=config.speed_cap_kmh, many_pairs=True
        )
        key = f"services.{self.name}"
        self.in_area = self._area_mask(key)
        # the same mask as plain bools, for one node at a time
        self._in_area = self.in_area.tolist()
        self.area_nodes = np.flatnonzero(self.in_area)
        if self.area_nodes.size == 0:
            raise ScenarioError(None, [(key, "the service area contains no network node")])
        self.stop_nodes = self._stop_nodes(key)
        #: (node, outbound) -> (stop node, walk m) of the nearest stop (:meth:`_nearest_stop`)
        self._nearest_stops: dict[tuple[int, bool], tuple[int, float]] = {}
        self.depot_nodes = (
            resolve_stops(ctx.network, config.depots, f"{key}.depots") if config.depots else None
        )
        #: where nearest_base_after_idle sends idle vehicles (None: each vehicle's depot node)
        self.base_nodes = (
            resolve_stops(ctx.network, config.idle_bases, f"{key}.idle_bases")
            if config.idle_bases
            else self.depot_nodes
        )
        self.service_start_s = (
            ctx.period_start_s if config.service_start is None else config.service_start
        )
        self.service_end_s = ctx.period_end_s if config.service_end is None else config.service_end
        self.vehicles: list[DrtVehicle] = []
        self.vehicle_type = None
        self._dense: DenseLegs | bool | None = False  # False: not looked up yet
        #: (period, {(origin, dest): leg energy kWh}) of :meth:`energy_ok`
        self._leg_kwh: tuple[int, dict[tuple[int, int], float]] = (-1, {})
        self.dispatcher = self._policy("drt_dispatch", config.dispatch, f"{key}.dispatch", config)
        self.idle = self._policy("drt_idle", config.idle_policy, f"{key}.idle_policy", self)
        self._fleet_view: FleetView | None = None
        self._vehicle_by_id: dict[int, DrtVehicle] = {}
        self.motion = Motion(ctx, self.name, leg_detail=config.vehicle_type)
        #: dispatch batch: the assignment rounds' interval, s (None: requests dispatched at once)
        self.batch_s = self.dispatcher.batch_interval_s
        #: requests waiting for a vehicle (queue_requests, or open until the next batch round),
        #: first come first
        self.waiting: list[DrtRequest] = []
        self._rematching = False  # is the periodic re-match process running?
        #: id(request) -> (request, fleet state it was last tried on), see :meth:`_rematch`
        self._tried: dict[int, tuple] = {}
        self.rematch_skipped = 0  # re-match searches left out as the fleet had not changed
        #: where the dispatcher's time steps count from, s (the batch rounds' start)
        self._clock_origin_s = ctx.env.now
        #: vehicle id -> (shift start, shift end: clock s; home node) of the vehicles with a shift
        self.shifts: dict[int, tuple[float, float, int]] = {}
        self.off_duty: set[int] = set()  # ids of the vehicles standing off shift now
        #: cancel_en_route dispatchers: id(request) -> cancel time, s, until picked up
        self._cancel_at: dict[int, float] = {}

    # ------------------------------------------------------------------ set-up
    def _policy(self, kind: str, name: str, key: str, built_from):
        try:
            return resolve_policy(kind, name)(built_from)
        except KeyError as exc:
            raise ScenarioError(None, [(key, str(exc.args[0]))]) from None

    def _area_mask(self, key: str) -> np.ndarray:
        """Boolean mask of the nodes inside the service area (polygon and/or zones)."""
        cfg, net = self.config, self.ctx.network
        mask = np.ones(net.n_nodes, dtype=bool)
        if cfg.service_area is not None:
            corners = [(lon, lat) for lat, lon in cfg.service_area]
            polygon = shapely.Polygon(corners)
            lat, lon = net.nodes["lat"].to_numpy(), net.nodes["lon"].to_numpy()
            mask &= shapely.contains_xy(polygon, lon, lat)
        if cfg.service_zones:
            in_zones = np.zeros(net.n_nodes, dtype=bool)
            problems = []
            for i, zone in enumerate(cfg.service_zones):
                try:
                    in_zones[net.zone_nodes(zone)] = True
                except NetworkError as exc:
                    problems.append((f"{key}.service_zones[{i}]", str(exc)))
            if problems:
                raise ScenarioError(None, problems)
            mask &= in_zones
        return mask

    def _stop_nodes(self, key: str) -> np.ndarray | None:
        """Stop nodes inside the area (None: door to door)."""
        cfg = self.config
        if cfg.stop_mode == "door_to_door":
            return None
        if cfg.stop_mode == "stops":
            nodes = resolve_stops(self.ctx.network, cfg.stops, f"{key}.stops")
            return np.unique(nodes[self.in_area[nodes]])
        return virtual_stops(self.ctx.network, self.area_nodes, cfg.virtual_stop_spacing_m)

    def start(self) -> None:
        """Register the fleet at its depots (or spread over the area) and start the vehicles."""
        cfg, ctx = self.config, self.ctx
        if ctx.energy is not None:
            vehicle_type = ctx.energy.vehicle_type(cfg.vehicle_type)
            self.vehicle_type = vehicle_type if vehicle_type.is_electric else None
        if self.depot_nodes is not None:
            starts = np.resize(self.depot_nodes, cfg.vehicles)
            socs = [cfg.depots[i % len(cfg.depots)].initial_soc_share for i in range(cfg.vehicles)]
        else:
            starts = ctx.rng.choice(self.area_nodes, size=cfg.vehicles)
            socs = [None] * cfg.vehicles
        depot_cfgs = (
            [cfg.depots[i % len(cfg.depots)] for i in range(cfg.vehicles)]
            if cfg.depots
            else [None] * cfg.vehicles
        )
        homes = {}
        for k, depot in enumerate(cfg.depots or []):
            if depot.home_base is not None:
                key = f"services.{self.name}.depots[{k}].home_base"
                homes[k] = int(resolve_stops(ctx.network, [depot.home_base], key)[0])
        for i, (node, soc_share) in enumerate(zip(starts, socs, strict=True)):
            node = int(node)
            vehicle_id = ctx.new_vehicle(
                self.name, cfg.vehicle_type, capacity_pax=cfg.capacity_pax, depot_node=node
            )
            vehicle = DrtVehicle(vehicle_id, cfg.capacity_pax, node, ctx.env.now, node)
            if self.vehicle_type is not None:
                vehicle.battery = ctx.energy.new_battery(vehicle_id, self.vehicle_type, soc_share)
                vehicle.vt = self.vehicle_type
            depot = depot_cfgs[i]
            if depot is not None and depot.shift_start is not None:
                home = homes.get(i % len(cfg.depots), node)
                self.shifts[vehicle_id] = (depot.shift_start, depot.shift_end, home)
            self.vehicles.append(vehicle)
            ctx.env.process(self._vehicle(vehicle))
        if self.batch_s is not None:
            self._clock_origin_s = ctx.env.now
            ctx.env.process(self._batch_rounds())

    # ------------------------------------------------------------------ routing
    @property
    def dense(self) -> DenseLegs | None:
        """Node-pair drive times and distances of the service's profile as float rows (small
        networks with all-pairs tables), or None: then the router is asked."""
        if self._dense is False:
            self._dense = dense_legs(self.router, self.profile)
        return self._dense

    def try_leg(self, origin: int, dest: int) -> tuple[float, float] | None:
        """(drive s, m) from node ``origin`` to ``dest`` as ``router.try_leg`` gives it, or None
        when unreachable."""
        dense = self._dense if self._dense is not False else self.dense
        if dense is None:
            return self.router.try_leg(self.profile, origin, dest)
        if origin == dest:
            return 0.0, 0.0
        time_s = dense.times[origin][dest]
        if time_s != time_s:  # NaN: unreachable
            return None
        return time_s, dense.dists[origin][dest]

    def leg(self, origin: int, dest: int) -> tuple[float, float]:
        """(drive s, m) from node ``origin`` to ``dest``; raises UnreachableError."""
        found = self.try_leg(origin, dest)
        if found is None:
            raise UnreachableError(self.profile, int(origin), int(dest))
        return found

    # ------------------------------------------------------------------ energy
    def leg_kwh(self, distance_m: float, duration_s: float, pax: int = 0) -> float:
        """Battery energy of a leg of ``distance_m`` (m) in ``duration_s`` (s), kWh (0: energy off)."""
        if self.vehicle_type is None:
            return 0.0
        return leg_energy_kwh(self.vehicle_type, distance_m, duration_s, pax=pax)

    def stand_kwh(self, duration_s: float, state: str) -> float:
        """Battery energy of standing ``duration_s`` (s) in ``state``, kWh (0: energy off)."""
        if self.vehicle_type is None:
            return 0.0
        return dwell_energy_kwh(self.vehicle_type, duration_s, state)

    def energy_ok(self, vehicle: DrtVehicle, nodes: list[int]) -> bool:
        """Can ``vehicle`` drive through ``nodes`` (indices, from its anchor), dwelling at each,
        and keep ``battery_reserve_share`` of its pack? (:meth:`plan_kwh`)"""
        if vehicle.battery is None:
            return True
        need_kwh = self.plan_kwh(nodes)
        return can_finish(vehicle.battery, need_kwh, self.config.battery_reserve_share)

    def plan_kwh(self, nodes: list[int]) -> float:
        """Energy (kWh) of driving through ``nodes`` and dwelling ``stop_s`` at each after the
        first: the float :meth:`plan_kwh_reference` gives.

        The insertion search asks it for every candidate plan of a request: the legs of the
        unchanged plan recur in each, the request's new legs in many. So each leg's energy
        (from :meth:`try_leg`: the dense rows, or the router's one-pair query) is kept per node
        pair in the current time-of-day period (``_leg_kwh``), and the legs are summed in order
        as the reference sums them (tests/test_drt_energy_check.py holds the two equal).
        """
        memo = self._leg_kwh_memo()
        need_kwh = 0  # summed leg by leg in order, as sum() does
        for pair in pairwise(nodes):
            kwh = memo.get(pair)
            if kwh is None:
                kwh = memo[pair] = self._leg_kwh_of(*pair)
            need_kwh += kwh
        return need_kwh + self.stand_kwh(self.config.stop_s * (len(nodes) - 1), "dwell")

    def _leg_kwh_memo(self) -> dict[tuple[int, int], float]:
        """Leg energies (kWh) by node pair in the router's period now; emptied when the period
        changes or it holds ``LEG_KWH_MEMO`` pairs (about 150 bytes each)."""
        period = self.router.period_index()
        kept_period, memo = self._leg_kwh
        if kept_period != period or len(memo) >= LEG_KWH_MEMO:
            memo = {}
            self._leg_kwh = (period, memo)
        return memo

    def _leg_kwh_of(self, origin: int, dest: int) -> float:
        """Energy (kWh) of the drive from ``origin`` to ``dest`` as :meth:`plan_kwh_reference`
        counts it: NaN time and distance when unreachable (the vehicle model gives 0 kWh)."""
        found = self.try_leg(origin, dest)
        time_s, distance_m = (math.nan, math.nan) if found is None else found
        return self.leg_kwh(distance_m, time_s)

    def energy_ok_reference(self, vehicle: DrtVehicle, nodes: list[int]) -> bool:
        """:meth:`energy_ok` from :meth:`plan_kwh_reference` (the readable twin)."""
        if vehicle.battery is None:
            return True
        need_kwh = self.plan_kwh_reference(nodes)
        return can_finish(vehicle.battery, need_kwh, self.config.battery_reserve_share)

    def plan_kwh_reference(self, nodes: list[int]) -> float:
        """:meth:`plan_kwh` as first written: every leg of ``nodes`` from the dense rows, or
        one ``router.legs`` call for the whole plan, then the dwells."""
        dense = self._dense if self._dense is not False else self.dense
        if dense is not None:
            times, dists, vt = dense.times, dense.dists, self.vehicle_type
            need_kwh = 0  # summed leg by leg in order, as sum() does
            for a, b in pairwise(nodes):
                need_kwh += leg_energy_kwh(vt, dists[a][b], times[a][b])
        else:
            times_s, dists_m = self.router.legs(self.profile, nodes[:-1], nodes[1:])
            need_kwh = sum(self.leg_kwh(d, t) for d, t in zip(dists_m, times_s, strict=True))
        return need_kwh + self.stand_kwh(self.config.stop_s * (len(nodes) - 1), "dwell")

    # ------------------------------------------------------------------ vehicle story
    def _vehicle(self, vehicle: DrtVehicle):
        """Serve the plan stop by stop; when it is empty, do what the idle policy says."""
        while True:
            if vehicle.plan:
                yield from self._serve_next(vehicle)
            else:
                yield from self._idle(vehicle)

    def _serve_next(self, vehicle: DrtVehicle):
        """Commit to the first stop of the plan: drive, wait for the rider if early, serve, dwell."""
        env, cfg = self.ctx.env, self.config
        stop, vehicle.plan = vehicle.plan[0], vehicle.plan[1:]  # a new list: see DrtVehicle.plan
        vehicle.version += 1
        time_s, distance_m = self.leg(vehicle.node, stop.node)
        arrive_s = self.dispatcher.arrival_takes_effect_s(env.now + time_s, self._clock_origin_s)
        served_s = max(arrive_s, stop.earliest_s)
        vehicle.free_s = served_s + cfg.stop_s
        vehicle.anchor_load = vehicle.load + party_of(stop)
        motion = self.motion
        if stop.node != vehicle.node:
            state = "occupied" if vehicle.load else "to_pickup"
            yield from motion.drive(
                vehicle, stop.node, time_s, distance_m, state=state, pax=vehicle.load
            )
        yield from motion.stand(vehicle, served_s - env.now, state="dwell", pax=vehicle.load)
        if stop.pickup and self._cancelled(stop.request):
            self._skip_cancelled(vehicle, stop.request)
            return
        if stop.pickup:
            self._pick_up(vehicle, stop.request)
        else:
            self._drop_off(vehicle, stop.request)
        yield from motion.stand(vehicle, cfg.stop_s, state="dwell", pax=vehicle.load)

    def _cancelled(self, request: DrtRequest) -> bool:
        """Was ``request`` cancelled before the vehicle reached its pick-up (cancel_en_route
        dispatchers: the clock is at or past its cancel time)?"""
        cancel_s = self._cancel_at.get(id(request))
        return cancel_s is not None and self.ctx.env.now >= cancel_s

    def _skip_cancelled(self, vehicle: DrtVehicle, request: DrtRequest) -> None:
        """The rider of ``request`` is gone: drop its drop-off from the plan; the vehicle stands
        where it is (HIVE's DispatchTrip to a cancelled request ends Idle at the pick-up)."""
        del self._cancel_at[id(request)]
        vehicle.plan = [stop for stop in vehicle.plan if stop.request is not request]
        vehicle.version += 1
        vehicle.free_s = self.ctx.env.now
        vehicle.anchor_load = vehicle.load

    def _pick_up(self, vehicle: DrtVehicle, request: DrtRequest) -> None:
        env, log = self.ctx.env, self.ctx.log
        self._cancel_at.pop(id(request), None)
        request.pickup_s = env.now
        vehicle.onboard.append(request)
        vehicle.load += request.party
        at = {"service": self.name, "trip_id": request.trip_id, "vehicle_id": vehicle.vehicle_id}
        log.board(env.now, node=vehicle.node, pax=vehicle.load, **at)
        log.pickup(env.now, node=vehicle.node, wait_s=env.now - request.arrival_s, **at)

    def _drop_off(self, vehicle: DrtVehicle, request: DrtRequest) -> None:
        env, log = self.ctx.env, self.ctx.log
        vehicle.onboard.remove(request)
        vehicle.load -= request.party
        in_vehicle_s = env.now - request.pickup_s
        at = {"service": self.name, "trip_id": request.trip_id, "vehicle_id": vehicle.vehicle_id}
        log.alight(env.now, node=vehicle.node, pax=vehicle.load, **at)
        log.dropoff(env.now, node=vehicle.node, in_vehicle_s=in_vehicle_s, **at)
        request.done.succeed(
            RideOutcome(
                served=True,
                wait_s=request.pickup_s - request.arrival_s,
                in_vehicle_s=in_vehicle_s,
                distance_m=request.direct_m,
                fare_krw=self._fare(request.direct_m),
                vehicle_id=vehicle.vehicle_id,
                egress_node=request.dropoff_node,
            )
        )
        self._vehicle_freed()  # a seat is free: a waiting request may fit now

    def _idle(self, vehicle: DrtVehicle):
        """Charge if the pack is low; else move where the idle policy says (``repositioning``),
        then wait to be dispatched (or until the idle drain brings the pack down to the charge
        threshold)."""
        env = self.ctx.env
        shift = self.shifts.get(vehicle.vehicle_id)
        if shift is not None and not on_shift(env.now, shift[0], shift[1]):
            yield from self._off_shift(vehicle, *shift)
            return
        if self._charger_for(vehicle) is not None:
            yield from self._charge(vehicle)
            return
        self._vehicle_freed()
        if vehicle.plan:  # a waiting request was given to this vehicle
            return
        target = self.idle.target_node(vehicle, env.now)
        if target is not None and target != vehicle.node:
            leg = self.try_leg(vehicle.node, target)
            if leg is not None and self.energy_ok(vehicle, [vehicle.node, target]):
                time_s, distance_m = leg
                vehicle.free_s = env.now + time_s
                vehicle.version += 1
                yield from self.motion.drive(
                    vehicle, target, time_s, distance_m, state="repositioning", pax=0
                )
                return
        if self.idle.retires(vehicle, env.now):
            yield from self._retired(vehicle)
            return
        vehicle.idle_since_s = since_s = env.now
        vehicle.free_s = env.now
        vehicle.wake = env.event()
        state = self._idle_state(vehicle)
        limit_s = self._idle_limit_s(vehicle) if state == "idle" else math.inf
        recheck_s = self.idle.recheck_after_s(vehicle, env.now)
        if recheck_s:
            limit_s = min(limit_s, recheck_s)
        if shift is not None:  # wake at the shift end to go home
            limit_s = min(limit_s, shift_end_after_s(env.now, shift[1]) - env.now)
        if math.isfinite(limit_s):
            yield vehicle.wake | env.timeout(limit_s)
        else:
            yield vehicle.wake
        vehicle.wake, vehicle.idle_since_s = None, None
        if env.now > since_s:
            self._log_idle(vehicle, since_s, env.now, state)

    def _off_shift(self, vehicle: DrtVehicle, start_s: float, end_s: float, home: int):
        """Off shift (its plan done): drive to the home base (``repositioning``), stand there
        switched off (``parked``) until the next shift start, taking no work meanwhile
        (HIVE's human driver off shift: DispatchBase home, ReserveBase)."""
        env = self.ctx.env
        vehicle.free_s = math.inf  # no dispatcher gives it work (as while charging)
        vehicle.version += 1
        leg = self.try_leg(vehicle.node, home) if home != vehicle.node else None
        if leg is not None:
            yield from self.motion.drive(
                vehicle, home, leg[0], leg[1], state="repositioning", pax=0
            )
        back_s = next_shift_start_s(env.now, start_s)
        self.off_duty.add(vehicle.vehicle_id)
        vehicle.idle_since_s = since_s = env.now
        yield env.timeout(back_s - env.now)  # logged at the end, or by finish() at the period end
        vehicle.idle_since_s = None
        self.off_duty.discard(vehicle.vehicle_id)
        if env.now > since_s:
            self._log_idle(vehicle, since_s, env.now, "parked")
        vehicle.free_s = env.now
        vehicle.version += 1
        self._vehicle_freed()

    def _retired(self, vehicle: DrtVehicle):
        """The idle policy retires the vehicle where it stands (HIVE's autonomous vehicle at a
        base): switched off (``parked``), no more work for the rest of the run."""
        vehicle.free_s = math.inf
        vehicle.version += 1
        self.off_duty.add(vehicle.vehicle_id)
        vehicle.idle_since_s = self.ctx.env.now  # logged by finish() at the period end
        yield self.ctx.env.event()  # never fires

    def _log_idle(self, vehicle: DrtVehicle, since_s: float, until_s: float, state: str) -> None:
        """Draw and log an idle stand from ``since_s`` to ``until_s`` (s) in ``state``."""
        self.motion.log_stand(vehicle, since_s, until_s - since_s, state=state)

    def _low(self, vehicle: DrtVehicle) -> bool:
        """Is the pack at or below ``energy.charge_below_share`` (within EPS_KWH)?"""
        if vehicle.battery is None or self.ctx.energy is None:
            return False
        floor_kwh = self.ctx.energy.config.charge_below_share * vehicle.battery.capacity_kwh
        return vehicle.battery.soc_kwh <= floor_kwh + EPS_KWH

    def _idle_state(self, vehicle: DrtVehicle) -> str:
        """``idle`` (systems on, drawing ``aux_kw``), or ``parked`` (switched off, ``standby_kw``)
        for a vehicle whose pack is down to the charge threshold with no charger it can reach."""
        return "parked" if self._low(vehicle) else "idle"

    def _idle_limit_s(self, vehicle: DrtVehicle) -> float:
        """How long (s) the vehicle can stand idle before its pack reaches the charge threshold."""
        if vehicle.battery is None or self.ctx.energy is None or self.vehicle_type.aux_kw <= 0:
            return math.inf
        floor_kwh = self.ctx.energy.config.charge_below_share * vehicle.battery.capacity_kwh
        return max(vehicle.battery.soc_kwh - floor_kwh, 0.0) / self.vehicle_type.aux_kw * 3600.0

    def _charger_for(self, vehicle: DrtVehicle):
        """The (site, leg) to charge at when the pack is below ``energy.charge_below_share``
        and a site of this service is reachable with the energy left; else None."""
        energy = self.ctx.energy
        if not self._low(vehicle):
            return None
        found = energy.nearest_site(self.router, self.profile, vehicle.node, self.name)
        if found is None:
            return None
        site = found[0]
        leg = self.try_leg(vehicle.node, site.node)
        if leg is None or not vehicle.battery.can_supply(self.leg_kwh(leg[1], leg[0])):
            return None
        return site, leg

    def _charge(self, vehicle: DrtVehicle):
        """Drive to the nearest charging site (``to_charger``), queue, charge to
        ``energy.charge_to_share``; the vehicle takes no work until it is back in service."""
        env = self.ctx.env
        site, (time_s, distance_m) = self._charger_for(vehicle)
        vehicle.free_s = math.inf  # the dispatcher skips it (its pick-up bound is infinite)
        vehicle.version += 1
        if site.node != vehicle.node:
            yield from self.motion.drive(
                vehicle, site.node, time_s, distance_m, state="to_charger", pax=0
            )
        yield env.process(
            site.charge(
                vehicle.battery,
                self.ctx.energy.config.charge_to_share,
                vehicle.vehicle_id,
                self.name,
                self.vehicle_type,
            )
        )
        vehicle.free_s = env.now
        vehicle.version += 1
        self._vehicle_freed()

    # ------------------------------------------------------------------ queued requests
    def _vehicle_freed(self) -> None:
        """A vehicle freed a seat or came back into service: try the waiting requests (not with
        dispatch batch: they wait for the next round)."""
        if self.waiting and self.batch_s is None:
            self._rematch()

    def _rematch(self) -> None:
        """Dispatch every waiting request again, first come first; matched ones leave the queue.

        A request already tried on the fleet state of now (:meth:`FleetView.state`: no plan,
        anchor, charge or drive-time period changed since) is not tried again when the
        dispatcher says its rejection holds then
        (:meth:`~mobisim.services.drt_dispatch.Dispatcher.rejection_holds_while_fleet_unchanged`;
        the same decisions, fewer searches: ``tests/test_drt_rematch.py``)."""
        now_s, still = self.ctx.env.now, []
        skip = REMATCH_SKIPS_UNCHANGED and self.dispatcher.rejection_holds_while_fleet_unchanged()
        state = None  # the fleet's state, worked out when first needed after each change
        tried = {}
        for request in self.waiting:
            if skip:
                state = state or self.fleet_view.state()
                last = self._tried.get(id(request))
                if last is not None and last[0] is request and last[1] == state:
                    still.append(request)
                    tried[id(request)] = last
                    self.rematch_skipped += 1
                    continue
            insertion = self._dispatch_one(request, now_s)
            if insertion is None:
                still.append(request)
                if skip:
                    tried[id(request)] = (request, state)
            else:
                self._assign(request, insertion)
                state = None  # a plan changed
        self.waiting = still
        self._tried = tried

    def _enqueue(self, request: DrtRequest) -> None:
        """Let ``request`` wait for a vehicle until its latest pick-up (``queue_requests``)."""
        env = self.ctx.env
        self.waiting.append(request)
        if self.dispatcher.cancel_en_route:
            env.process(self._cancel_at_cancel_time(request))
        else:
            env.process(self._give_up_at_latest_pickup(request))
        if self.batch_s is None and not self._rematching:
            self._rematching = True
            env.process(self._periodic_rematch())

    def _periodic_rematch(self):
        """Every ``rematch_interval_s`` while requests wait, dispatch them again."""
        env = self.ctx.env
        while self.waiting:
            yield env.timeout(self.config.rematch_interval_s)
            self._rematch()
        self._rematching = False

    def _batch_rounds(self):
        """dispatch batch: every ``batch_interval_s`` from the start, assign the open requests
        together (the dispatcher's ``assign``); the others stay open for the next round. The
        rounds end once the service hours are over and no request is open."""
        env = self.ctx.env
        while self.waiting or env.now <= self.service_end_s:
            yield LateTimeout(env, self.batch_s)  # after the requests made at the round's time
            if self.waiting:
                changes = self.dispatcher.dispatch(self.waiting, self.fleet_view, env.now)
                assigned = self._apply(changes, self.waiting, env.now)
                self.waiting = [r for r in self.waiting if id(r) not in assigned]

    def _cancel_at_cancel_time(self, request: DrtRequest):
        """cancel_en_route dispatchers (HIVE): the request is cancelled at the dispatcher's
        cancel time unless picked up, also while a vehicle drives to it (event ``give_up``,
        reason ``gave_up_max_wait``); that vehicle finds no rider (:meth:`_skip_cancelled`)."""
        env = self.ctx.env
        cancel_s = self.dispatcher.cancel_s(request, self.config.max_wait_s, self._clock_origin_s)
        self._cancel_at[id(request)] = cancel_s
        yield env.timeout(max(cancel_s - env.now, 0.0))
        if request.pickup_s == request.pickup_s:  # picked up (not NaN)
            return
        if any(waiting is request for waiting in self.waiting):  # no vehicle will come
            self.waiting = [waiting for waiting in self.waiting if waiting is not request]
            del self._cancel_at[id(request)]
        self._gave_up(request)

    def _gave_up(self, request: DrtRequest) -> None:
        """The rider of ``request`` stops waiting now: event ``give_up`` with reason
        ``gave_up_max_wait``, and the outcome says how long the rider waited."""
        now_s = self.ctx.env.now
        waited_s = now_s - request.arrival_s
        reason = "gave_up_max_wait"
        self.ctx.log.give_up(
            now_s,
            service=self.name,
            trip_id=request.trip_id,
            node=request.pickup_node,
            waited_s=waited_s,
            reason=reason,
        )
        request.done.succeed(RideOutcome(served=False, reason=reason, wait_s=waited_s))

    def _give_up_at_latest_pickup(self, request: DrtRequest):
        """The rider stops waiting at the latest pick-up if no vehicle took the request
        (event ``give_up``, reason ``gave_up_max_wait``; the outcome says how long it waited)."""
        env = self.ctx.env
        yield env.timeout(max(request.latest_pickup_s - env.now, 0.0))
        if not any(waiting is request for waiting in self.waiting):
            return
        self.waiting = [waiting for waiting in self.waiting if waiting is not request]
        self._gave_up(request)

    # ------------------------------------------------------------------ the dispatcher
    @property
    def fleet_view(self) -> FleetView:
        """The read-only :class:`FleetView` of the fleet handed to the dispatcher."""
        if self._fleet_view is None:
            dense = self.dense
            if dense is not None:  # vehicles near the pick-up only (exact: see drt_grid)
                grid = dense_grid(self.router.network, dense.times_to.T)
                drive = DenseDrive(dense, grid)
            else:
                drive = RouterDrive(
                    self.router, self.profile, router_grid(self.router, self.profile)
                )
            nodes = self.ctx.network.nodes
            xy_m = np.column_stack([nodes["x_m"].to_numpy(float), nodes["y_m"].to_numpy(float)])
            self._fleet_view = FleetView(
                self.vehicles, drive, float(self.config.stop_s), self.energy_ok, xy_m
            )
        return self._fleet_view

    def _checked(self, change: Assignment, requests: list[DrtRequest], now_s: float) -> Insertion:
        """The :class:`Insertion` of the dispatcher's ``change``, timed by the reference model
        (:func:`~mobisim.services.drt_timing.reference_insertion_at`); a :class:`DispatchError`
        naming the dispatcher, the request and the broken limit when it is not feasible."""
        if len(self._vehicle_by_id) != len(self.vehicles):
            self._vehicle_by_id = {v.vehicle_id: v for v in self.vehicles}
        request = change.request
        vehicle = self._vehicle_by_id.get(change.vehicle_id)
        if not any(open_request is request for open_request in requests):
            problem = "the request is not one of the open requests it was given"
        elif vehicle is None:
            problem = f"no vehicle {change.vehicle_id} in the fleet"
        else:
            nodes = [vehicle.node, *(stop.node for stop in vehicle.plan)]
            nodes += [request.pickup_node, request.dropoff_node]
            found = reference_insertion_at(
                vehicle,
                request,
                change.pickup_index,
                change.dropoff_index,
                now_s,
                self.fleet_view.drive_among(list(dict.fromkeys(nodes))),
                float(self.config.stop_s),
                self.energy_ok,
            )
            if isinstance(found, Insertion):
                return found
            problem = found
        raise DispatchError(
            f"dispatcher {self.config.dispatch!r} (services.{self.name}.dispatch) at "
            f"{now_s:.0f} s put trip {request.trip_id} into vehicle {change.vehicle_id} at "
            f"positions ({change.pickup_index}, {change.dropoff_index}), which breaks a "
            f"limit: {problem}"
        )

    def _quote(self, request: DrtRequest, now_s: float) -> Insertion | None:
        """The checked insertion the dispatcher quotes for ``request`` (None: no vehicle)."""
        change = self.dispatcher.quote(request, self.fleet_view, now_s)
        return None if change is None else self._checked(change, [request], now_s)

    def _dispatch_one(self, request: DrtRequest, now_s: float) -> Insertion | None:
        """The checked insertion the dispatcher gives ``request`` alone (None: none)."""
        changes = self.dispatcher.dispatch([request], self.fleet_view, now_s)
        if len(changes) > 1:
            raise DispatchError(
                f"dispatcher {self.config.dispatch!r} (services.{self.name}.dispatch) "
                f"returned {len(changes)} plan changes for the one trip {request.trip_id}"
            )
        return self._checked(changes[0], [request], now_s) if changes else None

    def _apply(
        self, changes: list[Assignment], requests: list[DrtRequest], now_s: float
    ) -> set[int]:
        """Check and apply ``changes`` in order (each against the plans the earlier ones
        left); the ids of the requests assigned. A request assigned twice is refused."""
        assigned: set[int] = set()
        for change in changes:
            if id(change.request) in assigned:
                raise DispatchError(
                    f"dispatcher {self.config.dispatch!r} (services.{self.name}.dispatch) "
                    f"assigned trip {change.request.trip_id} twice at {now_s:.0f} s"
                )
            self._assign(change.request, self._checked(change, requests, now_s))
            assigned.add(id(change.request))
        return assigned

    def _assign(self, request: DrtRequest, insertion) -> None:
        """Put the request into the insertion's vehicle plan and wake the vehicle if idle."""
        vehicle = insertion.vehicle
        insert_stops(vehicle, request, insertion)
        if vehicle.wake is not None and not vehicle.wake.triggered:
            vehicle.wake.succeed()

    # ------------------------------------------------------------------ protocol
    def _fare(self, direct_m: float) -> float:
        cfg = self.config
        return cfg.fare_base_krw + cfg.fare_per_km_krw * direct_m / METRES_PER_KM

    def _access(self, node: int, outbound: bool) -> tuple[int, float] | None:
        """(stop node, walk m) nearest ``node`` by walking; None when none is within reach."""
        if self.stop_nodes is None:
            return (node, 0.0) if self._in_area[node] else None
        stop, walk_m = self._nearest_stop(int(node), outbound)
        if walk_m > self.config.max_walk_m:
            return None
        return stop, walk_m

    def _nearest_stop(self, node: int, outbound: bool) -> tuple[int, float]:
        """(stop node, walk m) of the stop nearest ``node`` (from it if ``outbound``, else to it),
        the first of equals; walk inf when none is within ``max_walk_m``. Worked out once per
        node."""
        key = (node, outbound)
        nearest = self._nearest_stops.get(key)
        if nearest is None:
            router = self.router
            # walks stopped at the walk limit: a stop beyond it is never used (see _access)
            within_m = router.distances_within_m(
                WALK_PROFILE, node, self.config.max_walk_m, reverse=not outbound
            )
            walks = within_m[self.stop_nodes]
            best = int(np.argmin(walks))
            nearest = self._nearest_stops[key] = (int(self.stop_nodes[best]), float(walks[best]))
        return nearest

    def _plan_request(self, trip: Trip, now_s: float):
        """(DrtRequest, access walk m, egress walk m) for ``trip`` at ``now_s``, or a refusal reason."""
        cfg = self.config
        if not self.service_start_s <= now_s <= self.service_end_s:
            return "outside_service_hours"
        if trip.party_size > cfg.capacity_pax:
            return "party_too_large"
        if self.stop_nodes is None and not (
            self._in_area[trip.origin_node] and self._in_area[trip.dest_node]
        ):
            return "outside_service_area"
        access, egress = self._access(trip.origin_node, True), self._access(trip.dest_node, False)
        if access is None or egress is None:
            return "no_stop_within_walk"
        if access[0] == egress[0]:
            return "no_useful_stop_pair"
        leg = self.try_leg(access[0], egress[0])
        if leg is None:
            return "no_drive_path"
        arrival_s = now_s + access[1] / WALK_SPEED_MPS
        ready_s = max(arrival_s, now_s + min_to_s(cfg.booking_lead_min))
        # cancel_en_route (HIVE): planned without pick-up and arrival limits, cancelled instead
        unlimited = self.dispatcher.cancel_en_route
        request = DrtRequest(
            trip_id=trip.trip_id,
            pickup_node=access[0],
            dropoff_node=egress[0],
            party=trip.party_size,
            arrival_s=arrival_s,
            ready_s=ready_s,
            latest_pickup_s=math.inf if unlimited else latest_pickup_s(ready_s, cfg.max_wait_s),
            latest_dropoff_s=math.inf
            if unlimited
            else latest_dropoff_s(ready_s, leg[0], cfg.max_travel_alpha, cfg.max_travel_beta_s),
            direct_s=leg[0],
            direct_m=leg[1],
        )
        return request, access[1], egress[1]

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer with the planned wait and ride of the best insertion, or why none.

        Parameters
        ----------
        trip : Trip
            Origin/destination node indices and party size.
        now_s : float
            Clock, s after midnight.

        Unavailable reasons: ``outside_service_hours``, ``party_too_large``,
        ``outside_service_area``, ``no_stop_within_walk``, ``no_useful_stop_pair``,
        ``no_drive_path``, ``no_vehicle_feasible`` (not with ``queue_requests``: then the offer
        quotes the worst case its limits allow, pick-up at the latest pick-up and drop-off at
        the latest drop-off; with ``dispatch: hive_step``, pick-up at the cancel time and the direct
        ride after it). The offer's ``handle`` holds the planned insertion (used by
        :meth:`request` while the vehicle's plan is unchanged).
        """
        planned = self._plan_request(trip, now_s)
        if isinstance(planned, str):
            return [unavailable(self.name, self.mode, planned)]
        request, access_m, egress_m = planned
        insertion = self._quote(request, now_s)
        if insertion is None and not self.config.queue_requests:
            return [unavailable(self.name, self.mode, "no_vehicle_feasible")]
        if insertion is None and self.dispatcher.cancel_en_route:  # no limits: its cancel time
            pickup_s = request.ready_s + self.config.max_wait_s
            dropoff_s = pickup_s + request.direct_s
        elif insertion is None:  # it would wait: quote the worst case its limits allow
            pickup_s, dropoff_s = request.latest_pickup_s, request.latest_dropoff_s
        else:
            pickup_s, dropoff_s = insertion.pickup_s, insertion.dropoff_s
        return [
            Offer(
                service=self.name,
                mode=self.mode,
                available=True,
                access_walk_m=access_m,
                access_walk_s=access_m / WALK_SPEED_MPS,
                wait_s=pickup_s - request.arrival_s,
                in_vehicle_s=dropoff_s - pickup_s,
                egress_walk_m=egress_m,
                egress_walk_s=egress_m / WALK_SPEED_MPS,
                distance_m=request.direct_m,
                fare_krw=self._fare(request.direct_m),
                access_node=request.pickup_node,
                egress_node=request.dropoff_node,
                handle=(request, insertion),
            )
        ]

    def request(self, trip: Trip, offer: Offer):
        """Book the ride now: insert it into a vehicle's plan, or reject it at once.

        Parameters
        ----------
        trip : Trip
            The trip being booked.
        offer : Offer
            An offer of this service; its planned insertion is used if still valid (same time,
            vehicle plan unchanged), otherwise dispatch runs again.

        Returns an event firing at drop-off (served) or immediately with reason ``rejected``
        (with ``queue_requests``: at the latest pick-up with reason ``gave_up_max_wait``). With
        ``dispatch: batch`` the request waits for the next assignment round instead of being
        inserted now (it gives up at its latest pick-up if no round assigns it).
        """
        env, log = self.ctx.env, self.ctx.log
        request, insertion = offer.handle if offer.handle else (None, None)
        stale = (
            insertion is None
            or request.trip_id != trip.trip_id
            or insertion.quoted_s != env.now
            or insertion.version != insertion.vehicle.version
        )
        if stale:
            planned = self._plan_request(trip, env.now)
            request = None if isinstance(planned, str) else planned[0]
            insertion = None
            if request is not None:
                insertion = self._dispatch_one(request, env.now)
        node = offer.access_node if request is None else request.pickup_node
        log.request(
            env.now, service=self.name, trip_id=trip.trip_id, node=node, to_node=offer.egress_node
        )
        self.idle.note_request(node, env.now)
        done = env.event()
        can_wait = insertion is not None or self.config.queue_requests
        if self.batch_s is not None and request is not None and can_wait:
            request.done = done  # open until a batch round assigns it or it gives up
            self._enqueue(request)
            return done
        if insertion is None and request is not None and self.config.queue_requests:
            request.done = done
            self._enqueue(request)
            return done
        if insertion is None:
            log.reject(
                env.now, service=self.name, trip_id=trip.trip_id, node=node, reason="rejected"
            )
            return done.succeed(RideOutcome(served=False, reason="rejected"))
        request.done = done
        self._assign(request, insertion)
        return done

    def finish(self, end_s: float) -> None:
        """Log the idle stand of every waiting vehicle up to ``end_s`` (s)."""
        for vehicle in self.vehicles:
            since_s = vehicle.idle_since_s
            if since_s is not None and end_s > since_s:
                off = vehicle.vehicle_id in self.off_duty
                state = "parked" if off else self._idle_state(vehicle)
                self._log_idle(vehicle, since_s, end_s, state)
                vehicle.idle_since_s = end_s


def virtual_stops(network, area_nodes: np.ndarray, spacing_m: float) -> np.ndarray:
    """One stop node per square cell of ``spacing_m`` (m): the area node nearest the cell centre.

    Parameters
    ----------
    network : Network
        Gives node coordinates ``x_m``/``y_m`` (projected, m).
    area_nodes : ndarray of int
        Node indices inside the service area.
    spacing_m : float
        Side of the cells, m.
    """
    x = network.nodes["x_m"].to_numpy()[area_nodes]
    y = network.nodes["y_m"].to_numpy()[area_nodes]
    cx, cy = np.floor(x / spacing_m), np.floor(y / spacing_m)
    dist2 = (x - (cx + 0.5) * spacing_m) ** 2 + (y - (cy + 0.5) * spacing_m) ** 2
    cell = cx.astype(np.int64) * 1_000_003 + cy.astype(np.int64)
    order = np.lexsort((dist2, cell))
    first = np.unique(cell[order], return_index=True)[1]
    return np.sort(area_nodes[order[first]])

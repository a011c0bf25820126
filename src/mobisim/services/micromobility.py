"""Shared bikes, e-bikes, e-scooters and segways, docked or dockless, with operations crews.

Device types (``devices``, a fleet size each): ``bike`` 15 km/h [T2][T3], ``ebike`` 18 km/h (A),
``escooter`` 13 km/h (A, legal cap 25 km/h [M7]), ``segway`` 12 km/h (A), ridden on the bike view
of the network (router profiles of the same names; another ``speed_kmh`` adds a profile
``<service>.<type>``). Energy comes from the vehicle type of :mod:`mobisim.energy`
(``vehicle_type``, default ``bike``: none; ``e_bike``: 8 Wh/km plug, 500 Wh [M1][M4][M5];
``e_scooter``: 20 Wh/km plug, 250 Wh, standby drain while parked [M1][M2]; ``segway`` A), so the
energy accounting of the run sees the same numbers. A device below ``min_soc_share`` of its
battery plus the energy of the ride is not offered; the battery never goes below empty.

Parking (``parking``): ``docked`` devices stand in stations with docks (``stations``; a full
station sends the rider on to the next one nearest the destination with a free dock, the longer
walk recorded in the outcome); ``dockless`` devices stand at nodes, spread at the start over
``zones`` (weights over named places; their union is the service area) and parked at the
destination. Without ``zones`` the fleet is deployed over the network's places whose node lies in
the bike view's main strongly connected component (the others are left out: a device there
could not be ridden away), half on the residential places and half split equally among the
other kinds, by place weight within a kind (A; ``sharing_fleet.default_zones``), the zones'
nodes limited to that component; without usable places, over the whole component. The service
says so in a warning (logger ``mobisim.services``). Offers: one per device type, walking (1.2 m/s [T1]) to the nearest usable device
within ``max_walk_m`` (200 m dockless, 300 m docked; A, DEFAULTS §6.2), riding, docking or
parking, walking on; fare = unlock fee + per minute.

Operations crews (``crews``): vans on the drive network (``vehicle_type`` ``e_van``, A) that, on
a schedule or when a station/zone falls to ``trigger_share`` of its target or a device ends a
ride below ``swap_below_share``, leave the depot, swap the batteries of low devices
(``battery_swap`` event, value = device id; the energy as a zero-length charge, [M6]), collect
devices at stations/zones above their target and drop them where below, and return
(``vehicle_leg`` state ``crew``). Devices ride on the van as zero-distance ``repositioning`` legs
(detail ``on_van``): the km are the van's, part of the system's cost [M3].
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import simpy
from pydantic import Field, field_validator, model_validator

from mobisim.energy.battery import EPS_KWH
from mobisim.energy.charging import swap_battery
from mobisim.energy.consumption import leg_energy_kwh
from mobisim.network.views import main_component
from mobisim.scenario import registry
from mobisim.scenario.base import ServiceConfig, StrictModel
from mobisim.services.base import Trip
from mobisim.services.relocation import OperationsConfig, Operator
from mobisim.services.rental import RentalPlan, SharingService, fare_krw
from mobisim.services.sharing_fleet import (
    Fleet,
    Lot,
    SharedVehicle,
    StationConfig,
    apportion,
    default_zones,
    station_nodes,
    zone_partition,
)
from mobisim.services.stops import StopConfig, resolve_stops
from mobisim.units import min_to_s

DeviceType = Literal["bike", "ebike", "escooter", "segway"]
#: per device type: router profile speed km/h, energy vehicle type, unlock KRW, KRW per minute
DEVICE_DEFAULTS: dict[str, tuple[float, str, float, float]] = {
    "bike": (15.0, "bike", 1000.0, 0.0),  # [T2][T3]; fare A (a public-bike pass order)
    "ebike": (18.0, "e_bike", 1000.0, 100.0),  # speed A; fare A
    "escooter": (13.0, "e_scooter", 1000.0, 150.0),  # speed A [M7]; fare A (Korean operators)
    "segway": (12.0, "segway", 1000.0, 150.0),  # speed A; fare A
}
CREW_PROFILE = "car"


class DeviceConfig(StrictModel):
    """One device type of the fleet and how many there are."""

    type: DeviceType = Field(description="bike, ebike, escooter or segway.")
    count: int = Field(ge=0, description="Fleet size of this type (e.g. 500 -> 1,000).")
    speed_kmh: float | None = Field(
        default=None,
        gt=0,
        description="Riding speed, km/h (default: bike 15 [T2][T3], ebike 18, escooter 13, segway 12; A).",
    )
    vehicle_type: str | None = Field(
        default=None,
        description="Energy vehicle type (default: bike, e_bike 8 Wh/km 500 Wh [M1][M5], "
        "e_scooter 20 Wh/km 250 Wh [M1], segway).",
    )
    unlock_fee_krw: float | None = Field(
        default=None, ge=0, description="Fee per ride, KRW (default 1,000; A)."
    )
    fare_per_min_krw: float | None = Field(
        default=None,
        ge=0,
        description="Per minute, KRW (default: bike 0, ebike 100, escooter/segway 150; A).",
    )


class CrewConfig(OperationsConfig):
    """Operations vans: when they run (``policy``) and what they do on a tour."""

    vehicle_type: str = Field(default="e_van", description="Energy vehicle type of the vans (A).")
    van_capacity: int = Field(default=20, ge=1, description="Devices a van carries at once (A).")
    low_battery: str = Field(
        default="swap",
        description="What a tour does with low devices (a registered crew_low_battery policy): swap: a fresh battery on the street "
        "(below swap_below_share); collect_to_depot: take them (below collect_below_share, "
        "stranded flat ones too) to the depot, charge them there at depot_charge_kw and put "
        "them back out at stations/zones below target once at redeploy_above_share (A).",
    )
    swap_below_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="swap: devices below this charge share get a fresh battery on a tour (A).",
    )
    max_swaps_per_tour: int = Field(
        default=30,
        ge=0,
        description="Battery swaps (collect_to_depot: low devices collected) per tour at most, "
        "all vans together (A).",
    )
    collect_below_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="collect_to_depot: devices below this charge share are collected (A).",
    )
    redeploy_above_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="collect_to_depot: devices at the depot charged to this share go back out "
        "(A: the end of the full-power part of the charging curve).",
    )
    depot_charge_kw: float = Field(
        default=1.0,
        gt=0,
        description="collect_to_depot: charging power per device at the depot, kW, capped by "
        "the type's max_charge_kw (e_scooter 0.1, e_bike 0.15; A).",
    )
    depot_spaces: int | None = Field(
        default=None,
        ge=1,
        description="collect_to_depot: devices the depot holds (charging slots) at once "
        "(default: no limit; A).",
    )
    depot: StopConfig | None = Field(
        default=None,
        description="Where vans start and end, and where collected devices charge (default: "
        "the first station/zone, named depot).",
    )

    @field_validator("low_battery")
    @classmethod
    def _known_low_battery_policy(cls, name: str) -> str:
        known = sorted(registry.POLICIES["crew_low_battery"])
        if name not in known:
            raise ValueError(f"expected one of: {', '.join(known)} (got {name!r})")
        return name

    @model_validator(mode="after")
    def _redeploy_above_collect(self) -> CrewConfig:
        if (
            self.low_battery == "collect_to_depot"
            and self.redeploy_above_share <= self.collect_below_share
        ):
            raise ValueError(
                "collect_to_depot expects redeploy_above_share > collect_below_share "
                f"(got {self.redeploy_above_share} <= {self.collect_below_share})"
            )
        return self


class MicromobilityConfig(ServiceConfig):
    """``type: micromobility``: shared bikes, e-bikes, e-scooters, segways."""

    type: Literal["micromobility"] = "micromobility"
    parking: Literal["docked", "dockless"] = Field(
        default="dockless", description="docked: stations with docks; dockless: parked at nodes."
    )
    devices: list[DeviceConfig] = Field(min_length=1, description="Device types and fleet sizes.")
    stations: list[StationConfig] = Field(
        default_factory=list,
        description="docked: stations (name, location, spaces = docks, vehicles at the start "
        "(default: the fleet spread in proportion to docks), charge_kw).",
    )
    zones: dict[str, float] | None = Field(
        default=None,
        description="dockless: initial distribution, weights over named places/zones; their "
        "union is the service area (default: the places whose node the bike view can reach and "
        "leave, half the fleet on residential places and half split equally among the other "
        "kinds, by place weight within a kind (A); logged as a warning).",
    )
    max_walk_m: float | None = Field(
        default=None,
        gt=0,
        description="Longest walk to a device, m (default: 200 dockless, 300 docked; A, DEFAULTS §6.2).",
    )
    reservation_min: float = Field(
        default=0.0, ge=0, description="A booked device is held this long, min (0: no hold; A)."
    )
    initial_soc_min_share: float = Field(
        default=0.5, ge=0, le=1, description="Charge at the start drawn uniformly from here (A)."
    )
    initial_soc_max_share: float = Field(
        default=1.0, ge=0, le=1, description="... up to here, share of the battery (A)."
    )
    min_soc_share: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="Charge a device must keep after the ride, share; below it is unusable (A).",
    )
    crews: CrewConfig = Field(
        default_factory=CrewConfig, description="Operations vans (policy none: no crews)."
    )

    @model_validator(mode="after")
    def _parking_given(self) -> MicromobilityConfig:
        types = [d.type for d in self.devices]
        repeated = sorted({t for t in types if types.count(t) > 1})
        if repeated:
            raise ValueError(f"devices: each type once (listed twice: {repeated})")
        if self.initial_soc_min_share > self.initial_soc_max_share:
            raise ValueError("expected initial_soc_min_share <= initial_soc_max_share")
        if self.parking == "docked":
            if not self.stations:
                raise ValueError("parking docked expects a non-empty 'stations' list")
            fleet = sum(d.count for d in self.devices)
            given = [s.vehicles for s in self.stations if s.vehicles is not None]
            if len(given) == len(self.stations) and sum(given) != fleet:
                raise ValueError(
                    f"expected the stations' vehicles to add up to the fleet (got stations "
                    f"{sum(given)} != fleet {fleet}: the devices' count)"
                )
            docks = sum(s.spaces for s in self.stations)
            if fleet > docks:
                raise ValueError(
                    f"expected a fleet that fits the docks (got docks {docks} < fleet {fleet}: "
                    "the stations' spaces against the devices' count)"
                )
        return self


def _say_default_zones(
    service: str, zones: dict[str, float], left_out: list[str], covered: list[str], n_nodes: int
):
    """Log (warning, logger ``mobisim.services``) the default deployment of a dockless fleet."""
    if zones:
        shown = ", ".join(f"{name} {share * 100:.0f} %" for name, share in zones.items())
        text = f"over {len(zones)} places by kind and weight ({shown})"
    else:
        text = f"over the whole bike network ({n_nodes} nodes; the network has no usable places)"
    if left_out:
        text += (
            f"; left out, outside the bike view's main strongly connected component: "
            f"{', '.join(left_out)}"
        )
    if covered:
        text += f"; left out, inside the places listed before them: {', '.join(covered)}"
    logging.getLogger("mobisim.services").warning(
        "services.%s.zones not given: dockless devices deployed %s", service, text
    )


class MicromobilityService(SharingService):
    """Shared devices with optional operations crews (see the module docstring)."""

    type_name = "micromobility"
    Config = MicromobilityConfig
    mode = "micromobility"

    def __init__(self, config: MicromobilityConfig, ctx):
        super().__init__(config, ctx)
        key = f"services.{self.name}"
        docked = config.parking == "docked"
        self.stations = docked
        self.max_walk_m = config.max_walk_m or (300.0 if docked else 200.0)
        self.reservation_s = min_to_s(config.reservation_min)
        self.min_soc_share = config.min_soc_share
        env = ctx.env
        if docked:
            nodes = station_nodes(ctx.network, config.stations, f"{key}.stations")
            lots = [
                Lot(s.name, int(n), simpy.FilterStore(env, s.spaces), s.spaces, 0, s.charge_kw)
                for s, n in zip(config.stations, nodes, strict=True)
            ]
            given = [s.vehicles for s in config.stations]
            counts = (
                given
                if None not in given
                else apportion(self.fleet_size, [s.spaces for s in config.stations])
            )
        else:
            zones, usable = config.zones, None
            if zones is None:  # default zones from the places, on the devices' own network
                usable = main_component(ctx.network.view("bike"))
                zones, left_out = default_zones(ctx.network, usable)
            names, refs, weights, self.zone_of = zone_partition(
                ctx.network, zones, f"{key}.zones", usable=usable, skip_covered=config.zones is None
            )
            if config.zones is None:
                covered = [name for name in zones if name not in names]
                shares = (
                    dict(zip(names, weights / max(weights.sum(), 1e-12), strict=True))
                    if zones
                    else {}
                )
                _say_default_zones(self.name, shares, left_out, covered, int(usable.sum()))
            lots = [
                Lot(n, int(r), simpy.FilterStore(env), None)
                for n, r in zip(names, refs, strict=True)
            ]
            counts = apportion(self.fleet_size, weights)
        for lot, count in zip(lots, counts, strict=True):
            lot.target = int(count)
        self.fleet = Fleet(self.name, ctx, lots)
        self.device_of: dict[str, str] = {}  # router profile -> device type
        self.fares: dict[str, tuple[float, float]] = {}
        self.types = {}
        for device in config.devices:
            speed, vt_name, unlock, per_min = DEVICE_DEFAULTS[device.type]
            profile = device.type
            if device.speed_kmh is not None and device.speed_kmh != speed:
                profile = f"{self.name}.{device.type}"
                ctx.router.add_profile(profile, "bike", speed_kmh=device.speed_kmh)
            self.device_of[profile] = device.type
            self.types[profile] = self.fleet.vehicle_type(device.vehicle_type or vt_name)
            self.fares[profile] = (
                unlock if device.unlock_fee_krw is None else device.unlock_fee_krw,
                per_min if device.fare_per_min_krw is None else device.fare_per_min_krw,
            )
        crews = config.crews
        self.depot_node = lots[0].node
        if crews.depot is not None:
            self.depot_node = int(
                resolve_stops(ctx.network, [crews.depot], f"{key}.crews.depot")[0]
            )
        #: what the vans do with low devices (``crews.low_battery``)
        self.low_battery = registry.policy("crew_low_battery", crews.low_battery)(self)
        self.depot: Lot | None = None  # where collected devices charge (collect_to_depot)
        if self.low_battery.uses_depot:
            name = "depot" if crews.depot is None else crews.depot.name
            store = simpy.FilterStore(env, crews.depot_spaces or float("inf"))
            self.depot = Lot(
                name, self.depot_node, store, crews.depot_spaces, 0, crews.depot_charge_kw, True
            )
        self.operator = Operator(
            crews,
            self.fleet,
            CREW_PROFILE,
            self._van_tour,
            self._movable,
            sources=[self.depot] if self.depot is not None else None,
            pending=lambda: bool(self._low_for(0, set(), 1)),
        )
        self.vans: list[SharedVehicle] = []

    @property
    def fleet_size(self) -> int:
        """Devices of every type."""
        return sum(d.count for d in self.config.devices)

    def kinds(self) -> list[str]:
        """The router profiles of the device types (one offer each)."""
        return list(self.device_of)

    def mode_of(self, kind: str) -> str:
        """The device type (bike, ebike, escooter, segway) as the mode label."""
        return self.device_of[kind]

    def fare_krw(self, kind: str, ride_s: float, ride_m: float) -> float:
        """Unlock fee + per minute × ``ride_s`` (s), KRW (``ride_m`` m not charged)."""
        unlock, per_min = self.fares[kind]
        return fare_krw(unlock, per_min, 0.0, ride_s, ride_m)

    # ------------------------------------------------------------------ set-up
    def start(self) -> None:
        """Put the devices out (types shuffled over the slots), park the vans, start the crews."""
        cfg, rng = self.config, self.ctx.rng
        kinds = np.repeat(list(self.device_of), [d.count for d in cfg.devices])
        rng.shuffle(kinds)
        slots = iter(kinds)
        for index, lot in enumerate(self.fleet.lots):
            own_nodes = None if self.stations else np.flatnonzero(self.zone_of == index)
            for _ in range(lot.target):
                kind = str(next(slots))
                soc = rng.uniform(cfg.initial_soc_min_share, cfg.initial_soc_max_share)
                device = self.fleet.add_vehicle(kind, self.types[kind], soc, capacity=1)
                node = lot.node if own_nodes is None else int(rng.choice(own_nodes))
                self.fleet.place(device, lot, node)
            if lot.target == 0:
                self.fleet.log_stock(lot)
        if self.operator.policy.runs:
            van_type = self.fleet.vehicle_type(cfg.crews.vehicle_type)
            for _ in range(cfg.crews.crews):
                van = self.fleet.add_vehicle("van", van_type, 1.0, capacity=cfg.crews.van_capacity)
                self.fleet.hold_at(van, self.depot_node, -2 - len(self.vans))
                self.vans.append(van)
        self.operator.start()

    # ------------------------------------------------------------------ rides
    def ride(self, trip: Trip, vehicle: SharedVehicle, plan: RentalPlan):
        """The shared ride; a device left below ``swap_below_share`` alerts a threshold operator."""
        outcome = yield from super().ride(trip, vehicle, plan)
        if self._low(vehicle):
            self.operator.alert()
        return outcome

    def _low(self, device: SharedVehicle) -> bool:
        """Below the swap (or collect) share of its battery: a crew's job, not a move."""
        battery, share = device.battery, self.low_battery.below_share
        return battery is not None and battery.soc_kwh < share * battery.capacity_kwh

    def _movable(self, device: SharedVehicle) -> bool:
        """A standing, unreserved device that is usable (low ones are swapped or collected, not
        moved); at the depot: charged to ``redeploy_above_share`` by now."""
        if device.holder != -1:
            return False
        if device.lot is not None and device.lot.depot:
            share = self.config.crews.redeploy_above_share
            soc_kwh = self.fleet.soc_now_kwh(device, self.ctx.env.now)
            return soc_kwh >= share * device.battery.capacity_kwh - EPS_KWH
        return not self._low(device)

    # ------------------------------------------------------------------ the crews
    def _van_tour(self, crew: int, moves: list[tuple[SharedVehicle, Lot, Lot]]):
        """A van's tour: swap low batteries and collect surplus devices (nearest first), drop them
        at the deficit stations/zones, back to the depot."""
        env, cfg = self.ctx.env, self.config.crews
        van, handling_s = self.vans[crew], min_to_s(cfg.handling_min)
        moves = moves[: cfg.van_capacity]
        room = self.low_battery.room(len(moves))
        lows = self._low_for(crew, {id(m[0]) for m in moves}, room)
        stops = [(d.node, "low", d) for d in lows] + [
            (d.node, "collect", (d, s, t)) for d, s, t in moves
        ]
        if not stops or not self._van_can_go(van, [n for n, _, _ in stops]):
            return
        self.fleet.take(van, -2 - crew)
        on_board: list[tuple[SharedVehicle, Lot, float, int]] = []
        to_depot: list[tuple[SharedVehicle, float, int]] = []  # (device, loaded at s, from node)
        for node, action, item in self._nearest_first(van.node, stops):
            yield from self.drive(van, node, CREW_PROFILE, "crew", 0)
            if action == "low":
                carried = yield from self.low_battery.visit(van, item, crew, handling_s)
                if carried is not None:
                    to_depot.append(carried)
            else:
                device, source, target = item
                if device.lot is source and device.holder == -1 and device.node == node:
                    self.fleet.take(device, -2 - crew)
                    on_board.append((device, target, env.now, node))
                    yield env.timeout(handling_s)
        drops = [
            (target.node, "drop", target)
            for target in {id(t): t for _, t, _, _ in on_board}.values()
        ]
        for node, _, target in self._nearest_first(van.node, drops):
            yield from self.drive(van, node, CREW_PROFILE, "crew", 0)
            for entry in [e for e in on_board if e[1] is target]:
                lot = (
                    target
                    if target.has_space()
                    else (self.dock_near(node) or self._any_space(target))
                )
                self._unload(entry[0], lot, entry[2], entry[3])
                on_board.remove(entry)
                yield env.timeout(handling_s)
        yield from self.drive(van, self.depot_node, CREW_PROFILE, "crew", 0)
        for device, loaded_s, from_node in to_depot:  # collected devices plug in at the depot
            self._unload(device, self.depot, loaded_s, from_node)
            yield env.timeout(handling_s)
        self.fleet.hold_at(van, self.depot_node, -2 - crew)

    def _low_for(self, crew: int, moving: set[int], room: int) -> list[SharedVehicle]:
        """This van's share (at most ``room``) of the lowest standing devices to swap or collect.

        At most ``max_swaps_per_tour`` in all (collecting: and the depot's free spaces); devices
        charging at a station or at the depot, held, or in ``moving`` (ids) are left alone.
        """
        cfg = self.config.crews
        low = [
            d
            for d in self.fleet.vehicles
            if d.lot is not None
            and not d.lot.depot
            and d.holder == -1
            and id(d) not in moving
            and self._low(d)
            and np.isnan(d.plug_s)
        ]
        low.sort(key=lambda d: d.battery.soc_kwh)
        cap = self.low_battery.cap(cfg.max_swaps_per_tour)
        return low[:cap][crew :: cfg.crews][: max(room, 0)]

    def _still_low_here(self, device: SharedVehicle, node: int) -> bool:
        """True if ``device`` still stands unheld at ``node`` (a rental lot) and is still low."""
        standing = device.lot is not None and not device.lot.depot and device.holder == -1
        return standing and device.node == node and self._low(device)

    def _nearest_first(self, start: int, stops: list) -> list:
        """``stops`` (node, action, item) ordered by nearest neighbour on the drive network."""
        order, here, left = [], start, list(stops)
        while left:
            times = self.ctx.router.travel_times_s(CREW_PROFILE, here, [s[0] for s in left])
            best = int(np.argmin(np.where(np.isnan(times), np.inf, times)))
            order.append(left.pop(best))
            here = order[-1][0]
        return order

    def _van_can_go(self, van: SharedVehicle, nodes: list[int]) -> bool:
        """True if the van's battery covers depot -> every stop -> depot twice over (a safe bound)."""
        if van.battery is None:
            return True
        router = self.ctx.router
        out_m = np.nan_to_num(router.distances_m(CREW_PROFILE, van.node, nodes), nan=np.inf)
        back_m = np.nan_to_num(router.distances_m(CREW_PROFILE, nodes, van.node), nan=np.inf)
        bound_m = 2.0 * float(np.sum(out_m + back_m))
        return van.battery.can_supply(leg_energy_kwh(van.vt, bound_m, 0.0))

    def _swap(self, van: SharedVehicle, device: SharedVehicle, handling_s: float):
        """Swap the battery of ``device`` if it is still standing here and still low."""
        env = self.ctx.env
        if device.lot is None or device.holder != -1 or device.node != van.node:
            return
        if not self._low(device):
            return
        self.fleet.end_stand(device, env.now)
        self.ctx.log.battery_swap(
            env.now,
            service=self.name,
            crew_vehicle_id=van.vehicle_id,
            node=van.node,
            device_id=device.vehicle_id,
        )
        swap_battery(device.battery, self.ctx.log, env.now, device.vehicle_id, self.name, van.node)
        yield env.timeout(handling_s)

    def _unload(self, device: SharedVehicle, lot: Lot, loaded_s: float, from_node: int) -> None:
        """Put ``device`` down at ``lot``: its ride on the van is a zero-distance leg (the van's km count)."""
        now, node = self.ctx.env.now, lot.node
        device.node = from_node
        self.motion.log_leg(
            device, loaded_s, node, now - loaded_s, 0.0, state="repositioning", pax=0,
            detail="on_van",
        )  # fmt: skip
        device.node = node
        self.fleet.place(device, lot, node)


# ---------------------------------------------------------------------- what crews do with low devices
class SwapInField:
    """``swap``: a van gives devices below ``swap_below_share`` a fresh battery where they stand.

    A crew_low_battery policy (registered by name, ``crews.low_battery``) says which devices are
    low (``below_share``), how many a van takes on per tour (``room``, ``cap``), what the crew does
    at one (``visit``: a SimPy sub-story returning a device the van carries to the depot, or
    None) and whether the service keeps a depot where collected devices charge (``uses_depot``).
    """

    uses_depot = False

    def __init__(self, service: MicromobilityService):
        self.service = service
        self.crews = service.config.crews

    @property
    def below_share(self) -> float:
        """Devices below this share of their battery are low."""
        return self.crews.swap_below_share

    def room(self, n_moves: int) -> int:
        """Low devices one van may visit on a tour that also makes ``n_moves`` moves."""
        return self.crews.max_swaps_per_tour

    def cap(self, max_per_tour: int) -> int:
        """Low devices all vans together may visit this tour."""
        return max_per_tour

    def visit(self, van: SharedVehicle, device: SharedVehicle, crew: int, handling_s: float):
        """Swap the battery of ``device`` if still standing here and still low; carry nothing."""
        yield from self.service._swap(van, device, handling_s)
        return None


class CollectToDepot(SwapInField):
    """``collect_to_depot``: vans take devices below ``collect_below_share`` (flat ones too) to the
    depot, where they charge; charged ones go back out to lots below target."""

    uses_depot = True

    @property
    def below_share(self) -> float:
        """Devices below this share of their battery are collected."""
        return self.crews.collect_below_share

    def room(self, n_moves: int) -> int:
        """The van's places left after its moves."""
        return self.crews.van_capacity - n_moves

    def cap(self, max_per_tour: int) -> int:
        """At most ``max_per_tour``, and the depot's free spaces."""
        depot = self.service.depot
        return max_per_tour if depot.spaces is None else min(max_per_tour, depot.free_spaces)

    def visit(self, van: SharedVehicle, device: SharedVehicle, crew: int, handling_s: float):
        """Load ``device`` if still standing here and low; returns (device, loaded at s, node)."""
        service, env = self.service, self.service.ctx.env
        if not service._still_low_here(device, van.node):
            return None
        service.fleet.take(device, -2 - crew)
        carried = (device, env.now, van.node)
        yield env.timeout(handling_s)
        return carried

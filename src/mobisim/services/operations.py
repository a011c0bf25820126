"""Shared fleets: where shared vehicles stand, how a rental goes, and how the operator moves them.

Shared by car-sharing (:mod:`mobisim.services.carsharing`) and shared bikes, e-bikes, e-scooters
and segways (:mod:`mobisim.services.micromobility`).

Where vehicles stand. A :class:`Lot` is a station (a fixed node with ``spaces`` parking spaces or
docks) or a free-floating zone (vehicles parked at any node of the zone, no space limit). Each lot
holds its standing vehicles in a ``simpy.FilterStore`` whose capacity is the number of spaces, so a
station can never hold more vehicles than spaces. Every change of a lot's stock is logged as
``station_stock`` (value = vehicles standing there, pax = free spaces or -1 without a limit,
detail = lot name), so per-station time series come from the events alone.

A vehicle's story while it stands: ``vehicle_dwell`` rows, state ``parked`` (draws the type's
standby power, e.g. an e-scooter's IoT module [M2]) or ``charging`` at a station with
``charge_kw`` > 0 (charging curve of :mod:`mobisim.energy.charging`, logged as a
``charge_start``/``charge_end`` session, counted when the vehicle is taken or the day ends).

A rental (:class:`SharingService`). At the offer, the nearest usable vehicle within ``max_walk_m``
of the origin (network walk, 1.2 m/s [T1]) and the end point: the station nearest the destination
with a free space (one way, docked) or the destination itself (free-floating, dockless; inside the
service area). The renter's story::

    book    -> with a reservation (reservation_min > 0) the vehicle leaves the pool now and is
               held up to reservation_min while the renter walks; without, it stays in the pool
    arrive  -> take the vehicle (another usable one at the same place if it was taken: the
               reservation lapsed or there was none); none left: outcome no_vehicle_on_arrival
    ride    -> vehicle_leg "occupied" on the mode's router profile, battery drawn per leg
    park    -> dock/park; a full station sends the renter on to the next station nearest the
               destination with a free space (an extra leg, a longer egress walk in the outcome)

Vehicles are usable when their state of charge is at least ``min_soc_share`` of capacity plus the
energy of the ride (:func:`mobisim.energy.consumption.leg_energy_kwh`), so a battery never goes
below empty.

The operator (:class:`OperationsConfig`, :func:`plan_moves`). On a schedule or when a lot's stock
falls to ``trigger_share`` of its target (its initial stock), it plans moves from lots above
target to lots below, nearest first by drive time, and hands them to its crews; the services say
how a move is done (a staff driver for cars, vans for devices).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import simpy
from pydantic import Field, model_validator

from mobisim.energy.battery import EPS_KWH, Battery
from mobisim.energy.charging import TAPER_END_POWER_SHARE, TAPER_START_SHARE, ChargeCurve
from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.energy.vehicle_types import VehicleType, get_vehicle_type
from mobisim.errors import NetworkError, ScenarioError, SimulationError
from mobisim.scenario.base import ClockTime, StrictModel
from mobisim.services.base import Offer, RideOutcome, Service, Trip, unavailable
from mobisim.units import METRES_PER_KM, SECONDS_PER_MINUTE, min_to_s

WALK_PROFILE = "walk"
#: ``vehicle_dwell`` states of a standing shared vehicle
PARKED, CHARGING = "parked", "charging"
#: state of a flat vehicle still standing: "idle" draws only aux power (none for shared cars, devices)
FLAT = "idle"


# ---------------------------------------------------------------------------------- configuration
class StationConfig(StrictModel):
    """A station: name, where it is (lat+lon, node or named place), vehicles, spaces, charging."""

    name: str = Field(description="Station name (detail of its station_stock events).")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    node: int | None = Field(default=None, ge=0, description="Network node index.")
    place: str | None = Field(default=None, description="Named place of the network.")
    vehicles: int | None = Field(
        default=None,
        ge=0,
        description="Vehicles standing there at the start (micromobility default: the fleet "
        "spread in proportion to spaces).",
    )
    spaces: int = Field(ge=1, description="Parking spaces (cars) or docks (devices).")
    charge_kw: float = Field(
        default=0.0,
        ge=0,
        description="Charging power per space, kW (0: no charging; AC slow 7 kW [K1][K2]).",
    )

    @model_validator(mode="after")
    def _check(self) -> StationConfig:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(f"station {self.name!r}: expected both lat and lon")
        given = [self.lat is not None, self.node is not None, self.place is not None]
        if sum(given) != 1:
            raise ValueError(
                f"station {self.name!r}: expected exactly one of lat+lon, node or place "
                f"(got {sum(given)})"
            )
        if self.vehicles is not None and self.vehicles > self.spaces:
            raise ValueError(
                f"station {self.name!r}: expected vehicles <= spaces "
                f"(got {self.vehicles} > {self.spaces})"
            )
        return self


class OperationsConfig(StrictModel):
    """When and how the operator moves vehicles between stations/zones (relocation, crews)."""

    policy: Literal["none", "schedule", "threshold"] = Field(
        default="none",
        description="none: no relocation; schedule: a tour every interval_min; threshold: a tour "
        "when a station/zone falls to trigger_share of its target stock.",
    )
    interval_min: float = Field(
        default=60.0,
        gt=0,
        description="schedule: minutes between tours; threshold: least minutes between tours (A).",
    )
    trigger_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="threshold: a station/zone at or below this share of its target starts a tour (A).",
    )
    start: ClockTime | None = Field(
        default=None, description="First tour at the earliest (default: the period start)."
    )
    end: ClockTime | None = Field(
        default=None, description="No tour starts after this (default: the period end)."
    )
    crews: int = Field(
        default=1, ge=1, description="Crews (staff drivers or vans) working at once."
    )
    max_moves_per_tour: int = Field(
        default=10, ge=1, description="Vehicles moved per tour at most, all crews together (A)."
    )
    handling_min: float = Field(
        default=2.0,
        ge=0,
        description="Time per vehicle taken, parked or battery swapped, min (A).",
    )


def station_nodes(network: Any, stations: list[StationConfig], key: str) -> np.ndarray:
    """Node indices of ``stations``; ScenarioError listing every station that cannot be placed.

    Parameters
    ----------
    network : Network
        The run's network (snapping, named places).
    stations : list of StationConfig
        The stations of a service block.
    key : str
        Key path of the list for messages, e.g. ``services.cars.stations``.
    """
    nodes, problems = [], []
    for i, station in enumerate(stations):
        try:
            if station.node is not None:
                if station.node >= network.n_nodes:
                    raise NetworkError(f"node {station.node} is outside 0..{network.n_nodes - 1}")
                nodes.append(station.node)
            elif station.place is not None:
                nodes.append(network.place_node(station.place))
            else:
                nodes.append(network.snap(station.lat, station.lon)[0])
        except NetworkError as exc:
            problems.append((f"{key}[{i}] ({station.name})", str(exc)))
    if problems:
        raise ScenarioError(None, problems)
    return np.asarray(nodes, dtype=np.int64)


def zone_partition(
    network: Any, weights: dict[str, float] | None, key: str
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Free-floating zones: names, reference nodes, weights and the zone of every node (-1: outside).

    Parameters
    ----------
    network : Network
        The run's network; zones are its named places (``zone_nodes``: nodes within the radius).
    weights : dict of str to float, or None
        Zone name -> weight of the initial distribution. None: every named place of the network
        with its ``weight``; a network without places is one zone ``service_area``.
    key : str
        Key path for messages (``services.<name>.zones``).

    A node in several zones belongs to the first listed. The service area is the union of zones.
    """
    if weights is None:
        if len(network.places) == 0:
            n = network.n_nodes
            return ["service_area"], np.array([0]), np.array([1.0]), np.zeros(n, dtype=np.int64)
        weights = dict(zip(network.places["name"], network.places["weight"], strict=True))
    zone_of = np.full(network.n_nodes, -1, dtype=np.int64)
    names, refs, problems = [], [], []
    for name, weight in weights.items():
        try:
            nodes = network.zone_nodes(name)
            ref = network.place_node(name)
        except NetworkError as exc:
            problems.append((f"{key}.{name}", str(exc)))
            continue
        if weight < 0:
            problems.append((f"{key}.{name}", f"expected a weight >= 0 (got {weight})"))
        free = nodes[zone_of[nodes] < 0]
        if free.size == 0:
            problems.append((f"{key}.{name}", "the zone lies inside zones listed before it"))
            continue
        zone_of[free] = len(names)
        names.append(name)
        refs.append(ref if zone_of[ref] == len(names) - 1 else int(free[0]))
    if problems:
        raise ScenarioError(None, problems)
    return names, np.asarray(refs), np.asarray(list(weights.values()), dtype=float), zone_of


def apportion(total: int, weights) -> np.ndarray:
    """Split ``total`` vehicles into integer counts proportional to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    if total == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


# ---------------------------------------------------------------------------------- fleet state
@dataclass(eq=False, slots=True)
class Lot:
    """A station (``spaces`` set) or a free-floating zone (``spaces`` None: no limit)."""

    name: str
    node: int  # station node, or the zone's reference node (its named place)
    store: simpy.FilterStore
    spaces: int | None
    target: int = 0  # the stock the operator aims at (the initial stock)
    charge_kw: float = 0.0

    @property
    def stock(self) -> int:
        """Vehicles standing here now."""
        return len(self.store.items)

    @property
    def free_spaces(self) -> int:
        """Free spaces or docks (-1: no limit)."""
        return -1 if self.spaces is None else self.spaces - len(self.store.items)

    def has_space(self) -> bool:
        """True if one more vehicle can park here."""
        return self.spaces is None or len(self.store.items) < self.spaces


@dataclass(eq=False, slots=True)
class SharedVehicle:
    """One shared car or device. ``holder`` is the trip (or crew) using/holding it, -1 when free."""

    vehicle_id: int
    kind: str  # "car" or the device type; also its router profile
    vt: VehicleType = field(repr=False)
    battery: Battery | None
    node: int
    lot: Lot | None = field(default=None, repr=False)  # its lot while standing or reserved there
    home: Lot | None = field(default=None, repr=False)  # the station a round-trip car returns to
    standing: bool = False  # parked (in a lot, reserved, or held by a renter), not moving
    since_s: float = 0.0  # standing since (start of the current dwell), s
    plug_s: float = math.nan  # plugged in at, s (NaN: not charging)
    plug_soc_kwh: float = math.nan
    holder: int = -1
    billed_until_s: float = math.nan  # round trip: the rental is paid up to here, s
    rental_origin: int = -1


@dataclass(slots=True)
class RentalPlan:
    """What an offer promises (kept in ``Offer.handle``): the vehicle, where it is, where it ends."""

    vehicle: SharedVehicle
    lot: Lot | None  # where the vehicle stands at the offer
    node: int  # its node at the offer
    end_lot: Lot | None  # station to dock at; None: park at end_node (free-floating / held)
    end_node: int
    profile: str


class Fleet:
    """The standing vehicles of one service, their lots, and the events of standing.

    Parameters
    ----------
    service : str
        Service name (events).
    ctx : ServiceContext
        Clock, router, log; ``ctx.energy`` (when present) tracks the batteries.
    lots : list of Lot
        Stations or zones, in file order.
    """

    def __init__(self, service: str, ctx: Any, lots: list[Lot]):
        self.service = service
        self.ctx = ctx
        self.lots = lots
        self.vehicles: list[SharedVehicle] = []
        self.on_change: list[Any] = []  # callables(lot) told after every stock change
        self._standing: dict[str, tuple[list[SharedVehicle], np.ndarray]] | None = None
        energy_config = getattr(ctx.energy, "config", None)
        self._taper = (
            getattr(energy_config, "taper_start_share", TAPER_START_SHARE),
            getattr(energy_config, "taper_end_power_share", TAPER_END_POWER_SHARE),
        )

    # ------------------------------------------------------------------ vehicles
    def vehicle_type(self, name: str) -> VehicleType:
        """The energy vehicle type ``name`` (the scenario's overrides when energy is on)."""
        if self.ctx.energy is not None:
            return self.ctx.energy.vehicle_type(name)
        return get_vehicle_type(name)

    def add_vehicle(
        self, kind: str, vt: VehicleType, soc_share: float, **attributes: Any
    ) -> SharedVehicle:
        """Register a vehicle (a vehicles.parquet row) with a battery at ``soc_share`` if electric.

        Parameters
        ----------
        kind : str
            ``car`` or the device type (also the router profile of its rides).
        vt : VehicleType
            Its energy type (battery capacity, kWh/km, standby power).
        soc_share : float
            Initial state of charge as a share of capacity (0..1).
        **attributes
            Extra vehicles.parquet columns (home station, ...).
        """
        ctx = self.ctx
        vid = ctx.new_vehicle(self.service, vt.name, device=kind, **attributes)
        battery = None
        if vt.is_electric and vt.battery_kwh > 0:
            if ctx.energy is not None:
                battery = ctx.energy.new_battery(vid, vt, soc_share)
            else:
                battery = Battery(vt.battery_kwh, soc_share * vt.battery_kwh, f"vehicle {vid}")
        vehicle = SharedVehicle(vid, kind, vt, battery, node=-1)
        self.vehicles.append(vehicle)
        return vehicle

    def soc_now_kwh(self, vehicle: SharedVehicle, now_s: float) -> float:
        """State of charge at ``now_s`` (s), kWh, counting a charge or standby drain under way."""
        battery = vehicle.battery
        if battery is None:
            return math.inf
        if not math.isnan(vehicle.plug_s):
            curve = self._curve(vehicle)
            return float(curve.soc_after_kwh(vehicle.plug_soc_kwh, now_s - vehicle.plug_s))
        if vehicle.standing:
            drain = dwell_energy_kwh(vehicle.vt, max(now_s - vehicle.since_s, 0.0), PARKED)
            return max(battery.soc_kwh - drain, 0.0)
        return battery.soc_kwh

    def can_ride(
        self, vehicle: SharedVehicle, need_kwh: float, reserve_share: float, now_s: float
    ) -> bool:
        """True if the vehicle holds ``need_kwh`` (kWh) plus ``reserve_share`` of its capacity now."""
        if vehicle.battery is None:
            return True
        reserve = reserve_share * vehicle.battery.capacity_kwh
        return self.soc_now_kwh(vehicle, now_s) >= need_kwh + reserve - EPS_KWH

    # ------------------------------------------------------------------ standing
    def place(self, vehicle: SharedVehicle, lot: Lot, node: int) -> None:
        """Park ``vehicle`` at ``lot`` (node ``node``) now: into the lot's store, plug in, log the stock.

        Raises SimulationError if the station is full (callers check ``lot.has_space()`` first).
        """
        now = self.ctx.env.now
        self._put(lot, vehicle)
        vehicle.lot, vehicle.node, vehicle.holder = lot, node, -1
        vehicle.standing, vehicle.since_s = True, now
        battery = vehicle.battery
        if lot.charge_kw > 0 and battery is not None and battery.free_kwh > EPS_KWH:
            vehicle.plug_s, vehicle.plug_soc_kwh = now, battery.soc_kwh
            self._emit(now, "charge_start", vehicle, value=battery.soc_kwh, detail=lot.name)
        self._changed(lot)

    def reserve(self, vehicle: SharedVehicle, holder: int) -> None:
        """Hold a standing ``vehicle`` for ``holder`` (trip id): out of the pool, still standing."""
        self._get(vehicle.lot, vehicle)
        vehicle.holder = holder
        self._changed(vehicle.lot)

    def release(self, vehicle: SharedVehicle) -> None:
        """A reservation lapses: the vehicle is back in its lot's pool (its stand goes on)."""
        self._put(vehicle.lot, vehicle)
        vehicle.holder = -1
        self._changed(vehicle.lot)

    def take(self, vehicle: SharedVehicle, holder: int) -> None:
        """Take ``vehicle`` (standing in its lot, or reserved) now for ``holder`` (trip id; < -1: crew)."""
        lot = vehicle.lot
        pooled = vehicle.holder == -1 and lot is not None
        if pooled:
            self._get(lot, vehicle)
        self.end_stand(vehicle, self.ctx.env.now)
        vehicle.lot, vehicle.holder, vehicle.standing = None, holder, False
        if pooled:
            self._changed(lot)

    def hold_at(self, vehicle: SharedVehicle, node: int, holder: int) -> None:
        """The renter keeps ``vehicle`` parked at ``node`` (a round-trip car during the activity)."""
        vehicle.node, vehicle.holder = node, holder
        vehicle.standing, vehicle.since_s = True, self.ctx.env.now

    def end_stand(self, vehicle: SharedVehicle, now_s: float) -> None:
        """Close the vehicle's stand at ``now_s`` (s): its charging session and parked dwell rows."""
        stand_s = vehicle.since_s
        if not math.isnan(vehicle.plug_s):
            stand_s = self._unplug(vehicle, now_s)
        self._parked(vehicle, stand_s, now_s)
        vehicle.since_s = now_s

    def _put(self, lot: Lot, vehicle: SharedVehicle) -> None:
        put = lot.store.put(vehicle)
        if not put.triggered:  # a full station: the put would wait; never let it
            lot.store.put_queue.remove(put)
            raise SimulationError(f"{self.service}: station {lot.name} is full")

    def _get(self, lot: Lot, vehicle: SharedVehicle) -> None:
        get = lot.store.get(lambda item: item is vehicle)
        if not get.triggered:
            lot.store.get_queue.remove(get)
            raise SimulationError(
                f"{self.service}: vehicle {vehicle.vehicle_id} is not at {lot.name}"
            )

    def _curve(self, vehicle: SharedVehicle) -> ChargeCurve:
        power_kw = vehicle.lot.charge_kw
        if vehicle.vt.max_charge_kw > 0:
            power_kw = min(power_kw, vehicle.vt.max_charge_kw)
        return ChargeCurve(vehicle.battery.capacity_kwh, power_kw, *self._taper)

    def _unplug(self, vehicle: SharedVehicle, now_s: float) -> float:
        """End the charging session at ``now_s`` (or when full); returns when charging stopped, s."""
        battery, plug_s, lot = vehicle.battery, vehicle.plug_s, vehicle.lot
        curve = self._curve(vehicle)
        full_s = plug_s + curve.time_to_s(vehicle.plug_soc_kwh, battery.capacity_kwh)
        end_s = min(now_s, full_s)
        reached = float(curve.soc_after_kwh(vehicle.plug_soc_kwh, end_s - plug_s))
        added = battery.charge(max(reached - battery.soc_kwh, 0.0))
        self._emit(
            end_s, "charge_end", vehicle, value=added, duration_s=end_s - plug_s, detail=lot.name
        )
        if end_s > plug_s:
            self._emit(
                plug_s,
                "vehicle_dwell",
                vehicle,
                duration_s=end_s - plug_s,
                pax=0,
                state=CHARGING,
                detail=lot.name,
            )
        vehicle.plug_s = vehicle.plug_soc_kwh = math.nan
        return end_s

    def _parked(self, vehicle: SharedVehicle, start_s: float, end_s: float) -> None:
        """Log and draw the parked dwell from ``start_s`` to ``end_s`` (s) at the vehicle's node."""
        duration_s = end_s - start_s
        if duration_s <= 0:
            return
        battery = vehicle.battery
        drain = dwell_energy_kwh(vehicle.vt, duration_s, PARKED)
        if battery is not None and drain > battery.soc_kwh:
            # flat before the end: parked (drawing standby) until empty, then nothing left to draw
            flat_s = duration_s * battery.soc_kwh / drain
            self._dwell(vehicle, start_s, flat_s, PARKED)
            battery.draw(dwell_energy_kwh(vehicle.vt, flat_s, PARKED))
            self._dwell(vehicle, start_s + flat_s, duration_s - flat_s, FLAT)
            return
        self._dwell(vehicle, start_s, duration_s, PARKED)
        if battery is not None and drain > 0:
            battery.draw(drain)

    def _dwell(self, vehicle: SharedVehicle, start_s: float, duration_s: float, state: str) -> None:
        self._emit(start_s, "vehicle_dwell", vehicle, duration_s=duration_s, pax=0, state=state)

    def _emit(self, time_s: float, event: str, vehicle: SharedVehicle, **columns: Any) -> None:
        self.ctx.log.emit(
            time_s, event, self.service, vehicle_id=vehicle.vehicle_id, node=vehicle.node, **columns
        )

    def _changed(self, lot: Lot) -> None:
        self._standing = None
        self.log_stock(lot)
        for callback in self.on_change:
            callback(lot)

    def log_stock(self, lot: Lot) -> None:
        """Log the lot's stock now: value = vehicles standing, pax = free spaces (-1: no limit)."""
        self.ctx.log.emit(
            self.ctx.env.now,
            "station_stock",
            self.service,
            node=lot.node,
            pax=lot.free_spaces,
            value=float(lot.stock),
            detail=lot.name,
        )

    def standing_in_lots(self, kind: str) -> tuple[list[SharedVehicle], np.ndarray]:
        """The pooled vehicles of ``kind`` and their nodes (cached until the next stock change)."""
        if self._standing is None:
            groups: dict[str, list[SharedVehicle]] = {}
            for lot in self.lots:
                for vehicle in lot.store.items:
                    groups.setdefault(vehicle.kind, []).append(vehicle)
            self._standing = {
                k: (vs, np.fromiter((v.node for v in vs), dtype=np.int64, count=len(vs)))
                for k, vs in groups.items()
            }
        return self._standing.get(kind, ([], np.empty(0, dtype=np.int64)))

    def finish(self, end_s: float) -> None:
        """Close every open stand at ``end_s`` (s): standing and held vehicles log their last dwell."""
        for vehicle in self.vehicles:
            if vehicle.standing:
                self.end_stand(vehicle, max(end_s, vehicle.since_s))


# ---------------------------------------------------------------------------------- relocation
def plan_moves(
    stock: np.ndarray,
    target: np.ndarray,
    free: np.ndarray,
    drive_s: np.ndarray,
    max_moves: int,
) -> list[tuple[int, int]]:
    """Greedy relocation plan: one vehicle at a time, to the lot most below target, from the nearest lot above.

    Parameters
    ----------
    stock : int array
        Usable vehicles standing at each lot now.
    target : int array
        Stock each lot should have.
    free : int array
        Free spaces per lot (-1: no limit).
    drive_s : 2-D float array
        Drive time from lot i to lot j, s (NaN: unreachable).
    max_moves : int
        Moves planned at most.

    Returns a list of ``(from_lot, to_lot)`` index pairs, one per vehicle moved.
    """
    stock, target = stock.astype(np.int64).copy(), target.astype(np.int64)
    free = np.where(free < 0, np.iinfo(np.int64).max // 2, free).astype(np.int64)
    moves: list[tuple[int, int]] = []
    while len(moves) < max_moves:
        deficit = np.where(free > 0, target - stock, 0)
        to = int(np.argmax(deficit))
        surplus = stock - target
        sources = np.flatnonzero((surplus > 0) & ~np.isnan(drive_s[:, to]))
        if deficit[to] <= 0 or sources.size == 0:
            break
        source = int(sources[np.argmin(drive_s[sources, to])])
        moves.append((source, to))
        stock[source] -= 1
        stock[to] += 1
        free[to] -= 1
        free[source] += 1
    return moves


class Operator:
    """The relocation policy of one service: decides when a tour starts and which moves it makes.

    Parameters
    ----------
    config : OperationsConfig
        Policy, interval, trigger share, hours, crews, moves per tour.
    fleet : Fleet
        The service's fleet (lots, standing vehicles).
    profile : str
        Router profile of the crews' driving (``car``).
    work : callable(crew_index, moves) -> generator
        The service's crew story for a list of ``(vehicle, from_lot, to_lot)`` moves.
    usable : callable(vehicle) -> bool
        Whether a standing vehicle may be moved (charged enough, not reserved).
    """

    def __init__(self, config: OperationsConfig, fleet: Fleet, profile: str, work, usable):
        self.config = config
        self.fleet = fleet
        self.profile = profile
        self.work = work
        self.usable = usable
        ctx = fleet.ctx
        self.start_s = ctx.period_start_s if config.start is None else config.start
        self.end_s = ctx.period_end_s if config.end is None else config.end
        self.wake = ctx.env.event()
        self.tours = 0
        lot_nodes = np.array([lot.node for lot in fleet.lots])
        self.drive_s = ctx.router.travel_times_s(profile, lot_nodes[:, None], lot_nodes[None, :])
        if config.policy == "threshold":
            fleet.on_change.append(self._check)

    def start(self) -> None:
        """Start the policy process (nothing with policy ``none``)."""
        if self.config.policy != "none":
            self.fleet.ctx.env.process(self._policy())

    def _check(self, lot: Lot) -> None:
        """Threshold policy: wake the operator when ``lot`` falls to its trigger share."""
        low = lot.target > 0 and lot.stock <= self.config.trigger_share * lot.target
        if low and not self.wake.triggered:
            self.wake.succeed()

    def alert(self) -> None:
        """Wake a threshold operator now (e.g. a device's battery ran low)."""
        if self.config.policy == "threshold" and not self.wake.triggered:
            self.wake.succeed()

    def _policy(self):
        """The operator's day: wait for the next tour (schedule or trigger), plan it, let crews work."""
        env, cfg = self.fleet.ctx.env, self.config
        interval_s = min_to_s(cfg.interval_min)
        if env.now < self.start_s:
            yield env.timeout(self.start_s - env.now)
        last_s = -math.inf
        while env.now <= self.end_s:
            if cfg.policy == "schedule":
                if last_s > -math.inf:
                    yield env.timeout(interval_s)
            else:
                yield self.wake
                self.wake = env.event()
                if env.now < last_s + interval_s:
                    yield env.timeout(last_s + interval_s - env.now)
            if env.now > self.end_s:
                return
            last_s = env.now
            chunks = self.plan()
            if any(chunks):
                self.tours += 1
                yield env.all_of([env.process(self.work(i, c)) for i, c in enumerate(chunks)])

    def plan(self) -> list[list[tuple[SharedVehicle, Lot, Lot]]]:
        """This tour's moves, split between the crews (a list of moves per crew)."""
        lots = self.fleet.lots
        movable = [[v for v in lot.store.items if self.usable(v)] for lot in lots]
        stock = np.array([len(m) for m in movable])
        target = np.array([lot.target for lot in lots])
        free = np.array([lot.free_spaces for lot in lots])
        pairs = plan_moves(stock, target, free, self.drive_s, self.config.max_moves_per_tour)
        chunks: list[list[tuple[SharedVehicle, Lot, Lot]]] = [[] for _ in range(self.config.crews)]
        for k, (i, j) in enumerate(pairs):
            chunks[k % self.config.crews].append((movable[i].pop(), lots[i], lots[j]))
        return chunks


# ---------------------------------------------------------------------------------- the rental
class SharingService(Service):
    """One-way station and free-floating rentals (see the module docstring).

    Subclasses set ``self.fleet``, ``self.stations`` (True: dock at stations), ``self.zone_of``
    (free-floating: zone index of every node, -1 outside the service area), ``self.max_walk_m``,
    ``self.reservation_s`` and ``self.min_soc_share``, and implement :meth:`kinds` and
    :meth:`fare_krw`.
    """

    fleet: Fleet
    stations: bool
    zone_of: np.ndarray | None = None
    max_walk_m: float
    reservation_s: float
    min_soc_share: float

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def kinds(self) -> list[str]:
        """Vehicle kinds offered (one offer per kind), e.g. ``["car"]`` or ``["escooter"]``."""

    @abstractmethod
    def fare_krw(self, kind: str, ride_s: float, ride_m: float) -> float:
        """Fare of a ride of ``kind`` lasting ``ride_s`` (s) over ``ride_m`` (m), KRW."""

    def mode_of(self, kind: str) -> str:
        """Mode label of ``kind`` in results."""
        return self.mode

    # ------------------------------------------------------------------ offers
    def ride_kwh(self, vehicle: SharedVehicle, ride_s: float, ride_m: float, pax: int) -> float:
        """Battery energy of a ride of ``ride_s`` (s) over ``ride_m`` (m) with ``pax`` on board, kWh."""
        if vehicle.battery is None:
            return 0.0
        return leg_energy_kwh(vehicle.vt, ride_m, ride_s, pax)

    def end_point(self, trip: Trip) -> tuple[Lot | None, int, str]:
        """Where a ride for ``trip`` ends now: (station or None, node, unavailable reason or "")."""
        if self.stations:
            lot = self.dock_near(trip.dest_node)
            if lot is None:
                return None, -1, "no_free_space"
            return lot, lot.node, ""
        if self.zone_of[trip.dest_node] < 0:
            return None, -1, "destination_outside_service_area"
        return None, trip.dest_node, ""

    def dock_near(self, dest: int, exclude: Lot | None = None) -> Lot | None:
        """The station nearest node ``dest`` (network walk) with a free space now; None if all full."""
        lots = [lot for lot in self.fleet.lots if lot is not exclude and lot.has_space()]
        if not lots:
            return None
        walk_m = self.ctx.router.distances_m(WALK_PROFILE, [lot.node for lot in lots], dest)
        return lots[int(np.argmin(np.where(np.isnan(walk_m), np.inf, walk_m)))]

    def offers(self, trip: Trip, now_s: float) -> list[Offer]:
        """One offer per vehicle kind: walk to the nearest usable vehicle, ride, park, walk.

        Parameters
        ----------
        trip : Trip
            Origin and destination node indices, party size.
        now_s : float
            Clock, s after midnight.

        Unavailable reasons: ``no_vehicle_within_walk`` (nothing usable within ``max_walk_m``),
        ``no_free_space`` (every station full), ``no_station_within_walk_of_destination`` (the
        station to dock at is more than ``max_walk_m`` from the destination),
        ``destination_outside_service_area``, ``no_path``. Times in s, distances in m, fare in KRW. No side effects.
        """
        end_lot, end_node, reason = self.end_point(trip)
        if reason:
            return [unavailable(self.name, self.mode_of(k), reason) for k in self.kinds()]
        return [self.offer_for(trip, now_s, k, end_lot, end_node) for k in self.kinds()]

    def offer_for(
        self, trip: Trip, now_s: float, kind: str, end_lot: Lot | None, end_node: int, rides=1
    ) -> Offer:
        """The offer of the nearest usable ``kind`` vehicle riding to ``end_node``.

        Parameters
        ----------
        trip : Trip
            The trip (origin, destination, party size).
        now_s : float
            Clock, s after midnight.
        kind : str
            Vehicle kind (router profile).
        end_lot, end_node : Lot or None, int
            Station to dock at (None: park at the node) and its node index.
        rides : int
            Rides of this length the battery must hold besides the reserve (2: a round trip).
        """
        mode, router = self.mode_of(kind), self.ctx.router
        vehicles, nodes = self.fleet.standing_in_lots(kind)
        if not vehicles:
            return unavailable(self.name, mode, "no_vehicle_within_walk")
        walk_s, walk_m = router.legs(WALK_PROFILE, trip.origin_node, nodes)
        near = np.flatnonzero(walk_m <= self.max_walk_m)
        for i in near[np.argsort(walk_m[near], kind="stable")]:
            vehicle = vehicles[i]
            leg = router.try_leg(kind, vehicle.node, end_node)
            if leg is None:
                continue
            need = rides * self.ride_kwh(vehicle, leg[0], leg[1], trip.party_size)
            if not self.fleet.can_ride(vehicle, need, self.min_soc_share, now_s):
                continue
            egress = router.try_leg(WALK_PROFILE, end_node, trip.dest_node)
            if egress is None:
                return unavailable(self.name, mode, "no_path")
            if egress[1] > self.max_walk_m:  # the station nearest the destination is too far
                return unavailable(self.name, mode, "no_station_within_walk_of_destination")
            plan = RentalPlan(vehicle, vehicle.lot, vehicle.node, end_lot, end_node, kind)
            return Offer(
                self.name,
                mode,
                True,
                access_walk_m=float(walk_m[i]),
                access_walk_s=float(walk_s[i]),
                in_vehicle_s=leg[0],
                egress_walk_m=egress[1],
                egress_walk_s=egress[0],
                distance_m=leg[1],
                fare_krw=self.fare_krw(kind, leg[0], leg[1]),
                access_node=vehicle.node,
                egress_node=end_node,
                handle=plan,
            )
        return unavailable(self.name, mode, "no_vehicle_within_walk")

    # ------------------------------------------------------------------ the renter's story
    def request(self, trip: Trip, offer: Offer) -> simpy.Event:
        """Book the offered vehicle; the event fires when it is parked (or none was left).

        Parameters
        ----------
        trip : Trip
            The renter's trip.
        offer : Offer
            An available offer of this service (its ``handle`` is the :class:`RentalPlan`).
        """
        done = self.ctx.env.event()
        plan: RentalPlan = offer.handle
        reserved = self.reservation_s > 0 and self._still_there(plan.vehicle, plan)
        if reserved:  # held from the booking on
            self.fleet.reserve(plan.vehicle, trip.trip_id)
        self.ctx.env.process(self._rental(trip, offer, done, reserved))
        return done

    def _rental(self, trip: Trip, offer: Offer, done: simpy.Event, reserved: bool):
        """Walk to the vehicle (held if reserved), take it, ride, park: the renter's story."""
        vehicle = yield from self.reach(trip, offer, reserved)
        if vehicle is None:
            reason = "no_vehicle_on_arrival"
            self.ctx.log.emit(
                self.ctx.env.now, "reject", self.name, trip_id=trip.trip_id, detail=reason
            )
            done.succeed(RideOutcome(False, reason, wait_s=0.0))
            return
        outcome = yield from self.ride(trip, vehicle, offer.handle)
        done.succeed(outcome)

    def reach(self, trip: Trip, offer: Offer, reserved: bool):
        """Walk ``offer.access_walk_s`` (s); returns the vehicle taken on arrival (None: none left).

        ``reserved``: the planned vehicle is held for ``reservation_s`` from the booking; a
        longer walk finds it back in the pool (maybe taken by someone else).
        """
        env, plan = self.ctx.env, offer.handle
        vehicle = plan.vehicle
        walk_s = offer.access_walk_s
        if reserved:
            yield env.timeout(min(walk_s, self.reservation_s))
            if walk_s <= self.reservation_s:
                self.fleet.take(vehicle, trip.trip_id)
                return vehicle
            self.fleet.release(vehicle)  # the reservation lapses before the renter arrives
            walk_s -= self.reservation_s
        if walk_s > 0:
            yield env.timeout(walk_s)
        vehicle = self._claim(trip, plan)
        if vehicle is not None:
            self.fleet.take(vehicle, trip.trip_id)
        return vehicle

    @staticmethod
    def _still_there(vehicle: SharedVehicle, plan: RentalPlan) -> bool:
        return vehicle.holder == -1 and vehicle.lot is plan.lot and vehicle.node == plan.node

    def _claim(self, trip: Trip, plan: RentalPlan) -> SharedVehicle | None:
        """On arrival: the planned vehicle if still there and usable, else another at that node."""
        vehicles, _ = self.fleet.standing_in_lots(plan.profile)
        here = [plan.vehicle] if self._still_there(plan.vehicle, plan) else []
        here += [v for v in vehicles if v.node == plan.node and v is not plan.vehicle]
        for vehicle in here:
            leg = self.ctx.router.try_leg(plan.profile, vehicle.node, plan.end_node)
            if leg is None:
                continue
            need = self.ride_kwh(vehicle, leg[0], leg[1], trip.party_size)
            if self.fleet.can_ride(vehicle, need, self.min_soc_share, self.ctx.env.now):
                return vehicle
        return None

    def drive(
        self, vehicle: SharedVehicle, to_node: int, profile: str, state: str, pax: int, trip_id=-1
    ):
        """Move ``vehicle`` to node ``to_node`` (a SimPy sub-story); returns (time s, distance m).

        Parameters
        ----------
        vehicle : SharedVehicle
            The moving vehicle (its battery pays the leg).
        to_node : int
            Destination node index.
        profile : str
            Router profile (``car`` or the device type).
        state : str
            ``vehicle_leg`` state: occupied, repositioning, ...
        pax : int
            People on board (0: an empty move).
        trip_id : int
            The trip riding it (-1: none).
        """
        env = self.ctx.env
        ride_s, ride_m = self.ctx.router.leg(profile, vehicle.node, to_node)
        start_s, from_node = env.now, vehicle.node
        if ride_s > 0:
            yield env.timeout(ride_s)
        if vehicle.battery is not None:
            vehicle.battery.draw(leg_energy_kwh(vehicle.vt, ride_m, ride_s, pax))
        self.ctx.log.emit(
            start_s,
            "vehicle_leg",
            self.name,
            trip_id=trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=from_node,
            to_node=to_node,
            distance_m=ride_m,
            duration_s=ride_s,
            pax=pax,
            state=state,
        )
        vehicle.node = to_node
        return ride_s, ride_m

    def ride(self, trip: Trip, vehicle: SharedVehicle, plan: RentalPlan):
        """Ride to the planned end; dock (the next free station if full) or park; the outcome."""
        start_s = self.ctx.env.now
        self._pickup(trip, vehicle)
        pax = trip.party_size
        ride_s, ride_m = yield from self.drive(
            vehicle, plan.end_node, plan.profile, "occupied", pax, trip.trip_id
        )
        if self.stations:
            lot = plan.end_lot
            while not lot.has_space():  # full: on to the next station nearest the destination
                lot = self.dock_near(trip.dest_node, exclude=lot) or self._any_space(lot)
                more_s, more_m = yield from self.drive(
                    vehicle, lot.node, plan.profile, "occupied", pax, trip.trip_id
                )
                ride_s, ride_m = ride_s + more_s, ride_m + more_m
        else:
            lot = self.fleet.lots[int(self.zone_of[vehicle.node])]
        self.fleet.place(vehicle, lot, vehicle.node)
        return self._dropoff(trip, vehicle, start_s, ride_m, plan.profile)

    def _any_space(self, full: Lot) -> Lot:
        lot = self.dock_near(full.node, exclude=full)
        if lot is None:
            raise SimulationError(f"{self.name}: every station is full (more vehicles than spaces)")
        return lot

    def _pickup(self, trip: Trip, vehicle: SharedVehicle) -> None:
        self.ctx.log.emit(
            self.ctx.env.now,
            "pickup",
            self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            value=0.0,
        )

    def _dropoff(
        self, trip: Trip, vehicle: SharedVehicle, start_s: float, ride_m: float, kind: str
    ) -> RideOutcome:
        """Log the drop-off now; the outcome (ride since ``start_s`` s, ``ride_m`` m) and egress walk."""
        now = self.ctx.env.now
        self.ctx.log.emit(
            now,
            "dropoff",
            self.name,
            trip_id=trip.trip_id,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            value=now - start_s,
        )
        walk = self.ctx.router.try_leg(WALK_PROFILE, vehicle.node, trip.dest_node) or (0.0, 0.0)
        return RideOutcome(
            True,
            wait_s=0.0,
            in_vehicle_s=now - start_s,
            distance_m=ride_m,
            fare_krw=self.fare_krw(kind, now - start_s, ride_m),
            vehicle_id=vehicle.vehicle_id,
            egress_node=vehicle.node,
            egress_walk_m=walk[1],
            egress_walk_s=walk[0],
        )

    def finish(self, end_s: float) -> None:
        """Close the last dwell (parked or charging) of every standing or held vehicle at ``end_s`` (s)."""
        self.fleet.finish(end_s)


def fare_krw(
    unlock_krw: float, per_min_krw: float, per_km_krw: float, ride_s: float, ride_m: float
) -> float:
    """A time-and-distance fare, KRW: unlock fee + per minute × ``ride_s`` (s) + per km × ``ride_m`` (m)."""
    return (
        unlock_krw + per_min_krw * ride_s / SECONDS_PER_MINUTE + per_km_krw * ride_m / METRES_PER_KM
    )

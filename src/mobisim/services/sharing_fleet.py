"""Shared fleets: where shared vehicles stand, their lots and the events of standing.

The core of car-sharing (:mod:`mobisim.services.carsharing`) and shared bikes, e-bikes,
e-scooters and segways (:mod:`mobisim.services.micromobility`); the rental and the operator's
crews are in :mod:`mobisim.services.rental`.

Where vehicles stand. A :class:`Lot` is a station (a fixed node with ``spaces`` parking spaces or
docks) or a free-floating zone (vehicles parked at any node of the zone, no space limit). Each lot
holds its standing vehicles in a ``simpy.FilterStore`` whose capacity is the number of spaces, so a
station can never hold more vehicles than spaces. Every change of a lot's stock is logged as
``station_stock`` (value = vehicles standing there, pax = free spaces or -1 without a limit,
detail = lot name), so per-station time series come from the events alone. An operator's depot
(``Lot.depot``) is a lot riders never see: its stock is not logged as a station.

A vehicle's story while it stands: ``vehicle_dwell`` rows, state ``parked`` (draws the type's
standby power, e.g. an e-scooter's IoT module [M2]) or ``charging`` at a lot with ``charge_kw``
> 0 (charging curve of :mod:`mobisim.energy.charging`, logged as a ``charge_start``/``charge_end``
session, counted when the vehicle is taken or the day ends). Energy in kWh (battery side), power
in kW, times in s after midnight.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from pydantic import Field, model_validator

from mobisim.energy.battery import EPS_KWH, Battery
from mobisim.energy.charging import TAPER_END_POWER_SHARE, TAPER_START_SHARE, ChargeCurve
from mobisim.energy.consumption import dwell_energy_kwh
from mobisim.energy.vehicle_types import VehicleType, get_vehicle_type
from mobisim.errors import NetworkError, ScenarioError, SimulationError
from mobisim.scenario.base import StrictModel
from mobisim.services.vehicle import Motion

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


#: share of a default dockless deployment put on the home places (``residential``); the rest
#: is split equally among the other kinds of place (assumption A: devices stand where trips start
#: and end; the synthetic population's out-and-back tours end half their trips at home)
DEFAULT_HOME_SHARE = 0.5
#: place kind of the homes in a default deployment
HOME_KIND = "residential"


def default_zones(network: Any, usable: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Default deployment zones of a dockless fleet: weights over the network's places, and the
    names of the places left out.

    Parameters
    ----------
    network : Network
        The run's network (its ``places``: name, kind, weight, node).
    usable : bool array
        Nodes the devices can be ridden from and back to (the main strongly connected component
        of their view, :func:`mobisim.network.views.main_component`).

    A place whose node is not usable is left out. The kept places share the fleet by kind:
    :data:`DEFAULT_HOME_SHARE` on the home places, the rest equally among the other kinds
    (all of it on one side when the other has no place); within a kind, by place weight.
    Empty when no place is kept.
    """
    places = network.places
    kept = [bool(usable[int(node)]) for node in places["node"]]
    left_out = [str(n) for n, ok in zip(places["name"], kept, strict=True) if not ok]
    rows = places.loc[kept]
    if rows.empty:
        return {}, left_out
    homes = rows[rows["kind"] == HOME_KIND]
    others = rows[rows["kind"] != HOME_KIND]
    home_share = DEFAULT_HOME_SHARE if len(others) else 1.0
    home_share = home_share if len(homes) else 0.0
    weights: dict[str, float] = {}
    groups = [(homes, home_share)]
    kinds = sorted(set(others["kind"]))
    groups += [(others[others["kind"] == k], (1.0 - home_share) / len(kinds)) for k in kinds]
    for group, share in groups:
        total = float(group["weight"].sum())
        for name, weight in zip(group["name"], group["weight"], strict=True):
            w = float(weight) / total if total > 0 else 1.0 / len(group)
            weights[str(name)] = share * w
    return weights, left_out


def zone_partition(
    network: Any,
    weights: dict[str, float] | None,
    key: str,
    usable: np.ndarray | None = None,
    skip_covered: bool = False,
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
    usable : bool array, optional
        Only these nodes belong to a zone (a zone's reference node always does); with no
        ``weights`` and no places, the service area is these nodes and its reference node the
        one nearest their centre.
    skip_covered : bool
        Leave out, instead of refusing, a zone that lies inside the zones listed before it (for
        zones the model chose itself, e.g. default deployment zones on a small network).

    A node in several zones belongs to the first listed. The service area is the union of zones.
    Returns the weights of the zones kept, in the order of ``names``.
    """
    if weights is None and len(network.places) > 0:
        weights = dict(zip(network.places["name"], network.places["weight"], strict=True))
    if not weights:
        n = network.n_nodes
        if usable is None or not usable.any():
            return ["service_area"], np.array([0]), np.array([1.0]), np.zeros(n, dtype=np.int64)
        nodes = np.flatnonzero(usable)
        x_m, y_m = network.nodes["x_m"].to_numpy()[nodes], network.nodes["y_m"].to_numpy()[nodes]
        ref = int(nodes[np.argmin(np.hypot(x_m - x_m.mean(), y_m - y_m.mean()))])
        zone_of = np.where(usable, 0, -1).astype(np.int64)
        return ["service_area"], np.array([ref]), np.array([1.0]), zone_of
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
        if usable is not None:
            nodes = nodes[usable[nodes] | (nodes == ref)]
        free = nodes[zone_of[nodes] < 0]
        if free.size == 0:
            if not skip_covered:
                problems.append((f"{key}.{name}", "the zone lies inside zones listed before it"))
            continue
        zone_of[free] = len(names)
        names.append(name)
        refs.append(ref if zone_of[ref] == len(names) - 1 else int(free[0]))
    if problems:
        raise ScenarioError(None, problems)
    kept = np.asarray([weights[name] for name in names], dtype=float)
    return names, np.asarray(refs), kept, zone_of


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
def _pool_rank(vehicle: SharedVehicle) -> tuple[int, int]:
    return vehicle.pool_rank


@dataclass(eq=False, slots=True)
class Lot:
    """A station (``spaces`` set) or a free-floating zone (``spaces`` None: no limit).

    ``charge_kw``: charging power per space, kW (0: none). ``depot``: an operator's depot, not
    a rental lot (riders never see it, its stock is not logged as ``station_stock``).
    """

    name: str
    node: int  # station node, or the zone's reference node (its named place)
    store: simpy.FilterStore
    spaces: int | None
    target: int = 0  # the stock the operator aims at (the initial stock)
    charge_kw: float = 0.0
    depot: bool = False

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
    #: while pooled: (index of its lot, parking count when it was parked), the order in which
    #: :meth:`Fleet.standing_in_lots` lists it (lots in file order, each in parking order)
    pool_rank: tuple[int, int] = (-1, -1)


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
        #: the pool, kept as vehicles are parked and taken: kind -> node -> the vehicles of that
        #: kind pooled at the node (in a rental lot, not reserved), by ``pool_rank``; nodes
        #: without such vehicles have no entry
        self._pool: dict[str, dict[int, list[SharedVehicle]]] = {}
        self._lot_index = {lot: index for index, lot in enumerate(lots)}
        self._parkings = 0  # vehicles parked into rental lots so far (the second part of a rank)
        energy_config = getattr(ctx.energy, "config", None)
        self.motion = Motion(ctx, service)
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
        self._put(lot, vehicle, node)
        vehicle.lot, vehicle.node, vehicle.holder = lot, node, -1
        vehicle.standing, vehicle.since_s = True, now
        battery = vehicle.battery
        if lot.charge_kw > 0 and battery is not None and battery.free_kwh > EPS_KWH:
            vehicle.plug_s, vehicle.plug_soc_kwh = now, battery.soc_kwh
            self.ctx.log.charge_start(
                now,
                service=self.service,
                vehicle_id=vehicle.vehicle_id,
                node=vehicle.node,
                site=lot.name,
                soc_kwh=battery.soc_kwh,
            )
        self._changed(lot)

    def reserve(self, vehicle: SharedVehicle, holder: int) -> None:
        """Hold a standing ``vehicle`` for ``holder`` (trip id): out of the pool, still standing."""
        self._get(vehicle.lot, vehicle)
        vehicle.holder = holder
        self._changed(vehicle.lot)

    def release(self, vehicle: SharedVehicle) -> None:
        """A reservation lapses: the vehicle is back in its lot's pool (its stand goes on)."""
        self._put(vehicle.lot, vehicle, vehicle.node)
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

    def _put(self, lot: Lot, vehicle: SharedVehicle, node: int) -> None:
        """Into the lot's store (appended: parking order) and, at a rental lot, the pool at ``node``."""
        put = lot.store.put(vehicle)
        if not put.triggered:  # a full station: the put would wait; never let it
            lot.store.put_queue.remove(put)
            raise SimulationError(f"{self.service}: station {lot.name} is full")
        index = self._lot_index.get(lot)
        if index is not None:
            self._parkings += 1
            vehicle.pool_rank = (index, self._parkings)
            here = self._pool.setdefault(vehicle.kind, {}).setdefault(node, [])
            if here and here[-1].pool_rank > vehicle.pool_rank:  # another lot at this node
                bisect.insort(here, vehicle, key=_pool_rank)
            else:
                here.append(vehicle)

    def _get(self, lot: Lot, vehicle: SharedVehicle) -> None:
        """Out of the lot's store and the pool."""
        get = lot.store.get(lambda item: item is vehicle)
        if not get.triggered:
            lot.store.get_queue.remove(get)
            raise SimulationError(
                f"{self.service}: vehicle {vehicle.vehicle_id} is not at {lot.name}"
            )
        if lot in self._lot_index:
            at = self._pool[vehicle.kind]
            here = at[vehicle.node]
            here.remove(vehicle)
            if not here:  # only nodes holding vehicles stay in the pool
                del at[vehicle.node]

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
        self.ctx.log.charge_end(
            end_s,
            service=self.service,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            site=lot.name,
            charged_kwh=added,
            duration_s=end_s - plug_s,
        )
        if end_s > plug_s:  # charging draws nothing from the battery (what charged it is above)
            self.motion.log_stand(vehicle, plug_s, end_s - plug_s, state=CHARGING, detail=lot.name)
        vehicle.plug_s = vehicle.plug_soc_kwh = math.nan
        return end_s

    def _parked(self, vehicle: SharedVehicle, start_s: float, end_s: float) -> None:
        """Draw and log the parked dwell from ``start_s`` to ``end_s`` (s) at the vehicle's node."""
        duration_s = end_s - start_s
        if duration_s <= 0:
            return
        battery, motion = vehicle.battery, self.motion
        drain = motion.stand_kwh(vehicle, duration_s, PARKED)
        if battery is not None and drain > battery.soc_kwh:
            # flat before the end: parked (drawing standby) until empty, then nothing left to draw
            flat_s = duration_s * battery.soc_kwh / drain
            motion.log_stand(vehicle, start_s, flat_s, state=PARKED)
            motion.log_stand(vehicle, start_s + flat_s, duration_s - flat_s, state=FLAT, draw=False)
            return
        motion.log_stand(vehicle, start_s, duration_s, state=PARKED)

    def _changed(self, lot: Lot) -> None:
        if lot.depot:  # not a rental lot: no station time series, no operator trigger
            return
        self.log_stock(lot)
        for callback in self.on_change:
            callback(lot)

    def log_stock(self, lot: Lot) -> None:
        """Log the lot's stock now: value = vehicles standing, pax = free spaces (-1: no limit)."""
        self.ctx.log.station_stock(
            self.ctx.env.now,
            service=self.service,
            node=lot.node,
            station=lot.name,
            stock=lot.stock,
            free_spaces=lot.free_spaces,
        )

    def standing_in_lots(self, kind: str) -> tuple[list[SharedVehicle], np.ndarray]:
        """The pooled vehicles of ``kind`` (lots in file order, each in parking order) and their nodes."""
        pooled = sorted(
            (v for here in self._pool.get(kind, {}).values() for v in here), key=_pool_rank
        )
        return pooled, np.fromiter((v.node for v in pooled), dtype=np.int64, count=len(pooled))

    def pooled_at(self, kind: str, node: int) -> list[SharedVehicle]:
        """The pooled vehicles of ``kind`` standing at ``node``, in :meth:`standing_in_lots` order."""
        return self._pool.get(kind, {}).get(node, [])

    def pooled_near(
        self, kind: str, near: dict[int, float]
    ) -> Iterator[tuple[float, SharedVehicle]]:
        """(distance, vehicle) of the pooled vehicles of ``kind`` at the nodes of ``near``, nearest first.

        ``near``: node -> distance (e.g. the walk in m from an origin). Vehicles at the same
        distance come in :meth:`standing_in_lots` order, as a stable sort of that list by
        distance gives them. The pool must not change while the vehicles are taken from here.
        """
        at = self._pool.get(kind)
        if not at:
            return
        if len(at) < len(near):  # fewer nodes hold vehicles (stations) than are near
            reached = [(distance, node) for node in at if (distance := near.get(node)) is not None]
        else:
            reached = [(distance, node) for node, distance in near.items() if node in at]
        reached.sort()
        start, end = 0, len(reached)
        while start < end:
            distance, node = reached[start]
            stop = start + 1
            while stop < end and reached[stop][0] == distance:
                stop += 1
            if stop - start == 1:
                tied = at[node]
            else:  # nodes as far as each other: their vehicles in pool order
                tied = sorted((v for _, n in reached[start:stop] for v in at[n]), key=_pool_rank)
            for vehicle in tied:
                yield distance, vehicle
            start = stop

    def finish(self, end_s: float) -> None:
        """Close every open stand at ``end_s`` (s): standing and held vehicles log their last dwell."""
        for vehicle in self.vehicles:
            if vehicle.standing:
                self.end_stand(vehicle, max(end_s, vehicle.since_s))

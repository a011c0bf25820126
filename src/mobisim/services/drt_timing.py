"""The DRT timing model and the reference insertion (readable; the fast twin must agree).

Timing model (a plan forecasts the vehicle exactly):

* the vehicle leaves its anchor at :func:`start_s` = max(anchor free time, now);
* it reaches each stop after the fastest drive of the service's profile (:func:`arrival_s`);
* it serves the stop (riders board or alight) at :func:`service_s` = max(arrival, earliest):
  a pick-up waits for the rider's ready time, a drop-off never waits;
* it leaves :func:`departure_s` = service + ``stop_s`` (the dwell) later.

Limits held for every rider on board or assigned [T3][T14]:

* max wait: pick-up ≤ :func:`latest_pickup_s` = ready + ``max_wait_s``;
* max detour: drop-off ≤ :func:`latest_dropoff_s` = ready + α·direct + β (the whole travel time,
  wait included, as MATSim's ``maxTravelTime``);
* capacity: the load after every stop ≤ the vehicle's places (:func:`within_capacity`);
* energy: the battery can drive the new route and keep its reserve (``energy_ok``, given by the
  service; see :meth:`mobisim.services.drt.DrtService.energy_ok`).

The insertion cost (:func:`insertion_cost_s`) is the drive time the new stops add to the route.
:func:`reference_best_insertion` tries every pick-up/drop-off position pair of one vehicle;
:func:`reference_insert` tries every vehicle (:func:`reference_options` keeps every vehicle's
best, for batch assignment). They are the definition of what dispatch decides:
the cheapest feasible insertion, ties broken by earlier pick-up, then lower vehicle id, then
earlier positions. :mod:`mobisim.services.drt_insertion_fast` is the fast twin; a test holds the
two equal on random instances (ridepy's Python/compiled twin pattern).

Drive times are given as ``drive_s(a, b)`` (s between node indices; inf when unreachable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from mobisim.services.drt_plan import DrtRequest, DrtVehicle, Insertion, new_route

DriveTime = Callable[[int, int], float]
EnergyCheck = Callable[[DrtVehicle, list[int]], bool]


# ------------------------------------------------------------------ limits of one request
def latest_pickup_s(ready_s: float, max_wait_s: float) -> float:
    """Latest pick-up, s: ``ready_s`` (s) + ``max_wait_s`` (s)."""
    return ready_s + max_wait_s


def latest_dropoff_s(ready_s: float, direct_s: float, alpha: float, beta_s: float) -> float:
    """Latest drop-off, s: ready (s) + ``alpha`` × direct drive (s) + ``beta_s`` (s)."""
    return ready_s + alpha * direct_s + beta_s


# ------------------------------------------------------------------ timing of one stop
def start_s(free_s: float, now_s: float) -> float:
    """When the vehicle can leave its anchor, s: its free time, or now if it is already free."""
    return free_s if free_s >= now_s else now_s


def arrival_s(departure_s: float, drive_s: float) -> float:
    """Arrival at the next stop, s: departure (s) + fastest drive (s)."""
    return departure_s + drive_s


def service_s(arrival_s: float, earliest_s: float) -> float:
    """When the stop is served, s: on arrival, or at the earliest service time if early."""
    return arrival_s if arrival_s >= earliest_s else earliest_s


def departure_s(service_s: float, stop_s: float) -> float:
    """Departure from a stop, s: service time (s) + dwell ``stop_s`` (s)."""
    return service_s + stop_s


# ------------------------------------------------------------------ a plan's schedule
class TimedStop(NamedTuple):
    """A stop to schedule: node index, earliest and latest service (s), load change (persons)."""

    node: int
    earliest_s: float
    latest_s: float
    load_change: int


class Visit(NamedTuple):
    """A scheduled stop: arrival, service and departure (s), persons on board after it."""

    arrival_s: float
    service_s: float
    departure_s: float
    load_after: int


def plan_stops(vehicle: DrtVehicle) -> list[TimedStop]:
    """The vehicle's plan as :class:`TimedStop` s."""
    return [
        TimedStop(
            stop.node,
            stop.earliest_s,
            stop.latest_s,
            stop.request.party if stop.pickup else -stop.request.party,
        )
        for stop in vehicle.plan
    ]


def request_stops(request: DrtRequest) -> tuple[TimedStop, TimedStop]:
    """The request's pick-up and drop-off as :class:`TimedStop` s."""
    pickup = TimedStop(request.pickup_node, request.ready_s, request.latest_pickup_s, request.party)
    dropoff = TimedStop(
        request.dropoff_node, -float("inf"), request.latest_dropoff_s, -request.party
    )
    return pickup, dropoff


def schedule(
    anchor_node: int,
    leave_s: float,
    anchor_load: int,
    stops: list[TimedStop],
    drive_s: DriveTime,
    stop_s: float,
) -> list[Visit]:
    """The :class:`Visit` of every stop of a vehicle leaving ``anchor_node`` at ``leave_s`` (s)
    with ``anchor_load`` persons, driving the fastest paths and dwelling ``stop_s`` (s)."""
    visits, here, leave, load = [], anchor_node, leave_s, anchor_load
    for stop in stops:
        arrive = arrival_s(leave, drive_s(here, stop.node))
        served = service_s(arrive, stop.earliest_s)
        leave = departure_s(served, stop_s)
        load += stop.load_change
        visits.append(Visit(arrive, served, leave, load))
        here = stop.node
    return visits


def within_windows(stops: list[TimedStop], visits: list[Visit]) -> bool:
    """Is every stop served by its latest time (max wait and max detour)?"""
    return all(visit.service_s <= stop.latest_s for stop, visit in zip(stops, visits, strict=True))


def within_capacity(visits: list[Visit], capacity: int) -> bool:
    """Is the load after every stop within ``capacity`` (persons)?"""
    return all(visit.load_after <= capacity for visit in visits)


# ------------------------------------------------------------------ cost of an insertion
def insertion_cost_s(route: list[int], i: int, j: int, pickup: int, dropoff: int, drive_s) -> float:
    """Drive time (s) added by putting ``pickup`` after ``route[i]`` and ``dropoff`` after
    ``route[j]`` (j ≥ i; right after the pick-up when j = i) into ``route`` (anchor, then the
    old stops' nodes). The terms are added in this order in the fast twin too, so that the two
    give the same floats."""
    after = len(route)
    if j == i:
        cost = drive_s(route[i], pickup) + drive_s(pickup, dropoff)
        if i + 1 < after:
            cost += drive_s(dropoff, route[i + 1]) - drive_s(route[i], route[i + 1])
        return cost
    cost = drive_s(route[i], pickup) + (
        drive_s(pickup, route[i + 1]) - drive_s(route[i], route[i + 1])
    )
    cost = cost + drive_s(route[j], dropoff)
    if j + 1 < after:
        cost += drive_s(dropoff, route[j + 1]) - drive_s(route[j], route[j + 1])
    return cost


# ------------------------------------------------------------------ the reference insertion
def reference_best_insertion(
    vehicle: DrtVehicle,
    request: DrtRequest,
    now_s: float,
    drive_s: DriveTime,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> Insertion | None:
    """The cheapest feasible insertion of ``request`` into ``vehicle``'s plan, or None.

    Tries every position pair (pick-up before ``plan[i]``, drop-off before ``plan[j]``, i ≤ j),
    schedules the whole new plan, keeps it when every stop is within its window and the load
    within the capacity (and, for a vehicle with a battery, when ``energy_ok`` says the pack can
    drive it). Cheapest wins; ties go to the earlier pick-up, then to the first pair tried.
    """
    old = plan_stops(vehicle)
    pickup, dropoff = request_stops(request)
    route = [vehicle.node, *(stop.node for stop in old)]
    leave = start_s(vehicle.free_s, now_s)
    best: Insertion | None = None
    for i in range(len(old) + 1):
        for j in range(i, len(old) + 1):
            stops = [*old[:i], pickup, *old[i:j], dropoff, *old[j:]]
            visits = schedule(vehicle.node, leave, vehicle.anchor_load, stops, drive_s, stop_s)
            if not (within_windows(stops, visits) and within_capacity(visits, vehicle.capacity)):
                continue
            cost = insertion_cost_s(route, i, j, pickup.node, dropoff.node, drive_s)
            pickup_at, dropoff_at = visits[i].service_s, visits[j + 1].service_s
            if best is not None and (cost, pickup_at) >= (best.cost_s, best.pickup_s):
                continue
            has_battery = vehicle.battery is not None and energy_ok is not None
            if has_battery and not energy_ok(vehicle, new_route(vehicle, request, i, j)):
                continue
            best = Insertion(vehicle, i, j, pickup_at, dropoff_at, cost, vehicle.version, now_s)
    return best


def decision_key(option: Insertion) -> tuple[float, float, int]:
    """How options of different vehicles are ranked: cost (s), pick-up time (s), vehicle id."""
    return option.cost_s, option.pickup_s, option.vehicle.vehicle_id


def reference_insert(
    request: DrtRequest,
    vehicles: list[DrtVehicle],
    now_s: float,
    drive_s: DriveTime,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> Insertion | None:
    """The best of every vehicle's :func:`reference_best_insertion` (brute force), or None when
    no vehicle can serve the request within the limits."""
    options = [
        option
        for vehicle in vehicles
        if (option := reference_best_insertion(vehicle, request, now_s, drive_s, stop_s, energy_ok))
        is not None
    ]
    return min(options, key=decision_key, default=None)


def reference_options(
    request: DrtRequest,
    vehicles: list[DrtVehicle],
    now_s: float,
    drive_s: DriveTime,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> list[Insertion]:
    """Every vehicle's :func:`reference_best_insertion` of ``request`` (the vehicles that cannot
    serve it left out), in list order: the options a batch assignment chooses among."""
    return [
        option
        for vehicle in vehicles
        if (option := reference_best_insertion(vehicle, request, now_s, drive_s, stop_s, energy_ok))
        is not None
    ]


def reference_insertion_at(
    vehicle: DrtVehicle,
    request: DrtRequest,
    i: int,
    j: int,
    now_s: float,
    drive_s: DriveTime,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> Insertion | str:
    """The insertion of ``request`` into ``vehicle``'s plan with the pick-up before
    ``plan[i]`` and the drop-off before ``plan[j]``, timed by the reference model; or, when it
    breaks a limit, a sentence saying which (positions, a stop's window, capacity, energy).
    This is how the service checks the plan changes a dispatcher returns."""
    old = plan_stops(vehicle)
    if not 0 <= i <= j <= len(old):
        return f"positions ({i}, {j}) are not 0 <= pickup <= dropoff <= {len(old)} (plan stops)"
    pickup, dropoff = request_stops(request)
    stops = [*old[:i], pickup, *old[i:j], dropoff, *old[j:]]
    owners = [*vehicle.plan[:i], None, *vehicle.plan[i:j], None, *vehicle.plan[j:]]
    leave = start_s(vehicle.free_s, now_s)
    visits = schedule(vehicle.node, leave, vehicle.anchor_load, stops, drive_s, stop_s)
    for stop, visit, owner in zip(stops, visits, owners, strict=True):
        if visit.service_s > stop.latest_s:
            trip = request.trip_id if owner is None else owner.request.trip_id
            what = "pick-up" if stop.load_change > 0 else "drop-off"
            return (
                f"time window: the {what} of trip {trip} would be at {visit.service_s:.0f} s, "
                f"after its latest {stop.latest_s:.0f} s"
            )
        if visit.load_after > vehicle.capacity:
            return (
                f"capacity: {visit.load_after} persons on board at node {stop.node}, "
                f"more than the {vehicle.capacity} places"
            )
    has_battery = vehicle.battery is not None and energy_ok is not None
    if has_battery and not energy_ok(vehicle, new_route(vehicle, request, i, j)):
        return "energy: the battery cannot drive the new plan and keep its reserve"
    route = [vehicle.node, *(stop.node for stop in old)]
    cost = insertion_cost_s(route, i, j, pickup.node, dropoff.node, drive_s)
    return Insertion(
        vehicle, i, j, visits[i].service_s, visits[j + 1].service_s, cost, vehicle.version, now_s
    )

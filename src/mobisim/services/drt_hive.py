"""``dispatch: hive_step``: an emulation of NREL HIVE's default dispatch, for converted HIVE
scenarios (:mod:`mobisim.convert.hive` chooses it; "closest to HIVE").

mobisim's own dispatch is event-driven and arrival-aware; HIVE (1.3, ``nrel.hive``) steps its
whole state every ``sim.timestep_duration_seconds`` and matches on straight-line distance. Each
rule below mirrors one HIVE file / function (paths under ``nrel/hive/``):

1. **Decisions only at time steps** (``state/simulation_state/update/step_simulation.py``,
   ``StepSimulation.update``): every ``time_step_s`` the open requests are matched together
   (the service's batch rounds, ``batch_interval_s = time_step_s``, from the period start).
2. **Only dispatchable vehicles** (``dispatcher/instruction_generator/dispatcher.py``,
   ``_is_valid_for_dispatch``; ``valid_dispatch_states`` Idle, Repositioning): a vehicle with
   an empty plan that has been idle since *before* this step. HIVE generates the step's
   instructions before it updates the vehicles, so a vehicle that drops its rider (or reaches
   a cancelled pick-up) at step t is seen idle only at step t + 1. mobisim's ``repositioning``
   drives (the idle policy's drive to a base: HIVE's DispatchBase, not in the valid states)
   and charging vehicles are left out.
3. **Matching rule** (``dispatcher.py``, ``Dispatcher.generate_instructions``;
   ``assignment_ops.find_assignment`` with ``h3_distance_cost``): the assignment problem
   (Kuhn-Munkres, ``scipy.optimize.linear_sum_assignment``) between the dispatchable vehicles
   (rows, fleet order) and the requests no vehicle is dispatched to (columns, sorted by
   HIVE's ``(-value, id)``: the trip id, values being 0 without a rate structure), cost the
   straight-line distance from the vehicle to the pick-up (HIVE: H3 cells at resolution 15,
   about 1 m). No arrival-time check and no distance limit (HIVE's ``max_search_radius_km``
   bounds only base and station searches); each vehicle takes one request. The service's
   energy check (``battery_reserve_share``: HIVE's ``matching_range_km_threshold``) drops a
   pair after the matching instead of removing the vehicle before it (a small difference).
4. **Cancellation** (``state/simulation_state/update/cancel_requests.py``,
   ``CancelRequests.update``, run before dispatch at each step): a request not picked up is
   cancelled at the first step at or after ready + ``max_wait_s`` (HIVE's
   ``request_cancel_time_seconds``), also while a vehicle drives to it. The vehicle drives on
   to the pick-up and becomes idle there (``state/vehicle_state/dispatch_trip.py``,
   ``DispatchTrip._default_terminal_state``: no request -> Idle); a pick-up reached at the
   cancel step finds the request gone (cancellation runs first).
5. **State changes at step boundaries** (``state/vehicle_state/vehicle_state_ops.py``,
   ``move``; ``VehicleState.default_update``): a vehicle traverses its route for at most one
   step per step and changes state (pick-up, drop-off) at the first step after it reached the
   end of its route, so an arrival takes effect at the next step boundary
   (:meth:`HiveStepDispatch.arrival_takes_effect_s`; the vehicle stands, ``dwell``, until then).
   Requests appear at the first step *after* their departure
   (``state/simulation_state/update/update_requests_from_file.py``: rows with
   ``departure_time < sim_time`` are read), so one departing on a step boundary is first
   matched a step later (:func:`visible`); it is still cancelled at departure + the cancel time.
   HIVE reports a pick-up one step before it takes effect (``reporting/vehicle_event_ops.py``,
   ``report_pickup_request``: ``sim_time - timestep``, the clock not yet ticked), so its
   ``wait_time_seconds`` is the wait mobisim logs minus one step.

6. **Idle vehicles** (``idle_policy: hive_base_after_idle``, :class:`HiveBaseAfterIdle`;
   ``state/driver_state/driver_instruction_ops.py``, ``av_dispatch_base_instruction``): after
   ``idle_after_min`` idle an autonomous vehicle drives to the nearest base and, once there, is
   never dispatched again (ReserveBase / ChargingBase are not in the valid dispatch states;
   ``autonomous_available.py`` only charges it there). A vehicle with a driver shift (HIVE's
   human driver) stays in service at the base instead (HIVE sends it toward demand,
   ``human_look_for_requests``: not modelled).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from mobisim.services.drt_dispatch import (
    Assignment,
    Dispatcher,
    FleetView,
    NearestBaseAfterIdle,
    VehicleView,
)
from mobisim.services.drt_plan import DrtRequest, DrtVehicle

#: clock tolerance of a step boundary, s (times are sums of float drive times)
STEP_EPS_S = 1e-6


def next_step_s(time_s: float, origin_s: float, step_s: float) -> float:
    """The first step boundary (``origin_s`` + k ``step_s``, s) at or after ``time_s`` (s)."""
    steps = math.ceil((time_s - origin_s) / step_s - STEP_EPS_S)
    return origin_s + max(steps, 0) * step_s


def dispatchable(vehicle: VehicleView, now_s: float) -> bool:
    """HIVE's ``_is_valid_for_dispatch`` as far as mobisim sees it: no plan, not charging,
    and idle since before the step at ``now_s`` (s)."""
    return not vehicle.plan and vehicle.free_s < now_s - STEP_EPS_S


def visible(request: DrtRequest, now_s: float) -> bool:
    """HIVE has read the request by the step at ``now_s`` (s): it departed before it."""
    return request.ready_s < now_s - STEP_EPS_S


def straight_line_m(fleet: FleetView, a: int, b: int) -> float:
    """Straight-line distance (m) between nodes ``a`` and ``b`` (indices)."""
    xy = fleet.node_xy_m
    return float(math.hypot(xy[a, 0] - xy[b, 0], xy[a, 1] - xy[b, 1]))


def hive_matching(
    vehicles: list[VehicleView], requests: list[DrtRequest], fleet: FleetView
) -> list[tuple[VehicleView, DrtRequest]]:
    """HIVE's ``find_assignment``: the pairs (vehicle, request) of the least total straight-line
    distance, one request per vehicle and one vehicle per request, as many pairs as the smaller
    side has; requests in HIVE's order (trip id), vehicles in fleet order."""
    if not vehicles or not requests:
        return []
    requests = sorted(requests, key=lambda r: r.trip_id)
    xy = fleet.node_xy_m
    v_xy = xy[[v.node for v in vehicles]]
    r_xy = xy[[r.pickup_node for r in requests]]
    cost = np.hypot(v_xy[:, None, 0] - r_xy[None, :, 0], v_xy[:, None, 1] - r_xy[None, :, 1])
    rows, cols = linear_sum_assignment(cost)
    return [(vehicles[int(i)], requests[int(j)]) for i, j in zip(rows, cols, strict=True)]


class HiveStepDispatch(Dispatcher):
    """``hive_step``: HIVE's time-stepped, arrival-blind greedy-by-distance dispatch (see the
    module docstring for each rule and the HIVE function it mirrors). ``time_step_s`` is
    HIVE's ``sim.timestep_duration_seconds`` (60 s in its demo)."""

    cancel_en_route = True

    def __init__(self, config):
        super().__init__(config)
        self.time_step_s = float(config.time_step_s)
        self.batch_interval_s = self.time_step_s

    def dispatch(
        self, requests: list[DrtRequest], fleet: FleetView, now_s: float
    ) -> list[Assignment]:
        """This step's matches at ``now_s`` (s): pick-up and drop-off into the empty plan of
        the matched vehicle; requests left out (and those HIVE has not read yet, rule 5) stay
        open for the next step."""
        return self._match([r for r in requests if visible(r, now_s)], fleet, now_s)

    def _match(
        self, requests: list[DrtRequest], fleet: FleetView, now_s: float
    ) -> list[Assignment]:
        """HIVE's matching of ``requests`` with the vehicles dispatchable at ``now_s`` (s)."""
        vehicles = [v for v in fleet.vehicles if dispatchable(v, now_s)]
        changes = []
        for vehicle, request in hive_matching(vehicles, requests, fleet):
            change = fleet.insertion_at(request, vehicle.vehicle_id, 0, 0, now_s)
            if change is not None:  # None: the energy check refuses the pair
                changes.append(change)
        return sorted(changes, key=lambda c: c.request.trip_id)

    def quote(self, request: DrtRequest, fleet: FleetView, now_s: float) -> Assignment | None:
        """The offer: the vehicle HIVE's matching would give ``request`` alone now (None: no
        vehicle is dispatchable; the service then quotes the cancel time). The offer is made
        at the departure, although HIVE reads the request only at the next step. Requests have no
        pick-up limit here, so the exact insertion search of other dispatchers would also
        accept vehicles that take no work (charging, off shift)."""
        return next(iter(self._match([request], fleet, now_s)), None)

    def arrival_takes_effect_s(self, arrival_s: float, origin_s: float) -> float:
        """HIVE changes state at the step boundary after the route's end (rule 5)."""
        return next_step_s(arrival_s, origin_s, self.time_step_s)

    def cancel_s(self, request: DrtRequest, max_wait_s: float, origin_s: float) -> float:
        """The first step at or after ready + ``max_wait_s`` (rule 4)."""
        return next_step_s(request.ready_s + max_wait_s, origin_s, self.time_step_s)


class HiveBaseAfterIdle(NearestBaseAfterIdle):
    """``hive_base_after_idle``: HIVE's autonomous idle behaviour (rule 6 of the module
    docstring): after ``idle_after_min`` without work a vehicle drives to the nearest base
    (``idle_bases``) and retires there for the rest of the run; a vehicle with a driver shift
    waits at the base in service instead (as ``nearest_base_after_idle``)."""

    def __init__(self, service):
        super().__init__(service)
        #: vehicle id -> (base, plan version) when its idle time ran out and it was sent there
        self.sent: dict[int, tuple[int, int]] = {}

    def _timed_out(self, vehicle: DrtVehicle, now_s: float) -> bool:
        return now_s - self._idle_since_s(vehicle, now_s) >= self.after_s - self.CLOCK_EPS_S

    def target_node(self, vehicle: DrtVehicle, now_s: float) -> int | None:
        """The nearest base once the vehicle has been idle ``idle_after_min``; else None."""
        if not self._timed_out(vehicle, now_s):
            return None
        base = self.nearest_base(vehicle)
        if base is not None:  # the drive there bumps the plan version once
            self.sent[vehicle.vehicle_id] = (base, vehicle.version)
        return None if base == vehicle.node else base

    def recheck_after_s(self, vehicle: DrtVehicle, now_s: float) -> float | None:
        """The idle time left before the vehicle times out (at a base too: HIVE sends an idle
        vehicle to the base it stands at, and it retires there)."""
        if vehicle.vehicle_id in self.service.shifts and vehicle.node in self._bases_of(vehicle):
            return None
        left_s = self._idle_since_s(vehicle, now_s) + self.after_s - now_s
        return left_s if left_s > self.CLOCK_EPS_S else None

    def retires(self, vehicle: DrtVehicle, now_s: float) -> bool:
        """An autonomous vehicle (no driver shift) at the base its time-out sent it to."""
        if vehicle.vehicle_id in self.service.shifts:
            return False
        sent = self.sent.get(vehicle.vehicle_id)
        if sent is None:
            return False
        base, version = sent
        return vehicle.node == base and vehicle.version <= version + 1  # no work since

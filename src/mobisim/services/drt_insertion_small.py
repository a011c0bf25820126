"""Small-fleet twin of :func:`~mobisim.services.drt_insertion_fast.fast_insert`: plain Python.

:func:`~mobisim.services.drt_insertion_fast.fast_insert` finds the cheapest feasible insertion
with NumPy expressions over the whole fleet (pick-up bounds, idle costs, busy vehicles' cost
bounds). Each expression costs a few microseconds whatever the fleet, so on the fleets of a few
taxis that HIVE's demos run (7 and 13 vehicles) their fixed cost is most of a quote's time.
:func:`small_insert` does the same search vehicle by vehicle in a plain loop, with the same
arithmetic on the same floats, so it gives the same decisions and costs (held equal with the
reference and the NumPy path on random instances in ``tests/test_drt_small_fleet.py``):

1. **pick-up bound**: a vehicle cannot reach the pick-up before ``max(free, now) +
   drive(anchor → pick-up)``; a vehicle whose bound is past the latest pick-up (less
   ``BOUND_SLACK_S``) cannot serve the request and is skipped;
2. **idle vehicles** (empty plan) have one insertion, whose cost (drive to the pick-up + the
   ride) is exact; **busy vehicles** get a lower bound on the cost of all their insertions
   (:func:`busy_cost_bound`, the bound of
   :func:`~mobisim.services.drt_insertion_fast.busy_cost_bounds` worked out for one vehicle),
   unless :func:`~mobisim.services.drt_insertion_fast.pickup_cannot_fit` rules the vehicle out
   first (the pick-up delays the next plan stop past the plan's slack at every position);
3. the vehicles are examined in order of these numbers (busy ones with
   :func:`~mobisim.services.drt_insertion_fast.fast_best_insertion`), and the search stops when
   the next number exceeds the best cost found; the best by
   :func:`~mobisim.services.drt_timing.decision_key` wins.

``fast_insert`` hands fleets of fewer than ``SMALL_FLEET_MAX`` vehicles to :func:`small_insert`
(measured crossover: ``benchmarks/bench_drt_small_fleet.py``, results in benchmarks/README.md).
"""

from __future__ import annotations

import math

from mobisim.services import drt_insertion_fast as fast
from mobisim.services.drt_plan import DrtRequest, DrtVehicle, Insertion
from mobisim.services.drt_timing import EnergyCheck

#: fleets of fewer vehicles than this are searched by :func:`small_insert` (plain Python);
#: larger ones by the NumPy expressions of ``fast_insert``. Measured crossover
#: (``benchmarks/bench_drt_small_fleet.py``, a 300-node town): about 50 vehicles with 8 seats,
#: above 80 with one seat (fewer busy vehicles in reach per request)
SMALL_FLEET_MAX = 48


def busy_cost_bound(times_s: list, n_stops: int) -> float:
    """A lower bound (s) on the cost of every insertion into one busy vehicle, less
    ``COST_SLACK_S``, from ``times_s``: the drive times between [anchor, the plan's
    ``n_stops`` stops, pick-up, drop-off] (:func:`~mobisim.services.drt_insertion_fast.busy_table`).

    It is the bound of :func:`~mobisim.services.drt_insertion_fast.busy_cost_bounds` (the proof
    is there) for one vehicle: with route r_0 (anchor) .. r_n, P_i = d(r_i, p) + d(p, r_{i+1})
    - d(r_i, r_{i+1}) (P_n = d(r_n, p)) and Q_i the same with the drop-off q, every insertion
    costs at least min_i min(max(P_i, Q_i), P_i + min_{j > i} Q_j).
    """
    T, n = times_s, n_stops
    P, D = n + 1, n + 2
    from_p, from_d = T[P], T[D]
    p_added, q_added = [], []
    for i in range(n + 1):
        row = T[i]
        if i < n:
            leg = row[i + 1]
            p_added.append(row[P] + from_p[i + 1] - leg)
            q_added.append(row[D] + from_d[i + 1] - leg)
        else:
            p_added.append(row[P])
            q_added.append(row[D])
    bound = math.inf
    q_after = math.inf  # min of Q_j over j > i, built from the end
    for i in range(n, -1, -1):
        p, q = p_added[i], q_added[i]
        pair = p if p >= q else q
        if p + q_after < pair:
            pair = p + q_after
        if pair < bound:
            bound = pair
        if q < q_after:
            q_after = q
    return bound - fast.COST_SLACK_S


def small_insert(
    request: DrtRequest,
    vehicles: list[DrtVehicle],
    now_s: float,
    drive,
    stop_s: float,
    energy_ok: EnergyCheck | None = None,
) -> Insertion | None:
    """Twin of :func:`~mobisim.services.drt_timing.reference_insert` (and of the exact
    :func:`~mobisim.services.drt_insertion_fast.fast_insert`) for small fleets, in plain Python:
    the same pick-up bound, idle costs and busy cost bounds (on drive sources whose rows are
    the table's own cells, ``drive.rows_exact``; otherwise every busy vehicle in reach is
    examined), the same search order and early stop."""
    if not vehicles:
        return None
    pickup, dropoff = request.pickup_node, request.dropoff_node
    latest, ready = request.latest_pickup_s, request.ready_s
    latest_dropoff = request.latest_dropoff_s
    ride = drive.drive_s(pickup, dropoff)
    limit = latest + fast.BOUND_SLACK_S
    if isinstance(drive, fast.DenseDrive):  # the same floats as its rows_at, as Python floats
        times = drive.times
        to_pickup = None
    else:
        to_pickup = drive.row_to(pickup, fast.reach_limit_s(request, now_s))
    idle: list[tuple] = []  # (cost, pick-up time, vehicle id, vehicle, drop-off time)
    busy: list[DrtVehicle] = []
    for vehicle in vehicles:
        free = vehicle._free_s
        start = free if free >= now_s else now_s
        reach = (
            times[vehicle._node][pickup] if to_pickup is None else float(to_pickup[vehicle._node])
        )
        bound = start + reach
        if not bound <= limit:
            continue
        if vehicle._plan:
            busy.append(vehicle)
            continue
        t_p = bound if bound >= ready else ready
        t_d = t_p + stop_s + ride
        if t_p <= latest and t_d <= latest_dropoff:
            idle.append((reach + ride, t_p, vehicle.vehicle_id, vehicle, t_d))
    idle.sort()  # vehicle ids are unique: the tuples never compare past the id

    ranked: list[tuple] = []  # (cost bound, vehicle id, vehicle, drive times)
    if busy:
        limits = None if drive.rows_exact else fast.leg_limits(request, busy, now_s)
        rows = fast.RequestRows(drive, request, limits)
        for vehicle in busy:
            times = fast.busy_times(vehicle, request, now_s, drive, rows, stop_s)
            if times is None:
                continue  # no feasible insertion (fast.pickup_cannot_fit)
            n_stops = len(times) - 3
            bound = busy_cost_bound(times, n_stops) if drive.rows_exact else -math.inf
            ranked.append((bound, vehicle.vehicle_id, vehicle, times))
        ranked.sort(key=_bound_then_id)

    busy_bounds = [entry[0] for entry in ranked]

    def busy_option(k: int) -> Insertion | None:
        _bound, _vehicle_id, vehicle, times = ranked[k]
        return fast.fast_best_insertion(vehicle, request, now_s, times, stop_s, energy_ok)

    return fast.search_in_bound_order(request, now_s, idle, busy_bounds, busy_option, energy_ok)


def _bound_then_id(entry: tuple) -> tuple[float, int]:
    return entry[0], entry[1]

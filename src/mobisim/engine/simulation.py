"""simulate(): build the SimPy world from a scenario, run the day, return the tables.

Services are built from the registry by their ``type``; each gets its own random stream
(``service.<name>``) so adding a service never changes another component's draws; mode choice
draws from ``mode_choice``. Commuters run as one process per person-day. The clock runs from the
period start to the period end, then on until every trip under way has ended, for at most
:data:`GRACE_S` (a grace period: a trip that started at 23:50 still arrives). Then every trip must
have exactly one final status, or the run fails with a :class:`~mobisim.errors.SimulationError`
naming the trips.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import operator
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from mobisim.energy.context import EnergyContext
from mobisim.engine.chains import ChainComposer
from mobisim.engine.commuter import CommuterWorld, TripRecord, person_day
from mobisim.engine.draws import UniformBlocks, uniform_blocks
from mobisim.engine.failures import explained
from mobisim.engine.fares import EMileageCredit
from mobisim.errors import SimulationError
from mobisim.events import EventLog
from mobisim.randomness import RandomStreams
from mobisim.scenario import registry
from mobisim.services.base import Service, ServiceContext, Trip

#: longest time after the period end in which trips under way may still finish, s
GRACE_S = 12 * 3600.0
#: simulated seconds between two progress callbacks
PROGRESS_STEP_S = 15 * 60.0
#: allocations between two young-generation garbage collections while the day runs (Python: 700)
GC_GEN0_THRESHOLD = 200_000
#: the longest forced walk counted as served without a walk service, m (assumption A: about 70
#: min at 1.2 m/s, the walk service's default max_walk_m)
DEFAULT_ACCEPTABLE_WALK_M = 5000.0
#: final statuses a trip may end in
STATUSES = ("completed", "fallback", "unserved")

#: columns of trips.parquet filled from each trip's TripRecord
#: the chain columns (legs, access_mode, main_mode) only with ``chains.enabled``
CHAIN_COLUMNS = ["legs", "access_mode", "main_mode"]
RECORD_COLUMNS = [f.name for f in dataclasses.fields(TripRecord) if f.name not in CHAIN_COLUMNS]
#: every column the run adds to the demand columns (records, then the direct car time in s)
OUTCOME_COLUMNS = [*RECORD_COLUMNS, "direct_s"]
_TRIP_FIELDS = (
    "trip_id",
    "person_id",
    "group",
    "purpose",
    "origin_node",
    "dest_node",
    "depart_s",
    "party_size",
    "car_available",
    "allowed_modes",
    "tour_id",
    "leg_index",
)


@dataclass
class SimOutput:
    """The tables of a run (see docs/architecture.md "Engine").

    ``n_events`` counts event-log rows; ``timings_s`` holds the wall time in seconds of the phases
    ``setup`` (services, commuter processes), ``run`` (the event loop) and ``tables``.
    """

    events: pd.DataFrame
    trips: pd.DataFrame
    vehicles: pd.DataFrame
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_events: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)


def person_days(trips: pd.DataFrame) -> list[list[Trip]]:
    """The trips table as one list of :class:`Trip` per person, in departure order.

    Legs of one tour share one ``tour_state`` dict (what the way out leaves for the way back).
    ``allowed_modes`` "" becomes None (every mode), else a frozenset of mode names.
    """
    persons: dict[int, list[Trip]] = {}
    states: dict[int, dict] = {}
    allowed_sets: dict[str, frozenset[str] | None] = {"": None}
    columns = [trips[name].tolist() for name in _TRIP_FIELDS]
    for tid, pid, grp, purpose, o, d, t, party, car, modes, tour, leg in zip(*columns, strict=True):
        modes = modes if isinstance(modes, str) else ""  # None/NaN/NA = every mode
        allowed = allowed_sets.get(modes)
        if allowed is None and modes:
            allowed = allowed_sets[modes] = frozenset(m.strip() for m in modes.split(","))
        state = states.get(tour)
        if state is None:
            state = states[tour] = {}
        trip = Trip(
            int(tid),
            int(pid),
            str(grp),
            str(purpose),
            int(o),
            int(d),
            float(t),
            int(party),
            bool(car),
            allowed,
            int(tour),
            int(leg),
            state,
        )
        persons.setdefault(trip.person_id, []).append(trip)
    days = list(persons.values())
    for legs in days:
        legs.sort(key=lambda trip: (trip.depart_s, trip.tour_id, trip.leg_index))
    return days


def build_services(
    scenario,
    network,
    router,
    streams: RandomStreams,
    env: simpy.Environment,
    log: EventLog,
    energy=None,
) -> list[Service]:
    """Instantiate the enabled services of ``scenario``, each with its own context.

    Parameters
    ----------
    scenario : Scenario
        Its enabled service blocks (in file order) and ``period`` (s after midnight).
    network, router
        The network and its router, shared by every service.
    streams : RandomStreams
        Each service draws from ``service.<name>``.
    env, log
        The SimPy environment and the event log of the run.
    energy : mobisim.energy context, optional
        Handed to every service as ``ctx.energy`` (vehicle types, batteries, chargers); None
        when energy is not simulated in the loop.

    The contexts share one vehicle-id counter and one vehicle list (vehicles.parquet rows).
    """
    vehicle_ids, vehicles = itertools.count(), []
    services = []
    for block in scenario.enabled_services():
        ctx = ServiceContext(
            env=env,
            network=network,
            router=router,
            log=log,
            rng=streams.get(f"service.{block.name}"),
            period_start_s=scenario.period.start_s,
            period_end_s=scenario.period.end_s,
            energy=energy,
            vehicle_ids=vehicle_ids,
            vehicles=vehicles,
        )
        services.append(registry.service_class(block.type)(block, ctx))
    return services


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Collect garbage less often while the day runs; restore the thresholds afterwards.

    A day creates hundreds of thousands of long-lived small objects (log rows, trip records,
    offers); with Python's default threshold the cyclic collector rescans them every 700
    allocations, which costs about a third of the event loop. Cycles are still collected.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_GEN0_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def _setup_frozen() -> Iterator[None]:
    """Keep the objects built before the clock starts out of the collector's passes during the run.

    Trips, tour states, commuter processes and their generators (a few hundred thousand objects)
    live the whole day; without this every older-generation pass of the day rescans them.
    ``gc.freeze`` moves them to the permanent generation and ``gc.unfreeze`` back to the oldest
    one afterwards; nothing is collected differently. Skipped when the caller froze objects.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _progress_ticker(env: simpy.Environment, callback: Callable[[float], None], end_s: float):
    """Call ``callback(now_s)`` every :data:`PROGRESS_STEP_S` simulated seconds before ``end_s``."""
    while env.now < end_s:
        callback(env.now)
        yield env.timeout(PROGRESS_STEP_S)


def _check_statuses(trips: pd.DataFrame, records: dict[int, TripRecord], now_s: float) -> None:
    """Raise SimulationError unless every trip has exactly one final status."""
    bad = [
        tid
        for tid in trips["trip_id"].tolist()
        if tid not in records or records[tid].status not in STATUSES
    ]
    if bad:
        raise SimulationError(
            f"{len(bad)} trips have no final status at {now_s / 3600:.2f} h "
            f"(first trip_ids: {bad[:10]}); a service never answered their request "
            f"(a request event must always fire, with served=False and a reason if it fails)"
        )


def _trips_frame(
    trips: pd.DataFrame, records: dict[int, TripRecord], router, chains: bool = False
) -> pd.DataFrame:
    """The trips.parquet frame: the demand columns plus the outcome columns, in ``trips`` order
    (and the chain columns when ``chains``).

    ``direct_s`` is the unshared car drive time origin → destination (s; NaN where no drive
    path), the denominator of the detour factor.
    """
    names = RECORD_COLUMNS + CHAIN_COLUMNS if chains else RECORD_COLUMNS
    values = operator.attrgetter(*names)  # one record's columns, as a tuple
    ordered = [values(records[tid]) for tid in trips["trip_id"].tolist()]
    columns = zip(*ordered, strict=True) if ordered else [()] * len(names)
    outcome = pd.DataFrame(
        {name: list(column) for name, column in zip(names, columns, strict=True)},
        columns=names,
    )
    outcome["n_offers_available"] = outcome["n_offers_available"].astype(np.int64)
    if chains:
        outcome["legs"] = outcome["legs"].astype(np.int64)
    origins = trips["origin_node"].to_numpy(np.int64)
    dests = trips["dest_node"].to_numpy(np.int64)
    depart_s = trips["depart_s"].to_numpy(float)  # each trip in its departure's time-of-day period
    direct_s, _ = router.legs_departing("car", origins, dests, depart_s)
    outcome["direct_s"] = np.asarray(direct_s, dtype=float)
    return pd.concat([trips.reset_index(drop=True), outcome], axis=1)


def _refusals_frame(refusals: dict[tuple[str, str], int]) -> pd.DataFrame:
    """refusals.parquet: trips each service refused at departure, by reason (sorted)."""
    rows = [(service, reason, n) for (service, reason), n in sorted(refusals.items())]
    frame = pd.DataFrame(rows, columns=["service", "reason", "trips"])
    return frame.astype({"service": object, "reason": object, "trips": np.int64})


def _vehicles_frame(vehicles: list[dict]) -> pd.DataFrame:
    """vehicles.parquet: one row per registered vehicle (id, service, type, attributes)."""
    if vehicles:
        return pd.DataFrame(vehicles)
    return pd.DataFrame(
        {
            "vehicle_id": pd.Series(dtype=np.int64),
            "service": pd.Series(dtype=object),
            "vehicle_type": pd.Series(dtype=object),
        }
    )


def simulate(
    scenario,
    network,
    router,
    trips: pd.DataFrame,
    streams: RandomStreams,
    progress: Callable[[float], None] | None = None,
) -> SimOutput:
    """Run one simulated day of ``scenario``; return events, trips (with outcomes) and vehicles.

    Parameters
    ----------
    scenario : Scenario
        Period (clock start/end, s after midnight), services, mode choice.
    network : Network
        The road network (node indices are the places of ``trips``).
    router : Router
        The one router every service asks (profiles ``walk``, ``car``, ...).
    trips : DataFrame
        The trips table (docs/architecture.md "Demand"); one row per trip.
    streams : RandomStreams
        Seeded streams: ``mode_choice`` and ``service.<name>`` are used here.
    progress : callable, optional
        Called with the simulated clock (s after midnight) every 15 simulated minutes.

    Raises SimulationError if a trip has no final status when the clock stops.
    """
    try:
        with _fewer_gc_passes():
            return _simulate(scenario, network, router, trips, streams, progress)
    finally:
        router.clock = None  # no reference from the router to the finished day


def acceptable_walk_m(scenario) -> float:
    """The longest forced walk counted as served, m: ``mode_choice.acceptable_walk_m``, else the
    ``max_walk_m`` of the scenario's (first enabled) walk service, else :data:`DEFAULT_ACCEPTABLE_WALK_M`."""
    if scenario.mode_choice.acceptable_walk_m is not None:
        return scenario.mode_choice.acceptable_walk_m
    for block in scenario.enabled_services():
        if block.type == "walk":
            return block.max_walk_m
    return DEFAULT_ACCEPTABLE_WALK_M


def _simulate(scenario, network, router, trips, streams, progress) -> SimOutput:
    """The body of :func:`simulate` (same parameters)."""
    wall_start = time.perf_counter()
    start_s, end_s = scenario.period.start_s, scenario.period.end_s
    env = simpy.Environment(initial_time=start_s)
    # a query without its own departure time departs now: the router's time-of-day period
    router.clock = lambda: env.now
    log = EventLog()
    energy = None
    if scenario.energy.enabled:  # vehicle types, batteries and charging sites of the run
        energy = EnergyContext(scenario.energy, env, log, network)
    services = build_services(scenario, network, router, streams, env, log, energy=energy)
    policy = registry.policy("mode_choice", scenario.mode_choice.policy)(scenario.mode_choice)
    records: dict[int, TripRecord] = {}
    choice_rng = streams.get("mode_choice")
    if getattr(policy, "random_only", False):  # the same draws, taken in blocks
        choice_rng = uniform_blocks(choice_rng)
    world = CommuterWorld(
        env=env,
        services=services,
        policy=policy,
        log=log,
        rng=choice_rng,
        router=router,
        fallback=scenario.mode_choice.fallback,
        records=records,
        acceptable_walk_m=acceptable_walk_m(scenario),
        fares=EMileageCredit.from_scenario(scenario),
        chains=ChainComposer(scenario.chains, services) if scenario.chains.enabled else None,
    )
    for service in services:
        service.start()
    commuters = [env.process(person_day(world, legs)) for legs in person_days(trips)]
    if progress is not None:
        env.process(_progress_ticker(env, progress, end_s))
    wall_run = time.perf_counter()
    with _setup_frozen(), explained(network):  # a failed process: one line, who and where
        env.run(until=end_s)
        under_way = [process for process in commuters if process.is_alive]
        if under_way:  # the grace period: trips under way finish, vehicles keep serving them
            env.run(until=simpy.AnyOf(env, [simpy.AllOf(env, under_way), env.timeout(GRACE_S)]))
    if isinstance(choice_rng, UniformBlocks):
        choice_rng.sync()  # the stream as call-by-call draws leave it
    if progress is not None:
        progress(env.now)  # the clock where the day ended (period end, or later after grace)
    for service in services:
        service.finish(env.now)
    wall_tables = time.perf_counter()
    _check_statuses(trips, records, env.now)
    events = log.to_frame()
    trips_out = _trips_frame(trips, records, router, chains=scenario.chains.enabled)
    vehicles = _vehicles_frame(services[0].ctx.vehicles if services else [])
    extra_tables: dict[str, pd.DataFrame] = {"refusals": _refusals_frame(world.refusals)}
    if energy is not None:  # battery columns, energy tables; SimulationError if unbalanced
        vehicles, energy_frames = energy.finish(events, vehicles, trips_out, router)
        extra_tables.update(energy_frames)
    wall_end = time.perf_counter()
    return SimOutput(
        events=events,
        trips=trips_out,
        vehicles=vehicles,
        extra_tables=extra_tables,
        n_events=len(events),
        timings_s={
            "setup": wall_run - wall_start,
            "run": wall_tables - wall_run,
            "tables": wall_end - wall_tables,
        },
    )

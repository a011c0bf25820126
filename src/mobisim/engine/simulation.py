"""simulate(): build the SimPy world from a scenario, run the day, return the tables.

Services are built from the registry by their ``type``; each gets its own random stream
(``service.<name>``) so adding a service never changes another component's draws. Commuters run
as one process per tour (person-day). The clock runs from the period start to its end plus a grace
period in which trips already under way finish: it stops when the last commuter has arrived, at
the latest :data:`GRACE_S` after the period end. Then every trip must have exactly one final
status, or the run fails loudly.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from mobisim.engine.commuter import CommuterWorld, TripRecord, person_day
from mobisim.errors import SimulationError
from mobisim.events import EventLog
from mobisim.randomness import RandomStreams
from mobisim.scenario import registry
from mobisim.services.base import ServiceContext, Trip

#: longest time after the period end in which trips under way may finish, s
GRACE_S = 12 * 3600.0
#: simulated seconds between two progress callbacks
PROGRESS_STEP_S = 15 * 60.0

OUTCOME_COLUMNS = [f.name for f in dataclasses.fields(TripRecord) if f.name != "reasons"]


@dataclass
class SimOutput:
    """The tables of a run (see docs/architecture.md)."""

    events: pd.DataFrame
    trips: pd.DataFrame
    vehicles: pd.DataFrame
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_events: int = 0


def _trip_objects(trips: pd.DataFrame) -> dict[int, list[Trip]]:
    """Trips grouped by tour (sharing one tour_state dict), in departure order."""
    tours: dict[int, list[Trip]] = {}
    states: dict[int, dict] = {}
    cols = [
        trips[c].to_numpy()
        for c in (
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
    ]
    for tid, pid, grp, purpose, o, d, t, party, car, modes, tour, leg in zip(*cols, strict=True):
        tour = int(tour)
        state = states.setdefault(tour, {})
        allowed = frozenset(str(modes).split(",")) if modes else None
        tours.setdefault(tour, []).append(
            Trip(
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
                tour,
                int(leg),
                state,
            )
        )
    for legs in tours.values():
        legs.sort(key=lambda trip: (trip.depart_s, trip.leg_index))
    return tours


def build_services(
    scenario, network, router, streams: RandomStreams, env, log, energy=None
) -> list:
    """Instantiate the enabled services of ``scenario`` with their contexts (shared vehicle ids)."""
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


def _progress_ticker(env, callback: Callable[[float], None], end_s: float):
    while env.now < end_s:
        callback(env.now)
        yield env.timeout(PROGRESS_STEP_S)
    callback(end_s)


def simulate(
    scenario,
    network,
    router,
    trips: pd.DataFrame,
    streams: RandomStreams,
    progress: Callable[[float], None] | None = None,
) -> SimOutput:
    """Run one simulated day of ``scenario``; returns events, trips (with outcomes) and vehicles.

    Raises SimulationError if a trip has no final status when the clock stops.
    """
    start_s, end_s = scenario.period.start_s, scenario.period.end_s
    env = simpy.Environment(initial_time=start_s)
    log = EventLog()
    services = build_services(scenario, network, router, streams, env, log)
    policy = registry.policy("mode_choice", scenario.mode_choice.policy)(scenario.mode_choice)
    records: dict[int, TripRecord] = {}
    world = CommuterWorld(
        env,
        services,
        policy,
        log,
        streams.get("mode_choice"),
        router,
        scenario.mode_choice.fallback,
        records,
    )
    for service in services:
        service.start()
    commuters = [env.process(person_day(world, legs)) for legs in _trip_objects(trips).values()]
    if progress is not None:
        env.process(_progress_ticker(env, progress, end_s))
    # vehicles run forever; the day ends when every commuter has arrived (or at the hard cap)
    env.run(
        until=simpy.AnyOf(
            env, [simpy.AllOf(env, commuters), env.timeout(end_s + GRACE_S - start_s)]
        )
    )
    for service in services:
        service.finish(env.now)
    missing = [
        int(t) for t in trips["trip_id"] if int(t) not in records or not records[int(t)].status
    ]
    if missing:
        raise SimulationError(
            f"{len(missing)} trips have no final status at {env.now / 3600:.1f} h "
            f"(first: {missing[:10]}); a service never answered their request"
        )
    outcome = pd.DataFrame(
        [[getattr(records[int(t)], c) for c in OUTCOME_COLUMNS] for t in trips["trip_id"]],
        columns=OUTCOME_COLUMNS,
    )
    trips_out = pd.concat([trips.reset_index(drop=True), outcome], axis=1)
    vehicles = pd.DataFrame(services[0].ctx.vehicles if services else [])
    if vehicles.empty:
        vehicles = pd.DataFrame(
            {
                "vehicle_id": pd.Series(dtype=np.int64),
                "service": pd.Series(dtype=object),
                "vehicle_type": pd.Series(dtype=object),
            }
        )
    events = log.to_frame()
    return SimOutput(events=events, trips=trips_out, vehicles=vehicles, n_events=len(events))

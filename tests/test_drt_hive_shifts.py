"""DRT driver shifts (``depots[].shift_start`` / ``shift_end`` / ``home_base``; HIVE's human
drivers): a vehicle takes work only on shift; off shift it goes to its home base and parks.

The instance: the straight 7-node road of tests/test_drt_hive.py (200 m links, τ ≈ 24 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.scenario.loader import load_scenario
from mobisim.services.base import ServiceContext, Trip
from mobisim.services.drt import (
    DepotConfig,
    DrtConfig,
    DrtService,
    next_shift_start_s,
    on_shift,
    shift_end_after_s,
)
from test_drt_hive import END_S, START_S, road, run, times

__all__ = ["road"]  # the fixture, shared

H = 3600.0


def shift_taxi(road, dispatch: str, extra: dict | None = None, **depot) -> DrtService:
    network, router = road
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    keys = {"dispatch": dispatch}
    if dispatch == "hive_step":
        keys["time_step_s"] = 60.0
    config = DrtConfig(
        name="taxi",
        vehicles=1,
        capacity_pax=1,
        stop_s=0.0,
        max_wait_s=300.0,
        queue_requests=True,
        depots=[{"name": "V0", "node": 3, **depot}],
        **keys,
        **(extra or {}),
    )
    service = DrtService(config, ctx)
    service.start()
    return service


def test_shift_clock_arithmetic_wraps_past_midnight():
    assert on_shift(9 * H, 9 * H, 17 * H) and not on_shift(17 * H, 9 * H, 17 * H)
    assert not on_shift(8.99 * H, 9 * H, 17 * H)
    assert on_shift(23 * H, 17 * H, 1 * H) and on_shift(24.5 * H, 17 * H, 1 * H)
    assert not on_shift(25 * H, 17 * H, 1 * H) and not on_shift(12 * H, 17 * H, 1 * H)
    assert next_shift_start_s(7 * H, 9 * H) == 9 * H
    assert next_shift_start_s(17 * H, 9 * H) == 33 * H
    assert shift_end_after_s(10 * H, 17 * H) == 17 * H
    assert shift_end_after_s(18 * H, 1 * H) == 25 * H


@pytest.mark.parametrize("dispatch", ["insertion", "hive_step"])
def test_a_vehicle_works_only_on_shift_and_parks_at_its_home_base_off_shift(road, dispatch):
    # shift 07:10-07:30; home base at node 6. At 07:00 the vehicle is off shift: it drives home
    # and parks. Trip 0 (07:08) waits for the shift start; trip 1 (07:15) is served; trip 2
    # (07:40, after the shift) is not: the vehicle went home at 07:30.
    service = shift_taxi(
        road,
        dispatch,
        shift_start="07:10",
        shift_end="07:30",
        home_base={"name": "home", "node": 6},
    )
    (taxi,) = service.vehicles
    trips = [
        Trip(0, 0, "g", "a", 5, 4, START_S + 480.0),
        Trip(1, 1, "g", "b", 2, 1, START_S + 900.0),
        Trip(2, 2, "g", "c", 6, 5, START_S + 2400.0),
    ]
    outcomes, events = run(service, trips)
    assert outcomes[0].served and outcomes[1].served and not outcomes[2].served
    assert times(events, "pickup")[0] >= START_S + 600.0  # not before the shift start
    assert outcomes[2].reason == "gave_up_max_wait"
    legs = events[events["event"] == "vehicle_leg"]
    home_legs = legs[(legs["state"] == "repositioning") & (legs["to_node"] == 6)]
    # to the home base at 07:00, and again after the shift (from trip 1's drop-off at node 1)
    assert home_legs["time_s"].iloc[0] == START_S
    assert (home_legs["time_s"] >= START_S + 1800.0).sum() == 1
    assert home_legs["node"].iloc[-1] == 1
    parked = events[(events["event"] == "vehicle_dwell") & (events["state"] == "parked")]
    assert parked["node"].eq(6).all()
    # parked from its arrival home until 07:10, then from after the shift to the period end
    assert parked["duration_s"].sum() == pytest.approx(
        600.0 - service.leg(3, 6)[0] + (END_S - START_S - 1800.0 - service.leg(1, 6)[0]),
        abs=180.0,
    )
    # at the period end it is off duty and takes no work
    assert taxi.vehicle_id in service.off_duty and taxi.free_s == np.inf


def test_without_a_home_base_the_vehicle_parks_at_its_depot(road):
    service = shift_taxi(road, "insertion", shift_start="07:30", shift_end="08:00")
    _, events = run(service, [])
    assert (events["event"] == "vehicle_leg").sum() == 0  # at its depot already
    parked = events[(events["event"] == "vehicle_dwell") & (events["state"] == "parked")]
    assert parked["duration_s"].sum() == pytest.approx(END_S - START_S - 1800.0)


def test_bad_shift_keys_are_errors_naming_the_key():
    with pytest.raises(ValidationError, match="expected both shift_start and shift_end"):
        DepotConfig(name="d", node=0, shift_start="09:00")
    with pytest.raises(ValidationError, match="shift_end expects a clock time other than"):
        DepotConfig(name="d", node=0, shift_start="09:00", shift_end="09:00")
    with pytest.raises(ValidationError, match="shift_start"):
        DepotConfig(name="d", node=0, shift_start="nine", shift_end="17:00")
    DepotConfig(name="d", node=0, shift_start="17:00", shift_end="01:00")  # past midnight
    demo = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(
            demo,
            overrides={"services.drt.depots": [{"name": "d", "node": 0, "shift_start": "09:00"}]},
        )
    assert "services.drt.depots" in str(caught.value)
    assert "expected both shift_start and shift_end" in str(caught.value)


def test_a_vehicle_with_a_driver_does_not_retire_at_the_base_under_hive_idle(road):
    # HIVE retires only autonomous vehicles at a base; a human driver (a shift) stays in service
    idle = {
        "idle_policy": "hive_base_after_idle",
        "idle_after_min": 1.0,
        "idle_bases": [{"name": "base", "node": 6}],
    }
    service = shift_taxi(road, "hive_step", idle, shift_start="07:00", shift_end="10:00")
    outcomes, events = run(service, [Trip(0, 0, "g", "a", 5, 4, START_S + 600.0)])
    assert outcomes[0].served
    legs = events[events["event"] == "vehicle_leg"]
    assert legs["state"].iloc[0] == "repositioning" and legs["to_node"].iloc[0] == 6

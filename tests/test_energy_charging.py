"""Charging sites: the taper hand-integrated, the plug queue, leaving early, swaps, and a fleet
that would run flat but never goes negative (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from mobisim.energy.accounting import check_energy_balance
from mobisim.energy.battery import Battery, can_finish, needs_charge
from mobisim.energy.charging import ChargeCurve, ChargingSite, swap_battery
from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh
from mobisim.energy.context import EnergyContext
from mobisim.energy.vehicle_types import get_vehicle_type
from mobisim.events import Event, EventLog
from mobisim.scenario.energy_config import EnergyConfig


def _integrate_hours(curve: ChargeCurve, from_kwh: float, to_kwh: float, steps: int = 200_000):
    """Time (h) to charge from..to by summing dE / P(E) over small energy steps (midpoint rule)."""
    step = (to_kwh - from_kwh) / steps
    return sum(step / curve.power_at_kw(from_kwh + (i + 0.5) * step) for i in range(steps))


def test_session_with_taper_matches_hand_integration():
    """10 kWh battery at 70 %, 10 kW plug, to 90 %: 0.1 h flat to 80 %, then the taper.

    Taper by hand: k = (1 − 0.15) / (10 − 8) = 0.425 /kWh, t = ln(1 / (1 − 0.425)) / (10 · 0.425)
    = 0.13021 h; total 0.23021 h = 828.75 s.
    """
    env, log = simpy.Environment(initial_time=3600.0), EventLog()
    site = ChargingSite(env, "depot", node=7, plugs=1, power_kw=10.0, efficiency=0.9, log=log)
    battery = Battery(10.0, 7.0)
    done = env.process(site.charge(battery, 0.9, vehicle_id=3, service="shuttle"))
    env.run()
    expected_h = 0.1 + math.log(1 / (1 - 0.425)) / (10 * 0.425)
    assert expected_h == pytest.approx(0.230208, abs=1e-6)
    assert expected_h == pytest.approx(_integrate_hours(site.curve(battery), 7.0, 9.0), rel=1e-6)
    assert done.value == pytest.approx(2.0)
    assert battery.soc_kwh == pytest.approx(9.0)
    events = log.to_frame()
    start = events[events["event"] == "charge_start"].iloc[0]
    end = events[events["event"] == "charge_end"].iloc[0]
    assert (start["time_s"], start["value"], start["detail"], start["node"]) == (
        3600.0,
        7.0,
        "depot",
        7,
    )
    assert end["duration_s"] == pytest.approx(expected_h * 3600)
    assert end["time_s"] == pytest.approx(3600 + expected_h * 3600)
    assert end["value"] == pytest.approx(2.0)
    dwell = events[events["event"] == "vehicle_dwell"].iloc[0]
    assert dwell["state"] == "charging" and dwell["duration_s"] == pytest.approx(828.75, abs=0.01)


def test_curve_inverse_and_vehicle_power_cap():
    curve = ChargeCurve(capacity_kwh=33.0, power_kw=7.0)
    for start, stop in ((0.0, 20.0), (5.0, 30.0), (27.0, 33.0 * 0.99)):
        assert curve.soc_after_kwh(start, curve.time_to_s(start, stop)) == pytest.approx(stop)
    assert curve.soc_after_kwh(0.0, 1e9) == pytest.approx(33.0)  # never beyond capacity
    assert curve.power_at_kw(33.0 * 0.9) == pytest.approx(7.0 * (1 - 0.85 / 2))
    env = simpy.Environment()
    site = ChargingSite(env, "fast", power_kw=50.0)
    assert site.curve(Battery(33.0), get_vehicle_type("av_shuttle")).power_kw == 7.0


def test_plugs_queue_and_interrupt_leaves_early():
    env, log = simpy.Environment(), EventLog()
    site = ChargingSite(env, "stand", plugs=1, power_kw=6.0, log=log, node=0)
    first, second = Battery(12.0, 0.0, "a"), Battery(12.0, 0.0, "b")
    env.process(site.charge(first, 0.5, vehicle_id=1, service="pods"))  # 6 kWh at 6 kW: 1 h
    waiting = env.process(site.charge(second, 0.5, vehicle_id=2, service="pods"))

    def call_away():
        yield env.timeout(5400.0)  # 1.5 h: the second vehicle has charged 0.5 h
        waiting.interrupt("needed")

    env.process(call_away())
    env.run()
    assert first.soc_kwh == pytest.approx(6.0)
    assert waiting.value == pytest.approx(3.0) and second.soc_kwh == pytest.approx(3.0)
    events = log.to_frame()
    starts = events[events["event"] == "charge_start"]
    assert list(starts["time_s"]) == [0.0, 3600.0]  # queued for the single plug
    dwell = events[(events["event"] == "vehicle_dwell") & (events["vehicle_id"] == 2)]
    assert float(dwell["duration_s"].iloc[0]) == pytest.approx(5400.0)  # queue + charging


def test_swap_logs_an_instant_charge():
    log = EventLog()
    battery = Battery(0.25, 0.05)
    assert swap_battery(battery, log, 36000.0, 9, "scooters", node=4) == pytest.approx(0.20)
    events = log.to_frame()
    assert list(events["event"]) == ["charge_start", "charge_end"]
    assert events["duration_s"].iloc[1] == 0.0 and events["detail"].iloc[1] == "swap"


def _fleet_run(n_vehicles, plugs, legs, threshold):
    """Shuttles run their legs; they charge when low or when the next leg would break the reserve."""
    config = EnergyConfig(
        charging_sites=[{"name": "depot", "node": 0, "plugs": plugs, "power_kw": 7.0}]
    )
    env, log = simpy.Environment(), EventLog()
    energy = EnergyContext(config, env, log)
    vt = energy.vehicle_type("av_shuttle")
    site = energy.sites["depot"]
    lowest = []

    def shuttle(vehicle_id, battery):
        for distance_m, duration_s, layover_s in legs:
            need = leg_energy_kwh(vt, distance_m, duration_s, pax=3)
            need += dwell_energy_kwh(vt, layover_s, "layover")
            if needs_charge(battery, threshold) or not can_finish(battery, need, 0.1):
                yield env.process(site.charge(battery, 0.9, vehicle_id, "shuttle", vt))
            battery.draw(leg_energy_kwh(vt, distance_m, duration_s, pax=3))  # raises if < 0
            log.add(Event(env.now, "vehicle_leg", "shuttle", vehicle_id=vehicle_id, node=0,
                     to_node=0, distance_m=distance_m, duration_s=duration_s, pax=3,
                     state="occupied"))  # fmt: skip
            yield env.timeout(duration_s)
            battery.draw(dwell_energy_kwh(vt, layover_s, "layover"))
            log.add(Event(env.now, "vehicle_dwell", "shuttle", vehicle_id=vehicle_id, node=0,
                     duration_s=layover_s, pax=0, state="layover"))  # fmt: skip
            yield env.timeout(layover_s)
            lowest.append(battery.soc_kwh)

    rows = []
    for vehicle_id in range(n_vehicles):
        rows.append({"vehicle_id": vehicle_id, "service": "shuttle", "vehicle_type": vt.name})
        env.process(shuttle(vehicle_id, energy.new_battery(vehicle_id, vt, soc_share=0.5)))
    env.run()
    return log.to_frame(), energy.annotate(pd.DataFrame(rows)), config, lowest, site


@settings(max_examples=25, deadline=None)
@given(
    n_vehicles=st.integers(1, 4),
    plugs=st.integers(1, 2),
    legs=st.lists(
        st.tuples(st.floats(500.0, 25_000.0), st.floats(120.0, 5400.0), st.floats(0.0, 1800.0)),
        min_size=1,
        max_size=25,
    ),
    threshold=st.floats(0.0, 0.6),
)
def test_fleet_that_would_run_flat_charges_and_never_goes_negative(
    n_vehicles, plugs, legs, threshold
):
    events, vehicles, config, lowest, site = _fleet_run(n_vehicles, plugs, legs, threshold)
    assert min(lowest) >= 0.1 * 33.0 - 1e-6  # the reserve is kept after every leg
    assert (vehicles["final_soc_kwh"] <= vehicles["battery_kwh"] + 1e-9).all()
    balance = check_energy_balance(events, vehicles, config)  # raises if any kWh is lost
    assert len(balance) == n_vehicles
    # never more vehicles on the plugs than plugs
    sessions = [(s[3], s[4]) for s in site.sessions]
    for start, _ in sessions:
        assert sum(a <= start < b for a, b in sessions) <= plugs
    vt = get_vehicle_type("av_shuttle")
    drawn = sum(
        leg_energy_kwh(vt, d, t, 3) + dwell_energy_kwh(vt, w, "layover") for d, t, w in legs
    )
    assert balance["drawn_kwh"].to_numpy() == pytest.approx([drawn] * n_vehicles)


def test_fleet_that_would_run_flat_goes_to_charge():
    """Twelve 20 km legs need ~97 kWh: three shuttles from half a 33 kWh pack must charge."""
    legs = [(20_000.0, 3600.0, 600.0)] * 12
    events, vehicles, config, lowest, site = _fleet_run(3, 1, legs, 0.3)
    assert len(site.sessions) >= 6
    assert (events["event"] == "charge_end").sum() == len(site.sessions)
    assert min(lowest) >= 0.0
    check_energy_balance(events, vehicles, config)


@pytest.mark.parametrize(
    "curve",
    [
        ChargeCurve(capacity_kwh=33.0, power_kw=7.0),
        ChargeCurve(capacity_kwh=0.5, power_kw=0.25),  # a scooter battery on a dock
        ChargeCurve(capacity_kwh=60.0, power_kw=0.0),  # no power: the charge stays put
        ChargeCurve(capacity_kwh=60.0, power_kw=50.0, taper_end_power_share=1.0),  # no taper
    ],
)
def test_curve_scalar_path_gives_the_array_paths_floats(curve):
    """Two Python numbers take soc_after_kwh's scalar path: the same floats as the array path."""
    rng = np.random.default_rng(7)
    cap = curve.capacity_kwh
    starts = np.concatenate([rng.uniform(0, cap, 300), [0.0, cap * 0.8, cap, cap * 1.1, np.nan]])
    durations = np.concatenate([rng.uniform(-60, 6 * 3600, 300), [0.0, -5.0, 1e9, 0.1, np.nan]])
    expected = curve.soc_after_kwh(starts, durations)  # arrays: the vectorised path
    got = np.array(
        [curve.soc_after_kwh(float(a), float(d)) for a, d in zip(starts, durations, strict=True)]
    )
    assert all(type(curve.soc_after_kwh(float(a), 60)) is float for a in starts[:3])
    np.testing.assert_array_equal(got, expected)  # bit for bit, NaN where the array path has NaN
    assert curve.soc_after_kwh(3, 600) == curve.soc_after_kwh(np.float64(3.0), 600.0)

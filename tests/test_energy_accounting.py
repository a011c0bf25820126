"""Energy tables of a tiny hand-made run: per-vehicle energy, emissions, the private-car
counterfactual, the charging load profile with PV, and the energy balance check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mobisim.energy.accounting import check_energy_balance, energy_summary, energy_tables
from mobisim.energy.charging import ChargeCurve
from mobisim.errors import SimulationError
from mobisim.events import Event, EventLog
from mobisim.scenario.energy_config import EnergyConfig

SHUTTLE_KWH = 4.2 * 0.30 + 1.0 * 1020 / 3600 + 1.0 * 300 / 3600  # lap + layover, battery side
SCOOTER_KWH = 2.5 * 0.0184 + 0.0009 * 10  # ride + 10 h parked standby


def _events(charge_site: str = "terminal", charge_s: float = 1800.0, lap_m: float = 4200.0):
    log = EventLog()
    log.add(Event(28800.0, "vehicle_leg", "shuttle", vehicle_id=0, node=0, to_node=0,
             distance_m=lap_m, duration_s=1020.0, pax=6, state="occupied"))  # fmt: skip
    log.add(Event(29820.0, "vehicle_dwell", "shuttle", vehicle_id=0, node=0, duration_s=300.0,
             pax=0, state="layover"))  # fmt: skip
    log.add(Event(30600.0, "charge_start", "shuttle", vehicle_id=0, node=0,
             value=33.0 - SHUTTLE_KWH, detail=charge_site))  # fmt: skip
    log.add(Event(30600.0 + charge_s, "charge_end", "shuttle", vehicle_id=0, node=0,
             duration_s=charge_s, value=SHUTTLE_KWH, detail=charge_site))  # fmt: skip
    log.add(Event(30000.0, "vehicle_leg", "car", vehicle_id=-1, node=1, to_node=2,
             distance_m=10_000.0, duration_s=900.0, pax=2, state="occupied",
             detail="petrol_car"))  # fmt: skip
    log.add(Event(31000.0, "vehicle_leg", "scooters", vehicle_id=1, node=3, to_node=4,
             distance_m=2500.0, duration_s=660.0, pax=1, state="occupied"))  # fmt: skip
    log.add(Event(31660.0, "vehicle_dwell", "scooters", vehicle_id=1, node=4,
             duration_s=36000.0, pax=0, state="parked"))  # fmt: skip
    return log.to_frame()


VEHICLES = pd.DataFrame(
    {
        "vehicle_id": [0, 1],
        "service": ["shuttle", "scooters"],
        "vehicle_type": ["av_shuttle", "e_scooter"],
        "battery_kwh": [33.0, 0.25],
        "initial_soc_kwh": [33.0, 0.25],
        "final_soc_kwh": [33.0, 0.25 - SCOOTER_KWH],
    }
)
TRIPS = pd.DataFrame(
    {
        "trip_id": [1, 2, 3, 4, 5],
        "service": ["shuttle", "car", "scooters", "shuttle", "walk"],
        "mode": ["shuttle", "car", "escooter", "", "walk"],
        "status": ["completed", "completed", "completed", "unserved", "fallback"],
        "distance_m": [3000.0, 10_000.0, 2500.0, math.nan, 800.0],
    }
)
CAR_M = pd.Series([3500.0, 10_000.0, 2000.0, 5000.0, 900.0], index=[1, 2, 3, 4, 5])


def _tables(config=None, **kwargs):
    config = config or EnergyConfig(charge_efficiency=0.9)
    return energy_tables(_events(**kwargs), VEHICLES, TRIPS, config, car_distance_m=CAR_M)


def test_per_vehicle_energy_and_emissions_by_hand():
    tables = _tables()
    per = tables["energy_vehicles"].set_index("vehicle_id")
    assert per.loc[0, "battery_kwh"] == pytest.approx(SHUTTLE_KWH)
    assert per.loc[0, "plug_kwh"] == pytest.approx(SHUTTLE_KWH / 0.9)
    assert per.loc[0, "co2_kg"] == pytest.approx(SHUTTLE_KWH / 0.9 * 0.417)
    assert per.loc[0, "charged_kwh"] == pytest.approx(SHUTTLE_KWH)
    assert per.loc[1, "battery_kwh"] == pytest.approx(SCOOTER_KWH)
    assert per.loc[1, "co2_kg"] == pytest.approx(SCOOTER_KWH / 0.9 * 0.417)  # default efficiency
    car = per.loc[-1]
    assert (car["fuel_l"], car["energy_kwh"]) == pytest.approx((0.75, 0.75 * 8.88))
    assert car["co2_kg"] == pytest.approx(0.75 * 2.36)
    groups = tables["energy_groups"].set_index(["level", "key"])
    shuttle = groups.loc[("service", "shuttle")]
    assert shuttle["vkm"] == pytest.approx(4.2) and shuttle["pkm"] == pytest.approx(25.2)
    assert shuttle["kwh_per_vkm"] == pytest.approx(SHUTTLE_KWH / 0.9 / 4.2)
    assert shuttle["co2_g_per_pkm"] == pytest.approx(1000 * SHUTTLE_KWH / 0.9 * 0.417 / 25.2)
    assert groups.loc[("mode", "car"), "co2_g_per_vkm"] == pytest.approx(177.0)
    assert groups.loc[("vehicle_type", "e_scooter"), "battery_kwh"] == pytest.approx(SCOOTER_KWH)
    total_co2 = SHUTTLE_KWH / 0.9 * 0.417 + 1.77 + SCOOTER_KWH / 0.9 * 0.417
    assert groups.loc[("total", "all"), "co2_kg"] == pytest.approx(total_co2)


def test_private_car_counterfactual_by_hand():
    """Trips made (completed or fallback) 1, 2, 3, 5 by car: 3.5 + 10 + 2 + 0.9 = 16.4 km."""
    tables = _tables()
    cf = tables["energy_counterfactual"].set_index("service")
    assert cf.loc["all", "trips"] == 4
    assert cf.loc["all", "car_km"] == pytest.approx(16.4)
    assert cf.loc["all", "counterfactual_energy_kwh"] == pytest.approx(16.4 * 0.075 * 8.88)
    assert cf.loc["all", "counterfactual_co2_kg"] == pytest.approx(16.4 * 0.177)
    total_co2 = SHUTTLE_KWH / 0.9 * 0.417 + 1.77 + SCOOTER_KWH / 0.9 * 0.417
    assert cf.loc["all", "co2_saving_kg"] == pytest.approx(16.4 * 0.177 - total_co2)
    assert cf.loc["shuttle", "co2_saving_kg"] == pytest.approx(
        3.5 * 0.177 - SHUTTLE_KWH / 0.9 * 0.417
    )
    assert cf.loc["walk", "co2_saving_kg"] == pytest.approx(0.9 * 0.177)
    summary = energy_summary(tables)
    assert summary["co2_saving_kg"] == pytest.approx(16.4 * 0.177 - total_co2)
    assert summary["by_service"]["car"]["fuel_l"] == pytest.approx(0.75)
    assert summary["charging_peak_kw"] == pytest.approx(SHUTTLE_KWH / 0.9 / 0.5)


def test_factors_are_overridable():
    config = EnergyConfig(charge_efficiency=0.9, grid_kgco2e_per_kwh=0.5, petrol_kgco2_per_l=2.0)
    groups = _tables(config)["energy_groups"].set_index(["level", "key"])
    assert groups.loc[("service", "car"), "co2_kg"] == pytest.approx(1.5)
    assert groups.loc[("service", "shuttle"), "co2_kg"] == pytest.approx(SHUTTLE_KWH / 0.9 * 0.5)


def test_load_profile_of_an_evenly_spread_session():
    """At a site the scenario does not list the 30 min session is spread evenly over 6 bins."""
    load = _tables()["energy_load"]
    terminal = load[load["site"] == "terminal"].set_index("time_s")["load_kw"]
    in_session = terminal.loc[30600.0:32100.0]
    assert len(in_session) == 6
    assert np.allclose(in_session, SHUTTLE_KWH / 0.9 / 0.5)
    assert terminal.sum() * 300 / 3600 == pytest.approx(SHUTTLE_KWH / 0.9)


def test_pv_site_covers_part_of_the_charging():
    """A 10 kWp depot in April: the day makes 10 × 4.8 kWh; the session takes the PV it overlaps."""
    curve = ChargeCurve(33.0, 7.0)
    charge_s = curve.time_to_s(33.0 - SHUTTLE_KWH, 33.0)
    config = EnergyConfig(
        date="2025-04-15",
        charging_sites=[{"name": "depot", "node": 0, "power_kw": 22.0, "pv_kwp": 10.0}],
    )
    tables = _tables(config, charge_site="depot", charge_s=charge_s)
    pv = tables["energy_pv"]
    assert pv["pv_kw"].sum() * 300 / 3600 == pytest.approx(48.0)
    load = tables["energy_load"]
    used_kwh = float(np.minimum(load["pv_kw"], load["load_kw"]).sum() * 300 / 3600)
    session = tables["energy_charging"].iloc[0]
    assert session["plug_kwh"] == pytest.approx(SHUTTLE_KWH / 0.92)
    assert 0 < session["pv_kwh"] == pytest.approx(used_kwh)
    assert session["grid_kwh"] == pytest.approx(session["plug_kwh"] - used_kwh)
    assert session["co2_kg"] == pytest.approx(session["grid_kwh"] * 0.417)
    # the load follows the taper: 7 kW falling towards 7 × 0.15 / 0.92 at the plug
    load_kw = load.loc[load["load_kw"] > 0, "load_kw"].to_numpy()
    assert load_kw[0] > load_kw[-1] and load_kw.max() <= 7.0 / 0.92 + 1e-9
    summary = energy_summary(tables)
    assert summary["solar_share"] == pytest.approx(used_kwh / session["plug_kwh"])
    assert summary["pv_generated_kwh"] == pytest.approx(48.0)


def test_energy_balance_passes_for_a_consistent_log_and_fails_for_a_tampered_one():
    config = EnergyConfig(charge_efficiency=0.9)
    balance = check_energy_balance(_events(), VEHICLES, config)
    assert np.allclose(balance["residual_kwh"], 0.0, atol=1e-9)
    with pytest.raises(SimulationError, match="vehicle 0: drew"):
        check_energy_balance(_events(lap_m=4300.0), VEHICLES, config)  # 100 m more than driven
    with pytest.raises(SimulationError, match="vehicle 0"):
        energy_tables(_events(lap_m=4300.0), VEHICLES, TRIPS, config)
    assert len(energy_tables(_events(lap_m=4300.0), VEHICLES, TRIPS, config, check_balance=False))


def test_unregistered_vehicle_without_type_is_an_error():
    events = _events()
    events.loc[events["vehicle_id"] == -1, "detail"] = ""
    with pytest.raises(SimulationError, match="without a vehicle type"):
        energy_tables(events, VEHICLES, TRIPS, EnergyConfig())

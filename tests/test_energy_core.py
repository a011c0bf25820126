"""Vehicle types, batteries and per-leg consumption: hand-computed cases."""

from __future__ import annotations

import math

import pytest

from mobisim.energy.battery import Battery, can_finish, needs_charge
from mobisim.energy.consumption import (
    dwell_energy_kwh,
    dwell_fuel,
    leg_energy_kwh,
    leg_fuel,
    path_energy_kwh,
    physics_kwh_per_km,
    traction_kwh_per_km,
)
from mobisim.energy.vehicle_types import BUILTIN_TYPES, catalogue, get_vehicle_type
from mobisim.errors import ScenarioError, SimulationError


def test_shuttle_lap_is_km_times_rate_plus_aux_power():
    """One lap of 4.2 km in 17 min plus a 5 min layover: 4.2 × 0.30 + 1.0 kW × 22/60 h."""
    shuttle = get_vehicle_type("av_shuttle")
    drive = leg_energy_kwh(shuttle, distance_m=4200.0, duration_s=17 * 60.0, pax=6)
    layover = dwell_energy_kwh(shuttle, duration_s=5 * 60.0, state="layover")
    assert drive == pytest.approx(4.2 * 0.30 + 1.0 * 17 / 60)
    assert layover == pytest.approx(1.0 * 5 / 60)
    assert drive + layover == pytest.approx(1.26 + 22 / 60)


def test_e_scooter_ride_is_battery_side_of_20_wh_per_km_at_the_plug():
    """2.5 km ride: 20 Wh/km plug [M1] × 0.92 charging efficiency = 18.4 Wh/km battery side."""
    scooter = get_vehicle_type("e_scooter")
    assert leg_energy_kwh(scooter, 2500.0, 11 * 60.0, pax=1) == pytest.approx(2.5 * 0.0184)
    # parked a day: standby drain 0.9 W
    assert dwell_energy_kwh(scooter, 24 * 3600.0, "parked") == pytest.approx(0.0009 * 24)
    assert dwell_energy_kwh(scooter, 3600.0, "charging") == 0.0


def test_combustion_types_burn_fuel_and_draw_no_battery():
    car = get_vehicle_type("petrol_car")
    assert leg_energy_kwh(car, 10_000.0, 900.0) == 0.0
    assert leg_fuel(car, 10_000.0) == pytest.approx(0.75)
    bus = get_vehicle_type("diesel_bus_12m", {"diesel_bus_12m": {"idle_fuel_per_h": 2.0}})
    assert dwell_fuel(bus, 1800.0, "layover") == pytest.approx(1.0)
    assert dwell_fuel(bus, 1800.0, "parked") == 0.0
    assert leg_energy_kwh(get_vehicle_type("bike"), 3000.0, 600.0) == 0.0


def test_physics_model_keeps_reference_and_adds_speed_and_load():
    shuttle = get_vehicle_type("av_shuttle", {"av_shuttle": {"physics": True}})
    at_reference = traction_kwh_per_km(shuttle, shuttle.reference_speed_kmh, 0)
    assert at_reference == pytest.approx(0.30)
    assert traction_kwh_per_km(shuttle, 25.0, 0) > at_reference
    assert traction_kwh_per_km(shuttle, 18.0, 10) > at_reference
    # hand check of the road load at 18 km/h, empty: roll + aero + stop-and-go with regen
    v = 5.0
    roll = 2400 * 9.81 * 0.012
    aero = 0.5 * 1.2256 * 3.1 * 1.0 * v**2
    stops = 2.5 / 1000 * 0.5 * 2400 * v**2
    expected = ((roll + aero + stops) / 0.85 - 0.6 * 0.85 * stops) / 3600.0
    assert physics_kwh_per_km(shuttle, 18.0, 0) == pytest.approx(expected)
    # edge by edge = one leg when every edge has the same speed
    whole = leg_energy_kwh(shuttle, 3000.0, 600.0, 2)
    assert path_energy_kwh(shuttle, [1000.0] * 3, [200.0] * 3, 2) == pytest.approx(whole)


def test_overrides_new_types_and_errors():
    winter = get_vehicle_type("av_shuttle", {"av_shuttle": {"hvac_kw": 5.0}})
    assert winter.aux_kw == pytest.approx(6.0)
    van = get_vehicle_type("big_van", {"big_van": {"based_on": "e_van", "battery_kwh": 75}})
    assert van.battery_kwh == 75 and van.kwh_per_km == BUILTIN_TYPES["e_van"].kwh_per_km
    plug = get_vehicle_type("taxi", {"taxi": {"plug_kwh_per_km": 0.2, "battery_kwh": 60}})
    assert plug.kwh_per_km == pytest.approx(0.184)
    assert get_vehicle_type("escooter").name == "e_scooter"
    assert set(catalogue({"taxi": {"battery_kwh": 60}})) >= set(BUILTIN_TYPES) | {"taxi"}
    with pytest.raises(ScenarioError, match=r"energy\.vehicle_types\.hovercraft"):
        get_vehicle_type("hovercraft")
    with pytest.raises(ScenarioError, match="battery_kwh: expected a number >= 0"):
        get_vehicle_type("e_bike", {"e_bike": {"battery_kwh": -1}})
    with pytest.raises(ScenarioError, match="wheels: unknown key"):
        get_vehicle_type("e_bike", {"e_bike": {"wheels": 2}})
    with pytest.raises(ScenarioError, match="circular"):
        get_vehicle_type("a", {"a": {"based_on": "b"}, "b": {"based_on": "a"}})


def test_every_builtin_type_is_valid_and_sourced():
    for name, vt in BUILTIN_TYPES.items():
        assert get_vehicle_type(name) == vt
        assert vt.sources, name
        if vt.is_electric:
            assert vt.battery_kwh > 0 and vt.kwh_per_km > 0 and vt.max_charge_kw > 0


def test_battery_draw_charge_and_helpers():
    battery = Battery(capacity_kwh=33, soc_kwh=10, name="shuttle 1")
    assert battery.can_supply(10) and not battery.can_supply(10.01)
    battery.draw(4.0)
    assert battery.soc_kwh == pytest.approx(6.0) and battery.drawn_kwh == pytest.approx(4.0)
    assert battery.charge(100.0) == pytest.approx(27.0)
    assert battery.soc_kwh == pytest.approx(33.0) and battery.charged_kwh == pytest.approx(27.0)
    assert can_finish(battery, 29.0, reserve_share=0.1)
    assert not can_finish(battery, 30.0, reserve_share=0.1)
    battery.draw(25.0)
    assert needs_charge(battery, 0.3) and not needs_charge(battery, 0.2)
    with pytest.raises(SimulationError, match="shuttle 1 would run flat"):
        battery.draw(8.5)
    assert battery.soc_kwh == pytest.approx(8.0)  # a refused draw changes nothing
    assert Battery(5).soc_kwh == 5  # full by default
    with pytest.raises(ValueError):
        Battery(capacity_kwh=0)
    with pytest.raises(ValueError):
        Battery(capacity_kwh=5, soc_kwh=6)
    with pytest.raises(ValueError):
        battery.draw(-1.0)
    assert math.isclose(battery.soc_share, 8.0 / 33)


def test_every_source_key_cited_in_the_energy_code_is_listed_in_docs():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = "".join(p.read_text() for p in (root / "src/mobisim/energy").glob("*.py"))
    code += (root / "src/mobisim/scenario/energy_config.py").read_text()
    doc = (root / "docs/energy.md").read_text()
    listed = set(re.findall(r"^- \[([A-Z]\d+)\]", doc, flags=re.MULTILINE))
    cited = set(re.findall(r"\[([A-Z]\d+)\]", code)) | set(re.findall(r"\[([A-Z]\d+)\]", doc))
    assert cited - listed == set()
    for name in BUILTIN_TYPES:
        assert f"`{name}`" in doc

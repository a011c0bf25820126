"""Every KPI on the hand-made sample run (tests/test_kpis_sample.py), with answers worked out by hand."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from mobisim.metrics.charging import charging_load_kw
from mobisim.metrics.counterfactual import COUNTERFACTUAL, energy_by_mode
from mobisim.metrics.kpis import compute_kpis, kpis_long, unit_of
from mobisim.metrics.timeline import fleet_state_profile, link_volumes, trip_flows
from mobisim.results.store import json_safe
from test_kpis_sample import META, sample_tables

approx = pytest.approx


@pytest.fixture(scope="module")
def kpis():
    return compute_kpis(sample_tables(), META)


def test_trip_shares_and_mode_shares(kpis):
    s = kpis["system"]
    assert (s["trips"], s["served"], s["shared_rides"]) == (6, 5, 3)
    assert s["completed_share"] == approx(4 / 6)
    assert s["fallback_share"] == approx(1 / 6)
    assert s["unserved_share"] == approx(1 / 6)
    assert s["served_share"] == approx(5 / 6)
    assert s["mode_share"] == approx(
        {"bike": 1 / 6, "car": 1 / 6, "shuttle": 2 / 6, "unserved": 1 / 6, "walk": 1 / 6}
    )
    assert sum(s["mode_share"].values()) == approx(1.0)
    assert (s["unserved"], s["unserved_by_reason"], s["forced_walks"]) == (1, {"no_offer": 1}, 0)
    assert math.isnan(s["forced_walk_door_to_door_mean_s"])
    # who is left without service: the one school -> home pair with an unserved trip
    assert list(kpis["by_od"]) == ["school -> home"]
    od = kpis["by_od"]["school -> home"]
    assert (od["trips"], od["unserved"], od["unserved_share"]) == (2, 1, 0.5)
    assert s["offers_available_mean"] == approx(2.0)
    assert s["no_offer_share"] == approx(1 / 6)


def test_waits_walks_ride_times_and_detours(kpis):
    s = kpis["system"]
    # shared rides: waits 60, 180, 0 s; access 120, 60, 100 s; egress 60, 0, 30 s
    assert s["wait_mean_s"] == approx(80.0)
    assert s["wait_median_s"] == approx(60.0)
    assert s["wait_p95_s"] == approx(60 + 0.9 * 120)
    assert s["access_walk_mean_s"] == approx(280 / 3)
    assert s["egress_walk_mean_s"] == approx(30.0)
    # in-vehicle over served trips that rode something: 600, 300, 500, 400
    assert s["in_vehicle_mean_s"] == approx(450.0)
    # door to door over the five served trips
    assert s["door_to_door_served_mean_s"] == approx(678.0)
    assert s["door_to_door_served_median_s"] == approx(580.0)
    assert s["door_to_door_served_p95_s"] == approx(840 + 0.8 * 60)
    # the unserved trip never arrived: over all trips that arrived it is the same five
    assert s["door_to_door_all_mean_s"] == approx(678.0)
    assert s["door_to_door_all_p95_s"] == approx(840 + 0.8 * 60)
    # detour = ride time / direct time: 600/400, 300/300; the bike ride (400/200) is no detour
    assert s["detour_factor_mean"] == approx(1.25)
    assert kpis["by_service"]["shuttle"]["detour_factor_mean"] == approx(1.25)


def test_distances_fares_and_passenger_km(kpis):
    s = kpis["system"]
    assert s["passenger_km"] == approx(14.5)  # walking distance is not passenger-km
    assert s["distance_mean_m"] == approx(15500 / 5)
    assert s["fare_revenue_krw"] == approx(2500.0)  # shared services only
    assert s["user_cost_krw"] == approx(3268.0)  # plus the car's out-of-pocket cost
    assert kpis["by_service"]["shuttle"]["fare_revenue_krw"] == approx(2000.0)


def test_vehicle_km_by_state_empty_share_and_occupancy(kpis):
    shuttle = kpis["by_service"]["shuttle"]
    assert shuttle["vehicle_km"] == approx(12.0)
    assert shuttle["vehicle_km_by_state"] == approx(
        {"in_service_empty": 2.0, "occupied": 6.0, "repositioning": 4.0}
    )
    assert shuttle["empty_share"] == approx(0.5)
    assert shuttle["repositioning_share"] == approx(1 / 3)
    assert shuttle["occupancy_pax"] == approx(8 / 12)  # (3×1 + 2×2 + 1×1) pkm / 12 vkm
    system = kpis["system"]
    assert system["vehicle_km"] == approx(13.5)  # shared fleets only
    assert system["private_car_km"] == approx(6.0)
    assert system["occupancy_pax"] == approx(9.5 / 13.5)
    assert system["empty_share"] == approx(6 / 13.5)


def test_pooling_utilisation_and_rides_per_vehicle_hour(kpis):
    shuttle, bikes = kpis["by_service"]["shuttle"], kpis["by_service"]["bikes"]
    assert shuttle["pooling_rate"] == 1.0 and shuttle["pooled_rides"] == 2
    assert bikes["pooling_rate"] == 0.0
    assert kpis["system"]["pooling_rate"] == approx(2 / 3)
    # shuttle: 800 s in service; 1 vehicle × 2 h − 0.5 h charging available
    assert shuttle["in_service_h"] == approx(800 / 3600)
    assert shuttle["fleet_utilisation"] == approx((800 / 3600) / 1.5)
    assert shuttle["rides_per_vehicle_hour"] == approx(1.0)
    assert shuttle["rides_per_revenue_hour"] == approx(9.0)
    assert bikes["fleet_size"] == 2
    assert bikes["fleet_utilisation"] == approx((400 / 3600) / 4)
    assert kpis["system"]["fleet_size"] == 4
    assert kpis["system"]["rides_per_vehicle_hour"] == approx(3 / 8)
    assert shuttle["vehicle_hours_by_state"]["layover"] == approx(0.5)


def test_requests_rejections_and_sharing_availability(kpis):
    drt, bikes = kpis["by_service"]["drt"], kpis["by_service"]["bikes"]
    assert (drt["requests"], drt["served"], drt["rejected"]) == (1, 0, 1)
    assert drt["rejected_by_reason"] == {"no_vehicle_in_time": 1}
    assert drt["rejection_rate"] == 1.0
    assert drt["vehicle_found_share"] == 0.0
    assert bikes["vehicle_found_share"] == 1.0
    assert bikes["request_served_share"] == 1.0


def test_a_service_that_served_nobody_has_zero_counts_and_nan_ratios(kpis):
    drt = kpis["by_service"]["drt"]
    assert drt["served"] == 0 and drt["vehicle_km"] == 0.0 and drt["fare_revenue_krw"] == 0.0
    for key in ("wait_mean_s", "in_vehicle_mean_s", "occupancy_pax", "empty_share", "pooling_rate"):
        assert math.isnan(drt[key]), key
    assert drt["fleet_utilisation"] == 0.0  # one idle vehicle: defined, and zero
    assert drt["rides_per_vehicle_hour"] == 0.0
    assert math.isnan(drt["rides_per_revenue_hour"])  # no hour in service


def test_a_group_without_trips_has_zero_counts_and_nan_ratios(kpis):
    seniors = kpis["by_group"]["seniors"]
    assert seniors["trips"] == 0 and seniors["passenger_km"] == 0.0
    assert math.isnan(seniors["served_share"]) and math.isnan(seniors["wait_mean_s"])
    assert seniors["mode_share"] == {}
    students = kpis["by_group"]["students"]
    assert students["trips"] == 3 and students["unserved_share"] == approx(1 / 3)


def test_by_mode_and_by_hour(kpis):
    assert set(kpis["by_mode"]) == {"bike", "car", "shuttle", "walk"}
    assert kpis["by_mode"]["shuttle"]["wait_mean_s"] == approx(120.0)
    assert math.isnan(kpis["by_mode"]["walk"]["wait_mean_s"])
    hours = kpis["by_hour"]
    assert set(hours) == {"07", "08"}
    assert (hours["07"]["trips"], hours["08"]["trips"], hours["08"]["unserved"]) == (3, 3, 1)
    assert hours["08"]["served_share"] == approx(2 / 3)
    assert hours["07"]["wait_mean_s"] == approx(120.0)


def test_station_empty_and_full_time(kpis):
    a, b = kpis["by_station"]["bikes/A"], kpis["by_station"]["bikes/B"]
    assert a["empty_h"] == approx(2800 / 3600) and a["empty_share"] == approx(2800 / 7200)
    assert a["full_share"] == 0.0
    assert b["full_share"] == approx(1 / 3) and b["empty_share"] == 0.0
    assert b["stock_mean"] == approx((1 * 4800 + 2 * 2400) / 7200)
    assert kpis["system"]["stations"] == 2
    assert kpis["system"]["station_empty_share_mean"] == approx(2800 / 7200 / 2)


def test_energy_co2_charging_peak_and_solar_share(kpis):
    shuttle, system = kpis["by_service"]["shuttle"], kpis["system"]
    assert shuttle["energy_kwh"] == approx(2.4)
    assert shuttle["energy_kwh_per_vkm"] == approx(0.2)
    assert shuttle["co2_g_per_pkm"] == approx(1200 / 7)
    assert shuttle["charged_kwh"] == 18.0
    assert shuttle["charging_peak_kw"] == approx(36.0)  # 18 kWh over 30 min
    assert shuttle["solar_share"] == approx(1 / 3)
    assert system["energy_kwh"] == approx(6.015)
    assert system["co2_g_per_vkm"] == approx(2107.5 / 19.5)  # shared + private vehicle-km
    assert system["co2_g_per_pkm"] == approx(2107.5 / 14.5)


def test_charging_load_profile_spreads_energy_over_the_session():
    load = charging_load_kw(sample_tables()["events"])
    # 28200-30000 s at 36 kW: bins 27900 (600 s inside), 28800, 29700 (300 s inside)
    assert load.set_index("time_s")["load_kw"].to_dict() == approx(
        {27900.0: 24.0, 28800.0: 36.0, 29700.0: 12.0}
    )
    assert (load["load_kw"] * 0.25).sum() == approx(18.0)


def test_without_energy_tables_there_are_no_energy_kpis_and_no_counterfactual():
    tables = {k: v for k, v in sample_tables().items() if not k.startswith("energy")}
    kpis = compute_kpis(tables, META)
    assert "energy_kwh" not in kpis["system"] and "solar_share" not in kpis["system"]
    assert kpis["system"]["charged_kwh"] == 18.0  # from the events
    assert energy_by_mode(tables).empty


def test_energy_by_mode_and_the_private_car_counterfactual():
    energy = energy_by_mode(sample_tables())
    assert energy["shuttle"] == approx(2.4) and energy["car"] == approx(3.6)
    # shared rides 5 + 2 + 1.5 km by car at the run's 3.6 kWh / 6 km
    assert energy[COUNTERFACTUAL] == approx(8.5 * 0.6)


def test_fleet_state_profile_counts_vehicles_by_state():
    profile = fleet_state_profile(sample_tables()["events"], bin_s=300.0)
    # 07:00-07:05: shuttle running empty (200 s of 300), drt idle, two bikes parked
    first = profile.loc[25200.0]
    assert first["in_service_empty"] == approx(200 / 300)
    assert first["idle"] == approx(1.0) and first["parked"] == approx(2.0)
    assert (profile.sum(axis=1) <= 4 + 1e-9).all()


def test_link_volumes_and_trip_flows():
    tables = sample_tables()
    volumes = link_volumes(tables["events"])
    assert len(volumes) == 7 and volumes["vehicles"].sum() == 7
    assert set(link_volumes(tables["events"], shared_only=True)["service"]) == {"bikes", "shuttle"}
    flows = trip_flows(tables["trips"]).set_index(["origin", "destination"])["trips"]
    assert flows.to_dict() == {("home", "school"): 1, ("home", "work"): 3, ("school", "home"): 1}


def test_empty_run_gives_counts_zero_and_ratios_nan():
    tables = sample_tables()
    empty = {
        "events": tables["events"].iloc[0:0],
        "trips": tables["trips"].iloc[0:0],
        "vehicles": tables["vehicles"].iloc[0:0],
    }
    kpis = compute_kpis(empty, {"period_start_s": 0.0, "period_end_s": 3600.0})
    assert kpis["system"]["trips"] == 0 and kpis["system"]["vehicle_km"] == 0.0
    assert math.isnan(kpis["system"]["served_share"])
    assert kpis["by_service"] == {} and kpis["by_hour"] == {} and kpis["by_station"] == {}


def test_json_writes_nan_as_null_and_round_trips(kpis):
    text = json.dumps(json_safe(kpis), sort_keys=True, allow_nan=False)
    back = json.loads(text)
    assert back["by_group"]["seniors"]["served_share"] is None
    assert back["system"]["trips"] == 6
    assert json.loads(json.dumps(json_safe(compute_kpis(sample_tables(), META)))) == back


def test_kpis_long_is_tidy_with_units(kpis):
    table = kpis_long(kpis)
    assert list(table.columns) == ["scope", "key", "kpi", "value", "unit"]
    assert set(table["scope"]) == {
        "system",
        "by_service",
        "by_mode",
        "by_group",
        "by_hour",
        "by_od",
        "by_station",
    }
    row = table[(table["scope"] == "by_service") & (table["key"] == "shuttle")]
    values = dict(zip(row["kpi"], row["value"], strict=True))
    assert values["occupancy_pax"] == approx(8 / 12)
    assert values["vehicle_km_by_state.repositioning"] == approx(4.0)
    units = dict(zip(row["kpi"], row["unit"], strict=True))
    assert units["wait_mean_s"] == "s" and units["empty_share"] == "share"
    assert units["vehicle_km_by_state.occupied"] == "km" and units["charging_peak_kw"] == "kW"
    assert units["co2_g_per_pkm"] == "g/pkm" and units["served"] == "count"
    seniors = table[(table["scope"] == "by_group") & (table["key"] == "seniors")]
    assert (
        seniors.set_index("kpi").loc["served_share", "value"]
        != seniors.set_index("kpi").loc["served_share", "value"]
    )  # NaN
    assert not table.duplicated(["scope", "key", "kpi"]).any()
    assert pd.api.types.is_float_dtype(table["value"])


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("mode_share.walk", "share"),
        ("energy_kwh_per_vkm", "kWh/vkm"),
        ("passenger_km", "km"),
        ("in_service_h", "h"),
        ("fare_revenue_krw", "KRW"),
        ("distance_mean_m", "m"),
        ("rides_per_vehicle_hour", "rides/h"),
        ("fleet_utilisation", "share"),
        ("trips", "count"),
    ],
)
def test_unit_of(name, unit):
    assert unit_of(name) == unit

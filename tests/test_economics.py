"""Operator economics (mobisim.metrics.economics) on the hand-made sample run, worked out by hand.

The sample (tests/test_kpis_sample.py): 07:00-09:00; the shuttle (vehicle 0, av_shuttle) drives
12 km in 1,200 s, stands 1,800 s on layover and 1,800 s charging (07:50-08:20, 18 kWh of which 6
from PV), and carries trips 0 and 1 (1,000 KRW each); the bikes (two devices) serve trip 4 (500
KRW) with one 1.5 km, 400 s ride; the DRT van (vehicle 3) stands idle 2 h and serves nobody.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mobisim.errors import ScenarioError
from mobisim.metrics.economics import (
    capital_recovery_factor,
    cost_per_tco2_avoided_krw,
    default_tariff,
    economics_params,
    tou_cost_krw,
)
from mobisim.metrics.kpis import compute_kpis, kpis_long
from mobisim.metrics.tables import load_run, recompute_kpis
from mobisim.results.compare import comparison_table
from mobisim.scenario.loader import validate
from test_kpis_sample import META, sample_tables, write_run_folder

approx = pytest.approx
DAYS = 300.0


def sample_scenario(**changes) -> dict:
    """A scenario with the sample's services and round prices (discount rate 0: CRF = 1/n)."""
    data = {
        "name": "sample",
        "period": {"start": "07:00", "end": "09:00"},
        "services": [
            {"name": "walk", "type": "walk"},
            {"name": "car", "type": "private_car"},
            {
                "name": "shuttle",
                "type": "fixed_route",
                "stops": [{"name": "S0", "node": 0}, {"name": "S1", "node": 4}],
                "vehicles": 1,
                "economics": {
                    "station_cost_krw": 2e6,
                    "station_lifetime_years": 10,
                    "vehicle_hour_krw": 30_000,
                    "vehicle_km_krw": 500,
                    "fixed_annual_krw": 3e6,
                },
            },
            {
                "name": "bikes",
                "type": "micromobility",
                "parking": "docked",
                "devices": [{"type": "bike", "count": 2}],
                "stations": [
                    {"name": "A", "node": 5, "spaces": 2},
                    {"name": "B", "node": 6, "spaces": 2},
                ],
                "economics": {
                    "station_cost_krw": 1.2e6,
                    "station_lifetime_years": 6,
                    "dock_cost_krw": 0.3e6,
                    "dock_lifetime_years": 3,
                    "vehicle_hour_krw": 1000,
                    "vehicle_km_krw": 100,
                },
            },
            {"name": "drt", "type": "drt", "vehicles": 1},
        ],
        "energy": {
            "date": "2025-04-15",
            "charging_sites": [
                {
                    "name": "depot",
                    "node": 0,
                    "services": ["shuttle"],
                    "plugs": 2,
                    "power_kw": 10,
                    "pv_kwp": 5,
                },
            ],
        },
        "economics": {
            "discount_rate": 0.0,
            "operating_days_per_year": DAYS,
            "tariff": [
                {"start": "00:00", "end": "08:00", "krw_per_kwh": 100},
                {"start": "08:00", "end": "24:00", "krw_per_kwh": 200},
            ],
            "vehicles": {
                "av_shuttle": {"cost_krw": 300e6, "lifetime_years": 10},
                "bike": {"cost_krw": 0.6e6, "lifetime_years": 3},
                "drt_van": {"cost_krw": 100e6, "lifetime_years": 5},
            },
            "charger_cost_krw_per_kw": 100_000,
            "charger_lifetime_years": 10,
            "pv_cost_krw_per_kwp": 1e6,
            "pv_lifetime_years": 20,
        },
    }
    data.update(changes)
    return data


def economics_tables(fare_bike_krw: float = 500.0) -> dict[str, pd.DataFrame]:
    """The sample's tables with the energy columns a real run writes (times, grid and plug kWh)."""
    tables = sample_tables()
    tables["energy_legs"] = tables["energy_legs"].assign(
        plug_kwh=[2.4, 0.0, 0.0], vehicle_type=["av_shuttle", "petrol_car", "bike"]
    )
    tables["energy_charging"] = pd.DataFrame(
        {
            "service": ["shuttle"],
            "start_s": [28200.0],
            "end_s": [30000.0],
            "energy_kwh": [18.0],
            "pv_kwh": [6.0],
            "grid_kwh": [12.0],
        }
    )
    trips = tables["trips"].copy()
    trips.loc[trips["trip_id"] == 4, "fare_krw"] = fare_bike_krw
    tables["trips"] = trips
    return tables


def run_kpis(fare_bike_krw: float = 500.0, scenario: dict | None = None) -> dict:
    params = economics_params(validate(scenario or sample_scenario()))
    return compute_kpis(economics_tables(fare_bike_krw), {**META, "economics": params})


@pytest.fixture(scope="module")
def kpis():
    return run_kpis()


def test_shuttle_costs_worked_out_by_hand(kpis):
    shuttle = kpis["by_service"]["shuttle"]
    # capital a year: vehicle 300e6/10, 2 stops x 2e6/10, 20 kW of chargers x 100,000/10,
    # 5 kWp x 1e6/20
    assert shuttle["capital_by_item_annual_krw"] == approx(
        {
            "vehicles": 30e6,
            "stations": 0.4e6,
            "docks": 0.0,
            "chargers": 0.2e6,
            "pv": 0.25e6,
            "storage": 0.0,
        }
    )
    assert shuttle["capital_annual_krw"] == approx(30.85e6)
    assert shuttle["capital_krw"] == approx(300e6 + 4e6 + 2e6 + 5e6)  # what is bought
    assert shuttle["capital_day_krw"] == approx(30.85e6 / DAYS)
    # operated: 1,200 s driving + 1,800 s layover (charging is not operated) = 5/6 h
    assert shuttle["operated_vehicle_h"] == approx(3000 / 3600)
    assert shuttle["rebalancing_moves"] == 1
    # energy: 12 grid kWh spread over 07:50-08:20: 10 min at 100, 20 min at 200 -> 2,000 KRW;
    # the 2.4 plug kWh drawn were charged back, nothing more to buy
    assert shuttle["energy_cost_krw"] == approx(12 * (600 * 100 + 1200 * 200) / 1800)
    assert shuttle["operating_by_item_krw"] == approx(
        {
            "vehicle_hours": 25_000.0,
            "vehicle_km": 6_000.0,
            "rebalancing": 0.0,
            "energy": 2_000.0,
            "fixed": 10_000.0,
        }
    )
    assert shuttle["operating_cost_krw"] == approx(43_000.0)
    cost = 30.85e6 / DAYS + 43_000.0
    assert shuttle["cost_krw"] == approx(cost)
    assert shuttle["cost_annual_krw"] == approx(cost * DAYS)
    assert shuttle["cost_per_trip_krw"] == approx(cost / 2)
    assert shuttle["subsidy_krw"] == approx(cost - 2000)
    assert shuttle["subsidy_per_trip_krw"] == approx((cost - 2000) / 2)
    assert shuttle["farebox_recovery_share"] == approx(2000 / cost)


def test_bike_and_idle_drt_costs_worked_out_by_hand(kpis):
    bikes = kpis["by_service"]["bikes"]
    # 2 stations x 1.2e6/6 + 4 docks x 0.3e6/3 + 2 bikes x 0.6e6/3
    assert bikes["capital_annual_krw"] == approx(1.2e6)
    assert bikes["capital_krw"] == approx(2.4e6 + 1.2e6 + 1.2e6)
    # 400 s ridden (parked hours are not operated) x 1,000 KRW/h + 1.5 km x 100 KRW/km
    assert bikes["operated_vehicle_h"] == approx(400 / 3600)
    cost = 1.2e6 / DAYS + 400 / 3600 * 1000 + 150
    assert bikes["cost_krw"] == approx(cost)
    assert bikes["subsidy_per_trip_krw"] == approx(cost - 500)
    drt = kpis["by_service"]["drt"]
    # the van (drt_van 100e6 / 5 years) idles 2 h at the drt default 35,000 KRW/h; no trip served
    assert drt["cost_krw"] == approx(20e6 / DAYS + 2 * 35_000)
    assert drt["served"] == 0
    assert math.isnan(drt["cost_per_trip_krw"]) and math.isnan(drt["subsidy_per_trip_krw"])
    # walking and the private car have no operator
    assert "cost_krw" not in kpis["by_service"]["car"]
    assert "cost_krw" not in kpis["by_service"]["walk"]


def test_system_sums_the_costed_services(kpis):
    system = kpis["system"]
    parts = [kpis["by_service"][s] for s in ("bikes", "drt", "shuttle")]
    cost = sum(p["cost_krw"] for p in parts)
    assert system["cost_krw"] == approx(cost)
    assert system["cost_per_trip_krw"] == approx(cost / 3)  # 2 shuttle rides + 1 bike ride
    assert system["subsidy_per_trip_krw"] == approx((cost - 2500) / 3)
    units = kpis_long(kpis).set_index(["scope", "key", "kpi"])["unit"]
    assert units[("system", "", "cost_per_trip_krw")] == "KRW"
    assert units[("system", "", "capital_annual_krw")] == "KRW/year"
    assert units[("by_service", "shuttle", "operated_vehicle_h")] == "h"


def test_subsidy_per_trip_changes_sign_when_fares_exceed_costs():
    cheap = run_kpis(fare_bike_krw=500.0)["by_service"]["bikes"]
    dear = run_kpis(fare_bike_krw=10_000.0)["by_service"]["bikes"]
    assert cheap["cost_per_trip_krw"] == approx(dear["cost_per_trip_krw"])
    assert cheap["subsidy_per_trip_krw"] > 0 > dear["subsidy_per_trip_krw"]
    assert dear["subsidy_per_trip_krw"] == approx(dear["cost_krw"] - 10_000.0)
    assert dear["farebox_recovery_share"] > 1


def test_discounting_raises_the_annual_capital():
    assert capital_recovery_factor(0.0, 10) == approx(0.1)
    assert capital_recovery_factor(0.045, 10) == approx(0.126379, abs=1e-6)
    data = sample_scenario()
    data["economics"] = {**data["economics"], "discount_rate": 0.045}
    shuttle = run_kpis(scenario=data)["by_service"]["shuttle"]
    assert shuttle["capital_by_item_annual_krw"]["vehicles"] == approx(300e6 * 0.126379, rel=1e-5)


def test_time_of_use_cost_spreads_a_session_over_the_bands():
    bands = default_tariff(4)  # April: spring/fall prices, off-peak 23-09, peak 10-12 and 13-17
    assert tou_cost_krw(10.0, 2 * 3600, 4 * 3600, bands) == approx(10 * 167.31)
    assert tou_cost_krw(10.0, 10 * 3600, 12 * 3600, bands) == approx(10 * 178.86)
    # 22:00-24:00 = 1 h mid + 1 h off-peak; past midnight (25:00) still off-peak
    assert tou_cost_krw(2.0, 22 * 3600, 24 * 3600, bands) == approx(175.45 + 167.31)
    assert tou_cost_krw(1.0, 25 * 3600, 25 * 3600, bands) == approx(167.31)
    assert default_tariff(7)[2][2] == 255.75  # summer peak


def test_cost_per_tonne_of_co2_avoided_against_the_baseline():
    base = {"system": {"co2_kg": 5000.0}}  # no shared service: costs nothing
    run = {"system": {"co2_kg": 3000.0, "cost_krw": 400_000.0}}
    assert cost_per_tco2_avoided_krw(run, base) == approx(200_000.0)
    worse = {"system": {"co2_kg": 6000.0, "cost_krw": 400_000.0}}
    assert math.isnan(cost_per_tco2_avoided_krw(worse, base))
    table = comparison_table([("base", base), ("run", run)]).set_index("kpi")
    row = table.loc["Cost per t CO2 avoided (vs baseline)"]
    assert math.isnan(row["base"]) and row["run"] == approx(200_000.0)


def test_compare_shows_cost_rows_per_service(kpis):
    table = comparison_table([("a", kpis), ("b", run_kpis(fare_bike_krw=10_000.0))]).set_index(
        "kpi"
    )
    assert table.loc["Subsidy per trip: bikes", "b Δ"] == approx(-9_500.0)
    assert table.loc["Cost per shared trip", "a"] == approx(kpis["system"]["cost_per_trip_krw"])


def test_costs_recompute_from_the_run_folder(tmp_path):
    params = economics_params(validate(sample_scenario()))
    meta = {**META, "economics": params}
    folder = write_run_folder(tmp_path, economics_tables(), meta)
    again = recompute_kpis(load_run(folder))
    assert again["by_service"]["shuttle"]["cost_krw"] == approx(
        compute_kpis(economics_tables(), meta)["by_service"]["shuttle"]["cost_krw"]
    )


def test_without_energy_tables_costs_leave_energy_out():
    params = economics_params(validate(sample_scenario()))
    tables = {k: v for k, v in economics_tables().items() if not k.startswith("energy")}
    shuttle = compute_kpis(tables, {**META, "economics": params})["by_service"]["shuttle"]
    assert "energy_cost_krw" not in shuttle
    assert shuttle["operating_cost_krw"] == approx(41_000.0)


def test_economics_off_gives_no_cost_kpis():
    data = sample_scenario()
    data["economics"] = {"enabled": False}
    assert "cost_krw" not in run_kpis(scenario=data)["by_service"]["shuttle"]


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ({"economics": {"discount_rate": 1.5}}, "economics.discount_rate", "less than 1"),
        ({"economics": {"discount_rate": -0.1}}, "economics.discount_rate", "greater than"),
        (
            {"economics": {"vehicles": {"bike": {"lifetime_years": -2}}}},
            "economics.vehicles.bike.lifetime_years",
            "greater than 0",
        ),
        (
            {"economics": {"tariff": [{"start": "00:00", "end": "08:00", "krw_per_kwh": 100}]}},
            "economics",
            "covering the 24 hours once (got 16 h uncovered",
        ),
        (
            {
                "economics": {
                    "tariff": [
                        {"start": "00:00", "end": "14:00", "krw_per_kwh": 100},
                        {"start": "12:00", "end": "00:00", "krw_per_kwh": 200},
                    ]
                }
            },
            "economics",
            "2 h in more than one band",
        ),
    ],
)
def test_bad_economics_input_names_the_key(change, key, expected):
    with pytest.raises(ScenarioError) as error:
        validate(sample_scenario(**change))
    assert key in str(error.value) and expected in str(error.value)


def test_a_negative_service_lifetime_names_the_service_key():
    data = sample_scenario()
    data["services"][2]["economics"]["station_lifetime_years"] = -1
    with pytest.raises(ScenarioError) as error:
        validate(data)
    text = str(error.value)
    assert "station_lifetime_years" in text and "shuttle" in text and "greater than 0" in text


# ------------------------------------------------------------------------ E-mileage fare credit


def test_membership_is_a_reproducible_share_of_the_persons():
    from mobisim.randomness import member

    drawn = [member(7, "e_mileage", p, 0.3) for p in range(4000)]
    assert sum(drawn) / 4000 == approx(0.3, abs=0.03)
    assert drawn == [member(7, "e_mileage", p, 0.3) for p in range(4000)]
    assert not any(member(7, "e_mileage", p, 0.0) for p in range(100))
    assert all(member(7, "e_mileage", p, 1.0) for p in range(100))


def test_e_mileage_credit_is_found_again_from_the_trips(kpis):
    params = economics_params(validate(sample_scenario()))
    params["e_mileage"] = {
        "seed": 0,
        "services": ["shuttle"],
        "participation_share": 1.0,  # everyone: both shuttle riders paid 1,000 = half the fare
        "discount_share": 0.5,
    }
    out = compute_kpis(economics_tables(), {**META, "economics": params})
    assert out["by_service"]["shuttle"]["e_mileage_rides"] == 2
    assert out["by_service"]["shuttle"]["e_mileage_credit_krw"] == approx(2000.0)
    assert "e_mileage_rides" not in out["by_service"]["bikes"]
    assert out["system"]["e_mileage_credit_krw"] == approx(2000.0)
    assert out["system"]["e_mileage_credit_annual_krw"] == approx(2000.0 * DAYS)
    assert out["system"]["e_mileage_members"] == 6  # every person with a trip
    assert "e_mileage_rides" not in kpis["system"]  # off: no E-mileage KPIs

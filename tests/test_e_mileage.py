"""E-mileage (economics.e_mileage): a fare credit for members changes choices; its cost is reported.

On the tiny town of tests/test_calibration.py (walk, car, a shuttle loop at 1,500 KRW).
"""

from __future__ import annotations

import pytest

import mobisim
from mobisim.api import kpi_meta
from mobisim.demand.trips import build_trips
from mobisim.engine.simulation import simulate
from mobisim.metrics.kpis import compute_kpis
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from test_calibration import DEMO, TINY

FARE = 1500.0


def day(**credit):
    overrides = {**TINY, "services.shuttle.fare_krw": FARE}
    overrides |= {f"economics.e_mileage.{k}": v for k, v in credit.items()}
    scenario = mobisim.load_scenario(DEMO, overrides=overrides)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand, network, RandomStreams(scenario.seed), scenario.period.start_s,
        scenario.period.end_s,
    )  # fmt: skip
    out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
    tables = {
        "events": out.events,
        "trips": out.trips,
        "vehicles": out.vehicles,
        **out.extra_tables,
    }
    return out.trips, compute_kpis(tables, kpi_meta(scenario))


@pytest.fixture(scope="module")
def without():
    return day()


@pytest.fixture(scope="module")
def everyone():
    return day(enabled=True, participation_share=1.0, discount_share=0.9)


def test_a_credit_for_everyone_raises_shuttle_ridership_and_members_pay_less(without, everyone):
    trips_off, kpis_off = without
    trips_on, kpis_on = everyone
    off, on = kpis_off["by_service"]["shuttle"], kpis_on["by_service"]["shuttle"]
    assert on["served"] > off["served"]
    paid = trips_on.loc[trips_on["service"] == "shuttle", "fare_krw"]
    assert paid.to_numpy() == pytest.approx(FARE * 0.1)
    assert (trips_off.loc[trips_off["service"] == "shuttle", "fare_krw"] == FARE).all()
    # the cost of the policy: the 90 % of every shuttle fare the city paid
    assert on["e_mileage_rides"] == on["served"]
    assert on["e_mileage_credit_krw"] == pytest.approx(on["served"] * FARE * 0.9)
    assert kpis_on["system"]["e_mileage_credit_krw"] == pytest.approx(on["e_mileage_credit_krw"])
    assert "e_mileage_rides" not in kpis_off["system"]


def test_only_members_get_the_credit():
    trips, kpis = day(enabled=True, participation_share=0.3, discount_share=0.5)
    shuttle = trips[trips["service"] == "shuttle"]
    credited = shuttle[shuttle["fare_krw"] < FARE]
    assert set(shuttle["fare_krw"]) <= {FARE, FARE * 0.5}
    assert 0 < len(credited) < len(shuttle)
    assert kpis["system"]["e_mileage_rides"] == len(credited)
    assert kpis["system"]["e_mileage_credit_krw"] == pytest.approx(len(credited) * FARE * 0.5)
    persons = trips["person_id"].nunique()
    assert kpis["system"]["e_mileage_members"] / persons == pytest.approx(0.3, abs=0.08)

"""The engine: mode choice, the commuter story with fallbacks, walk and car against the router."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mobisim
from mobisim.demand.trips import build_trips
from mobisim.engine.modechoice import CheapestChoice, LogitChoice, logit_probabilities
from mobisim.engine.simulation import simulate
from mobisim.errors import SimulationError
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.scenario import registry
from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.services.base import Offer, Trip

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"
SMALL = {"demand.synthetic.residents": 1200, "demand.synthetic.households": 500}

OFFERS = [
    Offer("walk", "walk", True, access_walk_s=900),
    Offer("car", "car", True, in_vehicle_s=400, fare_krw=600),
    Offer("bus", "bus", True, wait_s=300, in_vehicle_s=500, access_walk_s=200, fare_krw=1250),
]
TRIP = Trip(0, 0, "g", "p", 0, 1, 0.0)


def test_generalised_cost_uses_weights_and_values_of_time():
    choice = LogitChoice(ModeChoiceConfig())
    # walk 900 s × 1.5 × 5,000 KRW/h; car 400 s × 9,700 KRW/h + 600 KRW
    assert choice.cost_krw(OFFERS[0]) == pytest.approx(900 * 1.5 * 5000 / 3600)
    assert choice.cost_krw(OFFERS[1]) == pytest.approx(400 * 9700 / 3600 + 600)


def test_logit_shares_converge_to_the_analytic_probabilities():
    choice = LogitChoice(ModeChoiceConfig(asc={"bus": 0.3}))
    expected = logit_probabilities(choice.utilities(OFFERS))
    rng = np.random.default_rng(5)
    n = 20_000
    counts = pd.Series([choice.rank(TRIP, OFFERS, rng)[0].mode for _ in range(n)]).value_counts()
    observed = np.array([counts.get(o.mode, 0) for o in OFFERS])
    chi2 = stats.chisquare(observed, expected * n)
    assert chi2.pvalue > 0.001, (observed / n, expected)
    assert np.allclose(observed / n, expected, atol=0.015)


def test_cheapest_is_deterministic_and_ranks_fallbacks():
    ranked = CheapestChoice(ModeChoiceConfig()).rank(TRIP, OFFERS, np.random.default_rng(0))
    costs = [CheapestChoice(ModeChoiceConfig()).cost_krw(o) for o in ranked]
    assert costs == sorted(costs)


@pytest.fixture(scope="module")
def world():
    scenario = mobisim.load_scenario(DEMO, overrides=SMALL)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network)
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand, network, streams, scenario.period.start_s, scenario.period.end_s
    )
    return scenario, network, router, trips


def run(world, overrides=None, services=None):
    scenario, network, router, trips = world
    if overrides or services is not None:
        data = scenario.model_dump(mode="json")
        if services is not None:
            data["services"] = services
        for key, value in (overrides or {}).items():
            data["mode_choice"][key] = value
        scenario = type(scenario).model_validate(data)
    return simulate(scenario, network, router, trips, RandomStreams(scenario.seed))


def test_walk_and_car_times_equal_router_answers(world):
    _, _, router, _ = world
    out = run(world)
    trips = out.trips
    walk = trips[(trips["mode"] == "walk") & (trips["status"] == "completed")].head(50)
    for row in walk.itertuples():
        assert row.access_walk_s == pytest.approx(
            router.travel_time_s("walk", row.origin_node, row.dest_node), rel=1e-5
        )
    car = trips[trips["mode"] == "car"].head(50)
    for row in car.itertuples():
        assert row.in_vehicle_s == pytest.approx(
            router.travel_time_s("car", row.origin_node, row.dest_node) + 120, rel=1e-5
        )
        assert row.distance_m == pytest.approx(
            router.distance_m("car", row.origin_node, row.dest_node), rel=1e-5
        )


def test_car_used_out_comes_back(world):
    trips = run(world).trips.sort_values(["tour_id", "leg_index"])
    out_car = trips[(trips["leg_index"] == 0) & (trips["mode"] == "car")]["tour_id"]
    back = trips[(trips["leg_index"] == 1) & trips["tour_id"].isin(out_car)]
    assert len(back) > 0 and (back["mode"] == "car").all()
    out_walk = trips[(trips["leg_index"] == 0) & (trips["mode"] == "walk")]["tour_id"]
    assert (
        trips[(trips["leg_index"] == 1) & trips["tour_id"].isin(out_walk)]["mode"] != "car"
    ).all()


def test_higher_car_costs_lower_the_car_share(world):
    cheap = run(world)
    dear = run(world, overrides={"asc": {"car": -2.0}})
    share = lambda out: (out.trips["mode"] == "car").mean()  # noqa: E731
    assert share(dear) < share(cheap) - 0.05


def test_a_refusing_service_leads_to_fallback_with_the_reason(world, monkeypatch):
    monkeypatch.setitem(registry.SERVICE_TYPES, "refuser", "service_fixtures:RefusingService")
    out = run(
        world,
        overrides={"asc": {"teleport": 10.0}},
        services=[{"name": "tele", "type": "refuser"}, {"name": "walk", "type": "walk"}],
    )
    restricted = out.trips["allowed_modes"] != ""  # students may not use the "teleport" mode
    assert restricted.any() and (out.trips.loc[restricted, "status"] == "completed").all()
    trips = out.trips[~restricted]
    assert set(trips["status"]) <= {"fallback", "unserved"}
    assert (trips["fallback_reason"] == "rejected").all()
    served = trips[trips["status"] == "fallback"]
    assert (served["wait_s"] >= 60).all()
    assert (out.events["event"] == "reject").sum() == len(trips)
    assert set(served["mode"]) <= {"walk", "walk_fallback"}


def test_a_trip_without_final_status_fails_the_run_loudly(world, monkeypatch):
    monkeypatch.setitem(registry.SERVICE_TYPES, "silent", "service_fixtures:SilentService")
    with pytest.raises(SimulationError, match="no final status"):
        run(
            world,
            overrides={"asc": {"teleport": 50.0}},
            services=[{"name": "s", "type": "silent"}, {"name": "walk", "type": "walk"}],
        )


def test_unserved_when_fallback_is_unserved(world):
    out = run(
        world,
        overrides={"fallback": "unserved"},
        services=[{"name": "walk", "type": "walk", "max_walk_m": 300}],
    )
    trips = out.trips
    assert (trips["status"] == "unserved").any()
    unserved = trips[trips["status"] == "unserved"]
    assert (unserved["fallback_reason"] == "too_far_to_walk").all()
    assert set(trips["status"]) == {"completed", "unserved"}

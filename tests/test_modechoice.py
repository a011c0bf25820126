"""Mode choice: generalised cost, logit shares against the analytic probabilities, cheapest rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from mobisim.engine.modechoice import (
    CheapestChoice,
    GeneralisedCost,
    LogitChoice,
    descending,
    logit_probabilities,
)
from mobisim.scenario import registry
from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.services.base import Offer, Trip

TRIP = Trip(0, 0, "workers", "work", 0, 1, 7 * 3600.0)
WALK = Offer("walk", "walk", True, access_walk_s=900.0)
CAR = Offer("car", "car", True, access_walk_s=40, in_vehicle_s=400.0, fare_krw=600.0)
BUS = Offer(
    "bus", "bus", True, access_walk_s=200.0, wait_s=300.0, in_vehicle_s=500.0, fare_krw=1250.0
)


def test_generalised_cost_weighs_walk_and_wait_and_uses_korean_values_of_time():
    cost = GeneralisedCost(ModeChoiceConfig())
    # walk: 900 s x 1.5 [T11] at 5,000 KRW/h [T8]
    assert cost.cost_krw(WALK) == pytest.approx(900 * 1.5 * 5000 / 3600)
    # car: (400 + 1.5 x 40) s at 9,700 KRW/h [T8] + 600 KRW
    assert cost.cost_krw(CAR) == pytest.approx((400 + 1.5 * 40) * 9700 / 3600 + 600)
    # bus: (500 + 1.5 x 300 + 1.5 x 200) s at 5,000 KRW/h + 1,250 KRW
    assert cost.cost_krw(BUS) == pytest.approx((500 + 450 + 300) * 5000 / 3600 + 1250)
    assert cost.utility(CAR) == pytest.approx(-0.001 * cost.cost_krw(CAR))


def test_asc_and_scale_enter_the_utility():
    config = ModeChoiceConfig(asc={"car": -0.7}, cost_scale_per_krw=0.002)
    cost = GeneralisedCost(config)
    assert cost.utility(CAR) == pytest.approx(-0.7 - 0.002 * cost.cost_krw(CAR))
    assert cost.utility(WALK) == pytest.approx(-0.002 * cost.cost_krw(WALK))
    assert list(cost.utilities([WALK, CAR])) == pytest.approx(
        [cost.utility(WALK), cost.utility(CAR)]
    )


def _shares(policy, offers, n_draws, seed):
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys((o.service for o in offers), 0)
    for _ in range(n_draws):
        counts[policy.rank(TRIP, offers, rng)[0].service] += 1
    return np.array([counts[o.service] for o in offers])


@pytest.mark.parametrize("offers", [[WALK, CAR, BUS], [WALK, CAR], [CAR, WALK]])
def test_logit_shares_converge_to_the_analytic_probabilities(offers):
    policy = LogitChoice(ModeChoiceConfig(asc={"bus": 0.4, "car": -0.2}))
    expected = logit_probabilities(policy.utilities(offers))
    assert expected.min() > 0.05  # every alternative is drawn often enough to test
    n = 20_000
    observed = _shares(policy, offers, n, seed=11)
    assert stats.chisquare(observed, expected * n).pvalue > 0.001, (observed / n, expected)
    assert np.allclose(observed / n, expected, atol=0.015)


def test_two_offer_probability_is_the_binary_logit():
    policy = LogitChoice(ModeChoiceConfig())
    u_walk, u_car = policy.utility(WALK), policy.utility(CAR)
    assert logit_probabilities([u_walk, u_car])[0] == pytest.approx(
        1 / (1 + math.exp(u_car - u_walk))
    )


def test_logit_rank_is_a_permutation_with_fallbacks_by_utility():
    policy = LogitChoice(ModeChoiceConfig())
    offers = [WALK, CAR, BUS]
    order_by_utility = [offers[i] for i in descending(list(policy.utilities(offers)))]
    rng = np.random.default_rng(3)
    for _ in range(200):
        ranked = policy.rank(TRIP, offers, rng)
        assert sorted(o.service for o in ranked) == sorted(o.service for o in offers)
        assert ranked[1:] == [o for o in order_by_utility if o is not ranked[0]]


def test_logit_draws_are_reproducible_and_use_one_draw_per_trip():
    policy = LogitChoice(ModeChoiceConfig())
    first = _shares(policy, [WALK, CAR, BUS], 500, seed=5)
    again = _shares(policy, [WALK, CAR, BUS], 500, seed=5)
    assert (first == again).all()
    rng, reference = np.random.default_rng(9), np.random.default_rng(9)
    policy.rank(TRIP, [WALK, CAR], rng)
    policy.rank(TRIP, [WALK, CAR, BUS], rng)
    reference.random(2)
    assert rng.random() == reference.random()


def test_a_single_offer_is_taken_without_a_draw():
    rng = np.random.default_rng(0)
    assert LogitChoice(ModeChoiceConfig()).rank(TRIP, [BUS], rng) == [BUS]
    assert rng.random() == np.random.default_rng(0).random()


def test_cheapest_takes_the_lowest_generalised_cost_deterministically():
    policy = CheapestChoice(ModeChoiceConfig())
    ranked = policy.rank(TRIP, [WALK, CAR, BUS], np.random.default_rng(0))
    costs = [policy.cost_krw(o) for o in ranked]
    assert costs == sorted(costs)
    assert ranked[0] is min([WALK, CAR, BUS], key=policy.cost_krw)
    for seed in range(5):  # the random stream plays no part
        assert policy.rank(TRIP, [WALK, CAR, BUS], np.random.default_rng(seed)) == ranked


def test_cheapest_follows_the_mode_constants_and_keeps_service_order_on_ties():
    config = ModeChoiceConfig(asc={"walk": 10.0})
    assert CheapestChoice(config).rank(TRIP, [CAR, WALK], None)[0] is WALK
    twin = Offer("walk2", "walk", True, access_walk_s=900.0)
    assert CheapestChoice(ModeChoiceConfig()).rank(TRIP, [twin, WALK], None) == [twin, WALK]


def test_the_registry_names_build_the_policies():
    config = ModeChoiceConfig()
    assert isinstance(registry.policy("mode_choice", "logit")(config), LogitChoice)
    assert isinstance(registry.policy("mode_choice", "cheapest")(config), CheapestChoice)


def test_values_of_time_must_be_positive():
    with pytest.raises(ValidationError, match="values of time > 0"):
        ModeChoiceConfig(vot_krw_per_h={"car": 0})
    with pytest.raises(ValidationError):
        ModeChoiceConfig(fallback="teleport")

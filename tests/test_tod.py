"""Time-of-day speeds: periods scale road-mode edge speeds, the router picks by departure time."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml

import mobisim
from mobisim.errors import NetworkError, ScenarioError
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.scenario.network_config import (
    KOREA_WEEKDAY,
    NetworkConfig,
    RouterSettings,
    SpeedPeriod,
)

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
HOUR_S = 3600.0


def _three_periods(factor: dict[str, float]) -> list[dict]:
    return [
        {"name": "night", "start_h": 0, "end_h": 7},
        {"name": "peak", "start_h": 7, "end_h": 9, "speed_factor": factor},
        {"name": "day", "start_h": 9, "end_h": 24, "speed_factor": {"default": 1.0}},
    ]


@pytest.fixture(scope="module")
def network():
    return build_network(NetworkConfig(synthetic={"target_nodes": 300, "seed": 3}), ".")


@pytest.fixture(scope="module")
def pairs(network):
    rng = np.random.default_rng(0)
    return rng.integers(0, network.n_nodes, 200), rng.integers(0, network.n_nodes, 200)


def test_a_factor_of_one_half_doubles_car_times_in_that_period_only(network, pairs):
    free = Router(network)
    tod = Router(network, RouterSettings(periods=_three_periods({"default": 0.5})))
    origins, dests = pairs
    free_s = free.travel_times_s("car", origins, dests)
    assert np.isfinite(free_s).sum() > 100 and (free_s > 0).sum() > 100
    np.testing.assert_allclose(tod.travel_times_s("car", origins, dests, 8 * HOUR_S), 2 * free_s)
    for outside_s in (3 * HOUR_S, 9 * HOUR_S, 12 * HOUR_S, 23.9 * HOUR_S):
        np.testing.assert_array_equal(tod.travel_times_s("car", origins, dests, outside_s), free_s)
    # distances, paths and walking are the same at every hour (one uniform factor keeps paths)
    np.testing.assert_allclose(
        tod.distances_m("car", origins, dests, 8 * HOUR_S), free.distances_m("car", origins, dests)
    )
    np.testing.assert_array_equal(
        tod.travel_times_s("walk", origins, dests, 8 * HOUR_S),
        free.travel_times_s("walk", origins, dests),
    )
    # the scalar hot path agrees, before and after its look-ups are remembered, and days wrap
    o, d = next((int(a), int(b)) for a, b, t in zip(origins, dests, free_s, strict=True) if t > 0)
    for _ in range(2):
        assert tod.try_leg("car", o, d, 8 * HOUR_S)[0] == pytest.approx(2 * free_s[origins == o][0])
        assert tod.try_leg("car", o, d, 12 * HOUR_S)[0] == pytest.approx(free.leg("car", o, d)[0])
    assert tod.leg("car", o, d, 8 * HOUR_S + 86_400)[0] == pytest.approx(
        2 * free.leg("car", o, d)[0]
    )


def test_legs_departing_times_each_pair_in_its_own_period(network, pairs):
    free = Router(network)
    tod = Router(network, RouterSettings(periods=_three_periods({"default": 0.5})))
    origins, dests = pairs
    depart_s = np.where(np.arange(len(origins)) % 2 == 0, 8 * HOUR_S, 12 * HOUR_S + 86_400)
    times_s, dists_m = tod.legs_departing("car", origins, dests, depart_s)
    free_s, free_m = free.legs("car", origins, dests)
    np.testing.assert_allclose(times_s, np.where(depart_s == 8 * HOUR_S, 2, 1) * free_s)
    np.testing.assert_allclose(dists_m, free_m)
    np.testing.assert_array_equal(free.legs_departing("car", origins, dests, depart_s)[0], free_s)


def test_the_clock_picks_the_period_when_a_query_gives_no_time(network, pairs):
    tod = Router(network, RouterSettings(periods=_three_periods({"default": 0.5})))
    origins, dests = pairs
    assert tod.period_index() == 0  # no clock: the first period
    now_s = [8 * HOUR_S]
    tod.clock = lambda: now_s[0]
    peak_s = tod.travel_times_s("car", origins, dests)
    now_s[0] = 10 * HOUR_S
    day_s = tod.travel_times_s("car", origins, dests)
    np.testing.assert_allclose(peak_s, 2 * day_s)
    assert [tod.period_index(h * HOUR_S) for h in (0, 6.99, 7, 8.5, 9, 23.99)] == [0, 0, 1, 1, 2, 2]


def test_factors_go_by_road_class_and_links_take_their_base_class(network, pairs):
    period = SpeedPeriod(
        name="p", start_h=0, end_h=24, speed_factor={"primary": 0.5, "default": 0.9}
    )
    assert period.factor_for("primary") == 0.5
    assert period.factor_for("primary_link") == 0.5
    assert period.factor_for("residential") == 0.9
    assert SpeedPeriod(name="q", start_h=0, end_h=1).factor_for("primary") == 1.0

    classes = set(network.view("drive").highway)
    assert "residential" in classes and len(classes) > 1
    free = Router(network)
    only_residential = Router(network, RouterSettings(periods=_three_periods({"residential": 0.5})))
    origins, dests = pairs
    free_s = free.travel_times_s("car", origins, dests)
    slow_s = only_residential.travel_times_s("car", origins, dests, 8 * HOUR_S)
    reached = free_s > 0
    assert np.all(slow_s[reached] >= free_s[reached] * (1 - 1e-6))
    assert np.all(slow_s[reached] <= 2 * free_s[reached] * (1 + 1e-6))
    # slower on some trips, but not doubled on all (some roads are not residential)
    assert np.any(slow_s[reached] > free_s[reached] * 1.01)
    assert np.any(slow_s[reached] < 2 * free_s[reached] * 0.99)


def test_periods_with_equal_factors_share_one_table(network):
    periods = _three_periods({"default": 0.5})
    periods[0]["speed_factor"] = {"default": 0.5}
    router = Router(network, RouterSettings(periods=periods))
    assert router.table("car", 3 * HOUR_S) is router.table("car", 8 * HOUR_S)
    assert router.table("car", 8 * HOUR_S) is not router.table("car", 12 * HOUR_S)
    assert router.table("walk", 8 * HOUR_S) is router.table("walk", 12 * HOUR_S)


def test_the_korea_weekday_preset_loads_and_covers_the_day():
    periods = RouterSettings(speed_preset="korea_weekday").speed_periods()
    assert periods == KOREA_WEEKDAY and len(periods) == 5
    assert periods[0].start_h == 0 and periods[-1].end_h == 24
    for before, here in itertools.pairwise(periods):
        assert here.start_h == before.end_h
    assert {p.name for p in periods} >= {"am_peak", "pm_peak"}
    assert RouterSettings().speed_periods()[0].speed_factor == {"default": 1.0}
    scenario = mobisim.load_scenario(
        DEMO, overrides={"network.router.speed_preset": "korea_weekday"}
    )
    assert scenario.network.router.speed_periods() == KOREA_WEEKDAY


def test_a_run_with_the_preset_drives_slower_at_the_peak():
    small = {"demand.synthetic.residents": 600, "demand.synthetic.households": 250}
    free = _car_trips(small)
    peak = _car_trips({**small, "network.router.speed_preset": "korea_weekday"})
    assert len(free) == len(peak) > 0
    hour = peak["depart_s"] / HOUR_S
    ratio = peak["direct_s"] / free["direct_s"]
    in_pm_peak = (hour >= 17) & (hour < 19) & (free["direct_s"] > 0)
    assert in_pm_peak.sum() > 0
    # every pm-peak direct drive is slower, at most by 1 / 0.69 (the default factor)
    assert ratio[in_pm_peak].min() > 1.0
    assert ratio[in_pm_peak].max() <= 1 / 0.69 * (1 + 1e-6)
    at_night = (hour < 7) & (free["direct_s"] > 0)
    np.testing.assert_allclose(ratio[at_night], 1.0)


def _car_trips(overrides: dict) -> object:
    from mobisim.demand.trips import build_trips
    from mobisim.engine.simulation import simulate
    from mobisim.network.load import build_network as build
    from mobisim.randomness import RandomStreams

    scenario = mobisim.load_scenario(DEMO, overrides=overrides)
    streams = RandomStreams(scenario.seed)
    net = build(scenario.network, scenario.base_dir)
    router = Router(net, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand, net, streams, scenario.period.start_s, scenario.period.end_s,
        base_dir=scenario.base_dir, max_snap_m=scenario.network.max_snap_m,
    )  # fmt: skip
    out = simulate(scenario, net, router, trips, streams)
    assert router.clock is None  # reset when the day is over
    return out.trips.set_index("trip_id").sort_index()


@pytest.mark.parametrize(
    ("periods", "needle"),
    [
        (
            [
                {"name": "a", "start_h": 0, "end_h": 9},
                {"name": "b", "start_h": 8, "end_h": 24},
            ],
            "overlaps",
        ),
        (
            [
                {"name": "a", "start_h": 0, "end_h": 7},
                {"name": "b", "start_h": 8, "end_h": 24},
            ],
            "gap",
        ),
        ([{"name": "a", "start_h": 1, "end_h": 24}], "start_h must be 0"),
        ([{"name": "a", "start_h": 0, "end_h": 20}], "end_h must be 24"),
        ([{"name": "a", "start_h": 5, "end_h": 3}], "must be after"),
    ],
)
def test_bad_period_hours_are_scenario_errors_naming_the_key(tmp_path, periods, needle):
    text = _error_text(tmp_path, {"network": {"router": {"periods": periods}}})
    assert "network.router.periods" in text and needle in text


@pytest.mark.parametrize("factor", [0, -0.5])
def test_a_speed_factor_not_above_zero_is_a_scenario_error(tmp_path, factor):
    periods = _three_periods({"default": factor})
    text = _error_text(tmp_path, {"network": {"router": {"periods": periods}}})
    assert "network.router.periods.peak.speed_factor" in text  # list items go by name
    assert "> 0" in text


def test_periods_and_a_preset_together_are_a_scenario_error(tmp_path):
    router = {"speed_preset": "korea_weekday", "periods": _three_periods({"default": 0.5})}
    text = _error_text(tmp_path, {"network": {"router": router}})
    assert "network.router" in text and "not both" in text
    assert "speed_preset" in _error_text(tmp_path, {"network": {"router": {"speed_preset": "x"}}})


def _error_text(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", **data}))
    with pytest.raises(ScenarioError) as info:
        mobisim.load_scenario(path)
    return str(info.value)


def test_link_speed_factors_replace_a_periods_factors(network, pairs):
    free = Router(network)
    tod = Router(network, RouterSettings(periods=_three_periods({"default": 0.8})))
    origins, dests = pairs
    free_s = free.travel_times_s("car", origins, dests)
    tod.try_leg("car", int(origins[0]), int(dests[0]), 8 * HOUR_S)  # remember the look-ups
    n_edges = network.view("drive").n_edges
    tod.set_link_speed_factors("drive", 1, np.full(n_edges, 0.5))
    np.testing.assert_allclose(tod.travel_times_s("car", origins, dests, 8 * HOUR_S), 2 * free_s)
    leg = tod.try_leg("car", int(origins[0]), int(dests[0]), 8 * HOUR_S)
    assert leg is None or leg[0] == pytest.approx(2 * free_s[0])
    np.testing.assert_array_equal(tod.travel_times_s("car", origins, dests, 12 * HOUR_S), free_s)
    assert len([key for key in tod._tables if key[2]]) == 1  # the 0.8 table was dropped
    with pytest.raises(NetworkError, match="expected"):
        tod.set_link_speed_factors("drive", 1, np.ones(3))
    with pytest.raises(NetworkError, match="> 0"):
        tod.set_link_speed_factors("drive", 1, np.zeros(n_edges))

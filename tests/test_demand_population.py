"""Synthetic population: distributions, zone weights, households, seeding and stream independence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from mobisim.demand.population import MIN_ACTIVITY_S, residents_table
from mobisim.demand.trips import TRIP_COLUMNS, build_trips
from mobisim.errors import DemandError
from mobisim.network.graph import Network
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import (
    DemandConfig,
    DemandGroup,
    Destinations,
    ExternalFlow,
    SyntheticPopulation,
    TimeDistribution,
    default_groups,
    normal,
)
from mobisim.scenario.network_config import NetworkConfig

START, END = 5 * 3600.0, 24 * 3600.0
OUT_HIGH = END - 2 * MIN_ACTIVITY_S  # latest outbound departure
P_MIN = 0.001  # the draws are seeded, so these tests are deterministic


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(), ".")


@pytest.fixture(scope="module")
def big(town):
    config = SyntheticPopulation(residents=42_000, households=15_000)
    trips, report = build_trips(DemandConfig(synthetic=config), town, RandomStreams(7), START, END)
    return config, trips, report


def legs(trips: pd.DataFrame, group: str, leg: int) -> pd.DataFrame:
    return trips[(trips["group"] == group) & (trips["leg_index"] == leg)]


def truncnorm_cdf(mean_s: float, sd_s: float, low_s: float, high_s: float):
    a, b = (low_s - mean_s) / sd_s, (high_s - mean_s) / sd_s
    return stats.truncnorm(a, b, loc=mean_s, scale=sd_s).cdf


def windows_cdf(dist: TimeDistribution):
    w = np.array([x.weight for x in dist.windows]) / sum(x.weight for x in dist.windows)
    parts = [stats.uniform(x.start, x.end - x.start) for x in dist.windows]
    return lambda t: sum(wi * p.cdf(t) for wi, p in zip(w, parts, strict=True))


def test_contract_columns_order_and_dtypes(big):
    _, trips, report = big
    assert list(trips.columns) == list(TRIP_COLUMNS)
    assert trips["trip_id"].tolist() == list(range(len(trips)))
    assert trips["depart_s"].is_monotonic_increasing
    assert trips["depart_s"].between(START, END).all()
    assert (trips["origin_node"] != trips["dest_node"]).all()
    for name in ("trip_id", "person_id", "tour_id", "leg_index", "origin_node", "dest_node"):
        assert trips[name].dtype == np.int64, name
    assert trips["car_available"].dtype == bool
    assert report["source"] == "synthetic" and report["trips"] == len(trips)


def test_every_tour_is_out_and_back_with_legs_0_and_1(big):
    _, trips, _ = big
    ordered = trips.sort_values(["tour_id", "leg_index"])
    out = ordered[ordered["leg_index"] == 0].set_index("tour_id")
    back = ordered[ordered["leg_index"] == 1].set_index("tour_id")
    assert ordered.groupby("tour_id").size().eq(2).all()
    assert (out.index == back.index).all()
    assert (out["origin_node"] == back["dest_node"]).all()
    assert (out["dest_node"] == back["origin_node"]).all()
    assert (out["person_id"] == back["person_id"]).all()
    assert (back["depart_s"] >= out["depart_s"] + MIN_ACTIVITY_S - 1e-6).all()
    assert (back["purpose"] == "home").all()


@pytest.mark.parametrize("group", ["workers", "homemakers", "rail_travellers", "others"])
def test_normal_outbound_departures_follow_the_configured_distribution(big, group):
    config, trips, _ = big
    dist = next(g for g in config.groups if g.name == group).depart
    times = legs(trips, group, 0)["depart_s"].to_numpy()
    cdf = truncnorm_cdf(dist.mean, dist.sd_min * 60, START, OUT_HIGH)
    assert stats.kstest(times, cdf).pvalue > P_MIN


def test_workers_leave_work_around_18_15_and_pupils_in_the_school_windows(big):
    config, trips, _ = big
    back = legs(trips, "workers", 1)["depart_s"].to_numpy()
    # N(18:15, 60 min) [D2]; the lower bound (outbound + 15 min) almost never binds
    assert stats.kstest(back, truncnorm_cdf(18.25 * 3600, 3600, START, END - 1)).pvalue > P_MIN
    students = next(g for g in config.groups if g.name == "students")
    out = legs(trips, "students", 0)["depart_s"].to_numpy()
    assert out.min() >= 8.25 * 3600 and out.max() <= 8 * 3600 + 50 * 60  # 08:15–08:50 [D3]
    assert stats.kstest(out, windows_cdf(students.depart)).pvalue > P_MIN
    home = legs(trips, "students", 1)["depart_s"].to_numpy()
    assert stats.kstest(home, windows_cdf(students.return_depart)).pvalue > P_MIN
    in_gap = (home > 15 * 3600) & (home < 16.5 * 3600)
    assert not in_gap.any()


def test_activity_duration_of_shoppers(big):
    _, trips, _ = big
    out = legs(trips, "homemakers", 0).set_index("tour_id")["depart_s"]
    back = legs(trips, "homemakers", 1).set_index("tour_id")["depart_s"]
    stay = (back - out.reindex(back.index)).to_numpy()
    cdf = truncnorm_cdf(1.5 * 3600, 0.5 * 3600, MIN_ACTIVITY_S, np.inf)  # ~1.5 h dwell [D1][D2]
    assert stats.kstest(stay, cdf).pvalue > P_MIN


def test_homes_follow_the_residential_zone_weights(town):
    config = SyntheticPopulation(residents=30_000, households=12_000)
    people = residents_table(config, town, RandomStreams(3))
    households = people.drop_duplicates("household_id")
    zones = town.places[town.places["kind"] == "residential"].set_index("name")["weight"]
    observed = households["home_place"].value_counts().reindex(zones.index).fillna(0)
    expected = zones / zones.sum() * len(households)
    assert stats.chisquare(observed, expected).pvalue > P_MIN
    inside = [
        node in set(town.zone_nodes(place))
        for place, node in zip(households["home_place"], households["home_node"], strict=True)
    ]
    assert all(inside)


def test_destinations_follow_kind_and_place_weights(big, town):
    _, trips, _ = big
    kind_of = town.places.set_index("name")["kind"]
    workers = legs(trips, "workers", 0)
    counts = workers["dest_place"].map(kind_of).value_counts()
    kinds = ["institution", "industrial", "centre"]
    expected = np.array([0.3, 0.4, 0.3]) * len(workers)
    assert stats.chisquare(counts.reindex(kinds).fillna(0), expected).pvalue > P_MIN
    schools = legs(trips, "students", 0)["dest_place"].value_counts()
    assert len(schools) == 4  # the four schools, equal weights
    assert stats.chisquare(schools).pvalue > P_MIN


def test_households_and_group_sizes(big, town):
    config, trips, report = big
    people = residents_table(config, town, RandomStreams(7))
    sizes = people.groupby("household_id").size()
    assert len(people) == 42_000 and report["residents"] == 42_000
    assert len(sizes) == 15_000 and sizes.min() >= 1 and sizes.sum() == 42_000
    assert report["household_size_mean"] == pytest.approx(2.8)
    for group in config.groups:
        members = (people["group"] == group.name).sum()
        assert report["groups"][group.name]["members"] == members
        assert abs(members / 42_000 - group.share) < 4 * np.sqrt(group.share / 42_000)
        travelling = report["groups"][group.name]["travelling"]
        sd = np.sqrt(group.trip_rate * (1 - group.trip_rate) / members)
        assert abs(travelling / members - group.trip_rate) < 4 * sd
    # every travelling resident's tour starts at home
    out = trips[(trips["leg_index"] == 0) & (trips["person_id"] < 42_000)]
    home = people.set_index("person_id")["home_node"]
    assert (out["origin_node"].to_numpy() == home.loc[out["person_id"]].to_numpy()).all()


def test_car_availability_and_allowed_modes(big):
    config, trips, _ = big
    for group in config.groups:
        cars = legs(trips, group.name, 0)["car_available"]
        assert abs(cars.mean() - group.car_share) < 0.03, group.name
    students = trips[trips["group"] == "students"]
    assert (students["allowed_modes"] != "").all()
    assert not students["allowed_modes"].str.contains(r"\bcar\b").any()
    assert (trips.loc[trips["group"] == "workers", "allowed_modes"] == "").all()


def test_external_flows_arrive_at_the_station_and_terminal(big):
    _, trips, report = big
    flow = legs(trips, "industrial_commuters", 0)
    assert report["external"]["industrial_commuters"]["persons"] == 840  # 20 per 1,000 (A)
    assert set(flow["origin_place"]) == {"bus_terminal", "rail_station"}
    assert set(flow["dest_place"]) == {"industrial_complex"}
    assert not flow["car_available"].any()
    assert (flow["person_id"] >= 42_000).all()
    visitors = legs(trips, "rail_visitors", 0)
    assert set(visitors["origin_place"]) == {"rail_station"}
    assert flow["person_id"].max() < visitors["person_id"].min()


def _by_group(trips: pd.DataFrame, group: str) -> pd.DataFrame:
    part = trips[trips["group"] == group].sort_values(["person_id", "leg_index"])
    return part[["person_id", "origin_node", "dest_node", "depart_s", "car_available"]].reset_index(
        drop=True
    )


def _run(town, seed: int = 1, **fields) -> pd.DataFrame:
    config = SyntheticPopulation(residents=4000, households=1500, **fields)
    return build_trips(DemandConfig(synthetic=config), town, RandomStreams(seed), START, END)[0]


def test_generation_is_seeded(town):
    a, b, c = _run(town, 1), _run(town, 1), _run(town, 2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["depart_s"].equals(c["depart_s"])


def test_changing_or_appending_a_group_leaves_the_other_groups_alone(town):
    base = default_groups()
    before = _run(town, groups=base)
    changed = [g.model_copy(deep=True) for g in base]
    changed[2] = DemandGroup(**{**base[2].model_dump(), "duration_h": 3.0})  # homemakers
    changed[4] = DemandGroup(**{**base[4].model_dump(), "share": 0.13})  # others, the last
    night_shift = DemandGroup(
        name="night_shift",
        share=0.1,
        destinations=Destinations(kinds={"industrial": 1}),
        depart=normal(21.0, 30),
        duration_h=8,
    )
    after = _run(town, groups=[*changed, night_shift])
    for name in ("workers", "students", "rail_travellers"):
        pd.testing.assert_frame_equal(_by_group(before, name), _by_group(after, name))
    hm_before, hm_after = _by_group(before, "homemakers"), _by_group(after, "homemakers")
    pd.testing.assert_frame_equal(hm_before.iloc[:, :3], hm_after.iloc[:, :3])  # same people
    assert (hm_after["depart_s"] != hm_before["depart_s"]).any()  # but they stay longer
    config = SyntheticPopulation(residents=4000, households=1500, groups=[*changed, night_shift])
    people_after = residents_table(config, town, RandomStreams(1))
    people_before = residents_table(
        config.model_copy(update={"groups": base}), town, RandomStreams(1)
    )
    others_after = set(people_after.loc[people_after["group"] == "others", "person_id"])
    others_before = set(people_before.loc[people_before["group"] == "others", "person_id"])
    assert others_after < others_before  # the last group shrank to make room
    assert len(_by_group(after, "night_shift")) > 0


def test_adding_an_external_flow_leaves_the_residents_alone(town):
    before = _run(town, external=[])
    flow = ExternalFlow(
        name="visitors",
        persons=200,
        origin=Destinations(places={"rail_station": 1}),
        destinations=Destinations(kinds={"centre": 1}),
        depart=normal(10, 60),
        duration_h=2,
    )
    after = _run(town, external=[flow])
    residents = after[after["group"] != "visitors"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        before.drop(columns="trip_id").sort_values(["tour_id", "leg_index"]).reset_index(drop=True),
        residents.drop(columns="trip_id")
        .sort_values(["tour_id", "leg_index"])
        .reset_index(drop=True),
    )
    assert (after["group"] == "visitors").sum() == 400


def test_departures_stay_inside_a_short_period(town):
    start, end = 7 * 3600.0, 12 * 3600.0
    trips, report = build_trips(DemandConfig(), town, RandomStreams(4), start, end)
    assert trips["depart_s"].between(start, end - 1).all()
    out = trips[trips["leg_index"] == 0]
    assert out["depart_s"].max() <= end - 2 * MIN_ACTIVITY_S
    assert report["clipped_times"] > 0  # returns after 12:00 are held at the period end


def test_unknown_kind_or_place_in_a_group_is_an_error(town):
    group = DemandGroup(
        name="golfers",
        share=0.1,
        destinations=Destinations(kinds={"golf_course": 1}),
        depart=normal(9, 30),
    )
    with pytest.raises(DemandError, match=r"groups\[golfers\]\.destinations\.kinds.*golf_course"):
        _run(town, groups=[group])
    group = group.model_copy(update={"destinations": Destinations(places={"atlantis": 1})})
    with pytest.raises(DemandError, match=r"unknown place 'atlantis'"):
        _run(town, groups=[group])


def test_default_groups_skip_kinds_a_network_does_not_have(town):
    keep = town.places[town.places["kind"].isin(["residential", "centre"])]
    places = keep[["name", "kind", "lat", "lon", "weight", "radius_m"]].to_dict("records")
    small = Network(town.graph, places=places)
    trips, report = build_trips(DemandConfig(), small, RandomStreams(1), START, END)
    assert set(trips["dest_place"]) <= set(keep["name"])
    assert report["skipped_kinds"]["students"] == ["school"]
    assert report["groups"]["students"]["tours"] == 0
    assert report["external"]["industrial_commuters"]["persons"] == 0
    assert (legs(trips, "workers", 0)["dest_place"] == "town_centre").all()


def test_config_rejects_inconsistent_values():
    with pytest.raises(ValidationError, match="at most 1"):
        SyntheticPopulation(groups=[g.model_copy(update={"share": 0.5}) for g in default_groups()])
    with pytest.raises(ValidationError, match="households <= residents"):
        SyntheticPopulation(residents=10, households=20)
    with pytest.raises(ValidationError, match="unique"):
        SyntheticPopulation(groups=[default_groups()[0], default_groups()[0]])
    with pytest.raises(ValidationError, match="either mean"):
        TimeDistribution(mean="08:00", windows=[{"start": "08:00", "end": "09:00"}])
    with pytest.raises(ValidationError, match="end after start"):
        TimeDistribution(windows=[{"start": "09:00", "end": "08:00"}])
    with pytest.raises(ValidationError, match="persons"):
        ExternalFlow(
            name="x",
            origin={"kinds": {"a": 1}},
            destinations={"kinds": {"b": 1}},
            depart={"mean": "08:00"},
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        DemandConfig(synthetic={"residents": 10, "households": 5, "resident": 3})
    parsed = DemandConfig(synthetic={"groups": [default_groups()[1].model_dump(mode="json")]})
    assert parsed.synthetic.groups[0].return_depart.windows[1].start == 16.5 * 3600

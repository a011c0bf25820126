"""External demand through gateway places: rail passengers arrive with the train timetable,
trips start or end outside the study area at the station, the industrial complex or a motorway
junction, with a time-of-day profile per flow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mobisim.demand.population import MIN_ACTIVITY_S
from mobisim.demand.trips import build_trips
from mobisim.errors import DemandError, ScenarioError
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import (
    DemandConfig,
    Destinations,
    ExternalFlow,
    SyntheticPopulation,
    TimeDistribution,
    normal,
)
from mobisim.scenario.loader import load_scenario
from mobisim.scenario.network_config import NetworkConfig
from mobisim.units import parse_clock_s

START, END = 5 * 3600.0, 24 * 3600.0
TRAINS = ["06:12", "07:05", "07:48", "08:31", "09:40", "12:10", "17:55", "23:50"]


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(), ".")


def _trips(town, flows, seed=1):
    config = SyntheticPopulation(residents=400, households=150, groups=[], external=flows)
    return build_trips(DemandConfig(synthetic=config), town, RandomStreams(seed), START, END)


def rail_flow(**fields) -> ExternalFlow:
    return ExternalFlow(
        name=fields.pop("name", "rail_passengers"),
        persons=fields.pop("persons", 600),
        origin=Destinations(places={"rail_station": 1}),
        destinations=Destinations(kinds={"centre": 0.5, "institution": 0.5}),
        depart=fields.pop("depart", normal(8.0, 90)),
        return_depart=normal(17.5, 60),
        car_share=0.0,
        purpose="rail",
        **fields,
    )


def test_rail_passengers_appear_at_the_station_only_at_train_arrival_times(town):
    trips, report = _trips(town, [rail_flow(train_arrivals=TRAINS)])
    arrivals = {parse_clock_s(t) for t in TRAINS}
    out = trips[(trips["group"] == "rail_passengers") & (trips["leg_index"] == 0)]
    assert len(out) == report["external"]["rail_passengers"]["tours"] > 500
    assert set(out["origin_place"]) == {"rail_station"}
    assert set(out["depart_s"]) <= arrivals
    # the 23:50 train leaves no room for a tour (after period end - 30 min): nobody steps off it
    assert parse_clock_s("23:50") not in set(out["depart_s"])
    # the time-of-day profile N(08:00, 90 min), kept in 05:00-23:30, weighs the trains: the
    # 07:05, 07:48 and 08:31 trains take the draws nearest them, 06:38:30-09:05:30
    counts = out["depart_s"].value_counts()
    morning = sum(counts.get(parse_clock_s(t), 0) for t in ("07:05", "07:48", "08:31"))
    profile = stats.norm(8.0, 1.5)
    kept = profile.cdf(23.5) - profile.cdf(5.0)
    expected = (profile.cdf(9 + 5.5 / 60) - profile.cdf(6 + 38.5 / 60)) / kept
    sd = np.sqrt(expected * (1 - expected) / len(out))
    assert abs(morning / len(out) - expected) < 4 * sd
    assert counts.get(parse_clock_s("17:55"), 0) < 0.02 * len(out)
    # the return leg ends outside: back at the station, after the activity
    back = trips[(trips["group"] == "rail_passengers") & (trips["leg_index"] == 1)]
    assert set(back["dest_place"]) == {"rail_station"}
    merged = out.merge(back, on="tour_id", suffixes=("_out", "_back"))
    assert (merged["depart_s_back"] >= merged["depart_s_out"] + MIN_ACTIVITY_S).all()


def test_without_train_arrivals_departures_follow_the_profile_unsnapped(town):
    trips, _ = _trips(town, [rail_flow()])
    out = trips[trips["leg_index"] == 0]
    assert out["depart_s"].nunique() > 0.9 * len(out)  # continuous draws, not train times


def test_a_train_timetable_is_deterministic_and_leaves_other_flows_alone(town):
    commuters = ExternalFlow(
        name="industrial_commuters",
        persons=300,
        origin=Destinations(kinds={"bus_terminal": 1}),
        destinations=Destinations(kinds={"industrial": 1}),
        # the commuters' hourly shares [D1]: <07 17 %, 07-08 33.3 %, 08-09 32 %, after 09 17.7 %
        depart=TimeDistribution(
            windows=[
                {"start": "05:30", "end": "07:00", "weight": 17.0},
                {"start": "07:00", "end": "08:00", "weight": 33.3},
                {"start": "08:00", "end": "09:00", "weight": 32.0},
                {"start": "09:00", "end": "10:00", "weight": 17.7},
            ]
        ),
        return_depart=normal(18.25, 60),
    )
    a, _ = _trips(town, [commuters, rail_flow(train_arrivals=TRAINS)])
    b, _ = _trips(town, [commuters, rail_flow(train_arrivals=TRAINS)])
    c, _ = _trips(town, [commuters, rail_flow()])
    assert a.equals(b)
    mine = a[a["group"] == "industrial_commuters"].reset_index(drop=True)
    theirs = c[c["group"] == "industrial_commuters"].reset_index(drop=True)
    assert np.array_equal(mine["depart_s"], theirs["depart_s"])
    assert set(mine.loc[mine["leg_index"] == 0, "dest_place"]) == {"industrial_complex"}
    hours = mine.loc[mine["leg_index"] == 0, "depart_s"] / 3600.0
    assert 0.25 < ((hours >= 7) & (hours < 8)).mean() < 0.42  # 33.3 % of 300 (±3 sd)


def test_no_train_in_the_period_is_a_demand_error_naming_the_key(town):
    flow = rail_flow(train_arrivals=["23:45"])
    with pytest.raises(DemandError, match=r"external\[rail_passengers\]\.train_arrivals"):
        _trips(town, [flow])


def test_bad_train_arrivals_are_a_scenario_error_naming_the_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\n"
        "demand:\n"
        "  synthetic:\n"
        "    external:\n"
        "      - name: rail\n"
        "        persons: 10\n"
        "        origin: {places: {rail_station: 1}}\n"
        "        destinations: {kinds: {centre: 1}}\n"
        "        depart: {mean: '08:00', sd_min: 60}\n"
        "        train_arrivals: ['07:10', '06:50']\n"
    )
    with pytest.raises(ScenarioError, match=r"(?s)s\.yaml.*external.*train_arrivals.*in order"):
        load_scenario(path)


def test_a_motorway_junction_place_is_a_gateway(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\n"
        "network:\n"
        "  places:\n"
        "    - {name: motorway_junction, kind: gateway, lat: 36.8935, lon: 127.512, radius_m: 200}\n"
        "demand:\n"
        "  synthetic:\n"
        "    residents: 300\n"
        "    households: 100\n"
        "    groups: []\n"
        "    external:\n"
        "      - name: through_traffic\n"
        "        persons: 50\n"
        "        origin: {places: {motorway_junction: 1}}\n"
        "        destinations: {kinds: {centre: 1}}\n"
        "        depart: {mean: '08:00', sd_min: 60}\n"
        "        car_share: 1.0\n"
    )
    scenario = load_scenario(path)
    network = build_network(scenario.network, tmp_path)
    trips, report = build_trips(
        scenario.demand, network, RandomStreams(1), START, END, base_dir=tmp_path
    )
    assert report["external"]["through_traffic"]["tours"] > 40
    assert set(trips.loc[trips["leg_index"] == 0, "origin_place"]) == {"motorway_junction"}
    assert set(trips.loc[trips["leg_index"] == 1, "dest_place"]) == {"motorway_junction"}

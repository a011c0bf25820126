"""The Chungbuk transit scenarios (issue 23): they load and validate, and say what they claim
(fast: no run; the runs are measured in docs/tutorial-chungbuk.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mobisim
from mobisim.network.load import build_network
from mobisim.units import parse_clock_s

CHUNGBUK = Path(__file__).resolve().parents[1] / "scenarios" / "chungbuk"


def load(stem: str):
    return mobisim.load_scenario(CHUNGBUK / f"{stem}.yaml")


def services(scenario) -> dict:
    return {s.name: s for s in scenario.enabled_services()}


def test_transit_today_runs_the_bus_lines_as_timetabled_transit():
    scenario = load("transit-today")
    lines = services(scenario)
    assert lines["bus"].type == "transit" and lines["bus"].mode == "bus"
    assert lines["bus"].headway_min is None and len(lines["bus"].headways) == 5
    peak = [p.headway_min for p in lines["bus"].headways if p.start == parse_clock_s("07:00")]
    assert peak == [15.0]
    osong = lines["bus-osong"]
    assert osong.type == "transit" and osong.stops[0].place == "rail_station"
    assert not scenario.chains.enabled
    # the same town, lines and demand as baseline.yaml but for the buses and the rail flows
    baseline = load("baseline")
    assert scenario.network == baseline.network
    assert scenario.demand.synthetic.groups == baseline.demand.synthetic.groups


def test_rail_flows_arrive_with_the_train_timetable_on_the_network():
    scenario = load("transit-today")
    flows = {f.name: f for f in scenario.demand.synthetic.external}
    for name in ("industrial_rail_commuters", "rail_visitors"):
        assert flows[name].train_arrivals, name
        assert list(flows[name].origin.places) == ["rail_station"]
    assert flows["industrial_commuters"].train_arrivals is None
    network = build_network(scenario.network, CHUNGBUK)
    assert {"rail_station", "bus_terminal", "industrial_complex"} <= set(network.places["name"])


def test_transit_2020_is_phase_2020_with_the_same_transit_block_as_today():
    today, y2020, phase = load("transit-today"), load("transit-2020"), load("phase-2020")
    assert y2020.demand == today.demand
    for name in ("bus", "bus-osong"):
        assert services(y2020)[name] == services(today)[name]
    assert services(y2020)["shuttle-industrial"] == services(phase)["shuttle-industrial"]
    assert set(services(y2020)) == set(services(phase)) | {"bus-osong"}


def test_the_pm_feeder_turns_chains_on_and_changes_nothing_else():
    feeder, y2020 = load("transit-2020-pm-feeder"), load("transit-2020")
    assert feeder.chains.enabled and not y2020.chains.enabled
    assert feeder.chains.access_modes == ["bike", "ebike"]
    assert services(feeder) == services(y2020)
    assert feeder.demand == y2020.demand and feeder.network == y2020.network


def test_a_small_feeder_run_counts_transfers_and_rail_arrivals_from_its_events(tmp_path):
    """The feeder scenario scaled down (1,500 residents): the intermodal KPIs agree with the
    trips table, and rail passengers start their trips at the station at train arrival times."""
    scenario = mobisim.load_scenario(
        CHUNGBUK / "transit-2020-pm-feeder.yaml",
        overrides={
            "demand.synthetic.residents": 1500,
            "demand.synthetic.households": 550,
            "outputs.charts": False,
        },
    )
    result = mobisim.run(scenario, out_dir=tmp_path)
    trips, events, system = result.trips, result.events, result.kpis["system"]
    chains = trips[(trips["mode"] == "chain") & (trips["status"] != "unserved")]
    assert len(chains) > 0 and (chains["legs"] == 2).all()
    assert system["transfers"] >= len(chains)
    boardings = {
        name: block["boardings"]
        for name, block in result.kpis["by_service"].items()
        if block.get("boardings")
    }
    assert system["boardings_by_line"] == boardings
    served = trips[trips["status"] != "unserved"]
    for main, shares in system["access_mode_share"].items():
        mine = served[served["main_mode"] == main]
        devices = (mine["access_mode"] != "").mean()
        assert 1.0 - shares.get("walk", 0.0) == pytest.approx(devices), main
    flows = {f.name: f for f in scenario.demand.synthetic.external}
    arrivals = set(flows["rail_visitors"].train_arrivals)
    starts = events[events["event"] == "trip_start"].merge(
        trips[["trip_id", "group", "leg_index", "origin_place"]], on="trip_id"
    )
    rail = starts[(starts["group"] == "rail_visitors") & (starts["leg_index"] == 0)]
    assert len(rail) > 0 and set(rail["origin_place"]) == {"rail_station"}
    assert set(rail["time_s"]) <= arrivals

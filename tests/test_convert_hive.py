"""The HIVE importer on a tiny hand-made HIVE scenario (HIVE itself is not needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mobisim.convert.hive import MILE_M, US_GALLON_L, convert_hive
from mobisim.errors import ScenarioError
from mobisim.network.load import build_network
from mobisim.scenario.network_config import NetworkConfig

# a 3 x 3 grid of nodes about 110 m apart, two-way streets; one link without a speed
LAT0, LON0, STEP = 39.75, -104.99, 0.001


def _node_id(i: int, j: int) -> int:
    return 100 + 10 * i + j


def _network() -> dict:
    nodes = [
        {"id": _node_id(i, j), "y": LAT0 + i * STEP, "x": LON0 + j * STEP}
        for i in range(3)
        for j in range(3)
    ]
    links = []
    for i in range(3):
        for j in range(3):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < 3 and j + dj < 3:
                    a, b = _node_id(i, j), _node_id(i + di, j + dj)
                    for u, v in ((a, b), (b, a)):
                        links.append(
                            {
                                "source": u,
                                "target": v,
                                "key": 0,
                                "length": 100.0,
                                "speed_kmph": 36.0,
                            }
                        )
    del links[0]["speed_kmph"]
    return {"directed": True, "multigraph": True, "graph": {}, "nodes": nodes, "links": links}


def _write_hive(
    folder: Path,
    *,
    requests_extra: str = "",
    mechatronics: bool = False,
    soc: tuple[float, float, float] = (0.4, 0.4, 0.4),
    dispatcher: dict | None = None,
) -> Path:
    """A HIVE scenario in HIVE's folder layout (inputs in their default sub-folders)."""
    for sub in ("vehicles", "requests", "stations", "bases", "road_network"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "vehicles" / "veh.csv").write_text(
        "\ufeffvehicle_id,lat,lon,mechatronics_id,initial_soc,schedule_id,home_base_id\n"
        f"v1,{LAT0},{LON0},leaf_50,{soc[0]},first,\n"
        f"v2,{LAT0 + 2 * STEP},{LON0 + 2 * STEP},leaf_50,{soc[1]},,\n"
        f"v3,{LAT0},{LON0 + 2 * STEP},toyota_corolla,{soc[2]},,\n"
    )
    (folder / "requests" / "req.csv").write_text(
        "request_id,o_lat,o_lon,d_lat,d_lon,departure_time,passengers\n"
        f"r0,{LAT0},{LON0},{LAT0 + 2 * STEP},{LON0 + 2 * STEP},1970-01-01T00:02:00,3\n"
        f"r1,{LAT0 + STEP},{LON0},{LAT0},{LON0 + STEP},1970-01-01T01:00:30,1\n"
        f"r2,{LAT0},{LON0},{LAT0 + 0.00001},{LON0},1970-01-01T02:00:00,1\n"
        f"r3,{LAT0},{LON0},{LAT0 + STEP},{LON0},1970-01-03T00:00:00,1\n" + requests_extra
    )
    (folder / "stations" / "st.csv").write_text(
        "station_id,lat,lon,charger_count,charger_id,on_shift_access\n"
        f"s1,{LAT0 + STEP},{LON0 + STEP},4,DCFC,true\n"
        f"s1,{LAT0 + STEP},{LON0 + STEP},2,GAS_PUMP,true\n"
        f"bs1,{LAT0},{LON0},9,LEVEL_2,false\n"
    )
    (folder / "bases" / "b.csv").write_text(
        f"base_id,lat,lon,station_id,stall_count\nb1,{LAT0},{LON0},,5\n"
    )
    (folder / "road_network" / "net.json").write_text(json.dumps(_network()))
    inputs = {
        "vehicles_file": "veh.csv",
        "requests_file": "req.csv",
        "stations_file": "st.csv",
        "bases_file": "b.csv",
        "road_network_file": "net.json",
    }
    if mechatronics:
        (folder / "mech.yaml").write_text(
            yaml.safe_dump(
                {
                    "leaf_50": {
                        "mechatronics_type": "bev",
                        "battery_capacity_kwh": 60,
                        "nominal_max_charge_kw": 100,
                        "nominal_watt_hour_per_mile": 300,
                    }
                }
            )
        )
        inputs["mechatronics_file"] = "mech.yaml"
    scenario = {
        "sim": {
            "sim_name": "tiny",
            "start_time": "1970-01-01T00:00:00",
            "end_time": "1970-01-02T00:00:00",
            "request_cancel_time_seconds": 420,
        },
        "network": {"network_type": "osm_network", "default_speed_kmph": 18.0},
        "input": inputs,
        "dispatcher": {"ideal_fastcharge_soc_limit": 0.85, **(dispatcher or {})},
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def test_converts_trips_fleet_and_energy(tmp_path):
    # points snapped to nodes here; HIVE's link positions: tests/test_convert_hive_links.py
    result = convert_hive(_write_hive(tmp_path / "hive"), tmp_path / "out", positions="nodes")
    assert result.requests_read == 4
    # r2 snaps origin and destination to one node, r3 departs after the period
    assert result.dropped == {"outside_period": 1, "origin_equals_destination": 1}
    assert result.trips_written == 2 and result.vehicles == {
        "hive_leaf_50": 2,
        "hive_toyota_corolla": 1,
    }

    trips = pd.read_csv(result.trips_file)
    assert trips["depart"].tolist() == [120.0, 3630.0]
    assert trips["hive_request_id"].tolist() == ["r0", "r1"]
    assert trips["party_size"].tolist() == [1, 1] and trips["hive_passengers"].tolist() == [3, 1]

    scenario = yaml.safe_load(result.scenario_file.read_text())
    assert scenario["name"] == "tiny"
    assert scenario["period"] == {"start": "00:00", "end": "24:00"}
    assert scenario["mode_choice"] == {"policy": "cheapest", "fallback": "unserved"}
    leaf, corolla = scenario["services"]
    assert leaf["type"] == "drt" and leaf["capacity_pax"] == 1 and leaf["vehicles"] == 2
    assert leaf["max_wait_s"] == 420.0 and leaf["stop_s"] == 0.0
    assert [d["name"] for d in leaf["depots"]] == ["v1", "v2"]
    assert leaf["depots"][1] == {"name": "v2", "lat": LAT0 + 2 * STEP, "lon": LON0 + 2 * STEP}
    assert corolla["vehicle_type"] == "hive_toyota_corolla" and len(corolla["depots"]) == 1
    # HIVE's dispatch emulated (the default): matched every time step, requests wait until the
    # cancel time; idle vehicles go to the nearest base after idle_time_out_seconds
    for service in (leaf, corolla):
        assert service["dispatch"] == "hive_step" and service["time_step_s"] == 60.0
        assert service["queue_requests"] is True and "rematch_interval_s" not in service
        assert service["idle_policy"] == "hive_base_after_idle"
        assert service["idle_after_min"] == 30.0
        assert service["idle_bases"] == [{"name": "b1", "lat": LAT0, "lon": LON0}]
    assert any("nearest of 1 base(s) after 30 min" in note for note in result.notes)
    assert any("hive_step" in note and "cancel time (420 s)" in note for note in result.notes)
    assert any("one service per vehicle model" in note for note in result.notes)

    energy = scenario["energy"]
    bev = energy["vehicle_types"]["hive_leaf_50"]
    assert bev["powertrain"] == "electric" and bev["battery_kwh"] == 50.0
    assert bev["kwh_per_km"] == pytest.approx(225 / MILE_M) and bev["hvac_kw"] == 0.8
    ice = energy["vehicle_types"]["hive_toyota_corolla"]
    assert ice["fuel_per_100km"] == pytest.approx(100 * US_GALLON_L / (30 * MILE_M / 1000))
    assert ice["idle_fuel_per_h"] == pytest.approx(0.2 * US_GALLON_L)
    # only the electric charger open on shift becomes a site; gas pump and base charger are noted
    assert energy["charging_sites"] == [
        {"name": "s1_DCFC", "lat": LAT0 + STEP, "lon": LON0 + STEP, "plugs": 4, "power_kw": 50.0}
    ]
    assert energy["initial_soc_share"] == 0.4
    assert energy["charge_to_share"] == 0.85
    # HIVE charges below 20 km + the distance to the nearest station: the kept trips end 200 m
    # (node 2,2) and 100 m (node 0,1) by road from the station at node 1,1
    assert energy["charge_below_share"] == pytest.approx((20 + 0.15) * 225 / MILE_M / 50)
    # HIVE matches only vehicles with more than 20 km of range: the BEVs' reserve
    assert leaf["battery_reserve_share"] == pytest.approx(20 * 225 / MILE_M / 50)
    assert "battery_reserve_share" not in corolla
    assert any("GAS_PUMP" in note for note in result.notes)
    assert any("bs1" in note and "base charger" in note for note in result.notes)
    assert any("v1" in note and "schedule" in note for note in result.notes)
    assert not any("different SoC" in note for note in result.notes)
    assert all("initial_soc_share" not in d for d in leaf["depots"] + corolla["depots"])


def test_dispatcher_thresholds_and_mixed_initial_soc(tmp_path):
    result = convert_hive(
        _write_hive(
            tmp_path / "hive",
            soc=(0.2, 0.5, 0.9),
            dispatcher={"charging_range_km_threshold": 30, "matching_range_km_threshold": 10},
        ),
        tmp_path / "out",
        positions="nodes",  # the 0.15 km to the station below is node to node
    )
    scenario = yaml.safe_load(result.scenario_file.read_text())
    energy = scenario["energy"]
    assert energy["initial_soc_share"] == pytest.approx((0.2 + 0.5 + 0.9) / 3)
    assert any("different SoC" in note for note in result.notes)
    # each vehicle's own charge rides on its depot (one depot per vehicle, where it starts)
    depots = {d["name"]: d for service in scenario["services"] for d in service["depots"]}
    assert {name: d["initial_soc_share"] for name, d in depots.items()} == {
        "v1": 0.2,
        "v2": 0.5,
        "v3": 0.9,
    }
    assert energy["charge_below_share"] == pytest.approx((30 + 0.15) * 225 / MILE_M / 50)
    assert scenario["services"][0]["battery_reserve_share"] == pytest.approx(10 * 225 / MILE_M / 50)


def test_hive_idle_time_out_and_time_step_carry_over_and_no_bases_means_stay(tmp_path):
    path = _write_hive(tmp_path / "hive", dispatcher={"idle_time_out_seconds": 600})
    config = yaml.safe_load(path.read_text())
    config["sim"]["timestep_duration_seconds"] = 30
    path.write_text(yaml.safe_dump(config))
    result = convert_hive(path, tmp_path / "out")
    leaf = yaml.safe_load(result.scenario_file.read_text())["services"][0]
    assert leaf["idle_after_min"] == 10.0 and leaf["time_step_s"] == 30.0
    (tmp_path / "hive" / "bases" / "b.csv").write_text("base_id,lat,lon,station_id,stall_count\n")
    result = convert_hive(path, tmp_path / "out2")
    leaf = yaml.safe_load(result.scenario_file.read_text())["services"][0]
    assert leaf["idle_policy"] == "stay" and "idle_bases" not in leaf
    assert any("no bases" in note for note in result.notes)


def test_converted_bevs_charge_in_the_run_and_ice_cars_do_not(tmp_path):
    """End to end: BEVs that start below HIVE's charging threshold drive to the DCFC site
    (to_charger) and charge to ideal_fastcharge_soc_limit; the Corolla has no battery."""
    from mobisim import api

    extra = "".join(
        f"x{i},{LAT0 + 2 * STEP},{LON0},{LAT0},{LON0 + 2 * STEP},1970-01-01T0{3 + i}:00:00,1\n"
        for i in range(3)
    )
    path = _write_hive(tmp_path / "hive", soc=(0.05, 0.05, 0.05), requests_extra=extra)
    # every vehicle autonomous and in service at the bases (mobisim's own dispatch): driver
    # shifts and HIVE's retiring at a base are tested on their own
    vehicles_csv = tmp_path / "hive" / "vehicles" / "veh.csv"
    vehicles_csv.write_text(vehicles_csv.read_text(encoding="utf-8-sig").replace(",first,", ",,"))
    result = convert_hive(path, tmp_path / "out", dispatch="native")
    scenario = api.load_scenario(result.scenario_file)
    scenario.outputs.charts = False
    run = api.run(scenario, out_dir=tmp_path / "results")
    vehicles = run.vehicles.set_index("vehicle_id")
    bevs = vehicles[vehicles["service"] == "hive_leaf_50"]
    ice = vehicles[vehicles["service"] == "hive_toyota_corolla"]
    assert bevs["battery_kwh"].tolist() == [50.0, 50.0]
    assert bevs["initial_soc_kwh"].tolist() == pytest.approx([2.5, 2.5])
    assert bevs["charged_kwh"].gt(0).all() and ice["battery_kwh"].isna().all()
    sessions = run.tables["energy_charging"]
    assert set(sessions["site"]) == {"s1_DCFC"} and set(sessions["vehicle_id"]) == set(bevs.index)
    # each charges from its arrival SoC up to 85 % of 50 kWh
    assert (sessions["soc_start_kwh"] + sessions["battery_kwh"]).tolist() == pytest.approx(
        [0.85 * 50] * len(sessions)
    )
    legs = run.events[run.events["event"] == "vehicle_leg"]
    to_charger = legs[legs["state"].astype(str) == "to_charger"]
    assert set(to_charger["vehicle_id"]) <= set(bevs.index) and len(to_charger) >= 1
    assert (run.trips["status"] != "unserved").sum() == len(run.trips) == 5
    # idle 30 min without work (HIVE's idle_time_out_seconds), vehicles drive to base b1, at
    # the node where v1 started
    moves = legs[legs["state"].astype(str) == "repositioning"]
    assert len(moves) >= 3
    assert set(moves["to_node"]) == {int(vehicles.loc[0, "depot_node"])}
    events = run.events
    for move in moves.itertuples():
        mine = events[(events["vehicle_id"] == move.vehicle_id) & (events["time_s"] < move.time_s)]
        busy = mine[~((mine["event"] == "vehicle_dwell") & (mine["state"].astype(str) == "idle"))]
        last = busy.iloc[-1]
        free_s = last["time_s"] + (0.0 if pd.isna(last["duration_s"]) else last["duration_s"])
        assert move.time_s - free_s == pytest.approx(1800.0)


def test_network_keeps_hive_speeds_and_loads_in_mobisim(tmp_path):
    result = convert_hive(_write_hive(tmp_path / "hive"), tmp_path / "out", positions="nodes")
    config = NetworkConfig(source="graphml", file=result.network_file.name)
    network = build_network(config, result.network_file.parent)
    assert network.n_nodes == 9
    speeds = sorted({round(d["speed_kph"], 6) for *_, d in network.graph.edges(data=True)})
    assert speeds == [18.0, 36.0]  # HIVE speed where given, the scenario's default elsewhere
    times = sorted({round(d["travel_time"], 1) for *_, d in network.graph.edges(data=True)})
    assert times == [10.0, 20.0]  # 100 m at 36 and 18 km/h


def test_scenario_mechatronics_file_overrides_builtin(tmp_path):
    result = convert_hive(_write_hive(tmp_path / "hive", mechatronics=True), tmp_path / "out")
    bev = yaml.safe_load(result.scenario_file.read_text())["energy"]["vehicle_types"][
        "hive_leaf_50"
    ]
    assert bev["battery_kwh"] == 60.0 and bev["max_charge_kw"] == 100.0
    assert bev["kwh_per_km"] == pytest.approx(300 / MILE_M)


def test_missing_input_file_names_the_key(tmp_path):
    path = _write_hive(tmp_path / "hive")
    (tmp_path / "hive" / "requests" / "req.csv").unlink()
    with pytest.raises(ScenarioError) as info:
        convert_hive(path, tmp_path / "out")
    assert "input.requests_file" in str(info.value) and "req.csv" in str(info.value)


def test_missing_column_and_unknown_mechatronics_are_reported(tmp_path):
    path = _write_hive(tmp_path / "hive")
    vehicles = tmp_path / "hive" / "vehicles" / "veh.csv"
    vehicles.write_text(vehicles.read_text().replace("leaf_50,0.4,,", "tesla_x,0.4,,"))
    with pytest.raises(ScenarioError, match=r"unknown mechatronics id.*tesla_x"):
        convert_hive(path, tmp_path / "out")
    vehicles.write_text("vehicle_id,lat,lon\nv1,39.75,-104.99\n")
    with pytest.raises(ScenarioError, match=r"missing column.*mechatronics_id"):
        convert_hive(path, tmp_path / "out")


def test_converted_bevs_start_at_their_own_charge(tmp_path):
    """HIVE's per-vehicle initial_soc reaches the run: v1 starts at 20 %, v2 at 60 % of 50 kWh."""
    from mobisim import api

    result = convert_hive(_write_hive(tmp_path / "hive", soc=(0.2, 0.6, 0.9)), tmp_path / "out")
    scenario = api.load_scenario(result.scenario_file)
    scenario.outputs.charts = False
    run = api.run(scenario, out_dir=tmp_path / "results")
    bevs = run.vehicles[run.vehicles["service"] == "hive_leaf_50"].sort_values("vehicle_id")
    assert bevs["initial_soc_kwh"].tolist() == pytest.approx([10.0, 30.0])


def test_native_dispatch_option_writes_mobisims_own_queued_insertion(tmp_path):
    path = _write_hive(tmp_path / "hive")
    result = convert_hive(path, tmp_path / "out", dispatch="native")
    for service in yaml.safe_load(result.scenario_file.read_text())["services"]:
        assert service["dispatch"] == "insertion" and "time_step_s" not in service
        assert service["queue_requests"] is True and service["rematch_interval_s"] == 60.0
        assert service["idle_policy"] == "nearest_base_after_idle"
    assert any("matched again every 60 s" in note for note in result.notes)
    with pytest.raises(ValueError, match="dispatch expects one of hive_step, native"):
        convert_hive(path, tmp_path / "out2", dispatch="hive")


def test_human_driver_schedules_become_depot_shifts_with_the_home_base(tmp_path):
    path = _write_hive(tmp_path / "hive")
    # the default schedules as HIVE's built-in file has them; v1 is on "first" (09:00-17:00)
    result = convert_hive(path, tmp_path / "out")
    leaf = yaml.safe_load(result.scenario_file.read_text())["services"][0]
    v1, v2 = leaf["depots"]
    assert v1["shift_start"] == "09:00" and v1["shift_end"] == "17:00" and "home_base" not in v1
    assert "shift_start" not in v2
    assert any("v1: human driver on schedule 'first'" in note for note in result.notes)
    # a schedules file of the scenario and a home base among the bases
    folder = tmp_path / "hive"
    (folder / "schedules").mkdir()
    (folder / "schedules" / "default_schedules.csv").write_text(
        'schedule_id,start_time,end_time\nfirst,"17:00:00","01:00:00"\n'
    )
    vehicles = folder / "vehicles" / "veh.csv"
    vehicles.write_text(vehicles.read_text(encoding="utf-8-sig").replace(",first,", ",first,hb1"))
    bases = folder / "bases" / "b.csv"
    bases.write_text(bases.read_text() + f"hb1,{LAT0 + 2 * STEP},{LON0},,1\n")
    result = convert_hive(path, tmp_path / "out2", positions="nodes")
    v1 = yaml.safe_load(result.scenario_file.read_text())["services"][0]["depots"][0]
    assert v1["shift_start"] == "17:00" and v1["shift_end"] == "01:00"
    assert v1["home_base"] == {"name": "hb1", "lat": LAT0 + 2 * STEP, "lon": LON0}
    # the converted scenario loads (the shift keys validate)
    from mobisim.scenario.loader import load_scenario

    assert load_scenario(result.scenario_file).services[0].depots[0].home_base.name == "hb1"


def test_unknown_schedule_or_home_base_is_reported(tmp_path):
    path = _write_hive(tmp_path / "hive")
    vehicles = tmp_path / "hive" / "vehicles" / "veh.csv"
    text = vehicles.read_text(encoding="utf-8-sig")
    vehicles.write_text(text.replace(",first,", ",late,"))
    with pytest.raises(ScenarioError, match=r"vehicles_file\.schedule_id.*unknown schedule 'late'"):
        convert_hive(path, tmp_path / "out")
    vehicles.write_text(text.replace(",first,", ",first,nowhere"))
    with pytest.raises(ScenarioError, match=r"vehicles_file\.home_base_id.*'nowhere'"):
        convert_hive(path, tmp_path / "out")


def test_the_default_conversion_runs_hive_s_time_steps(tmp_path):
    """End to end with the default (hive_step): every trip leg starts at a 60-s step."""
    from mobisim import api

    result = convert_hive(_write_hive(tmp_path / "hive"), tmp_path / "out")
    scenario = api.load_scenario(result.scenario_file)
    scenario.outputs.charts = False
    run = api.run(scenario, out_dir=tmp_path / "results")
    assert (run.trips["status"] != "unserved").sum() >= 1
    legs = run.events[run.events["event"] == "vehicle_leg"]
    trip_legs = legs[legs["state"].astype(str).isin(["to_pickup", "occupied"])]
    assert len(trip_legs) >= 1
    assert (trip_legs["time_s"] % 60.0).abs().max() < 1e-6
    pickups = run.events[run.events["event"] == "pickup"]
    assert (pickups["time_s"] % 60.0).abs().max() < 1e-6

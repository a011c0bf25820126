"""Micromobility crews that collect low devices to a depot, charge them there and put them back out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

import mobisim
from mobisim.demand.trips import build_trips
from mobisim.energy.accounting import check_energy_balance
from mobisim.engine.simulation import simulate
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.randomness import RandomStreams
from mobisim.services.base import Trip
from mobisim.services.micromobility import CrewConfig, MicromobilityService
from test_micromobility import (
    START_S,
    assert_legs_connect,
    assert_one_rider_at_a_time,
    build_town,
    make,
    random_days,
    run,
)


@pytest.fixture(scope="module")
def town():
    return build_town()


DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
COLLECT = {
    "policy": "schedule",
    "interval_min": 30,
    "low_battery": "collect_to_depot",
    "collect_below_share": 0.3,
    "redeploy_above_share": 0.8,
    "depot": {"name": "yard", "place": "bus_terminal"},
}


def depot_stays(events: pd.DataFrame, depot_node: int) -> dict[int, list[list[float]]]:
    """Per device: [collected at s, back out at s (inf: still held or at the depot)] intervals,
    from the ``on_van`` legs into and out of the depot node."""
    legs = events[(events["event"] == "vehicle_leg") & (events["detail"] == "on_van")]
    stays: dict[int, list[list[float]]] = {}
    for row in legs.sort_values("time_s", kind="stable").itertuples():
        mine = stays.setdefault(int(row.vehicle_id), [])
        if row.to_node == depot_node and row.node != depot_node:
            mine.append([row.time_s, np.inf])
        elif row.node == depot_node and mine and mine[-1][1] == np.inf:
            mine[-1][1] = row.time_s + row.duration_s
    return stays


def test_low_device_is_collected_charged_at_the_depot_and_redeployed(town):
    service = make(
        town,
        MicromobilityService,
        {
            "name": "s",
            "devices": [{"type": "escooter", "count": 3}],
            "zones": {"supermarket": 1},
            "initial_soc_min_share": 0.9,
            "crews": COLLECT,
        },
        days=0.25,
    )
    env, fleet = service.ctx.env, service.fleet
    low, others = fleet.vehicles[0], fleet.vehicles[1:3]
    capacity_kwh = low.battery.capacity_kwh
    low.battery.draw(low.battery.soc_kwh - 0.1 * capacity_kwh)
    home = fleet.lots[0]
    env.run(until=START_S + 1200)  # the first tour (at the start) took it to the depot
    assert low.lot is service.depot and low in service.depot.store.items
    pooled, _ = fleet.standing_in_lots("escooter")
    assert low not in pooled and all(d in pooled for d in others)
    trip = Trip(1, 1, "g", "p", service.depot_node, home.node, env.now)
    service.max_walk_m = 1e9  # every device within the walk: still never the one at the depot
    offer = service.offers(trip, env.now)[0]
    assert offer.available and offer.handle.vehicle is not low
    env.run(until=START_S + 6 * 3600)
    service.finish(env.now)
    events = service.ctx.log.to_frame()
    mine = events[events["vehicle_id"] == low.vehicle_id]
    on_van = mine[mine["detail"] == "on_van"]
    assert list(on_van["to_node"]) == [service.depot_node, home.node]  # out, then back
    charge = mine[(mine["event"] == "charge_end") & (mine["detail"] == "yard")]
    plug = mine[(mine["event"] == "charge_start") & (mine["detail"] == "yard")]
    assert (
        len(charge) == 1 and 0.099 * capacity_kwh < plug["value"].iloc[0] <= 0.1 * capacity_kwh
    )  # standby drain
    assert plug["value"].iloc[0] + charge["value"].iloc[0] >= 0.8 * capacity_kwh - 1e-9
    charging = mine[(mine["event"] == "vehicle_dwell") & (mine["state"] == "charging")]
    assert len(charging) == 1 and charging["node"].iloc[0] == service.depot_node
    assert low.lot is home and low.battery.soc_kwh > 0.75 * capacity_kwh
    for device in others:  # charged enough: never collected
        assert not (events["vehicle_id"] == device.vehicle_id)[events["detail"] == "on_van"].any()
    stock = events[events["event"] == "station_stock"]
    assert set(stock["detail"]) == {"supermarket"}  # the depot is no rental station
    assert_legs_connect(events, service)


def test_full_depot_takes_no_more_devices(town):
    service = make(
        town,
        MicromobilityService,
        {
            "name": "s",
            "devices": [{"type": "escooter", "count": 6}],
            "zones": {"supermarket": 1, "high_school": 1},
            "initial_soc_min_share": 0.05,
            "initial_soc_max_share": 0.2,
            "crews": {**COLLECT, "depot_spaces": 2, "crews": 2},
        },
        days=0.25,
    )
    service.ctx.env.run(until=START_S + 3 * 3600)
    service.finish(service.ctx.env.now)
    events = service.ctx.log.to_frame()
    stays = [s for part in depot_stays(events, service.depot_node).values() for s in part]
    assert len(stays) >= 2
    times = sorted({t for s in stays for t in s if np.isfinite(t)})
    for time_s in times:
        at_depot = sum(start <= time_s < end for start, end in stays)
        assert at_depot <= 2, f"{at_depot} devices at a 2-space depot at {time_s}"


def test_invariants_with_riders_crews_and_energy(town):
    network, _ = town
    for seed in (1, 2):
        service = make(
            town,
            MicromobilityService,
            {
                "name": "mm",
                "devices": [{"type": "escooter", "count": 120}, {"type": "ebike", "count": 40}],
                "max_walk_m": 600,
                "initial_soc_min_share": 0.1,
                "initial_soc_max_share": 0.6,
                "crews": {**COLLECT, "interval_min": 45, "crews": 2},
            },
            seed=seed,
            energy=True,
            days=0.5,
        )
        events = run(service, random_days(network, 250, seed))
        assert_one_rider_at_a_time(events)
        assert_legs_connect(events, service)
        vehicles = service.ctx.energy.annotate(pd.DataFrame(service.ctx.vehicles))
        check_energy_balance(events, vehicles, service.ctx.energy.config)  # raises if unbalanced
        for device in service.fleet.vehicles:
            assert device.battery is None or device.battery.soc_kwh >= 0
        share = COLLECT["collect_below_share"]
        plugs = events[(events["event"] == "charge_start") & (events["detail"] == "yard")]
        assert len(plugs) > 0, "some devices are collected"
        for row in plugs.itertuples():  # only devices below the share are collected
            device = next(d for d in service.fleet.vehicles if d.vehicle_id == row.vehicle_id)
            capacity = device.battery.capacity_kwh
            assert row.value < share * capacity + 1e-9
        assert not (events["event"] == "battery_swap").any()
        pickups = events[events["event"] == "pickup"]
        stays = depot_stays(events, service.depot_node)
        redeployed = 0
        for vehicle_id, intervals in stays.items():
            times = pickups.loc[pickups["vehicle_id"] == vehicle_id, "time_s"].to_numpy()
            for start, end in intervals:  # nobody rides a device a crew holds
                assert not ((times > start) & (times < end)).any(), f"device {vehicle_id}"
                redeployed += bool(np.isfinite(end))
        assert redeployed > 0, "charged devices go back out"
        held = [d for d in service.fleet.vehicles if d.lot is service.depot]
        assert held and all(d.holder == -1 and d.node == service.depot_node for d in held)


def test_collect_config_is_checked():
    with pytest.raises(ValidationError, match="redeploy_above_share"):
        CrewConfig(
            low_battery="collect_to_depot", collect_below_share=0.5, redeploy_above_share=0.4
        )
    with pytest.raises(ValidationError, match="low_battery"):
        CrewConfig(low_battery="teleport")
    assert CrewConfig().low_battery == "swap"


def test_simulate_with_collecting_crews_balances_energy():
    scenario = mobisim.load_scenario(
        DEMO, overrides={"demand.synthetic.residents": 1500, "demand.synthetic.households": 600}
    )
    data = scenario.model_dump(mode="json")
    scooters = next(s for s in data["services"] if s["name"] == "scooters")
    scooters.update(initial_soc_min_share=0.1, initial_soc_max_share=0.5)
    scooters["crews"] = {**COLLECT, "policy": "threshold", "crews": 2}
    data["services"] = [s for s in data["services"] if s["name"] in ("walk", "car", "scooters")]
    data["energy"]["charging_sites"] = []
    scenario = type(scenario).model_validate(data)
    assert scenario.energy.enabled
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network)
    streams = RandomStreams(scenario.seed)
    trips, _ = build_trips(
        scenario.demand, network, streams, scenario.period.start_s, scenario.period.end_s
    )
    out = simulate(scenario, network, router, trips, RandomStreams(scenario.seed))
    events = out.events
    collected = events[(events["event"] == "charge_start") & (events["detail"] == "yard")]
    assert len(collected) > 0
    balance = out.extra_tables["energy_balance"]
    scooter_ids = out.vehicles.loc[out.vehicles["service"] == "scooters", "vehicle_id"]
    checked = balance[balance["vehicle_id"].isin(scooter_ids)]  # 150 devices, 2 vans
    assert len(checked) == 150 + 2 and (checked["residual_kwh"].abs() < 1e-6).all()
    assert (out.vehicles.loc[out.vehicles["service"] == "scooters", "final_soc_kwh"] >= 0).all()
    assert (out.trips["service"] == "scooters").any()

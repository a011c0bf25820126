"""The ``energy:`` section and the run's EnergyContext: sites located on a network, batteries
tracked for the vehicles table, errors with key paths."""

from __future__ import annotations

import pandas as pd
import pytest
import simpy
from pydantic import ValidationError

from mobisim.energy.context import EnergyContext
from mobisim.errors import ScenarioError
from mobisim.events import Event, EventLog
from mobisim.network.load import build_network
from mobisim.network.router import Router
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.scenario.network_config import NetworkConfig


@pytest.fixture(scope="module")
def network():
    return build_network(NetworkConfig(synthetic={"target_nodes": 400, "seed": 3}), ".")


def test_defaults_carry_the_documented_values():
    config = EnergyConfig()
    assert config.grid_kgco2e_per_kwh == 0.417  # [G1]
    assert (config.petrol_kgco2_per_l, config.diesel_kgco2_per_l) == (2.36, 2.61)  # [F1][F2]
    assert (config.petrol_kwh_per_l, config.diesel_kwh_per_l) == (8.88, 9.91)  # [F1]
    assert config.charge_efficiency == 0.92 and config.pv_kgco2e_per_kwh == 0.0
    assert config.pv_full_load_h[3] == 4.8 and config.day.month == 4
    assert config.load_bin_s == 300.0


def test_bad_values_are_rejected():
    with pytest.raises(ValidationError, match="give its location one way"):
        EnergyConfig(charging_sites=[{"name": "a", "node": 1, "place": "depot"}])
    with pytest.raises(ValidationError, match="give both lat and lon"):
        EnergyConfig(charging_sites=[{"name": "a", "lat": 36.9}])
    with pytest.raises(ValidationError, match="unique"):
        EnergyConfig(charging_sites=[{"name": "a", "node": 1}, {"name": "a", "node": 2}])
    with pytest.raises(ValidationError, match="12 monthly values"):
        EnergyConfig(pv_full_load_h=[3.0] * 11)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        EnergyConfig(date="15.04.2025")
    with pytest.raises(ValidationError):
        EnergyConfig(charging_sites=[{"name": "a", "node": 1, "plugs": 0}])


def test_context_locates_sites_and_tracks_batteries(network):
    place = str(network.places["name"].iloc[0])
    node = network.nodes.iloc[5]
    config = EnergyConfig(
        initial_soc_share=0.8,
        vehicle_types={"av_shuttle": {"hvac_kw": 3.0}},
        charging_sites=[
            {"name": "by_node", "node": 3, "services": ["shuttle"]},
            {"name": "by_place", "place": place},
            {"name": "by_point", "lat": float(node["lat"]), "lon": float(node["lon"])},
        ],
    )
    env = simpy.Environment()
    energy = EnergyContext(config, env, EventLog(), network)
    assert energy.sites["by_node"].node == 3
    assert energy.sites["by_place"].node == network.place_node(place)
    assert energy.sites["by_point"].node == 5
    assert [s.name for s in energy.sites_for("drt")] == ["by_place", "by_point"]
    vt = energy.vehicle_type("av_shuttle")
    assert vt.aux_kw == 4.0  # override applied
    battery = energy.new_battery(7, vt)
    assert battery.soc_kwh == pytest.approx(0.8 * 33)
    battery.draw(2.0)
    vehicles = pd.DataFrame(
        {
            "vehicle_id": [7, 8],
            "service": ["shuttle", "bikes"],
            "vehicle_type": ["av_shuttle", "bike"],
        }
    )
    out = energy.annotate(vehicles)
    row = out.set_index("vehicle_id").loc[7]
    assert (row["initial_soc_kwh"], row["final_soc_kwh"]) == pytest.approx((26.4, 24.4))
    assert pd.isna(out.set_index("vehicle_id").loc[8, "final_soc_kwh"])  # not tracked
    router = Router(network)
    site, time_s = energy.nearest_site(router, "car", 3, "shuttle")
    assert time_s >= 0 and site.name in energy.sites
    assert (
        energy.nearest_site(router, "car", 3, "shuttle")[0].name
        == min(
            energy.sites_for("shuttle"), key=lambda s: router.travel_time_s("car", 3, s.node)
        ).name
    )
    with pytest.raises(ValueError, match="not electric"):
        energy.new_battery(9, "petrol_car")


def test_context_errors_name_the_key(network):
    env = simpy.Environment()
    with pytest.raises(ScenarioError, match=r"energy.charging_sites.0.place"):
        EnergyContext(
            EnergyConfig(charging_sites=[{"name": "x", "place": "atlantis"}]), env, None, network
        )
    with pytest.raises(ScenarioError, match=r"energy.charging_sites.0.node"):
        EnergyContext(
            EnergyConfig(charging_sites=[{"name": "x", "node": 10**7}]), env, None, network
        )
    with pytest.raises(ScenarioError, match=r"energy.vehicle_types.av_shuttle.hvac_kw"):
        EnergyContext(EnergyConfig(vehicle_types={"av_shuttle": {"hvac_kw": "hot"}}), env, None)


def test_finish_gives_vehicles_and_tables_with_car_distances(network):
    env, log = simpy.Environment(), EventLog()
    config = EnergyConfig(charging_sites=[{"name": "depot", "node": 0, "power_kw": 7.0}])
    energy = EnergyContext(config, env, log, network)
    vt = energy.vehicle_type("ev_car")
    battery = energy.new_battery(0, vt, soc_share=0.5)
    battery.draw(1.0)
    log.add(Event(0.0, "vehicle_leg", "cars", vehicle_id=0, node=0, to_node=9, distance_m=1000 / vt.kwh_per_km,
             duration_s=600.0, pax=1, state="occupied"))  # fmt: skip
    env.process(energy.sites["depot"].charge(battery, 0.6, 0, "cars", vt))
    env.run()
    vehicles = pd.DataFrame({"vehicle_id": [0], "service": ["cars"], "vehicle_type": ["ev_car"]})
    trips = pd.DataFrame(
        {"trip_id": [1], "origin_node": [0], "dest_node": [9], "service": ["cars"],
         "mode": ["carsharing"], "status": ["completed"], "distance_m": [1.0]}
    )  # fmt: skip
    router = Router(network)
    vehicles, tables = energy.finish(log.to_frame(), vehicles, trips, router)
    assert vehicles["final_soc_kwh"].iloc[0] == pytest.approx(0.6 * 64)
    cf = tables["energy_counterfactual"].set_index("service")
    assert cf.loc["all", "car_km"] == pytest.approx(router.distance_m("car", 0, 9) / 1000)
    assert tables["energy_balance"]["residual_kwh"].abs().max() < 1e-9

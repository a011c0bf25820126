"""Queued DRT requests (``queue_requests``): wait for a vehicle to free up, or give up.

The one vehicle is low on charge at the start of the day: it drives to the depot charger and takes
no work until charged. A request made meanwhile cannot be served at once; with queueing on it
waits, is matched when the vehicle comes back into service and is served if that is before its
latest pick-up, and gives up at its latest pick-up otherwise (event ``give_up``, reason
``gave_up_max_wait``). With queueing off the same request is rejected at once.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from pydantic import ValidationError

from mobisim.energy.context import EnergyContext
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.services.base import RideOutcome, ServiceContext, Trip
from mobisim.services.drt import DrtConfig, DrtService

START_S, END_S = 7 * 3600.0, 10 * 3600.0


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def charging_service(town, **keys) -> DrtService:
    """One electric vehicle at the depot with 10 % charge: it charges first."""
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    log = EventLog()
    ctx = ServiceContext(env, network, router, log, np.random.default_rng(0), START_S, END_S)
    site = {"name": "depot", "place": "bus_terminal", "services": ["drt"], "plugs": 1}
    energy = EnergyConfig(vehicle_types={"av_shuttle": {"battery_kwh": 4.0}}, charging_sites=[site])
    ctx.energy = EnergyContext(energy, env, log, network)
    depot = [{"name": "Depot", "place": "bus_terminal"}]
    service = DrtService(DrtConfig(name="drt", vehicles=1, depots=depot, **keys), ctx)
    service.start()
    vehicle = service.vehicles[0]
    vehicle.battery.soc_kwh = 0.1 * vehicle.battery.capacity_kwh
    return service


def book(service, trip: Trip, outcomes: dict, offers: dict):
    env = service.ctx.env
    yield env.timeout(trip.depart_s - env.now)
    offer = service.offers(trip, env.now)[0]
    offers[trip.trip_id] = offer
    if not offer.available:
        outcomes[trip.trip_id] = offer.reason
        return
    outcomes[trip.trip_id] = yield service.request(trip, offer)


def day(town, trip_at_s: float, **keys):
    network = town[0]
    service = charging_service(town, **keys)
    origin, dest = network.place_node("town_centre"), network.place_node("supermarket")
    trip = Trip(0, 0, "g", "p", origin, dest, trip_at_s)
    outcomes, offers = {}, {}
    service.ctx.env.process(book(service, trip, outcomes, offers))
    service.ctx.env.run(until=END_S)
    events = service.ctx.log.to_frame()
    return service, outcomes[0], offers[0], events


def charge_end_s(events) -> float:
    ends = events.loc[events["event"] == "charge_end", "time_s"]
    assert len(ends) == 1
    return float(ends.iloc[0])


def test_a_request_made_while_every_vehicle_is_busy_waits_and_is_served_when_one_frees_up(town):
    # how long the vehicle is away charging, measured on the same day without requests
    _, _, _, quiet = day(town, START_S + 60.0, max_wait_s=60.0, queue_requests=False)
    back_s = charge_end_s(quiet)
    assert back_s > START_S + 600  # the charge keeps the vehicle away for minutes
    ask_s = START_S + 60.0
    max_wait_s = back_s - ask_s + 1200.0  # time enough to come back and drive to the rider
    keys = {"max_wait_s": max_wait_s, "max_travel_beta_s": max_wait_s + 600.0}

    _, rejected, offer, events = day(town, ask_s, queue_requests=False, **keys)
    assert offer.reason == "no_vehicle_feasible" and rejected == "no_vehicle_feasible"

    service, outcome, offer, events = day(town, ask_s, queue_requests=True, **keys)
    assert offer.available and offer.wait_s == pytest.approx(max_wait_s)  # worst case quoted
    assert isinstance(outcome, RideOutcome) and outcome.served
    pickup = events[events["event"] == "pickup"]
    assert len(pickup) == 1
    assert back_s <= float(pickup["time_s"].iloc[0]) <= ask_s + max_wait_s
    assert outcome.wait_s == pytest.approx(float(pickup["time_s"].iloc[0]) - ask_s)
    assert not (events["event"] == "give_up").any() and not (events["event"] == "reject").any()
    assert service.waiting == []


def test_a_queued_request_gives_up_with_its_reason_at_the_latest_pickup(town):
    _, _, _, quiet = day(town, START_S + 60.0, max_wait_s=60.0)
    back_s = charge_end_s(quiet)
    ask_s = START_S + 60.0
    max_wait_s = (back_s - ask_s) / 2  # gone before the vehicle is back
    service, outcome, offer, events = day(
        town, ask_s, queue_requests=True, max_wait_s=max_wait_s, rematch_interval_s=30.0
    )
    assert offer.available
    assert isinstance(outcome, RideOutcome) and not outcome.served
    assert outcome.reason == "gave_up_max_wait"
    assert outcome.wait_s == pytest.approx(max_wait_s)
    gave_up = events[events["event"] == "give_up"]
    assert len(gave_up) == 1 and gave_up["detail"].iloc[0] == "gave_up_max_wait"
    assert float(gave_up["time_s"].iloc[0]) == pytest.approx(ask_s + max_wait_s)
    assert float(gave_up["duration_s"].iloc[0]) == pytest.approx(max_wait_s)  # waited
    assert not (events["event"] == "pickup").any()
    assert service.waiting == []


def test_rematch_interval_longer_than_the_max_wait_is_refused_naming_the_key():
    with pytest.raises(ValidationError, match="rematch_interval_s"):
        DrtConfig(name="drt", queue_requests=True, max_wait_s=300, rematch_interval_s=600)
    DrtConfig(name="drt", queue_requests=False, max_wait_s=300, rematch_interval_s=600)
    with pytest.raises(ValidationError, match="rematch_interval_s"):
        DrtConfig(name="drt", rematch_interval_s=0)


def test_in_a_whole_run_gave_up_requests_are_counted_with_their_reason(tmp_path):
    """Queueing on with a fleet too small for the demand: some riders wait and are served late,
    others give up; the KPIs count the give-ups by reason, one per give_up event."""
    import yaml

    import mobisim

    data = {
        "name": "drt-queue",
        "seed": 3,
        "period": {"start": "07:00", "end": "10:00"},
        "network": {"source": "synthetic", "synthetic": {"target_nodes": 400, "seed": 2}},
        "demand": {"synthetic": {"residents": 400, "households": 130}},
        "services": [
            {"name": "walk", "type": "walk"},
            {
                "name": "drt",
                "type": "drt",
                "vehicles": 2,
                "capacity_pax": 1,
                "max_wait_s": 300,
                "queue_requests": True,
                "rematch_interval_s": 30,
            },
        ],
        "mode_choice": {"policy": "cheapest"},
        "outputs": {"dir": str(tmp_path / "results"), "charts": False},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = mobisim.run(mobisim.load_scenario(path))
    events = result.events
    mine = events[events["service"].astype(str) == "drt"]
    gave_up = mine[mine["event"] == "give_up"]
    assert len(gave_up) > 0 and set(gave_up["detail"].astype(str)) == {"gave_up_max_wait"}
    kpis = result.kpis["by_service"]["drt"]
    assert kpis["rejected_by_reason"].get("gave_up_max_wait") == len(gave_up)
    assert kpis["served"] > 0
    assert (gave_up["duration_s"] <= 300 + 1e-6).all()

"""The commuter's story on a tiny fake network: times, fallbacks, statuses, tours, the clock.

The fake router puts nodes 0..9 on a line 500 m apart (walk 1.2 m/s, car 10 m/s) and offers the
router methods the services use, so each expected time is simple arithmetic.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from mobisim.engine.simulation import GRACE_S, simulate
from mobisim.errors import SimulationError
from mobisim.randomness import RandomStreams
from mobisim.scenario import registry
from mobisim.scenario.base import ServiceConfig
from mobisim.scenario.models import Scenario
from mobisim.services.base import Offer, RideOutcome, Service
from trip_rows import trips_frame

SPACING_M = 500.0
WALK_MPS, CAR_MPS = 1.2, 10.0
H = 3600.0


class LineRouter:
    """Nodes on a line ``SPACING_M`` apart; ``no_car`` pairs have no drive path."""

    def __init__(self, no_car=()):
        self.no_car = set(no_car)

    def try_leg(self, profile, origin, dest):
        distance_m = abs(origin - dest) * SPACING_M
        if profile == "car" and (origin, dest) in self.no_car:
            return None
        speed = {"walk": WALK_MPS, "car": CAR_MPS}[profile]
        return distance_m / speed, distance_m

    def try_leg_within_m(self, profile, origin, dest, limit_m):
        """:meth:`try_leg`, (inf, inf) beyond ``limit_m`` (as the real router answers)."""
        leg = self.try_leg(profile, origin, dest)
        return leg if leg is None or leg[1] <= limit_m else (np.inf, np.inf)

    def legs(self, profile, origins, dests):
        """Vectorised (times s, distances m), NaN where there is no path."""
        legs = [self.try_leg(profile, int(o), int(d)) for o, d in zip(origins, dests, strict=True)]
        legs = [(np.nan, np.nan) if leg is None else leg for leg in legs]
        return np.array([t for t, _ in legs]), np.array([m for _, m in legs])

    def legs_departing(self, profile, origins, dests, depart_s):
        """:meth:`legs`: the same speeds at every hour."""
        return self.legs(profile, origins, dests)

    def distances_m(self, profile, origins, dests):
        return self.legs(profile, origins, dests)[1]

    def travel_times_s(self, profile, origins, dests):
        return self.legs(profile, origins, dests)[0]


class RefuserConfig(ServiceConfig):
    type: Literal["test_refuser"] = "test_refuser"
    wait_s: float = 60.0
    stop_offset: int = 0  # the stop is this many nodes from the origin
    fare_krw: float = 0.0


class Refuser(Service):
    """Looks attractive, makes the commuter walk to its stop, refuses after ``wait_s``."""

    type_name = "test_refuser"
    Config = RefuserConfig
    mode = "teleport"

    def offers(self, trip, now_s):
        stop = trip.origin_node + self.config.stop_offset
        walk_m = self.config.stop_offset * SPACING_M
        return [
            Offer(
                self.name,
                self.mode,
                True,
                access_walk_m=walk_m,
                access_walk_s=walk_m / WALK_MPS,
                wait_s=self.config.wait_s,
                in_vehicle_s=1.0,
                fare_krw=self.config.fare_krw,
                access_node=stop,
                egress_node=trip.dest_node,
            )
        ]

    def request(self, trip, offer):
        env = self.ctx.env
        refusal = env.timeout(
            offer.access_walk_s + self.config.wait_s,
            value=RideOutcome(served=False, reason="no_vehicle", wait_s=self.config.wait_s),
        )
        refusal.callbacks.append(
            lambda _: self.ctx.log.reject(
                env.now, service=self.name, trip_id=trip.trip_id, reason="no_vehicle"
            )
        )
        return refusal


class SilentConfig(RefuserConfig):
    type: Literal["test_silent"] = "test_silent"


class Silent(Refuser):
    """Never answers a request: the run must fail loudly."""

    type_name = "test_silent"
    Config = SilentConfig

    def request(self, trip, offer):
        return self.ctx.env.event()


@pytest.fixture(autouse=True)
def _test_services(monkeypatch):
    monkeypatch.setitem(registry.SERVICE_TYPES, "test_refuser", f"{__name__}:Refuser")
    monkeypatch.setitem(registry.SERVICE_TYPES, "test_silent", f"{__name__}:Silent")


WALK = {"name": "walk", "type": "walk", "max_walk_m": 2000}
CAR = {
    "name": "car",
    "type": "private_car",
    "access_walk_m": 60,
    "parking_search_min": 2,
    "parking_walk_m": 120,
}


def scenario(services, policy="cheapest", fallback="walk", end="10:00", **mode_choice):
    return Scenario.model_validate(
        {
            "name": "line",
            "period": {"start": "06:00", "end": end},
            "services": services,
            "mode_choice": {"policy": policy, "fallback": fallback, **mode_choice},
        }
    )


def run(services, trips, router=None, **kwargs):
    progress = kwargs.pop("progress", None)
    return simulate(
        scenario(services, **kwargs),
        None,
        router or LineRouter(),
        trips,
        RandomStreams(1),
        progress=progress,
    )


def by_trip(out, event):
    events = out.events
    return events[events["event"] == event].set_index("trip_id")


def test_walk_and_car_times_are_the_router_answers_plus_the_car_settings():
    trips = trips_frame(
        (0, 3, 7 * H, {"allowed_modes": "walk"}), (0, 8, 7 * H, {"allowed_modes": "car"})
    )
    out = run([WALK, CAR], trips).trips.set_index("trip_id")
    walk, car = out.loc[0], out.loc[1]
    assert (walk["mode"], walk["status"]) == ("walk", "completed")
    assert walk["access_walk_s"] == pytest.approx(1500 / WALK_MPS)
    assert walk["door_to_door_s"] == pytest.approx(1500 / WALK_MPS)
    assert walk["distance_m"] == pytest.approx(1500)
    drive_s = 4000 / CAR_MPS
    assert (car["mode"], car["status"]) == ("car", "completed")
    assert car["in_vehicle_s"] == pytest.approx(drive_s + 120)
    assert car["access_walk_s"] == pytest.approx(60 / WALK_MPS)
    assert car["egress_walk_s"] == pytest.approx(120 / WALK_MPS)
    assert car["door_to_door_s"] == pytest.approx((60 + 120) / WALK_MPS + drive_s + 120)
    assert car["arrival_s"] == pytest.approx(7 * H + car["door_to_door_s"])
    assert car["distance_m"] == pytest.approx(4000)
    assert car["fare_krw"] == pytest.approx(128 * 4.0)
    assert car["offered_in_vehicle_s"] == pytest.approx(car["in_vehicle_s"])


def test_a_refused_ride_falls_back_to_the_next_offer_asked_again_where_the_commuter_stands():
    refuser = {"name": "tele", "type": "test_refuser", "wait_s": 90, "stop_offset": 1}
    out = run([refuser, WALK], trips_frame((0, 2, 7 * H)))
    trip = out.trips.iloc[0]
    assert (trip["status"], trip["mode"], trip["service"]) == ("fallback", "walk", "walk")
    assert trip["fallback_reason"] == "no_vehicle"
    assert trip["wait_s"] == pytest.approx(90)
    # walked to the stop (node 1), waited, then walked 1 -> 2, asked again there
    assert trip["access_walk_s"] == pytest.approx(2 * SPACING_M / WALK_MPS)
    assert trip["door_to_door_s"] == pytest.approx(2 * SPACING_M / WALK_MPS + 90)
    walks = out.events[out.events["event"] == "walk"]
    assert list(walks["node"]) == [0, 1] and list(walks["to_node"]) == [1, 2]
    assert walks["time_s"].iloc[1] == pytest.approx(7 * H + SPACING_M / WALK_MPS + 90)
    assert list(out.events.loc[out.events["event"] == "mode_choice", "service"]) == ["tele", "walk"]
    assert (out.events["event"] == "fallback").sum() == 1


def test_fallbacks_follow_the_ranking_and_keep_the_first_reason():
    cheap = {"name": "a", "type": "test_refuser", "wait_s": 30}
    dear = {"name": "b", "type": "test_refuser", "wait_s": 30, "fare_krw": 500}
    out = run([WALK, dear, cheap], trips_frame((0, 1, 7 * H)))
    chosen = out.events.loc[out.events["event"] == "mode_choice", "service"]
    assert list(chosen) == ["a", "b", "walk"]
    trip = out.trips.iloc[0]
    assert (trip["status"], trip["fallback_reason"], trip["wait_s"]) == (
        "fallback",
        "no_vehicle",
        60,
    )
    assert trip["n_offers_available"] == 3
    assert trip["offered_wait_s"] == 30


@pytest.mark.parametrize(
    ("fallback", "status", "mode"),
    [
        ("walk", "fallback", "walk_fallback"),
        ("car", "fallback", "car_fallback"),
        ("unserved", "unserved", ""),
    ],
)
def test_when_every_offer_fails_the_scenario_fallback_decides(fallback, status, mode):
    refuser = {"name": "tele", "type": "test_refuser", "wait_s": 60}
    out = run([refuser], trips_frame((0, 4, 7 * H)), fallback=fallback)
    trip = out.trips.iloc[0]
    assert (trip["status"], trip["mode"], trip["fallback_reason"]) == (status, mode, "no_vehicle")
    legs = out.events[out.events["event"] == "vehicle_leg"]
    if fallback == "car":
        assert trip["in_vehicle_s"] == pytest.approx(2000 / CAR_MPS)
        assert len(legs) == 1 and legs["distance_m"].iloc[0] == pytest.approx(2000)
        assert legs["state"].iloc[0] == "occupied" and legs["vehicle_id"].iloc[0] == -1
    elif fallback == "walk":
        assert trip["door_to_door_s"] == pytest.approx(60 + 2000 / WALK_MPS)
        assert legs.empty
    else:
        assert pd.isna(trip["arrival_s"])


@pytest.mark.parametrize(
    ("dest", "acceptable_walk_m", "status", "reason"),
    [
        (3, None, "fallback", "mode_not_allowed"),  # 1,500 m: within max_walk_m (2,000 m)
        (5, None, "unserved", "too_far_to_walk"),  # 2,500 m: beyond it
        (5, 3000.0, "fallback", "too_far_to_walk"),  # the scenario accepts longer forced walks
        (3, 1000.0, "unserved", "mode_not_allowed"),  # ... or only shorter ones
    ],
)
def test_a_forced_walk_beyond_the_acceptable_walk_is_walked_but_unserved(
    dest, acceptable_walk_m, status, reason
):
    trips = trips_frame((0, dest, 7 * H, {"car_available": False, "allowed_modes": "drt"}))
    extra = {} if acceptable_walk_m is None else {"acceptable_walk_m": acceptable_walk_m}
    out = run([WALK, CAR], trips, **extra)
    trip = out.trips.iloc[0]
    assert (trip["status"], trip["mode"]) == (status, "walk_fallback")
    assert trip["fallback_reason"] == reason  # why no service carried it
    walk_s = dest * SPACING_M / WALK_MPS
    assert trip["door_to_door_s"] == pytest.approx(walk_s)  # the person did walk there
    end = by_trip(out, "trip_end").loc[0]
    assert (end["state"], end["duration_s"]) == (status, pytest.approx(walk_s))


def test_without_a_walk_service_the_acceptable_forced_walk_is_5_km():
    trips = trips_frame(
        (0, 9, 7 * H, {"car_available": False}), (0, 8, 7 * H, {"car_available": False})
    )
    out = run([CAR], trips, router=LineRouter())
    statuses = out.trips.set_index("dest_node")["status"]
    assert statuses.to_dict() == {9: "fallback", 8: "fallback"}  # 4.5 and 4 km
    far = run([CAR], trips_frame((0, 9, 7 * H, {"car_available": False})), acceptable_walk_m=4000)
    assert far.trips["status"].tolist() == ["unserved"]


def test_no_offer_at_all_records_the_first_refusal_reason():
    trips = trips_frame((0, 9, 7 * H, {"car_available": False}))
    out = run([WALK, CAR], trips, fallback="unserved")
    trip = out.trips.iloc[0]
    assert (trip["status"], trip["fallback_reason"], trip["n_offers_available"]) == (
        "unserved",
        "too_far_to_walk",
        0,
    )


def test_every_trip_ends_in_exactly_one_status():
    refuser = {"name": "tele", "type": "test_refuser", "wait_s": 60, "stop_offset": 1}
    rows = [(o, d, 6 * H + 600 * (o + d)) for o in range(0, 8, 2) for d in range(9) if o != d]
    rows += [(2, 9, 8 * H, {"car_available": False, "allowed_modes": "walk"})]
    router = LineRouter(no_car={(0, 5), (4, 1)})
    out = run(
        [refuser, WALK, CAR], trips_frame(*rows), router=router, policy="logit", fallback="unserved"
    )
    trips = out.trips
    assert trips["status"].isin(["completed", "fallback", "unserved"]).all()
    assert set(trips["status"]) >= {"fallback", "unserved"}
    ends = out.events[out.events["event"] == "trip_end"]
    assert sorted(ends["trip_id"]) == sorted(trips["trip_id"])  # exactly one trip_end each
    assert (
        ends.set_index("trip_id").loc[trips["trip_id"], "state"].values == trips["status"]
    ).all()
    assert (out.events["event"] == "trip_start").sum() == len(trips)


def test_a_trip_without_final_status_fails_the_run():
    silent = {"name": "mute", "type": "test_silent"}
    with pytest.raises(SimulationError, match=r"1 trips have no final status.*\[0\]"):
        run([silent, WALK], trips_frame((0, 1, 7 * H)))


def test_allowed_modes_and_car_availability_filter_offers():
    rows = [(0, 9, 7 * H, {"allowed_modes": "walk,bus"}), (0, 9, 7 * H, {"car_available": False})]
    out = run([WALK, CAR], trips_frame(*rows), fallback="unserved", **{"asc": {"car": 5.0}})
    trips = out.trips
    assert (trips["status"] == "unserved").all()
    assert list(trips["fallback_reason"]) == ["too_far_to_walk", "too_far_to_walk"]
    # the car offer was there but not allowed / not available: never chosen
    assert not (out.events["event"] == "mode_choice").any()


def tour(legs, tour_id, **extra):
    return [
        (o, d, t, {"person_id": tour_id, "tour_id": tour_id, "leg_index": i, **extra})
        for i, (o, d, t) in enumerate(legs)
    ]


def test_a_car_driven_out_must_come_back_and_a_car_left_at_home_is_not_there():
    rows = tour([(0, 9, 7 * H), (9, 8, 8 * H), (8, 0, 9 * H)], 0)  # long out: car wins
    rows += tour([(5, 6, 7 * H), (6, 0, 8 * H)], 1)  # short out: walk; back: no car
    trips = trips_frame(*rows)
    trips["trip_id"] = range(len(trips))
    out = run([WALK, CAR], trips).trips.set_index("trip_id")
    # leg 1 (9 -> 8, 500 m) would be cheaper on foot, but the car has to go home
    assert list(out.loc[[0, 1, 2], "mode"]) == ["car", "car", "car"]
    assert (out.loc[[0, 1, 2], "status"] == "completed").all()
    assert list(out.loc[[3, 4], "mode"]) == ["walk", "walk_fallback"]
    assert out.loc[4, "fallback_reason"] == "too_far_to_walk"


def test_a_return_leg_starts_when_the_way_out_has_arrived():
    rows = tour([(0, 4, 7 * H), (4, 0, 7 * H + 60)], 0, allowed_modes="walk")
    trips = trips_frame(*rows)
    trips["trip_id"] = [0, 1]
    out = run([WALK], trips)
    starts = by_trip(out, "trip_start")["time_s"]
    assert starts[1] == pytest.approx(7 * H + 2000 / WALK_MPS)
    assert out.trips["arrival_s"].iloc[1] == pytest.approx(7 * H + 2 * 2000 / WALK_MPS)


def test_trips_under_way_at_the_period_end_finish_in_the_grace_period():
    out = run([WALK], trips_frame((0, 3, 10 * H - 60)), end="10:00")
    trip = out.trips.iloc[0]
    assert trip["status"] == "completed"
    assert 10 * H < trip["arrival_s"] < 10 * H + GRACE_S


def test_progress_is_reported_every_15_simulated_minutes():
    seen = []
    run([WALK], trips_frame((0, 1, 7 * H)), progress=seen.append)
    assert seen[0] == 6 * H and seen[-1] == 10 * H and len(seen) == 4 * 4 + 1
    assert all(b - a == pytest.approx(900) for a, b in itertools.pairwise(seen))
    late = []
    run([WALK], trips_frame((0, 3, 10 * H - 60)), progress=late.append)
    assert late[-2] < 10 * H < late[-1]  # the last call: where the grace period ended

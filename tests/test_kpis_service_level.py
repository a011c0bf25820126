"""Service-level truth: a forced walk beyond the acceptable walk is unserved in the KPIs, by group
and by origin -> destination zone, and door-to-door time is given for served and for all trips.

The run is the commuter's story on the line network of tests/test_engine_commuter.py (nodes 500 m
apart, walk 1.2 m/s): walk (max_walk_m 2,000 m) is the only mode, nobody has a car.
"""

from __future__ import annotations

import pytest

from mobisim.metrics.kpis import compute_kpis, kpis_long
from test_engine_commuter import CAR, WALK, WALK_MPS, H, run, trips_frame

approx = pytest.approx


@pytest.fixture(scope="module")
def kpis():
    no_car = {"car_available": False}
    trips = trips_frame(
        # the town: 1,500 m, walked by the walk service (served)
        (0, 3, 7 * H, {**no_car, "group": "town", "origin_place": "A", "dest_place": "B"}),
        # the industrial park: 3,000 m, beyond max_walk_m and nothing else -> a forced walk
        (0, 6, 7 * H, {**no_car, "group": "industry", "origin_place": "A", "dest_place": "Park"}),
        (1, 6, 8 * H, {**no_car, "group": "industry", "origin_place": "A", "dest_place": "Park"}),
    )
    out = run([WALK, CAR], trips)
    tables = {"events": out.events, "trips": out.trips}
    return compute_kpis(tables, {"groups": ["town", "industry", "seniors"]})


def test_a_destination_beyond_max_walk_with_no_other_mode_is_unserved_by_group(kpis):
    industry, town = kpis["by_group"]["industry"], kpis["by_group"]["town"]
    assert (industry["trips"], industry["served"], industry["unserved"]) == (2, 0, 2)
    assert industry["served_share"] == 0.0 and industry["unserved_share"] == 1.0
    assert industry["forced_walks"] == 2 and industry["forced_walk_share"] == 1.0
    assert industry["unserved_by_reason"] == {"too_far_to_walk": 2}
    # they walked 3,000 and 2,500 m all the same
    assert industry["forced_walk_distance_mean_m"] == approx(2750.0)
    assert industry["forced_walk_door_to_door_mean_s"] == approx(2750.0 / WALK_MPS)
    assert (town["served"], town["unserved"], town["forced_walks"]) == (1, 0, 0)
    assert kpis["by_group"]["seniors"]["forced_walks"] == 0  # declared, no trips


def test_door_to_door_for_served_trips_and_for_all_trips(kpis):
    s = kpis["system"]
    assert (s["trips"], s["served"], s["unserved"], s["forced_walks"]) == (3, 1, 2, 2)
    assert s["served_share"] == approx(1 / 3)
    assert s["door_to_door_served_mean_s"] == approx(1500 / WALK_MPS)
    assert s["door_to_door_all_mean_s"] == approx((1500 + 3000 + 2500) / 3 / WALK_MPS)
    assert s["door_to_door_all_p95_s"] == approx((2500 + 0.9 * 500) / WALK_MPS)
    assert s["mode_share"]["unserved"] == approx(2 / 3)  # forced walks are no walk share
    assert kpis["by_hour"]["07"]["forced_walks"] == 1


def test_who_is_left_without_service_by_od_zone(kpis):
    assert list(kpis["by_od"]) == ["A -> Park"]  # the only pair with unserved trips
    park = kpis["by_od"]["A -> Park"]
    assert (park["trips"], park["unserved"], park["forced_walks"]) == (2, 2, 2)
    assert park["unserved_by_reason"] == {"too_far_to_walk": 2}
    assert "A -> B" not in kpis["by_od"]  # everyone there was served
    table = kpis_long(kpis)
    od = table[table["scope"] == "by_od"].set_index("kpi")
    assert od.loc["forced_walk_door_to_door_mean_s", "unit"] == "s"

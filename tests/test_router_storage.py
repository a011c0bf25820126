"""Storage per profile: the rule (budget, many-pair profiles, overrides) and a mixed-storage
router giving the same times and distances as an all-pairs one on a real network."""

from __future__ import annotations

import numpy as np
import pytest

from mobisim.errors import NetworkError
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.scenario.network_config import NetworkConfig, RouterSettings

#: no room for any matrix: only many-pair profiles' tables (car, drt) stay all-pairs
NO_BUDGET = RouterSettings(all_pairs_budget_mb=0)


@pytest.fixture(scope="module")
def songpa(shared_networks):
    return build_network(
        config_for(str(shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2")), "."
    )


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(synthetic={"target_nodes": 400, "seed": 3}), ".")


def _with_services(router: Router) -> Router:
    """The demo's extra profiles: a DRT fleet (many pairs) and a 25 km/h shuttle loop."""
    router.add_profile("drt", "drive", many_pairs=True)
    router.add_profile("shuttle", "drive", speed_cap_kmh=25.0)
    return router


def test_the_budget_keeps_only_many_pair_tables_all_pairs(town):
    full = _with_services(Router(town))
    assert full.mode == "all_pairs"
    assert full.all_pairs_bytes() == 6 * 4 * town.n_nodes**2  # walk, bike, car ×2, shuttle ×2
    lean = _with_services(Router(town, NO_BUDGET))
    assert lean.mode == "mixed"
    storage = {name: lean.storage(name) for name in lean.profiles}
    assert storage["car"] == storage["drt"] == "all_pairs"
    assert storage["walk"] == storage["bike"] == storage["shuttle"] == "lru"
    assert lean.table("shuttle").weight_matrix is None
    assert lean.table("car").weight_matrix is not None
    report = {row["weight"] + "/" + row["view"]: row for row in lean.storage_report()}
    assert report["time/drive"]["profiles"] == ["car", "drt"]
    assert report["time-cap25/drive"]["storage"] == "lru"
    assert report["time/drive"]["memory_MB"] == round(2 * 4 * town.n_nodes**2 / 1e6, 1)


def test_overrides_win_and_must_agree_on_a_shared_table(town):
    router = _with_services(
        Router(town, RouterSettings(storage={"shuttle": "lru", "walk": "all_pairs"}))
    )
    assert router.storage("shuttle") == "lru" and router.storage("walk") == "all_pairs"
    assert router.storage("car") == "all_pairs"
    # above all_pairs_max_nodes everything is LRU, unless overridden
    large = Router(town, RouterSettings(all_pairs_max_nodes=10, storage={"car": "all_pairs"}))
    assert large.storage("car") == "all_pairs" and large.storage("walk") == "lru"
    clash = _with_services(Router(town, RouterSettings(storage={"car": "lru", "drt": "all_pairs"})))
    with pytest.raises(NetworkError, match="share one table"):
        clash.storage("car")


def test_a_profile_registered_later_can_move_built_tables_to_lru(town):
    # room for the built-ins' four matrices, not for the shuttle's two more
    budget_mb = 4.5 * 4 * town.n_nodes**2 / 1e6
    router = Router(town, RouterSettings(all_pairs_budget_mb=budget_mb))
    before = router.times_from_s("walk", 5)
    assert router.table("walk").all_pairs
    router.add_profile("shuttle", "drive", speed_cap_kmh=25.0)
    assert router.storage("walk") == "lru" and not router.table("walk").all_pairs
    assert router.storage("car") == "all_pairs"
    np.testing.assert_array_equal(router.times_from_s("walk", 5), before)


def test_mixed_storage_gives_the_all_pairs_times_and_distances(songpa):
    """Every profile of a mixed router (car and drt all-pairs; walk, bike and the shuttle LRU)
    against an all-pairs router on the Songpa extract: forward queries (pairs, rows, legs
    grouped by origin) are the same floats; rows to a node come from Dijkstra on the reversed
    graph on LRU tables, equal to float32 rounding (as tests/test_router.py holds LRU mode)."""
    full, mixed = _with_services(Router(songpa)), _with_services(Router(songpa, NO_BUDGET))
    assert mixed.storage("walk") == "lru" and mixed.storage("car") == "all_pairs"
    rng = np.random.default_rng(7)
    origins = rng.integers(0, songpa.n_nodes, 300)
    dests = rng.integers(0, songpa.n_nodes, 300)
    for profile in ("walk", "bike", "escooter", "car", "drt", "shuttle"):
        for origin, dest in zip(origins[:60], dests[:60], strict=True):
            assert mixed.try_leg(profile, origin, dest) == full.try_leg(profile, origin, dest)
        for origin in origins[:5]:
            np.testing.assert_array_equal(
                mixed.times_from_s(profile, origin), full.times_from_s(profile, origin)
            )
        one_origin = np.full(300, origins[0])  # grouped by the origin: its forward row
        for got, want in zip(
            mixed.legs(profile, one_origin, dests),
            full.legs(profile, one_origin, dests),
            strict=True,
        ):
            np.testing.assert_array_equal(got, want)
        for got, want in zip(
            mixed.legs(profile, origins, dests), full.legs(profile, origins, dests), strict=True
        ):
            np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(
            mixed.times_to_s(profile, dests[0]),
            full.times_to_s(profile, dests[0]),
            rtol=1e-6,
            equal_nan=True,
        )
        assert mixed.path(profile, origins[1], dests[1]) == full.path(profile, origins[1], dests[1])

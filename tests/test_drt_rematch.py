"""Re-matching queued DRT requests skips the searches that cannot succeed, and nothing else.

With ``queue_requests`` every waiting request is dispatched again each ``rematch_interval_s``
and whenever a vehicle frees up. A request already tried on the same fleet state (plans,
anchors, free times, charge, drive-time period: ``FleetView.state``) is not searched again: with
the exact insertion search a later clock cannot make it feasible. These tests run whole days
with the shortcut on and off and compare every event and trip row; the shortcut must leave out
many searches, and a shortcut that skips too much (a state that never changes) is caught.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import mobisim
from mobisim.services import drt
from mobisim.services.drt import DrtConfig, DrtService
from mobisim.services.drt_dispatch import FleetView, InsertionDispatch


def scarce_day(tmp_path, energy: bool) -> mobisim.Scenario:
    """Two taxis (one seat) for the DRT demand of 500 residents over three hours, re-match
    every 30 s; with ``energy``, small batteries that send vehicles to a charger during the day
    and HIVE's idle behaviour (to the nearest base after 10 min idle)."""
    drt_service = {
        "name": "drt",
        "type": "drt",
        "vehicles": 2,
        "capacity_pax": 1,
        "max_wait_s": 600,
        "queue_requests": True,
        "rematch_interval_s": 30,
    }
    data = {
        "name": "drt-rematch",
        "seed": 3,
        "period": {"start": "07:00", "end": "10:00"},
        "network": {"source": "synthetic", "synthetic": {"target_nodes": 400, "seed": 2}},
        "demand": {"synthetic": {"residents": 500, "households": 160}},
        "services": [{"name": "walk", "type": "walk"}, drt_service],
        "mode_choice": {"policy": "cheapest"},
        "outputs": {"dir": str(tmp_path / "results"), "charts": False},
    }
    if energy:
        drt_service.update(
            {
                "vehicle_type": "av_shuttle",
                "idle_policy": "nearest_base_after_idle",
                "idle_after_min": 10,
                "depots": [{"name": "Depot", "place": "bus_terminal"}],
            }
        )
        data["energy"] = {
            "enabled": True,
            "vehicle_types": {"av_shuttle": {"battery_kwh": 15.0}},
            "charging_sites": [
                {"name": "depot", "place": "bus_terminal", "services": ["drt"], "plugs": 1}
            ],
        }
    path = tmp_path / f"scenario-{energy}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return mobisim.load_scenario(path)


def run_counting(scenario, monkeypatch, skips: bool):
    """The day's result, the number of dispatcher searches the service ran and the number of
    queued requests matched by a re-match."""
    counts = {"searches": 0, "rematched": 0}
    real_dispatch, real_rematch = DrtService._dispatch_one, DrtService._rematch

    def counting(self, request, now_s):
        counts["searches"] += 1
        return real_dispatch(self, request, now_s)

    def rematch(self):
        before = len(self.waiting)
        real_rematch(self)
        counts["rematched"] += before - len(self.waiting)

    with monkeypatch.context() as patch:
        patch.setattr(drt, "REMATCH_SKIPS_UNCHANGED", skips)
        patch.setattr(DrtService, "_dispatch_one", counting)
        patch.setattr(DrtService, "_rematch", rematch)
        result = mobisim.run(scenario)
    return result, counts


def assert_same_day(a, b) -> None:
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.trips, b.trips)


@pytest.mark.parametrize("energy", [False, True], ids=["taxis", "electric-with-bases"])
def test_skipping_unchanged_rematches_keeps_every_decision(tmp_path, monkeypatch, energy):
    """Same events and trips; far fewer searches. (Taxis without energy are never matched by a
    re-match here: plans are exact forecasts, so a request no vehicle could take stays so until
    a vehicle is back from charging or moved to a base, which the electric day has.)"""
    scenario = scarce_day(tmp_path, energy)
    full, counts_full = run_counting(scenario, monkeypatch, skips=False)
    short, counts_short = run_counting(scenario, monkeypatch, skips=True)
    assert_same_day(full, short)
    events = full.events[full.events["service"].astype(str) == "drt"]
    assert (events["event"] == "give_up").sum() > 0  # scarce: requests wait and some give up
    assert (events["event"] == "pickup").sum() > (5 if energy else 10)
    if energy:
        assert (events["event"] == "charge_end").sum() > 0
        assert (events["state"].astype(str) == "repositioning").sum() > 0
        assert counts_full["rematched"] > 0 and counts_short["rematched"] > 0
    assert counts_short["searches"] < 0.7 * counts_full["searches"], (counts_short, counts_full)


def test_a_shortcut_that_skips_too_much_is_caught(tmp_path, monkeypatch):
    """A fleet state that never changes skips searches that would have found a vehicle (one
    back from charging or at a base): the day differs, so the comparison above can fail."""
    scenario = scarce_day(tmp_path, energy=True)
    full, _ = run_counting(scenario, monkeypatch, skips=False)
    monkeypatch.setattr(FleetView, "state", lambda self: ("never changes",))
    broken, _ = run_counting(scenario, monkeypatch, skips=True)
    with pytest.raises(AssertionError):
        assert_same_day(full, broken)


def test_only_the_exact_insertion_search_allows_the_shortcut():
    class OwnSearch(InsertionDispatch):
        def dispatch(self, requests, fleet, now_s):
            return super().dispatch(requests, fleet, now_s)

    exact = DrtConfig(name="drt", queue_requests=True)
    approx = DrtConfig(name="drt", queue_requests=True, approx_candidates_k=4)
    assert InsertionDispatch(exact).rejection_holds_while_fleet_unchanged()
    assert not InsertionDispatch(approx).rejection_holds_while_fleet_unchanged()
    assert not OwnSearch(exact).rejection_holds_while_fleet_unchanged()

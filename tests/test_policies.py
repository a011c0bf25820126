"""Policies are registered by name, selectable in the scenario file, and pluggable.

Every registered name resolves; an unknown name is a scenario error naming its key; a policy
added to the registry (as a contributor would) is picked up by name and changes what happens.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from mobisim.scenario import registry
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.services.micromobility import MicromobilityService
from mobisim.services.relocation import NoTours
from test_micromobility import make, random_days, run
from test_micromobility import town as town  # the fixture

STATIONS = [
    {"name": "A", "place": "town_centre", "spaces": 12, "vehicles": 10},
    {"name": "B", "place": "residential_s", "spaces": 12, "vehicles": 2},
]


def test_every_registered_policy_resolves():
    for kind, names in registry.POLICIES.items():
        for name in names:
            assert callable(registry.policy(kind, name)), (kind, name)


@pytest.mark.parametrize(
    ("model", "keys", "field"),
    [
        (EnergyConfig, {"charging_policy": "whenever"}, "charging_policy"),
        (MicromobilityService.Config, {"crews": {"policy": "hourly"}}, "crews.policy"),
        (MicromobilityService.Config, {"crews": {"low_battery": "bin"}}, "crews.low_battery"),
    ],
)
def test_an_unknown_policy_name_lists_the_known_ones(model, keys, field):
    base = {"name": "bikes", "devices": [{"type": "bike", "count": 4}]}
    data = keys if model is EnergyConfig else {**base, **keys}
    with pytest.raises(ValidationError) as info:
        model(**data)
    error = info.value.errors()[0]
    assert ".".join(map(str, error["loc"])) == field
    assert "expected one of" in error["msg"]


class EveryHalfHour(NoTours):
    """A contributor's relocation policy: a tour on every full and half hour of the clock."""

    runs = True

    def until_next_tour(self):
        env = self.operator.env
        yield env.timeout(1800.0 - math.fmod(env.now, 1800.0))


def _crew_legs(service) -> list[float]:
    events = service.ctx.log.to_frame()
    legs = events[(events["event"] == "vehicle_leg") & (events["state"] == "crew")]
    return legs["time_s"].tolist()


def test_a_registered_relocation_policy_is_chosen_by_name_and_runs_the_crews(town, monkeypatch):
    monkeypatch.setitem(registry.POLICIES["relocation"], "half_hourly", f"{__name__}:EveryHalfHour")
    keys = {
        "name": "bikes",
        "parking": "docked",
        "stations": STATIONS,
        "devices": [{"type": "escooter", "count": 12}],
        # low packs from the start: every tour has batteries to swap
        "initial_soc_min_share": 0.1,
        "initial_soc_max_share": 0.2,
    }
    for policy, expect_tours in (("none", False), ("half_hourly", True)):
        service = make(town, MicromobilityService, {**keys, "crews": {"policy": policy}}, days=0.25)
        run(service, random_days(town[0], 20, seed=1))
        assert (service.operator.tours > 0) == expect_tours
        starts = _crew_legs(service)
        assert bool(starts) == expect_tours
        if expect_tours:  # the vans leave the depot on the full and half hours
            assert min(starts) % 1800.0 == 0.0
            swaps = service.ctx.log.to_frame()["event"].eq("battery_swap").sum()
            assert swaps > 0

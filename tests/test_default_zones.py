"""Dockless fleets without ``zones`` get default deployment zones from the places, on the
devices' own network, and say so (issue 26, item 4)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.network.views import main_component
from mobisim.services.micromobility import MicromobilityService
from mobisim.services.sharing_fleet import DEFAULT_HOME_SHARE, default_zones
from test_micromobility import make


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=600, seed=4), ".")
    return network, Router(network)


def test_default_zones_leave_out_places_the_bikes_cannot_leave_and_split_by_kind(town):
    network, _ = town
    usable = main_component(network.view("bike"))
    weights, left_out = default_zones(network, usable)
    # the rail station is reached by a trunk road only: no bikes there
    assert left_out == ["rail_station"] and not usable[network.place_node("rail_station")]
    assert "rail_station" not in weights and set(weights) | set(left_out) == set(
        network.places["name"]
    )
    assert sum(weights.values()) == pytest.approx(1.0)
    kinds = dict(zip(network.places["name"], network.places["kind"], strict=True))
    homes = sum(w for name, w in weights.items() if kinds[name] == "residential")
    assert homes == pytest.approx(DEFAULT_HOME_SHARE)
    schools = [w for name, w in weights.items() if kinds[name] == "school"]
    centre = weights["town_centre"]  # one place of its kind: the kind's whole share
    assert sum(schools) == pytest.approx(centre)  # four schools share one kind's share


def test_a_dockless_fleet_without_zones_deploys_there_and_says_so(town, caplog):
    network, _ = town
    with caplog.at_level(logging.WARNING, logger="mobisim.services"):
        service = make(
            town,
            MicromobilityService,
            {"name": "scooters", "devices": [{"type": "escooter", "count": 80}]},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "mobisim.services"]
    assert len(lines) == 1
    assert lines[0].startswith("services.scooters.zones not given: dockless devices deployed over")
    assert (
        "left out, outside the bike view's main strongly connected component: rail_station"
        in lines[0]
    )
    usable = main_component(network.view("bike"))
    names = [lot.name for lot in service.fleet.lots]
    assert "rail_station" not in names and "town_centre" in names
    nodes = np.array([v.node for v in service.fleet.vehicles])
    assert len(nodes) == 80 and usable[nodes].all()  # every device where a bike can ride off
    assert (service.zone_of[~usable] == -1).all()  # and none of the service area outside it
    on_homes = sum(lot.target for lot in service.fleet.lots if lot.name.startswith("residential"))
    assert on_homes == pytest.approx(80 * DEFAULT_HOME_SHARE, abs=len(names))


def test_given_zones_are_kept_as_they_are_and_nothing_is_said(town, caplog):
    with caplog.at_level(logging.WARNING, logger="mobisim.services"):
        service = make(
            town,
            MicromobilityService,
            {"name": "m", "devices": [{"type": "bike", "count": 4}], "zones": {"supermarket": 1}},
        )
    assert [lot.name for lot in service.fleet.lots] == ["supermarket"]
    assert not [r for r in caplog.records if r.name == "mobisim.services"]


def test_without_places_the_fleet_covers_the_bike_network_from_its_centre(shared_networks, caplog):
    network = build_network(
        config_for(str(shared_networks / "seoul-songpa-jamsil-asan-roads.osm.bz2")), "."
    )
    assert len(network.places) == 0
    usable = main_component(network.view("bike"))
    assert 0 < usable.sum() < network.n_nodes  # trunk-only nodes are not on the bike view
    with caplog.at_level(logging.WARNING, logger="mobisim.services"):
        service = make(
            (network, Router(network)),
            MicromobilityService,
            {"name": "bikes", "devices": [{"type": "bike", "count": 20}]},
        )
    (lot,) = service.fleet.lots
    assert lot.name == "service_area" and usable[lot.node]
    assert all(usable[v.node] for v in service.fleet.vehicles)
    assert "over the whole bike network" in caplog.records[-1].getMessage()


def test_a_place_inside_earlier_zones_is_left_out_of_default_zones_but_refused_when_given():
    """Default zones may overlap (small networks, large radii): a place wholly inside the zones
    before it is left out; a scenario that lists such a zone itself gets the error."""
    from mobisim.errors import ScenarioError
    from mobisim.services.sharing_fleet import zone_partition

    network = build_network(config_for("synthetic", target_nodes=300, seed=2), ".")
    names = list(network.places["name"])
    big, small = names[0], names[1]
    network.places.loc[network.places["name"] == big, "radius_m"] = 1e6  # covers every node
    weights = {big: 0.5, small: 0.5}
    kept, _, kept_weights, zone_of = zone_partition(network, weights, "k", skip_covered=True)
    assert kept == [big] and list(kept_weights) == [0.5] and (zone_of == 0).all()
    with pytest.raises(ScenarioError, match=f"k.{small}: the zone lies inside zones listed"):
        zone_partition(network, weights, "k")

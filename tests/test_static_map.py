"""The static map a planner reads (results/gis.py plot_network_map): scale bar, north arrow,
devices as a density layer, outlying places as edge arrows, link volumes in the mode colours."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from mobisim.results.gis import plot_network_map, round_km
from mobisim.results.map_data import metres_per_unit, node_xy

EVENT_COLUMNS = {
    "time_s": 0.0,
    "event": "",
    "service": "",
    "trip_id": -1,
    "vehicle_id": -1,
    "node": -1,
    "to_node": -1,
    "distance_m": np.nan,
    "duration_s": np.nan,
    "pax": -1,
    "state": "",
    "value": np.nan,
    "detail": "",
}
SIDE = 12  # nodes per side of the grid town


def grid_nodes(lat0=37.50, lon0=126.95, step_deg=0.002, projected=False) -> pd.DataFrame:
    """A SIDE × SIDE grid of nodes, node = row * SIDE + col; degrees, or UTM-like metres."""
    rows, cols = np.divmod(np.arange(SIDE * SIDE), SIDE)
    if projected:
        return pd.DataFrame(
            {
                "node": rows * SIDE + cols,
                "lat": 4_150_000.0 + 200.0 * rows,
                "lon": 320_000.0 + 200.0 * cols,
            }
        )
    return pd.DataFrame(
        {"node": rows * SIDE + cols, "lat": lat0 + step_deg * rows, "lon": lon0 + step_deg * cols}
    )


def grid_links() -> pd.DataFrame:
    pairs = []
    for r in range(SIDE):
        for c in range(SIDE):
            n = r * SIDE + c
            if c + 1 < SIDE:
                pairs += [(n, n + 1), (n + 1, n)]
            if r + 1 < SIDE:
                pairs += [(n, n + SIDE), (n + SIDE, n)]
    frame = pd.DataFrame(pairs, columns=["from_node", "to_node"])
    return frame.assign(length_m=200.0)


def events(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**EVENT_COLUMNS, **row} for row in rows], columns=list(EVENT_COLUMNS))


def no_trips() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trip_id": [],
            "status": [],
            "mode": [],
            "service": [],
            "origin_node": [],
            "dest_node": [],
            "origin_place": [],
            "dest_place": [],
        }
    )


def draw(tables):
    fig, ax = plt.subplots(figsize=(6, 6))
    plot_network_map(ax, tables, title="test")
    return fig, ax


def the(ax, gid):
    found = [a for a in [*ax.artists, *ax.texts, *ax.collections] if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_round_lengths():
    assert [round_km(v) for v in (0.37, 1.0, 1.9, 4.99, 7.0, 23.0)] == [
        0.2,
        1.0,
        1.0,
        2.0,
        5.0,
        20.0,
    ]


@pytest.mark.parametrize("projected", [False, True])
def test_scale_bar_length_is_the_stated_km_and_there_is_a_north_arrow(projected):
    nodes = grid_nodes(projected=projected)
    tables = {"nodes": nodes, "links": grid_links(), "events": events(), "trips": no_trips()}
    fig, ax = draw(tables)
    bar = the(ax, "scale-bar")
    the(ax, "north-arrow")
    assert the(ax, "north-arrow").get_text() == "N"
    width_units = bar.size_bar.get_children()[0].get_width()
    stated_km = bar.length_km
    label = bar.txt_label.get_children()[0].get_text()
    assert label in (f"{stated_km:g} km", f"{stated_km * 1000:g} m")
    # measure the bar on the ground, independently of the map's own unit
    x0 = ax.get_xlim()[0]
    y0 = ax.get_ylim()[0]
    if projected:
        ground_m = width_units  # eastings are metres
    else:
        cos_lat = math.cos(math.radians(nodes["lat"].mean()))
        ground_m = haversine_m(y0, x0 / cos_lat, y0, (x0 + width_units) / cos_lat)
    assert ground_m == pytest.approx(stated_km * 1000.0, rel=0.01)
    # the largest round length within a fifth of the view (1-2-5 steps: at least 1/12.5 of it)
    view_m = (ax.get_xlim()[1] - x0) * metres_per_unit(nodes)
    assert view_m / 12.5 <= stated_km * 1000 <= view_m / 5
    plt.close(fig)


def test_projected_nodes_are_drawn_in_metres_as_they_are():
    x, y = node_xy(grid_nodes(projected=True))
    assert x[1] - x[0] == pytest.approx(200.0) and y[SIDE] - y[0] == pytest.approx(200.0)
    assert metres_per_unit(grid_nodes(projected=True)) == 1.0
    assert metres_per_unit(grid_nodes()) == pytest.approx(111_195, rel=1e-4)


def trips_of(*rows: dict) -> pd.DataFrame:
    base = {
        "status": "served",
        "origin_place": "",
        "dest_place": "",
        "origin_node": 0,
        "dest_node": 1,
    }
    frame = pd.DataFrame([{**base, **row} for row in rows])
    return frame.assign(trip_id=np.arange(len(frame)))


def test_device_pickups_are_a_density_layer_not_legs():
    n = SIDE * 5 + 5  # an inner node
    rows = [
        {"event": "pickup", "service": "scooters", "node": n, "trip_id": i, "time_s": 100.0 * i}
        for i in range(7)
    ] + [
        {"event": "pickup", "service": "scooters", "node": n + 2, "trip_id": 7},
        {
            "event": "vehicle_leg",
            "service": "scooters",
            "vehicle_id": 3,
            "node": n,
            "to_node": n + 2,
        },
        {"event": "vehicle_leg", "service": "drt", "vehicle_id": 1, "node": 0, "to_node": 2},
    ]
    trips = trips_of({"service": "scooters", "mode": "escooter"}, {"service": "drt", "mode": "drt"})
    tables = {"nodes": grid_nodes(), "links": grid_links(), "events": events(*rows), "trips": trips}
    fig, ax = draw(tables)
    density = the(ax, "device-density")
    counts = np.asarray(density.get_array())
    assert counts.sum() == 8 and counts.max() == 7  # every pick-up in a hexagon, 7 in one
    gids = {c.get_gid() for c in ax.collections}
    assert "link-volumes:drt" in gids
    assert "link-volumes:escooter" not in gids  # device rides are not drawn as legs
    plt.close(fig)


@pytest.mark.parametrize("mode", ["drt", "shuttle", "carsharing"])
def test_a_leg_of_a_mode_colours_its_links_with_that_modes_colour(mode):
    from mobisim.results.style import mode_colour

    # service "fleet" carries trips of `mode`; its one leg 0 -> 2 runs over links 0-1 and 1-2
    rows = [{"event": "vehicle_leg", "service": "fleet", "vehicle_id": 1, "node": 0, "to_node": 2}]
    trips = trips_of({"service": "fleet", "mode": mode})
    tables = {"nodes": grid_nodes(), "links": grid_links(), "events": events(*rows), "trips": trips}
    fig, ax = draw(tables)
    lines = the(ax, f"link-volumes:{mode}")
    assert {to_hex(c) for c in lines.get_colors()} == {mode_colour(mode)}
    x, y = node_xy(grid_nodes())
    drawn = {tuple(np.round(seg, 9).ravel()) for seg in lines.get_segments()}
    expected = {
        tuple(np.round([[x[u], y[u]], [x[v], y[v]]], 9).ravel()) for u, v in ((0, 1), (1, 2))
    }
    assert drawn == expected
    plt.close(fig)


def test_a_place_far_outside_the_view_is_an_edge_arrow_with_name_and_distance():
    nodes = grid_nodes()
    far = SIDE * SIDE  # 20 km east of the town's middle row
    mid_lat = float(nodes["lat"].iloc[SIDE * (SIDE // 2)])
    far_lon = float(nodes["lon"].mean()) + 20_000 / (
        6_371_008.8 * math.cos(math.radians(nodes["lat"].mean())) * math.pi / 180
    )
    nodes = pd.concat(
        [nodes, pd.DataFrame({"node": [far], "lat": [mid_lat], "lon": [far_lon]})],
        ignore_index=True,
    )
    links = pd.concat(
        [
            grid_links(),
            pd.DataFrame({"from_node": [SIDE * 6 - 1], "to_node": [far], "length_m": [2e4]}),
        ]
    )
    town = [
        {"origin_place": "town", "dest_place": "town", "origin_node": n, "dest_node": n + 1}
        for n in range(0, SIDE * SIDE - 1, 3)
    ]
    commute = [
        {"origin_place": "town", "dest_place": "airport_east", "origin_node": 5, "dest_node": far}
    ] * 4
    tables = {
        "nodes": nodes,
        "links": links,
        "events": events(),
        "trips": trips_of(*town, *commute),
    }
    fig, ax = draw(tables)
    note = the(ax, "outlying:airport_east")
    label, distance = note.get_text().split(", ")
    assert label == "Airport east"
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    x, y = node_xy(nodes)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    cos_lat = math.cos(math.radians(nodes["lat"].mean()))
    expected_km = haversine_m(centre_y, centre_x / cos_lat, y[far], far_lon) / 1000
    assert distance.endswith(" km")
    assert float(distance[:-3]) == pytest.approx(expected_km, abs=0.5)
    assert 18 < expected_km < 21
    # the arrow sits inside the view, near its east edge, and points east toward the place
    (head_x, head_y), (tail_x, tail_y) = note.xy, note.xyann
    assert x0 < tail_x < head_x < x1 and y0 < head_y < y1
    assert head_x > x1 - 0.1 * (x1 - x0)
    assert abs(head_y - tail_y) < 0.05 * (y1 - y0)
    assert x1 < x[far]  # the place itself is outside: the view is still the town
    # places in the view get a name where they are, and no arrow
    assert the(ax, "place:town").get_text() == "Town"
    assert not [t for t in ax.texts if t.get_gid() == "place:airport_east"]
    assert [t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith("outlying:")] == [
        "outlying:airport_east"
    ]
    plt.close(fig)
    # the interactive map's first view has the same arrow
    from mobisim.results.maps import interactive_map_figure

    figure = interactive_map_figure(tables)
    notes = [a for a in figure.layout.annotations if (a.name or "").startswith("outlying:")]
    assert [a.name for a in notes] == ["outlying:airport_east"]
    assert notes[0].text == note.get_text()
    assert (notes[0].x, notes[0].y, notes[0].ax, notes[0].ay) == pytest.approx(
        (head_x, head_y, tail_x, tail_y)
    )


def test_the_view_holds_the_towns_places_but_not_one_far_out():
    from mobisim.results.map_data import fitted_view

    rng = np.random.default_rng(1)
    # a dense 1 × 1 km district, sparse roads out to a place 2 km north-east, one place 20 km east
    x = np.r_[rng.uniform(0, 1, 400), np.linspace(1, 2, 5), np.linspace(1, 20, 10)]
    y = np.r_[rng.uniform(0, 1, 400), np.linspace(1, 2, 5), np.full(10, 0.5)]
    places = {"a": (0.2, 0.2), "b": (0.8, 0.5), "c": (0.5, 0.9), "hospital": (2.0, 2.0)}
    view_x, view_y = fitted_view(x, y, {**places, "port": (20.0, 0.5)})
    assert view_x[0] < 0.05 and 2.0 < view_x[1] < 2.5  # the hospital is in, the port is not
    assert view_y[0] < 0.05 and 2.0 < view_y[1] < 2.5
    # without the hospital among the places, its sparse road is not the town either
    view_x, _ = fitted_view(x, y, places)
    assert view_x[1] < 1.3

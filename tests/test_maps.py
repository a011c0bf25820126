"""Link volumes along road paths (results/map_data.py) and the interactive map (results/maps.py)."""

import pandas as pd

from mobisim.results.map_data import edge_volumes, leg_paths

LINKS = pd.DataFrame(
    {"from_node": [0, 1, 0, 2], "to_node": [1, 2, 2, 3], "length_m": [100.0, 100.0, 500.0, 50.0]}
)


def test_a_leg_a_b_c_adds_one_to_ab_and_bc():
    volumes = edge_volumes([[0, 1, 2], [1, 2]])
    assert volumes.to_dict("records") == [
        {"from_node": 0, "to_node": 1, "vehicles": 1},
        {"from_node": 1, "to_node": 2, "vehicles": 2},
    ]


def test_legs_are_rebuilt_along_the_shortest_road_path():
    legs = pd.DataFrame({"from_node": [0, 0, 3], "to_node": [2, 3, 0]})
    # 0->2 direct is 500 m, via 1 is 200 m; 3->0 has no road: straight segment
    assert leg_paths(legs, LINKS) == [[0, 1, 2], [0, 1, 2, 3], [3, 0]]
    assert leg_paths(legs, None) == [[0, 2], [0, 3], [3, 0]]


def test_the_view_fits_the_town_not_an_outlying_place():
    import numpy as np

    from mobisim.results.map_data import fitted_range

    town = np.linspace(0.0, 1.0, 100)
    lo, hi = fitted_range(np.r_[town, 50.0])  # one outlying place 50 town-widths away
    assert lo < 0.1 and 0.9 < hi < 1.3


def _tables_with_one_leg(mode: str) -> dict:
    """Four nodes on a line (lat/lon), service "fleet" of ``mode`` with one leg 0 -> 2 over links."""
    import numpy as np

    nodes = pd.DataFrame(
        {"node": [0, 1, 2, 3], "lat": [37.5] * 4, "lon": [127.0, 127.002, 127.004, 127.006]}
    )
    columns = ["time_s", "event", "service", "trip_id", "vehicle_id", "node", "to_node"]
    columns += ["distance_m", "duration_s", "pax", "state", "value", "detail"]
    rows = [
        [0.0, "vehicle_leg", "fleet", 1, 7, 0, 2, 200.0, 30.0, 1, "occupied", np.nan, ""],
        [0.0, "pickup", "scooters", 2, 9, 3, -1, np.nan, np.nan, -1, "", np.nan, ""],
        [5.0, "vehicle_leg", "scooters", 2, 9, 3, 2, 400.0, 90.0, 1, "occupied", np.nan, ""],
    ]
    trips = pd.DataFrame(
        {
            "trip_id": [1, 2],
            "service": ["fleet", "scooters"],
            "mode": [mode, "escooter"],
            "status": ["served", "served"],
            "origin_node": [0, 3],
            "dest_node": [2, 2],
        }
    )
    return {
        "nodes": nodes,
        "links": LINKS,
        "events": pd.DataFrame(rows, columns=columns),
        "trips": trips,
    }


def test_interactive_link_volumes_take_the_mode_colour_of_the_leg():
    from mobisim.results.map_data import node_xy
    from mobisim.results.maps import interactive_map_figure
    from mobisim.results.style import mode_colour

    for mode in ("drt", "shuttle", "carsharing"):
        tables = _tables_with_one_leg(mode)
        fig = interactive_map_figure(tables)
        layers = [t for t in fig.data if (t.meta or {}).get("layer") == "link-volumes"]
        assert [t.meta["mode"] for t in layers] == [mode]
        assert layers[0].line.color == mode_colour(mode)
        x, _ = node_xy(tables["nodes"])
        # the leg 0 -> 2 is laid along links 0-1 and 1-2 (200 m, not the 500 m link 0-2)
        assert list(layers[0].x) == [x[0], x[1], None, x[1], x[2], None]
        # the scooter's pick-up is a density cell, not a line
        density = [t for t in fig.data if (t.meta or {}).get("layer") == "device-density"]
        assert len(density) == 1 and list(density[0].x) == [x[3]]
        # the hour slider shows vehicles, not devices
        positions = [t for t in fig.data if (t.name or "").startswith("vehicles ")]
        assert [list(t.text) for t in positions] == [["vehicle 7"]]

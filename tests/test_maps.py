"""Link volumes of the interactive map (results/maps.py), worked by hand."""

import pandas as pd

from mobisim.results.maps import edge_volumes, leg_paths

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

    from mobisim.results.gis import fitted_range

    town = np.linspace(0.0, 1.0, 100)
    lo, hi = fitted_range(np.r_[town, 50.0])  # one outlying place 50 town-widths away
    assert lo < 0.1 and 0.9 < hi < 1.3

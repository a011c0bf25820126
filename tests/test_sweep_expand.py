"""Sweep expansion: grid × zip × listed runs, and the errors a user can make in a sweep file."""

from __future__ import annotations

import pytest

from mobisim.errors import ScenarioError
from mobisim.experiments.planning import expand, load_sweep_file


def test_grid_is_the_cartesian_product_in_a_stable_order():
    sets = expand(grid={"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(sets) == 6
    assert sets[0] == {"a": 1, "b": "x"}
    assert sets[-1] == {"a": 2, "b": "z"}
    assert expand(grid={"a": [1, 2], "b": ["x", "y", "z"]}) == sets


def test_zip_varies_lists_together_and_combines_with_grid_and_runs():
    sets = expand(
        grid={"g": [0, 1]}, zipped={"a": [1, 2, 3], "b": [4, 5, 6]}, runs=[{"r": 1}, {"r": 2}]
    )
    assert len(sets) == 2 * 3 * 2
    assert {"g": 0, "a": 2, "b": 5, "r": 2} in sets
    assert all(s["b"] - s["a"] == 3 for s in sets)


def test_nothing_to_vary_is_one_run_with_the_base_scenario():
    assert expand() == [{}]


def test_unequal_zip_lengths_are_an_error():
    with pytest.raises(ScenarioError, match="equal length"):
        expand(zipped={"a": [1, 2], "b": [1]})


def test_a_key_varied_twice_is_an_error():
    with pytest.raises(ScenarioError, match="varied twice"):
        expand(grid={"a": [1, 2]}, runs=[{"a": 3}])


def test_empty_value_list_is_an_error():
    with pytest.raises(ScenarioError, match="non-empty list"):
        expand(grid={"a": []})


def test_sweep_file_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nbase: demo.yaml\nreplications: 0\ngird: {}\n")
    with pytest.raises(ScenarioError) as info:
        load_sweep_file(path)
    text = str(info.value)
    assert str(path) in text
    assert "replications" in text
    assert "gird" in text
    with pytest.raises(ScenarioError, match="not found"):
        load_sweep_file(tmp_path / "missing.yaml")

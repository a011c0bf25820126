"""Scenario comparison: values in report units, absolute and relative changes against a baseline."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from mobisim.cli.analysis import register_analysis_commands
from mobisim.results.compare import (
    compare_runs,
    comparison_table,
    formatted,
    to_markdown,
    unique_labels,
    unserved_table,
)
from test_kpis_sample import META, sample_tables, write_run_folder


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    base = write_run_folder(out, sample_tables(), META)
    slower = sample_tables()
    slower["trips"].loc[slower["trips"]["trip_id"] == 0, "wait_s"] = 120.0  # mean wait 80 -> 100 s
    other = write_run_folder(out, slower, {**META, "scenario": "slower"})
    return base, other


def row(table: pd.DataFrame, label: str) -> pd.Series:
    return table.set_index("kpi").loc[label]


def test_comparison_table_changes_against_the_baseline():
    runs = [
        ("a", {"system": {"wait_mean_s": 120.0, "served_share": 0.5, "mode_share": {"walk": 1.0}}}),
        ("b", {"system": {"wait_mean_s": 180.0, "served_share": 0.75, "mode_share": {"car": 0.5}}}),
    ]
    table = comparison_table(runs)
    wait = row(table, "Wait, mean")
    assert (wait["unit"], wait["a"], wait["b"]) == ("min", 2.0, 3.0)
    assert wait["b Δ"] == pytest.approx(1.0) and wait["b Δ%"] == pytest.approx(50.0)
    served = row(table, "Served (a mode carried it, or a walk within the acceptable walk)")
    assert served["b Δ"] == pytest.approx(25.0)  # percentage points
    assert row(table, "Mode share: Private car")["a"] == 0.0  # a mode a run lacks is 0 %
    assert row(table, "Mode share: Walk")["b Δ"] == pytest.approx(-100.0)
    assert "Energy" not in set(table["kpi"])  # no run has it: row dropped
    against_b = comparison_table(runs, baseline=1)
    assert row(against_b, "Wait, mean")["a Δ%"] == pytest.approx(-100 / 3)


def test_relative_change_from_zero_or_undefined_is_nan():
    runs = [("a", {"system": {"vehicle_km": 0.0, "wait_mean_s": None}}),
            ("b", {"system": {"vehicle_km": 5.0, "wait_mean_s": 60.0}})]  # fmt: skip
    table = comparison_table(runs)
    assert math.isnan(row(table, "Shared fleet vehicle-km")["b Δ%"])
    assert row(table, "Shared fleet vehicle-km")["b Δ"] == 5.0
    assert math.isnan(row(table, "Wait, mean")["b Δ"])
    assert formatted(table).set_index("kpi").loc["Wait, mean", "a"] == "–"


def test_unique_labels():
    assert unique_labels(["demo", "demo", "x", "demo"]) == ["demo", "demo (2)", "x", "demo (3)"]


def test_compare_run_folders_with_a_baseline(two_runs):
    base, other = two_runs
    table = compare_runs([other], baseline=base)
    assert list(table.columns[2:]) == ["sample", "slower", "slower Δ", "slower Δ%"]
    wait = row(table, "Wait, mean")
    assert wait["slower Δ"] == pytest.approx(20 / 60)
    assert wait["slower Δ%"] == pytest.approx(25.0)
    assert row(table, "Trips")["slower Δ"] == 0


def test_markdown_has_a_header_rule_and_one_line_per_kpi(two_runs):
    table = compare_runs(list(two_runs))
    lines = to_markdown(table).strip().splitlines()
    assert lines[0].startswith("| kpi | unit | sample | slower |")
    assert lines[1].startswith("|---|---|---:")
    assert len(lines) == 2 + len(table)
    assert any(
        line.startswith("| Wait, mean | min | 1.33 | 1.67 | +0.333 | +25.0% |") for line in lines
    )


def test_cli_compare_prints_and_writes_csv_and_markdown(two_runs, tmp_path):
    app = typer.Typer()
    register_analysis_commands(app)
    base, other = two_runs
    csv, md = tmp_path / "c.csv", tmp_path / "c.md"
    result = CliRunner().invoke(
        app,
        ["compare", str(other), "--baseline", str(base), "--csv", str(csv), "--markdown", str(md)],
    )
    assert result.exit_code == 0, result.output
    assert "Wait, mean" in result.stdout
    frame = pd.read_csv(csv)
    assert row(frame, "Wait, mean")["slower Δ%"] == pytest.approx(25.0)
    assert md.read_text().startswith("| kpi | unit |")


def test_unserved_table_lists_who_is_left_without_service_most_unserved_first():
    group = {"trips": 4, "unserved": 3, "unserved_share": 0.75, "forced_walks": 2}
    group |= {"forced_walk_door_to_door_mean_s": 9000.0}
    group |= {"unserved_by_reason": {"too_far_to_walk": 2, "no_offer": 1}}
    served = {"trips": 5, "unserved": 0, "unserved_share": 0.0, "forced_walks": 0}
    one = {"trips": 2, "unserved": 1, "unserved_share": 0.5, "forced_walks": 0}
    one |= {"forced_walk_door_to_door_mean_s": None, "unserved_by_reason": {"no_offer": 1}}
    runs = [("a", {"by_group": {"town": served, "park": group, "school": one}})]
    table = unserved_table(runs)
    assert table["where"].tolist() == ["park", "school"]  # the served group is not listed
    park = table.iloc[0]
    assert (park["trips"], park["unserved"], park["forced walks"]) == (4, 3, 2)
    assert park["unserved %"] == pytest.approx(75.0)
    assert park["forced walk, min"] == pytest.approx(150.0)
    assert park["main reason"] == "too_far_to_walk"
    assert math.isnan(table.iloc[1]["forced walk, min"])
    assert unserved_table([("b", {"by_group": {"town": served}})]).empty

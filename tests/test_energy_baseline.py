"""Energy against the baseline run, worked by hand: energy, CO2 and kWh per passenger-km of each
run against the baseline run's, and "every trip by private car" as a second, labelled reference.

The sample run (tests/test_kpis_sample.py) draws 2.4 + 3.6 + 0.015 = 6.015 kWh and emits
1.2 + 0.9 + 0.0075 = 2.1075 kg CO2; its riding trips cover 5 + 2 + 6 + 1.5 = 14.5 passenger-km
(the 1 km walk is no passenger-km), so 6.015 / 14.5 = 0.41483 kWh/pkm.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mobisim.metrics.counterfactual import car_reference, energy_totals
from mobisim.metrics.kpis import compute_kpis
from mobisim.results.compare import energy_against_baseline
from mobisim.results.plots import energy_chart
from test_kpis_sample import META, sample_tables

approx = pytest.approx


def test_changes_are_against_the_baseline_run():
    runs = [
        ("today", {"system": {"energy_kwh": 100.0, "co2_kg": 50.0, "energy_kwh_per_pkm": 0.5}}),
        ("shared", {"system": {"energy_kwh": 120.0, "co2_kg": 40.0, "energy_kwh_per_pkm": 0.4}}),
        ("no energy", {"system": {"trips": 5}}),  # no energy accounting: left out
    ]
    table = energy_against_baseline(runs).set_index(["run", "kpi"])
    assert set(table.index.get_level_values("run")) == {"today", "shared"}
    shared = table.loc["shared"]
    assert shared.loc["energy_kwh", "change"] == approx(20.0)
    assert shared.loc["energy_kwh", "change_pct"] == approx(20.0)
    assert shared.loc["co2_kg", "change_pct"] == approx(-20.0)
    assert shared.loc["energy_kwh_per_pkm", "change"] == approx(-0.1)
    assert shared.loc["energy_kwh_per_pkm", "change_pct"] == approx(-20.0)
    assert shared.loc["energy_kwh_per_pkm", "unit"] == "kWh/pkm"
    assert math.isnan(table.loc[("today", "energy_kwh"), "change_pct"])  # the baseline itself
    against_shared = energy_against_baseline(runs, baseline=1).set_index(["run", "kpi"])
    assert against_shared.loc[("today", "energy_kwh"), "change_pct"] == approx(-100 / 6)


def with_car_reference(tables, energy_factor=1.0):
    tables = {**tables, "energy_legs": tables["energy_legs"].copy()}
    tables["energy_legs"]["energy_kwh"] *= energy_factor
    tables["energy_counterfactual"] = pd.DataFrame(
        {
            "service": ["car", "all"],
            "trips": [1, 5],
            "car_km": [6.0, 20.0],
            "counterfactual_energy_kwh": [4.0, 13.32],
            "counterfactual_co2_kg": [1.06, 3.54],
        }
    )
    return tables


def test_energy_totals_are_the_system_kpis_and_the_car_reference_is_labelled_apart():
    tables = with_car_reference(sample_tables())
    totals = energy_totals(tables)
    assert totals["energy_kwh"] == approx(6.015) and totals["co2_kg"] == approx(2.1075)
    assert totals["passenger_km"] == approx(14.5)
    assert totals["energy_kwh_per_pkm"] == approx(6.015 / 14.5)
    system = compute_kpis(sample_tables(), META)["system"]
    assert system["energy_kwh_per_pkm"] == approx(totals["energy_kwh_per_pkm"])
    car = car_reference(tables)
    assert (car["energy_kwh"], car["co2_kg"]) == (13.32, 3.54)
    assert car["energy_kwh_per_pkm"] == approx(0.666)  # one person per car: per car-km
    assert car_reference(sample_tables()) == {}  # no counterfactual table


def test_energy_chart_bars_values_and_the_car_reference_line():
    base = with_car_reference(sample_tables())
    other = with_car_reference(sample_tables())
    other["energy_legs"].loc[0, "energy_kwh"] = 4.8  # the shuttle draws twice as much
    fig = energy_chart([("today", base), ("more shuttle", other)])
    energy_ax, co2_ax, pkm_ax = fig.axes
    assert [p.get_width() for p in energy_ax.patches] == approx([6.015, 8.415])
    assert [p.get_width() for p in pkm_ax.patches] == approx([6.015 / 14.5, 8.415 / 14.5])
    texts = [t.get_text().strip() for t in energy_ax.texts]
    assert "6.01" in texts  # the baseline's value, no change against itself
    assert "8.42  (+39.9 %)" in texts  # 8.415 / 6.015 - 1, against the baseline
    line = next(ln for ln in energy_ax.lines if ln.get_linestyle() == "--")
    assert line.get_xdata()[0] == approx(13.32)  # the baseline's trips by car
    legend = [t.get_text() for t in energy_ax.get_legend().get_texts()]
    assert legend == ["every trip by private car (baseline's trips): 13.3"]
    assert [t.get_text() for t in energy_ax.get_yticklabels()] == [
        "today (baseline)",
        "more shuttle",
    ]
    assert "2.11" in [t.get_text().strip() for t in co2_ax.texts]
    swapped = energy_chart([("today", base), ("more shuttle", other)], baseline=1)
    assert "6.01  (-28.5 %)" in [t.get_text().strip() for t in swapped.axes[0].texts]

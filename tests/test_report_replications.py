"""Replications in the report: runs of one scenario that differ in the seed only are one column
with mean and 95 % interval; the written summary repeats the table's numbers; a warning when
single runs differ in seed or demand."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from mobisim.metrics.kpis import compute_kpis
from mobisim.results import store
from mobisim.results.compare import (
    difference_interval,
    mean_interval,
    replicated_comparison_table,
    replication_key,
)
from mobisim.results.report import build_report
from test_kpis_sample import META, sample_tables

#: t quantile 0.975 with 2 degrees of freedom (tables: 4.303)
T_975_2 = 4.302652729911275
WAIT = "Wait, mean"


def write_run(
    out: Path,
    name: str,
    seed: int,
    wait_trip0_s: float,
    description: str = "",
    demand: dict | None = None,
) -> Path:
    """The sample run (shared rides: trips 0, 1, 4 with waits ``wait_trip0_s``, 180 s, 0 s) as a
    run folder of scenario ``name`` with ``seed``."""
    tables = sample_tables()
    tables["trips"].loc[tables["trips"]["trip_id"] == 0, "wait_s"] = wait_trip0_s
    scenario = {"name": name, "description": description, "seed": seed}
    scenario |= {"demand": demand or {"synthetic": {"residents": 6000}}}
    scenario |= {"period": {"start": "07:00", "end": "09:00"}}
    meta = {**META, "scenario": name}
    manifest = {"scenario": scenario, "scenario_name": name, "seed": seed}
    manifest |= {"fingerprint": f"{name}-{seed}".ljust(16, "0"), "kpi_meta": meta}
    others = {k: v for k, v in tables.items() if k != "events"}
    with store.run_folder(out, name, f"run-s{seed}") as folder:
        store.write_run(folder, manifest, tables["events"], others, compute_kpis(tables, meta))
    return out / name / f"run-s{seed}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    base = write_run(out, "today", 1, 60.0, "Today's shuttle, as it runs.")
    # mean waits of the three seeds: (w + 180 + 0) / 3 = 80, 100, 120 s
    reps = [
        write_run(out, "more-drt", seed, wait, "Two more DRT vans in the evening.")
        for seed, wait in ((1, 60.0), (2, 120.0), (3, 180.0))
    ]
    return base, reps


@pytest.fixture(scope="module")
def page(runs):
    base, reps = runs
    return build_report([base, *reps])


def test_mean_interval_by_hand():
    mean, half = mean_interval([80 / 60, 100 / 60, 120 / 60])
    # sd of (4/3, 5/3, 2) min = 1/3 min; sem = 1/(3 sqrt 3); half = t * sem
    assert mean == pytest.approx(5 / 3)
    assert half == pytest.approx(T_975_2 / (3 * math.sqrt(3)))
    assert math.isnan(mean_interval([2.0])[1]) and math.isnan(mean_interval([])[0])


def test_difference_interval_by_hand():
    diff, half = difference_interval([4 / 3], [4 / 3, 5 / 3, 2])
    assert diff == pytest.approx(1 / 3)  # the single baseline taken as exact
    assert half == pytest.approx(T_975_2 / (3 * math.sqrt(3)))
    # Welch: two groups of two, variances 0.5 each -> se = sqrt(0.5), dof = 2
    diff, half = difference_interval([1.0, 2.0], [3.0, 4.0])
    assert diff == pytest.approx(2.0)
    assert half == pytest.approx(T_975_2 * math.sqrt(0.5))
    assert math.isnan(difference_interval([1.0], [2.0])[1])


def test_replications_share_a_key_other_scenarios_do_not(runs):
    from mobisim.metrics.tables import load_run

    base, reps = runs
    keys = [replication_key(load_run(d)["manifest"]) for d in reps]
    assert len(set(keys)) == 1
    assert replication_key(load_run(base)["manifest"]) != keys[0]


def test_table_columns_of_groups():
    one = {"system": {"wait_mean_s": 60.0}}
    table = replicated_comparison_table([("a", [one]), ("b", [one, one])])
    assert list(table.columns[2:]) == ["a", "b", "b ±", "b Δ", "b Δ ±", "b Δ%"]
    assert table.set_index("kpi").loc[WAIT, "b ±"] == 0.0


def test_three_seeds_are_one_column_with_mean_and_interval(page):
    table = re.search(r'<table id="kpi-table">(.*?)</table>', page, re.S).group(1)
    head = re.search(r"<thead><tr>(.*?)</tr>", table, re.S).group(1)
    headings = re.findall(r"<th>(.*?)</th>", head)
    assert headings == [
        "kpi",
        "unit",
        "today",
        "more-drt (3 seeds)<br><small>mean ± 95 % CI</small>",
        "more-drt (3 seeds) Δ<br><small>mean ± 95 % CI</small>",
        "more-drt (3 seeds) Δ%",
    ]
    wait = re.search(r"<tr><td>Wait, mean</td><td>min</td>(.*?)</tr>", table).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', wait)
    # baseline 80 s = 1.33 min; group mean 100 s = 1.67 min +- 4.303 / (3 sqrt 3) = 0.828 min;
    # change +0.333 min +- 0.828 (the single baseline taken as exact), +25 % of 1.33
    assert cells == ["1.33", "1.67 ± 0.828", "+0.333 ± 0.828", "+25.0%"]
    trips = re.search(r"<tr><td>Trips</td><td>trips</td>(.*?)</tr>", table).group(1)
    assert re.findall(r'<td class="num">(.*?)</td>', trips) == ["6", "6 ± 0", "0 ± 0", "+0.0%"]
    assert "id='replication-warning'" not in page  # the compared group has replications
    assert "show the first replication (more-drt (3 seeds): seed 1)" in page


def test_summary_repeats_the_table_numbers_and_says_within_noise(page):
    summary = re.search(r"<section id='summary'>(.*?)</section>", page, re.S).group(1)
    assert "more-drt (3 seeds) against today" in summary
    lines = re.findall(r"<li class='summary-line'>(.*?)</li>", summary)
    wait = next(line for line in lines if line.startswith("Wait, mean"))
    assert wait == (
        "Wait, mean: 1.33 min → 1.67 min (+0.333 min, +25.0%), "
        "95 % interval ± 0.828 min: within noise."
    )
    served = next(line for line in lines if line.startswith("Served"))
    assert served == "Served: unchanged at 83.3 %."  # 5 of 6 trips in every run
    assert page.index("<section id='summary'>") < page.index('<table id="kpi-table">')


def test_scenario_descriptions_are_shown_per_run(page):
    found = re.findall(r"<p class='scenario-description'>(.*?)</p>", page)
    assert found == ["Today&#x27;s shuttle, as it runs.", "Two more DRT vans in the evening."]
    assert "runs run-s1, run-s2, run-s3; seeds 1, 2, 3" in page


def test_single_runs_differing_in_seed_get_a_warning(runs, tmp_path):
    base, reps = runs
    page = build_report([base, reps[1]])  # today seed 1, more-drt seed 2: no replications
    warning = re.search(r"<p class='warning' id='replication-warning'>(.*?)</p>", page, re.S)
    assert warning and "differ in seed" in warning.group(1)
    assert "today, more-drt are single runs" in warning.group(1)
    assert "id='replication-warning'" not in build_report([base, reps[0]])  # same seed, demand
    more = write_run(tmp_path, "more-people", 1, 60.0, demand={"synthetic": {"residents": 9000}})
    warning = re.search(r"id='replication-warning'>(.*?)</p>", build_report([base, more]), re.S)
    assert warning and "differ in demand and today, more-people" in warning.group(1)


def test_per_service_tables_are_the_metrics_numbers(runs, page):
    from mobisim.metrics.tables import load_run
    from mobisim.results.compare import format_number, service_table

    base, _ = runs
    tables = load_run(base)
    kpis = compute_kpis({k: v for k, v in tables.items() if k != "manifest"}, META)
    expected = service_table(kpis)
    found = re.search(r'<table id="services-0" class="services">(.*?)</table>', page, re.S)
    head = re.findall(r"<th>(.*?)</th>", found.group(1))
    assert head[:2] == ["service", "requests"]
    assert {"wait p50 min", "wait p95 min", "rejected %", "empty %", "pax/veh", "kWh"} <= set(head)
    assert "cost KRW/day" in head  # "–" when the scenario gives no costs
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1).split("</thead>")[1])
    assert len(rows) == len(expected)
    shuttle = next(r for r in rows if r.startswith("<td>shuttle</td>"))
    cells = re.findall(r'<td class="num">(.*?)</td>', shuttle)
    want = expected.set_index("service").loc["shuttle"]
    assert cells == [format_number(float(v)) for v in want]
    # the sample's shuttle: 2 rides, waits 60 and 180 s -> median 2 min, mean 2 min
    assert want["served"] == 2 and want["wait p50 min"] == pytest.approx(2.0)


@pytest.mark.slow
def test_three_seeds_of_a_small_real_scenario_are_one_column(tmp_path, repo_root):
    """The small demo (300 residents, 07:00-09:00) run for seeds 1, 2, 3: one column whose mean
    and interval are those of the three runs' own kpis.json, worked out here with numpy."""
    import json

    import numpy as np

    from mobisim.api import run
    from mobisim.scenario.loader import load_scenario

    overrides = {
        "demand.synthetic.residents": 300,
        "demand.synthetic.households": 120,
        "period.start": "07:00",
        "period.end": "09:00",
        "network.synthetic.target_nodes": 300,
        "outputs.charts": False,
    }
    scenario = load_scenario(repo_root / "scenarios" / "demo.yaml", overrides)
    dirs = [run(scenario, out_dir=tmp_path, seed=seed).run_dir for seed in (1, 2, 3)]
    waits = np.array(
        [json.loads((d / "kpis.json").read_text())["system"]["wait_mean_s"] / 60 for d in dirs]
    )
    page = build_report(dirs)
    head = re.search(r'<table id="kpi-table"><thead><tr>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<th>(.*?)</th>", head)[2:] == [
        "demo (3 seeds)<br><small>mean ± 95 % CI</small>"
    ]
    half = T_975_2 * waits.std(ddof=1) / math.sqrt(3)
    from mobisim.results.compare import format_number

    wait = re.search(r"<tr><td>Wait, mean</td><td>min</td>(.*?)</tr>", page).group(1)
    assert re.findall(r'<td class="num">(.*?)</td>', wait) == [
        f"{format_number(float(waits.mean()))} ± {format_number(float(half))}"
    ]
    assert "seeds 1, 2, 3" in page

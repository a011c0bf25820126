"""Compare scenarios: the main KPIs of several runs side by side, with changes against a baseline.

Values are shown in report units (minutes, %, km, kWh, kg, KRW): the conversion from the SI KPIs
happens here, at the edge. Shares change in percentage points, everything else also relatively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mobisim.metrics.economics import cost_per_tco2_avoided_krw
from mobisim.results.style import mode_name, ordered_modes

#: (system KPI, label, display unit, factor from the KPI's SI unit) of the comparison table rows
MAIN_KPIS: tuple[tuple[str, str, str, float], ...] = (
    ("trips", "Trips", "trips", 1.0),
    (
        "served_share",
        "Served (a mode carried it, or a walk within the acceptable walk)",
        "%",
        100.0,
    ),
    ("fallback_share", "Fell back", "%", 100.0),
    ("unserved_share", "Unserved (forced walks included)", "%", 100.0),
    ("forced_walk_share", "Forced walks beyond the acceptable walk", "%", 100.0),
    ("shared_ride_share", "Rode a shared service", "%", 100.0),
    ("wait_mean_s", "Wait, mean", "min", 1 / 60),
    ("wait_p95_s", "Wait, 95th percentile", "min", 1 / 60),
    ("access_walk_mean_s", "Access walk, mean", "min", 1 / 60),
    ("in_vehicle_mean_s", "In-vehicle time, mean", "min", 1 / 60),
    ("door_to_door_served_mean_s", "Door-to-door time, served trips, mean", "min", 1 / 60),
    (
        "door_to_door_served_p95_s",
        "Door-to-door time, served trips, 95th percentile",
        "min",
        1 / 60,
    ),
    ("door_to_door_all_mean_s", "Door-to-door time, all trips that arrived, mean", "min", 1 / 60),
    (
        "door_to_door_all_p95_s",
        "Door-to-door time, all trips that arrived, 95th pct.",
        "min",
        1 / 60,
    ),
    ("forced_walk_door_to_door_mean_s", "Door-to-door time, forced walks, mean", "min", 1 / 60),
    ("detour_factor_mean", "Detour factor, mean", "×", 1.0),
    ("passenger_km", "Passenger-km", "km", 1.0),
    ("vehicle_km", "Shared fleet vehicle-km", "km", 1.0),
    ("private_car_km", "Private car vehicle-km", "km", 1.0),
    ("empty_share", "Empty vehicle-km", "%", 100.0),
    ("occupancy_pax", "Occupancy (pkm/vkm)", "pax", 1.0),
    ("pooling_rate", "Pooled rides", "%", 100.0),
    ("transfers_per_trip_mean", "Transfers per vehicle trip, mean", "transfers", 1.0),
    ("transfer_wait_mean_s", "Wait at the transfer, mean", "min", 1 / 60),
    ("fleet_utilisation", "Fleet utilisation", "%", 100.0),
    ("rides_per_vehicle_hour", "Rides per vehicle-hour", "rides/h", 1.0),
    ("fare_revenue_krw", "Fare revenue", "KRW", 1.0),
    ("energy_kwh", "Energy", "kWh", 1.0),
    ("co2_kg", "CO2", "kg", 1.0),
    ("co2_g_per_pkm", "CO2 per passenger-km", "g/pkm", 1.0),
    ("charging_peak_kw", "Charging peak (15 min)", "kW", 1.0),
    ("solar_share", "Charging energy from PV", "%", 100.0),
    ("station_empty_share_mean", "Station time empty, mean", "%", 100.0),
    ("capital_krw", "Capital of the shared services (purchase)", "KRW", 1.0),
    ("cost_krw", "Cost of the shared services, per day", "KRW", 1.0),
    ("cost_annual_krw", "Cost of the shared services, per year", "KRW", 1.0),
    ("subsidy_annual_krw", "Subsidy (cost - fares), per year", "KRW", 1.0),
    ("cost_per_trip_krw", "Cost per shared trip", "KRW", 1.0),
    ("subsidy_per_trip_krw", "Subsidy per shared trip", "KRW", 1.0),
    ("farebox_recovery_share", "Fares / cost", "%", 100.0),
    ("e_mileage_rides", "E-mileage rides (fare credited)", "rides", 1.0),
    ("e_mileage_credit_krw", "E-mileage credit paid, per day", "KRW", 1.0),
)

#: (service KPI, label, unit) rows added for every costed service
SERVICE_ECONOMICS_KPIS: tuple[tuple[str, str, str], ...] = (
    ("served", "Rides", "rides"),
    ("cost_per_trip_krw", "Cost per trip", "KRW"),
    ("subsidy_per_trip_krw", "Subsidy per trip", "KRW"),
)


def _value(system: dict[str, Any], kpi: str) -> float:
    value = system.get(kpi)
    return math.nan if value is None else float(value)


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Labels made unique by numbering repeats ("demo", "demo (2)")."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def comparison_table(runs: Sequence[tuple[str, dict[str, Any]]], baseline: int = 0) -> pd.DataFrame:
    """The main system KPIs of every run, with the change of each run against the baseline run.

    Parameters
    ----------
    runs : (label, kpis) pairs; kpis as compute_kpis returns them or as read from kpis.json.
    baseline : index in ``runs`` of the baseline.

    Returns one row per KPI (rows every run lacks are dropped; mode shares included) with columns
    ``kpi``, ``unit``, one value column per run label, and for each other run ``<label> Δ`` (absolute
    change; percentage points for %) and ``<label> Δ%`` (relative change, % of the baseline value;
    NaN when the baseline is 0 or undefined). Replications: :func:`replicated_comparison_table`.
    """
    return replicated_comparison_table([(label, [kpis]) for label, kpis in runs], baseline)


def replication_key(manifest: dict[str, Any]) -> str:
    """What replications of one scenario share: sha256 of the run's resolved scenario (as in its
    manifest) without its ``seed``. Runs with equal keys differ in the seed only."""
    import hashlib
    import json

    scenario = dict(manifest.get("scenario") or {})
    scenario.pop("seed", None)
    if not scenario:  # no scenario in the manifest: every run stands alone
        return "run:" + str(manifest.get("fingerprint", id(manifest)))
    text = json.dumps(scenario, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def group_replications(keys: Sequence[str]) -> list[list[int]]:
    """Indices of ``keys`` grouped by equal key, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its ``level`` confidence interval (Student t, n − 1 degrees of
    freedom) of the finite ``values``; half-width NaN with fewer than two values."""
    from scipy import stats

    finite = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(finite) == 0:
        return math.nan, math.nan
    mean = float(finite.mean())
    if len(finite) < 2:
        return mean, math.nan
    sem = float(finite.std(ddof=1)) / math.sqrt(len(finite))
    return mean, float(stats.t.ppf(0.5 + level / 2, len(finite) - 1)) * sem


def difference_interval(
    base: Sequence[float], other: Sequence[float], level: float = 0.95
) -> tuple[float, float]:
    """Difference of means (``other`` − ``base``) and the half-width of its ``level`` interval:
    Welch's t when both have two or more values; the t interval of the one that has when only
    one has (the other is taken as exact); NaN when neither has."""
    from scipy import stats

    a = np.asarray([v for v in base if not math.isnan(v)], dtype=float)
    b = np.asarray([v for v in other if not math.isnan(v)], dtype=float)
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan
    diff = float(b.mean() - a.mean())
    var_a = a.var(ddof=1) / len(a) if len(a) > 1 else 0.0
    var_b = b.var(ddof=1) / len(b) if len(b) > 1 else 0.0
    if len(a) < 2 and len(b) < 2:
        return diff, math.nan
    if len(a) > 1 and len(b) > 1:
        se2 = var_a + var_b
        if se2 == 0:
            return diff, 0.0
        dof = se2**2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    else:
        se2, dof = var_a + var_b, (len(a) if len(a) > 1 else len(b)) - 1
    return diff, float(stats.t.ppf(0.5 + level / 2, dof)) * math.sqrt(se2)


def replicated_comparison_table(
    groups: Sequence[tuple[str, Sequence[dict[str, Any]]]], baseline: int = 0
) -> pd.DataFrame:
    """:func:`comparison_table` of groups of replications (runs of one scenario that differ in
    the seed only, :func:`replication_key`).

    Parameters
    ----------
    groups : (label, [kpis of each replication]) pairs; a group of one is a single run.
    baseline : index in ``groups`` of the baseline.

    Returns the columns of :func:`comparison_table`, a value column being the mean over the
    group's runs; for a group of two or more runs also ``<label> ±`` (half-width of the 95 %
    interval of the mean, t-distribution) and, against the baseline, ``<label> Δ ±`` (half-width
    of the 95 % interval of the difference, :func:`difference_interval`) whenever the group or
    the baseline has replications. ``Δ%`` is the difference relative to the baseline mean.
    """
    labels = unique_labels([label for label, _ in groups])
    sizes = [len(reps) for _, reps in groups]
    systems = [[kpis.get("system", {}) for kpis in reps] for _, reps in groups]
    rows: list[tuple[str, str, list[list[float]]]] = []
    for kpi, label, unit, factor in MAIN_KPIS:
        rows.append((label, unit, [[_value(s, kpi) * factor for s in g] for g in systems]))
    base_reps = groups[baseline][1]
    rows.append(
        (
            "Cost per t CO2 avoided (vs baseline)",
            "KRW/t",
            [
                [math.nan]
                if i == baseline
                else [  # each replication against the baseline run of the same position
                    cost_per_tco2_avoided_krw(kpis, base_reps[j % len(base_reps)])
                    for j, kpis in enumerate(reps)
                ]
                for i, (_, reps) in enumerate(groups)
            ],
        )
    )
    services = [[kpis.get("by_service", {}) for kpis in reps] for _, reps in groups]
    costed = sorted({name for g in services for b in g for name, k in b.items() if "cost_krw" in k})
    for kpi, label, unit in SERVICE_ECONOMICS_KPIS:
        for name in costed:
            values = [[_value(b.get(name, {}), kpi) for b in g] for g in services]
            rows.append((f"{label}: {name}", unit, values))
    modes = ordered_modes({m for g in systems for s in g for m in (s.get("mode_share") or {})})
    for mode in modes:
        values = [[(s.get("mode_share") or {}).get(mode, 0.0) * 100 for s in g] for g in systems]
        rows.append((f"Mode share: {mode_name(mode)}", "%", values))
    means = [[mean_interval(v)[0] for v in values] for _, _, values in rows]
    table = pd.DataFrame(
        [[label, unit, *m] for (label, unit, _), m in zip(rows, means, strict=True)],
        columns=["kpi", "unit", *labels],
    )
    keep = table[labels].notna().any(axis=1).to_numpy()
    rows = [r for r, k in zip(rows, keep, strict=True) if k]
    table = table[keep].reset_index(drop=True)
    for i, label in enumerate(labels):
        if sizes[i] > 1:
            table.insert(
                table.columns.get_loc(label) + 1,
                f"{label} ±",
                [mean_interval(values[i])[1] for _, _, values in rows],
            )
    base = table[labels[baseline]]
    for i, label in enumerate(labels):
        if i == baseline:
            continue
        table[f"{label} Δ"] = table[label] - base
        if sizes[i] > 1 or sizes[baseline] > 1:
            table[f"{label} Δ ±"] = [
                difference_interval(values[baseline], values[i])[1] for _, _, values in rows
            ]
        relative = (table[label] - base) / base.abs()
        table[f"{label} Δ%"] = (relative * 100).where(base.abs() > 0)
    return table


#: (system KPI, label, unit) of :func:`energy_against_baseline`, in the order of the chart panels
ENERGY_KPIS: tuple[tuple[str, str, str], ...] = (
    ("energy_kwh", "Energy", "kWh"),
    ("co2_kg", "CO2", "kg"),
    ("energy_kwh_per_pkm", "Energy per passenger-km", "kWh/pkm"),
)


def energy_against_baseline(
    runs: Sequence[tuple[str, dict[str, Any]]], baseline: int = 0
) -> pd.DataFrame:
    """Energy, CO2 and kWh per passenger-km of each run against the baseline **run** (not
    against "every trip by car": that is :func:`mobisim.metrics.counterfactual.car_reference`).

    Parameters
    ----------
    runs : (label, kpis) pairs; uses ``kpis["system"]`` ``energy_kwh`` (kWh), ``co2_kg`` (kg)
        and ``energy_kwh_per_pkm`` (kWh/pkm). Runs without energy KPIs are left out.
    baseline : index in ``runs`` of the baseline run.

    Returns one row per run and KPI (:data:`ENERGY_KPIS`): ``run``, ``kpi``, ``label``, ``unit``,
    ``value``, ``baseline`` (the baseline run's value), ``change`` (value − baseline) and
    ``change_pct`` (% of the baseline; NaN for the baseline itself and when the baseline is 0).
    """
    labels = unique_labels([label for label, _ in runs])
    base = runs[baseline][1].get("system", {})
    rows = []
    for i, (label, (_, kpis)) in enumerate(zip(labels, runs, strict=True)):
        system = kpis.get("system", {})
        if "energy_kwh" not in system:
            continue
        for kpi, name, unit in ENERGY_KPIS:
            value, ref = _value(system, kpi), _value(base, kpi)
            change = value - ref
            pct = math.nan if i == baseline or not ref else change / abs(ref) * 100
            rows.append((label, kpi, name, unit, value, ref, change, pct))
    columns = ["run", "kpi", "label", "unit", "value", "baseline", "change", "change_pct"]
    return pd.DataFrame(rows, columns=columns)


#: (service KPI, heading with its unit, factor from the KPI's SI unit) of :func:`service_table`
SERVICE_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("requests", "requests", 1.0),
    ("served", "served", 1.0),
    ("rejection_rate", "rejected %", 100.0),
    ("wait_mean_s", "wait min", 1 / 60),
    ("wait_median_s", "wait p50 min", 1 / 60),
    ("wait_p95_s", "wait p95 min", 1 / 60),
    ("in_vehicle_mean_s", "ride min", 1 / 60),
    ("vehicle_km", "veh-km", 1.0),
    ("empty_share", "empty %", 100.0),
    ("occupancy_pax", "pax/veh", 1.0),
    ("energy_kwh", "kWh", 1.0),
    ("cost_krw", "cost KRW/day", 1.0),
)
#: (trip KPI, heading with its unit, factor) of :func:`group_table`
GROUP_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("trips", "trips", 1.0),
    ("served_share", "served %", 100.0),
    ("unserved", "unserved", 1.0),
    ("forced_walks", "forced walks", 1.0),
    ("shared_ride_share", "shared %", 100.0),
    ("wait_mean_s", "wait min", 1 / 60),
    ("door_to_door_served_mean_s", "door-door served min", 1 / 60),
    ("door_to_door_all_mean_s", "door-door all min", 1 / 60),
)


def _scope_table(
    block: dict[str, Any], columns: tuple[tuple[str, str, float], ...], name: str
) -> pd.DataFrame:
    rows = [
        [key, *(_value(values, kpi) * factor for kpi, _, factor in columns)]
        for key, values in sorted(block.items())
    ]
    return pd.DataFrame(rows, columns=[name, *(heading for _, heading, _ in columns)])


def service_table(kpis: dict[str, Any]) -> pd.DataFrame:
    """One row per service of one run's KPIs, in report units (:data:`SERVICE_COLUMNS`)."""
    return _scope_table(kpis.get("by_service") or {}, SERVICE_COLUMNS, "service")


def group_table(kpis: dict[str, Any]) -> pd.DataFrame:
    """One row per demand group of one run's KPIs, in report units (:data:`GROUP_COLUMNS`)."""
    return _scope_table(kpis.get("by_group") or {}, GROUP_COLUMNS, "group")


#: columns of :func:`unserved_table`
UNSERVED_COLUMNS = (
    "run",
    "where",
    "trips",
    "unserved",
    "unserved %",
    "forced walks",
    "forced walk, min",
    "main reason",
)


def unserved_table(
    runs: Sequence[tuple[str, dict[str, Any]]], scope: str = "by_group", top: int = 10
) -> pd.DataFrame:
    """Who is left without service: per run, the groups (``scope="by_group"``) or origin ->
    destination zones (``"by_od"``) with unserved trips, most unserved first (at most ``top``
    rows per run), with trips, unserved trips and share (%), forced walks, their mean door-to-door
    time (min) and the most frequent reason no service carried them.
    """
    rows = []
    for label, kpis in zip(unique_labels([label for label, _ in runs]), runs, strict=True):
        block = kpis[1].get(scope) or {}
        found = [(key, v) for key, v in block.items() if (v.get("unserved") or 0) > 0]
        found.sort(key=lambda item: (-item[1]["unserved"], item[0]))
        for key, v in found[:top]:
            reasons = v.get("unserved_by_reason") or {}
            main = max(sorted(reasons), key=reasons.get) if reasons else ""
            rows.append(
                (
                    label,
                    key,
                    int(v.get("trips") or 0),
                    int(v["unserved"]),
                    _value(v, "unserved_share") * 100,
                    int(v.get("forced_walks") or 0),
                    _value(v, "forced_walk_door_to_door_mean_s") / 60,
                    main,
                )
            )
    return pd.DataFrame(rows, columns=list(UNSERVED_COLUMNS))


#: system KPIs the written summary of a report speaks of, in this order (labels: MAIN_KPIS)
SUMMARY_KPIS: tuple[str, ...] = (
    "served_share",
    "unserved_share",
    "shared_ride_share",
    "wait_mean_s",
    "door_to_door_served_mean_s",
    "vehicle_km",
    "private_car_km",
    "energy_kwh",
    "co2_kg",
    "cost_krw",
    "subsidy_annual_krw",
)


def summary_lines(table: pd.DataFrame, baseline: str) -> dict[str, list[str]]:
    """The written summary of a comparison table (:func:`replicated_comparison_table`): for every
    run (or group of replications) but the baseline, one sentence per KPI of
    :data:`SUMMARY_KPIS` that both have, saying how it changed against ``baseline``.

    The numbers are the table's own, as :func:`formatted` writes them: value of the baseline,
    value of the run, change (percentage points for %), relative change, and with replications
    the 95 % interval of the change, "within noise" when it covers zero.
    """
    text = formatted(table).set_index("kpi")
    numbers = table.set_index("kpi")
    wanted = [label for kpi, label, _, _ in MAIN_KPIS if kpi in SUMMARY_KPIS]
    wanted.sort(key=lambda label: SUMMARY_KPIS.index(_KPI_OF_LABEL[label]))
    runs = [c for c in table.columns[2:] if c + " Δ" in table.columns]
    out: dict[str, list[str]] = {}
    for run in runs:
        lines = []
        for kpi in wanted:
            if kpi not in numbers.index:
                continue
            change = float(numbers.at[kpi, run + " Δ"])
            if math.isnan(change):
                continue
            unit = str(numbers.at[kpi, "unit"])
            delta_unit = "pp" if unit == "%" else unit
            short = kpi.split(" (")[0]
            base_text = f"{text.at[kpi, baseline]} {unit}"
            run_text = f"{text.at[kpi, run]} {unit}"
            if change == 0:
                lines.append(f"{short}: unchanged at {run_text}.")
                continue
            sentence = f"{short}: {base_text} → {run_text} ({text.at[kpi, run + ' Δ']} {delta_unit}"
            if run + " Δ%" in numbers.columns and not math.isnan(
                float(numbers.at[kpi, run + " Δ%"])
            ):
                sentence += f", {text.at[kpi, run + ' Δ%']}"
            sentence += ")"
            if run + " Δ ±" in numbers.columns:
                half = float(numbers.at[kpi, run + " Δ ±"])
                if not math.isnan(half):
                    sentence += f", 95 % interval ± {text.at[kpi, run + ' Δ ±']} {delta_unit}"
                    if abs(change) <= half:
                        sentence += ": within noise"
            lines.append(sentence + ".")
        out[run] = lines
    return out


_KPI_OF_LABEL = {label: kpi for kpi, label, _, _ in MAIN_KPIS}


def format_number(value: float, digits: int = 3) -> str:
    """A number for humans: ``digits`` significant digits, thousands separators, "–" for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as strings: values, signed changes and signed relative changes."""
    out = table.copy().astype(object)
    for column in table.columns[2:]:
        if column.endswith(" Δ%"):
            out[column] = [
                "–" if math.isnan(v) else f"{v:+.1f}%" for v in table[column].astype(float)
            ]
        elif column.endswith(" ±"):
            out[column] = [
                "–" if math.isnan(v) else format_number(v) for v in table[column].astype(float)
            ]
        elif column.endswith(" Δ"):
            out[column] = [
                "–" if math.isnan(v) else ("+" if v > 0 else "") + format_number(v)
                for v in table[column].astype(float)
            ]
        else:
            out[column] = [format_number(v) for v in table[column].astype(float)]
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """The comparison table as a GitHub-flavoured Markdown table (formatted values)."""
    text = formatted(table)
    header = "| " + " | ".join(str(c) for c in text.columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(text.columns))) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in text.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def load_runs_kpis(run_dirs: Sequence[str | Path]) -> list[tuple[str, dict[str, Any]]]:
    """(label, KPIs) of each run folder, KPIs recomputed from the saved tables."""
    from mobisim.metrics.tables import load_run, recompute_kpis, run_label

    out = []
    for run_dir in run_dirs:
        tables = load_run(run_dir)
        out.append((run_label(tables, run_dir), recompute_kpis(tables)))
    return out


def compare_runs(
    run_dirs: Sequence[str | Path], baseline: str | Path | None = None
) -> pd.DataFrame:
    """Comparison table of run folders (:func:`comparison_table`); the baseline is ``baseline`` if
    given (added first when it is not among ``run_dirs``), else the first run."""
    dirs = [Path(d) for d in run_dirs]
    if baseline is not None:
        base = Path(baseline)
        dirs = [base, *[d for d in dirs if d.resolve() != base.resolve()]]
    return comparison_table(load_runs_kpis(dirs), baseline=0)

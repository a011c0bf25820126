"""Charts of one or several runs (matplotlib, Agg backend).

Every chart function takes ``runs``, a list of ``(label, tables)`` pairs (tables as returned by
:func:`mobisim.metrics.tables.load_run`), and returns a Figure. A chart with nothing to show draws
a "no data" panel saying what is missing instead of failing. ``plot_run`` writes them as PNG files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mobisim.metrics.charging import charging_load_kw
from mobisim.metrics.common import as_str
from mobisim.metrics.common import service_modes as trip_service_modes
from mobisim.metrics.timeline import fleet_state_profile
from mobisim.metrics.trip_kpis import served_mask, shared_rides
from mobisim.results.gis import plot_network_map
from mobisim.results.style import mode_colour, mode_name, ordered_modes

Runs = list[tuple[str, dict[str, Any]]]

#: drawing order and colours of vehicle states (fleet state chart)
STATE_COLOURS = {
    "occupied": "#2b8a3e",
    "in_service_empty": "#94d82d",
    "to_pickup": "#fab005",
    "repositioning": "#f76707",
    "to_charger": "#e64980",
    "crew": "#7048e8",
    "dwell": "#74c0fc",
    "layover": "#4dabf7",
    "idle": "#ced4da",
    "charging": "#c92a2a",
    "parked": "#868e96",
}


def no_data(ax, title: str, why: str = "") -> None:
    """Draw a "no data" panel on ``ax`` (with the reason in small print)."""
    ax.set_facecolor("#f8f9fa")
    ax.text(0.5, 0.55, "no data", ha="center", va="center", fontsize=16, color="#868e96")
    if why:
        ax.text(0.5, 0.38, why, ha="center", va="center", fontsize=9, color="#868e96", wrap=True)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def _figure(width_in: float = 7.5, height_in: float = 4.0, ncols: int = 1) -> tuple[Figure, Any]:
    fig, axes = plt.subplots(1, ncols, figsize=(width_in, height_in), squeeze=False)
    return fig, axes[0] if ncols > 1 else axes[0][0]


def _hour_ticks(ax) -> None:
    ax.set_xlabel("hour of day")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=8, integer=True))


#: line styles telling runs apart in a chart whose colours are the modes
RUN_LINESTYLES = ("-", "--", ":", "-.")


def _run_style(i: int) -> str:
    return RUN_LINESTYLES[i % len(RUN_LINESTYLES)]


def service_modes(tables: dict[str, Any]) -> dict[str, str]:
    """Service name -> the mode label its trips carry (:func:`mobisim.metrics.common.service_modes`),
    so a chart by service takes the service's mode colour."""
    return trip_service_modes(tables["trips"])


def _panels(n: int, width_in: float = 11.0, height_in: float = 3.0, ncols: int = 3):
    """``n`` small-multiple axes (rows of ``ncols``), unused ones hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width_in, height_in * nrows + 0.6), squeeze=False
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _final_modes(trips: pd.DataFrame) -> pd.Series:
    return as_str(trips["mode"]).where(served_mask(trips), "unserved").replace("", "unserved")


def mode_share_chart(runs: Runs, replicates: list[list[dict[str, Any]]] | None = None) -> Figure:
    """One horizontal bar per run split by final mode (unserved as its own segment), % of trips.

    Segments take the fixed mode colours of :mod:`mobisim.results.style`; shares of 3 % and more
    carry their value. ``replicates`` (aligned with ``runs``: the tables of every replication of
    each run's scenario) turns a bar into the mean share over the replications, with a black
    error bar at the end of each segment: the 95 % interval of that mode's share (t-distribution).
    """
    from mobisim.results.compare import mean_interval

    shares, errors = {}, {}
    for i, (label, tables) in enumerate(runs):
        reps = replicates[i] if replicates is not None else [tables]
        per_run = [
            _final_modes(t["trips"]).value_counts(normalize=True) * 100
            for t in reps
            if len(t["trips"])
        ]
        if per_run:
            frame = pd.DataFrame(per_run).fillna(0.0)
            stats = {m: mean_interval(frame[m].tolist()) for m in frame.columns}
            shares[label] = pd.Series({m: v[0] for m, v in stats.items()})
            errors[label] = pd.Series({m: v[1] for m, v in stats.items()})
    fig, ax = _figure(10.0, 2.0 + 0.55 * max(len(shares), 1))
    if not shares:
        no_data(ax, "Mode share", "no trips")
        return fig
    table = pd.DataFrame(shares).fillna(0.0)
    table = table.loc[ordered_modes(table.index)]
    y = np.arange(len(table.columns))[::-1]
    left = np.zeros(len(table.columns))
    for mode, row in table.iterrows():
        values = row.to_numpy()
        bars = ax.barh(y, values, left=left, color=mode_colour(mode), label=mode_name(mode),
                       height=0.6, edgecolor="white", linewidth=0.5)  # fmt: skip
        ax.bar_label(bars, labels=[f"{v:.0f}" if v >= 3 else "" for v in values],
                     label_type="center", fontsize=8, color="white")  # fmt: skip
        half = np.array([errors[run].get(mode, np.nan) for run in table.columns], dtype=float)
        if np.isfinite(half).any():
            ax.errorbar(left + values, y, xerr=np.nan_to_num(half), fmt="none", ecolor="black",
                        elinewidth=1, capsize=3)  # fmt: skip
        left += values
    ax.set_yticks(y, list(table.columns))
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of trips")
    ax.set_title("Mode share")
    ax.legend(
        fontsize=8,
        ncols=2 if len(table.index) > 4 else 1,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
    )  # beside the bars, clear of the axis label
    fig.tight_layout()
    return fig


def _histograms_by_mode(
    series: dict[str, pd.Series], modes: dict[str, pd.Series], title: str, xlabel: str, ylabel: str
) -> Figure:
    """Small multiples, one panel per mode in its colour; one step histogram per run in it
    (runs told apart by line style; % of that run's trips of that mode)."""
    present = ordered_modes({m for v in modes.values() for m in v.unique()})
    fig, axes = _panels(len(present))
    top = max(float(v.quantile(0.99)) for v in series.values())
    bins = np.linspace(0, max(top, 1.0), 30)
    for ax, mode in zip(axes, present, strict=True):
        for i, (label, values) in enumerate(series.items()):
            mine = values[modes[label] == mode]
            if not len(mine):
                continue
            weights = np.full(len(mine), 100.0 / len(mine))
            ax.hist(mine.clip(upper=bins[-1]), bins=bins, weights=weights, histtype="step", lw=2,
                    color=mode_colour(mode), ls=_run_style(i),
                    label=f"{label} ({len(mine):,})")  # fmt: skip
        ax.set_title(mode_name(mode), color=mode_colour(mode), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def wait_chart(runs: Runs) -> Figure:
    """Distribution of waits of shared rides (min, % of each run's rides of that mode): one panel
    per mode in the mode's colour (mixing a bus and a DRT hides both stories), one step
    histogram per run (line style = run; the legend gives each run's number of rides)."""
    waits, modes = {}, {}
    for label, t in runs:
        rides = shared_rides(t["trips"])
        rides = rides[rides["wait_s"].notna()]
        if len(rides):
            waits[label] = rides["wait_s"] / 60
            modes[label] = as_str(rides["mode"])
    if not waits:
        fig, ax = _figure()
        no_data(ax, "Wait time", "no rides of shared services")
        return fig
    return _histograms_by_mode(
        waits, modes, "Wait time of shared rides, by mode", "wait, min", "% of rides"
    )


def hourly_chart(runs: Runs) -> Figure:
    """Left: trips and served trips by departure hour; right: mean wait of shared rides by hour (min)."""
    fig, (left, right) = _figure(11, 4, ncols=2)
    drew_wait = False
    for label, tables in runs:
        trips = tables["trips"]
        if trips.empty:
            continue
        hour = (trips["depart_s"] // 3600).astype(int)
        counts = hour.value_counts().sort_index()
        served = hour[served_mask(trips)].value_counts().reindex(counts.index, fill_value=0)
        (line,) = left.plot(counts.index, counts.to_numpy(), label=f"{label}: trips")
        left.plot(served.index, served.to_numpy(), ls="--", color=line.get_color(), label="served")
        rides = shared_rides(trips)
        if len(rides):
            wait = (rides["wait_s"] / 60).groupby((rides["depart_s"] // 3600).astype(int)).mean()
            right.plot(wait.index, wait.to_numpy(), marker="o", label=label)
            drew_wait = True
    if not left.lines:
        no_data(left, "Demand by hour", "no trips")
    else:
        left.set_ylabel("trips")
        left.set_title("Demand and served trips by hour")
        _hour_ticks(left)
        left.legend(fontsize=7)
    if not drew_wait:
        no_data(right, "Wait by hour", "no rides of shared services")
    else:
        right.set_ylabel("mean wait, min")
        right.set_title("Wait by hour")
        _hour_ticks(right)
        right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fleet_state_chart(label: str, tables: dict[str, Any]) -> Figure:
    """Vehicles of the shared fleets by state over the day (stacked areas, one run): one panel
    per service (title in its mode's colour) when the run has several fleets, since their sum
    hides which fleet sits idle."""
    events = tables["events"]
    title = f"Fleet state over the day — {label}"
    legs = events[events["vehicle_id"] >= 0] if "vehicle_id" in events else events.iloc[0:0]
    services = sorted(set(as_str(legs["service"])) - {""}) if len(legs) else []
    profiles = [(s, fleet_state_profile(events, service=s)) for s in services]
    profiles = [(s, p) for s, p in profiles if not p.empty]
    if not profiles:
        fig, ax = _figure(9, 4)
        no_data(ax, title, "no vehicle legs or dwells of shared fleets")
        return fig
    mode_of = service_modes(tables)
    fig, axes = _panels(len(profiles), width_in=11.0, height_in=3.2, ncols=2)
    for ax, (service, profile) in zip(axes, profiles, strict=True):
        states = [s for s in STATE_COLOURS if s in profile] + [
            s for s in profile if s not in STATE_COLOURS
        ]
        ax.stackplot(
            profile.index.to_numpy() / 3600.0,
            [profile[s].to_numpy() for s in states],
            labels=states,
            colors=[STATE_COLOURS.get(s, "#adb5bd") for s in states],
        )
        ax.set_ylabel("vehicles", fontsize=8)
        ax.set_title(service, color=mode_colour(mode_of.get(service, service)), fontsize=10)
        _hour_ticks(ax)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


#: passengers-on-board classes of the occupancy chart, empty first
LOAD_CLASSES = ("0", "1", "2", "3", "4+")


def occupancy_chart(runs: Runs) -> Figure:
    """Vehicle-km of shared fleets by passengers on board (0, 1, 2, 3, 4+): one panel per service
    (title in its mode's colour), one stacked bar per run, the loads as shades of the mode's
    colour (lightest = empty)."""
    from matplotlib.colors import to_rgb

    rows: dict[str, dict[str, pd.Series]] = {}
    colours: dict[str, str] = {}
    for label, tables in runs:
        events = tables["events"]
        legs = events[(as_str(events["event"]) == "vehicle_leg") & (events["vehicle_id"] >= 0)]
        if legs.empty:
            continue
        mode_of = service_modes(tables)
        load = legs["pax"].clip(lower=0, upper=4).map(lambda p: "4+" if p >= 4 else str(int(p)))
        km = legs["distance_m"].fillna(0) / 1000
        for service, part in km.groupby(as_str(legs["service"])):
            rows.setdefault(service, {})[label] = part.groupby(load[part.index]).sum()
            colours.setdefault(service, mode_colour(mode_of.get(service, service)))
    if not rows:
        fig, ax = _figure()
        no_data(ax, "Occupancy", "no vehicle legs of shared fleets")
        return fig
    services = sorted(rows)
    fig, axes = _panels(len(services))
    for ax, service in zip(axes, services, strict=True):
        table = pd.DataFrame(rows[service]).fillna(0.0).reindex(list(LOAD_CLASSES), fill_value=0.0)
        base = np.array(to_rgb(colours[service]))
        bottom = np.zeros(len(table.columns))
        for k, load_class in enumerate(LOAD_CLASSES):
            shade = 1.0 - (0.25 + 0.75 * k / (len(LOAD_CLASSES) - 1))  # white share
            colour = base * (1 - shade) + shade
            values = table.loc[load_class].to_numpy()
            ax.bar(range(len(values)), values, bottom=bottom, color=colour, edgecolor="white",
                   linewidth=0.5, label=load_class)  # fmt: skip
            bottom += values
        ax.set_xticks(range(len(table.columns)), list(table.columns), fontsize=8)
        ax.set_ylabel("vehicle-km", fontsize=8)
        ax.set_title(service, color=colours[service], fontsize=10)
        ax.legend(title="on board", fontsize=7, title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False)  # fmt: skip
    fig.suptitle("Vehicle-km by passengers on board, by service", fontsize=11)
    fig.tight_layout()
    return fig


#: bar colours of the energy chart: the baseline run, the other runs
BASELINE_COLOUR, RUN_COLOUR = "#868e96", "#1c7ed6"
#: line colour of the "every trip by private car" reference
CAR_REFERENCE_COLOUR = "#c92a2a"


def energy_chart(
    runs: Runs, baseline: int = 0, replicates: list[list[dict[str, Any]]] | None = None
) -> Figure:
    """Energy (kWh), CO2 (kg) and kWh per passenger-km of each run against the baseline run.

    One panel per KPI, one bar per run with its value written on it, and for every run but the
    baseline the change against the baseline (%; :func:`~mobisim.results.compare.energy_against_baseline`).
    The dashed line (in the legend) is a second reference: every trip the baseline run made
    driven by private car (``energy_counterfactual``, docs/energy.md). Runs without energy tables are left
    out; with none, a "no data" panel. ``replicates`` (aligned with ``runs``: the tables of every
    replication of each run's scenario) makes each bar the mean over the replications with an
    error bar of its 95 % interval (t-distribution).
    """
    from mobisim.metrics.counterfactual import car_reference, energy_totals
    from mobisim.results.compare import (
        ENERGY_KPIS,
        energy_against_baseline,
        format_number,
        mean_interval,
        unique_labels,
    )

    totals, halves = [], {}
    for i, (label, tables) in enumerate(runs):
        reps = [energy_totals(t) for t in (replicates[i] if replicates is not None else [tables])]
        if "energy_kwh" not in reps[0]:
            totals.append((label, {"system": reps[0]}))
            continue
        stats = {
            kpi: mean_interval([float(r.get(kpi, np.nan)) for r in reps])
            for kpi, _, _ in ENERGY_KPIS
        }
        totals.append((label, {"system": {kpi: v[0] for kpi, v in stats.items()}}))
        halves[label] = {kpi: v[1] for kpi, v in stats.items()}
    if not totals or "energy_kwh" not in totals[baseline][1]["system"]:
        fig, ax = _figure()
        why = "the runs have no energy tables (energy accounting off)"
        if totals and any("energy_kwh" in t["system"] for _, t in totals):
            why = "the baseline run has no energy tables (energy accounting off)"
        no_data(ax, "Energy against the baseline run", why)
        return fig
    table = energy_against_baseline(totals, baseline)
    base_label = unique_labels([label for label, _ in totals])[baseline]
    reference = car_reference(runs[baseline][1])
    n_runs = len(table) // len(ENERGY_KPIS)
    # one panel per KPI, stacked; one horizontal bar per run, the baseline on top: long run
    # names and many runs stay readable
    fig, axes = plt.subplots(
        len(ENERGY_KPIS), 1, figsize=(9.0, len(ENERGY_KPIS) * (0.42 * n_runs + 1.1)), squeeze=False
    )
    for ax, (kpi, name, unit) in zip(axes[:, 0], ENERGY_KPIS, strict=True):
        rows = table[table["kpi"] == kpi].reset_index(drop=True)
        values = rows["value"].to_numpy(dtype=float)
        colours = [BASELINE_COLOUR if r == base_label else RUN_COLOUR for r in rows["run"]]
        y = np.arange(len(rows))
        ax.barh(y, np.nan_to_num(values), color=colours, height=0.6)
        half = np.array([halves.get(r, {}).get(kpi, np.nan) for r in rows["run"]], dtype=float)
        half = np.where(np.isfinite(values), half, np.nan)
        if np.isfinite(half).any():
            ax.errorbar(np.nan_to_num(values), y, xerr=np.nan_to_num(half), fmt="none",
                        ecolor="black", elinewidth=1, capsize=3)  # fmt: skip
            values = values + np.nan_to_num(half)  # labels and the axis clear of the bars
        top = np.nanmax(values) if np.isfinite(values).any() else 1.0
        ref = reference.get(kpi, float("nan"))
        if np.isfinite(ref):
            top = max(top, ref)
            ax.axvline(
                ref,
                color=CAR_REFERENCE_COLOUR,
                linestyle="--",
                linewidth=1.2,
                label=f"every trip by private car (baseline's trips): {format_number(ref)}",
            )
            # above the panel, right of its title: never over a bar's value
            ax.legend(
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                fontsize=7.5,
                frameon=False,
                borderaxespad=0.1,
            )
        for yi, row in zip(y, rows.itertuples(index=False), strict=True):
            text = " " + format_number(row.value)
            if np.isfinite(half[yi]):
                text += f" ± {format_number(half[yi])}"
            if not math.isnan(row.change_pct):
                text += f"  ({row.change_pct:+.1f} %)"
            at = values[yi] if np.isfinite(values[yi]) else 0.0
            ax.text(
                at,
                yi,
                text,
                ha="left",
                va="center",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85},
            )
        ax.set_xlim(0, top * 1.3 if top > 0 else 1.0)
        if top >= 1000:  # thousands separators on the axis as on the bars
            ax.xaxis.set_major_formatter(
                matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}")
            )
        ax.set_yticks(y)
        ax.set_yticklabels(
            [f"{r} (baseline)" if r == base_label else r for r in rows["run"]], fontsize=8
        )
        ax.invert_yaxis()  # the baseline first, on top
        ax.set_title(f"{name}, {unit}", fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        "Energy of the day against the baseline run (grey; % = change against it)", fontsize=11
    )
    fig.tight_layout()
    return fig


def charging_chart(runs: Runs) -> Figure:
    """Charging load (kW, 15-min means) over the day, with PV generation when the run has it."""
    from mobisim.metrics.counterfactual import pv_profile_kw

    fig, ax = _figure(9, 4)
    for label, tables in runs:
        load = charging_load_kw(tables["events"])
        if len(load):
            ax.step(
                load["time_s"] / 3600, load["load_kw"], where="post", label=f"{label}: charging"
            )
        pv = pv_profile_kw(tables)
        if len(pv):
            ax.fill_between(pv["time_s"] / 3600, pv["pv_kw"], alpha=0.3, label=f"{label}: PV")
    if not ax.lines and not ax.collections:
        no_data(ax, "Charging load", "no charging sessions and no PV in these runs")
        return fig
    ax.set_ylabel("kW")
    ax.set_title("Charging load and PV")
    _hour_ticks(ax)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def map_chart(label: str, tables: dict[str, Any]) -> Figure:
    """The network with vehicle flows by mode, device pick-ups, stations and trip flows of one run,
    with a scale bar and a north arrow (see results/gis.py); legend and colour bar on the right."""
    fig = plt.figure(figsize=(11, 8))
    ax = fig.add_axes((0.02, 0.03, 0.66, 0.91))  # the right third holds the legend
    plot_network_map(ax, tables, title=f"Network, flows and stations — {label}")
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if x1 > x0:  # as tall as the study area, so a wide town leaves no empty bands
        fig.set_size_inches(11, min(11.0, max(5.0, 11 * 0.66 * (y1 - y0) / (x1 - x0) / 0.91)))
    return fig


def trips_by_hour_chart(label: str, tables: dict[str, Any]) -> Figure:
    """Trips by departure hour stacked by final mode (one run)."""
    fig, ax = _figure(8, 4)
    trips = tables["trips"]
    if trips.empty:
        no_data(ax, "Trips by hour", "no trips")
        return fig
    hour = (trips["depart_s"] // 3600).astype(int)
    modes = as_str(trips["mode"]).where(served_mask(trips), "unserved").replace("", "unserved")
    counts = pd.crosstab(hour, modes)
    order = ordered_modes(counts.columns)
    counts = counts[order].rename(columns=mode_name)
    counts.plot(kind="bar", stacked=True, ax=ax, width=0.85, color=[mode_colour(m) for m in order])
    ax.set_xlabel("departure hour")
    ax.set_ylabel("trips")
    ax.set_title(f"Trips by hour and mode — {label}")
    fig.tight_layout()
    return fig


def door_to_door_chart(runs: Runs) -> Figure:
    """Distribution of door-to-door times of served trips (min, % of each run's served trips of
    that mode): one panel per final mode in its colour, one step histogram per run (line style)."""
    times, modes = {}, {}
    for label, t in runs:
        trips = t["trips"].loc[served_mask(t["trips"])]
        trips = trips[trips["door_to_door_s"].notna()]
        if len(trips):
            times[label] = trips["door_to_door_s"] / 60
            modes[label] = as_str(trips["mode"])
    if not times:
        fig, ax = _figure()
        no_data(ax, "Door-to-door time", "no served trips")
        return fig
    return _histograms_by_mode(
        times, modes, "Door-to-door time of served trips, by mode", "door-to-door, min",
        "% of trips",
    )  # fmt: skip


def run_charts(label: str, tables: dict[str, Any]) -> dict[str, Figure]:
    """Every standard chart of one run, by file stem."""
    runs = [(label, tables)]
    return {
        "mode_share": mode_share_chart(runs),
        "trips_by_hour": trips_by_hour_chart(label, tables),
        "door_to_door": door_to_door_chart(runs),
        "wait": wait_chart(runs),
        "hourly": hourly_chart(runs),
        "fleet_state": fleet_state_chart(label, tables),
        "occupancy": occupancy_chart(runs),
        "energy": energy_chart(runs),
        "charging": charging_chart(runs),
        "map": map_chart(label, tables),
    }


def save_png(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG at ``dpi`` and close it; returns the path."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_run(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Write the standard charts of ``run_dir`` as PNG into ``out_dir`` (default RUN_DIR/charts).

    Returns the files written.
    """
    from mobisim.metrics.tables import load_run, resolve_run_dir, run_label

    run_dir = resolve_run_dir(run_dir)
    tables = load_run(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "charts"
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = run_charts(run_label(tables, run_dir), tables)
    return [save_png(fig, out_dir / f"{name}.png") for name, fig in charts.items()]

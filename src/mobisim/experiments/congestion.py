"""The congestion loop: a run's road-vehicle volumes slow the roads, and the day is re-run.

Each iteration simulates the whole day with the router's current link times, counts the legs of
cars and road vehicles (``vehicle_leg`` rows of private_car, carsharing, drt and fixed_route
services) on the links of their fastest paths per time-of-day period
(:func:`mobisim.network.bpr.link_volumes_veh_h`, the one router's paths), adds the background
traffic of an OD table loaded on its fastest paths, and averages the result into the link volumes
by the method of successive averages (iteration k moves the volumes 1/k of the way). The BPR
function gives each link's time at the averaged volume, and the router's drive-view speed
factors of every period are set to ``period factor / (1 + alpha (v/c)^beta)``, so every road
profile (car, DRT, shuttles, car-sharing) drives the congested times in the next day.

The gap of iteration k is ``(Σ t·v − Σ t·y) / Σ t·v`` with ``t`` the link times the day ran on,
``v`` the averaged volumes those times came from and ``y`` the volumes of the day (everyone on a
fastest path at ``t``): 0 when nobody could save time by driving another path. The first day
runs at the period speeds with no averaged volumes yet, so its gap is not defined (NaN); the
loop stops when a gap is below ``relative_gap`` or after ``max_iterations`` days, and the last
day's outputs are the run's. Same scenario and seed: the same random draws every day (common
random numbers) and the same iterations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mobisim.errors import ScenarioError
from mobisim.network.bpr import bpr_time_s, link_capacity_veh_h, link_volumes_veh_h

#: service types whose vehicles drive on the road network, and the profile of a type without
#: its own (services of the other types add a profile named after the service)
ROAD_SERVICE_TYPES = {"private_car": "car", "carsharing": "car", "drt": None, "fixed_route": None}
DRIVE_VIEW = "drive"


@dataclass
class CongestionResult:
    """What the loop did: the last day's output and one row per iteration in ``table``."""

    output: object
    table: pd.DataFrame
    converged: bool
    volume_veh_h: np.ndarray = field(repr=False)  # (periods, drive links), averaged


def road_legs(events: pd.DataFrame, scenario, router) -> dict[str, pd.DataFrame]:
    """The ``vehicle_leg`` rows of road vehicles by routing profile (from_node, to_node, time_s)."""
    profile_of = {}
    for block in scenario.enabled_services():
        if block.type in ROAD_SERVICE_TYPES:
            own = ROAD_SERVICE_TYPES[block.type]
            profile_of[block.name] = own if own is not None else block.name
    legs = events[(events["event"] == "vehicle_leg") & events["service"].isin(list(profile_of))]
    legs = legs[legs["node"] != legs["to_node"]]
    out: dict[str, pd.DataFrame] = {}
    for service, rows in legs.groupby("service", sort=True):
        profile = profile_of[service]
        if profile not in router.profiles:
            profile = "car"
        part = rows[["node", "to_node", "time_s"]]
        out[profile] = pd.concat([out[profile], part]) if profile in out else part
    return out


def load_background_od(path: Path, network, periods) -> pd.DataFrame:
    """Background trips: origin and destination node, period index, vehicles per hour.

    ``path``: CSV with columns origin, destination, vehicles and one of period (a period name)
    or hour (0 <= hour < 24: the period containing it). Volumes are per period (as the router's
    times), so a row's vehicles are spread over its whole period. Raises ScenarioError naming the file and
    row of an unknown place or node, period or a bad count.
    """
    key = "network.congestion.background_od"

    def error(message: str) -> ScenarioError:
        return ScenarioError(path, [(key, message)])

    try:
        table = pd.read_csv(path, dtype={"origin": str, "destination": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise error(f"cannot read the background OD table: {exc}") from None
    missing = {"origin", "destination", "vehicles"} - set(table.columns)
    if missing or not ({"period", "hour"} & set(table.columns)):
        raise error(
            f"expected columns origin, destination, vehicles and period or hour "
            f"(got {', '.join(map(str, table.columns))})"
        )
    names = {p.name: i for i, p in enumerate(periods)}
    places = set(network.places["name"]) if len(network.places) else set()
    rows = []
    for i, row in enumerate(table.itertuples(index=False), start=2):  # line 1 is the header
        nodes = []
        for role in ("origin", "destination"):
            text = str(getattr(row, role)).strip()
            if text in places:
                nodes.append(network.place_node(text))
            elif text.lstrip("-").isdigit() and 0 <= int(text) < network.n_nodes:
                nodes.append(int(text))
            else:
                raise error(
                    f"row {i}: {role} '{text}' is neither a place of the network nor a "
                    f"node index in 0..{network.n_nodes - 1}"
                )
        vehicles = float(row.vehicles)
        if not vehicles >= 0:
            raise error(f"row {i}: vehicles must be >= 0 (got {row.vehicles})")
        if "period" in table.columns and isinstance(row.period, str):
            if row.period not in names:
                raise error(
                    f"row {i}: unknown period '{row.period}'; expected one of {', '.join(names)}"
                )
            period = names[row.period]
            hours = periods[period].end_h - periods[period].start_h
        else:
            hour = float(row.hour)
            if not 0 <= hour < 24:
                raise error(f"row {i}: hour must be in 0..24 (got {row.hour})")
            period = next(k for k, p in enumerate(periods) if p.start_h <= hour < p.end_h)
            hours = periods[period].end_h - periods[period].start_h  # spread over its period
        rows.append((nodes[0], nodes[1], period, vehicles / hours))
    return pd.DataFrame(rows, columns=["origin", "destination", "period", "veh_h"])


def background_volumes_veh_h(router, background: pd.DataFrame) -> np.ndarray:
    """Drive-link volumes (periods × links, veh/h) of the background OD on its fastest paths."""
    view = router.network.view(DRIVE_VIEW)
    volume = np.zeros((len(router.periods), view.n_edges))
    for (period, veh_h), rows in background.groupby(["period", "veh_h"], sort=True):
        at_s = router.periods[int(period)].start_h * 3600.0
        # one leg per row in its period, counted veh_h · hours times: hours cancel the division
        hours = router.periods[int(period)].end_h - router.periods[int(period)].start_h
        legs = link_volumes_veh_h(
            router,
            rows["origin"],
            rows["destination"],
            np.full(len(rows), at_s),
            scale=veh_h * hours,
        )
        volume += legs
    return volume


def run_congestion_loop(
    scenario,
    network,
    router,
    simulate_day: Callable[[], object],
    progress: Callable[[str], None] | None = None,
) -> CongestionResult:
    """Simulate the day until the congestion gap is small (module docstring).

    Parameters
    ----------
    scenario : Scenario
        Its ``network.congestion`` block sets the loop.
    network, router : Network, Router
        The run's network and its one router (its drive-view factors are changed in place).
    simulate_day : callable
        Simulates the whole day with the router as it is and returns the simulation output
        (with ``events``); called once per iteration with fresh random streams.
    progress : callable, optional
        Called with one line per iteration (iteration, gap, wall time).
    """
    config = scenario.network.congestion
    view = network.view(DRIVE_VIEW)
    capacity = link_capacity_veh_h(view.highway, None, config.capacity_by_road_class)
    n_periods = len(router.periods)
    base = np.ones((n_periods, view.n_edges))
    for k in range(n_periods):
        factors, _ = router._factors(DRIVE_VIEW, k)
        if factors is not None:
            base[k] = factors
    free_s = view.length_m / (view.speed_kph * base / 3.6)  # per period, at the period speeds
    background = None
    if config.background_od:
        path = Path(config.background_od)
        if not path.is_absolute():
            path = Path(scenario.base_dir) / path
        background = load_background_od(path, network, router.periods)
    averaged = np.zeros_like(base)
    time_s = free_s.copy()
    rows = []
    converged = False
    for k in range(1, config.max_iterations + 1):
        started = time.perf_counter()
        output = simulate_day()
        day = np.zeros_like(base)
        by_profile = road_legs(output.events, scenario, router)
        for profile, legs in by_profile.items():
            day += link_volumes_veh_h(
                router, legs["node"], legs["to_node"], legs["time_s"], profile,
                config.vehicle_scale,
            )  # fmt: skip
        if background is not None:
            day += background_volumes_veh_h(router, background)
        gap = np.nan
        if k > 1:
            total_s = float(np.sum(time_s * averaged))
            gap = (total_s - float(np.sum(time_s * day))) / total_s if total_s > 0 else 0.0
        vkt = float(np.sum(day * view.length_m)) / 1000.0
        rows.append(
            {
                "iteration": k,
                "relative_gap": gap,
                "road_legs": int(sum(len(v) for v in by_profile.values())),
                "veh_km_h": vkt,
                "mean_link_delay": float(np.sum(time_s * day) / max(np.sum(free_s * day), 1e-12)),
                "wall_time_s": round(time.perf_counter() - started, 3),
            }
        )
        if progress is not None:
            shown = "-" if np.isnan(gap) else f"{gap:.4f}"
            progress(f"congestion iteration {k}: relative gap {shown}")
        if k > 1 and abs(gap) < config.relative_gap:
            converged = True
            break
        if k == config.max_iterations:
            break
        averaged = averaged + (day - averaged) / k
        time_s = bpr_time_s(free_s, averaged, capacity[None, :], config.alpha, config.beta)
        for p in range(n_periods):
            router.set_link_speed_factors(DRIVE_VIEW, p, base[p] * free_s[p] / time_s[p])
    return CongestionResult(output, pd.DataFrame(rows), converged, averaged)


def plot_gaps(table: pd.DataFrame, file: Path, threshold: float) -> Path:
    """A PNG chart of the relative gap by iteration (|gap|, log scale) with the threshold line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    shown = table.dropna(subset=["relative_gap"])
    ax.plot(shown["iteration"], shown["relative_gap"].abs().clip(lower=1e-9), marker="o")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axhline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration (day simulated)")
    ax.set_ylabel("|relative gap|")
    ax.set_title("Congestion feedback: relative gap by iteration")
    ax.legend()
    fig.tight_layout()
    file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file, dpi=100)
    plt.close(fig)
    return file

"""Standard charts of a run folder (PNG, matplotlib with the Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def _no_data(ax, title: str) -> None:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=14, color="grey")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_mode_share(trips: pd.DataFrame, out_png: Path) -> Path:
    """Bar chart of mode shares (% of trips; unserved shown as its own bar)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if trips.empty:
        _no_data(ax, "Mode share")
    else:
        modes = trips["mode"].where(trips["status"] != "unserved", "unserved")
        share = modes.value_counts(normalize=True).sort_values(ascending=False) * 100
        ax.bar(share.index.astype(str), share.to_numpy(), color="#3b7dd8")
        ax.set_ylabel("% of trips")
        ax.set_title("Mode share")
        for i, v in enumerate(share.to_numpy()):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_trips_by_hour(trips: pd.DataFrame, out_png: Path) -> Path:
    """Trips by departure hour, stacked by mode."""
    fig, ax = plt.subplots(figsize=(8, 4))
    if trips.empty:
        _no_data(ax, "Trips by hour")
    else:
        hour = (trips["depart_s"] // 3600).astype(int)
        table = pd.crosstab(hour, trips["mode"].replace("", "unserved"))
        table.plot(kind="bar", stacked=True, ax=ax, width=0.85)
        ax.set_xlabel("departure hour")
        ax.set_ylabel("trips")
        ax.set_title("Trips by hour and mode")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_door_to_door(trips: pd.DataFrame, out_png: Path) -> Path:
    """Distribution of door-to-door times by mode (minutes)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    served = trips[trips["status"] != "unserved"]
    if served.empty:
        _no_data(ax, "Door-to-door time")
    else:
        for mode, part in served.groupby("mode"):
            ax.hist(part["door_to_door_s"] / 60, bins=40, alpha=0.5, label=str(mode))
        ax.set_xlabel("door-to-door time, min")
        ax.set_ylabel("trips")
        ax.set_title("Door-to-door time by mode")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_run(run_dir: Path, out_dir: Path) -> list[Path]:
    """Write the standard charts of ``run_dir`` into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trips = pd.read_parquet(Path(run_dir) / "trips.parquet")
    return [
        plot_mode_share(trips, out_dir / "mode_share.png"),
        plot_trips_by_hour(trips, out_dir / "trips_by_hour.png"),
        plot_door_to_door(trips, out_dir / "door_to_door.png"),
    ]

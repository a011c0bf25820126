"""Draw the figures of docs/tutorial-chungbuk.md from a Chungbuk batch and sweep.

    mobisim batch scenarios/chungbuk
    mobisim sweep sweeps/chungbuk-shuttle-pm.yaml --workers 2
    python docs/img/chungbuk_figures.py results/chungbuk results/chungbuk-shuttle-pm

Writes docs/img/chungbuk-*.png (short labels: the scenario names without "chungbuk-").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from mobisim.experiments.analysis import plot_sweep, read_sweep
from mobisim.metrics.tables import load_run
from mobisim.results import plots

HERE = Path(__file__).resolve().parent
PHASES = ["baseline", "phase-2019", "phase-2020", "drt-2030"]
ENERGY = ["drt-2030", "energy-grid", "energy-pv"]


def energy_per_pkm_chart(run_dir: Path):
    """kWh per passenger-km of every service of one run (bars), the private car as a line."""
    kpis = json.loads((run_dir / "kpis.json").read_text())["by_service"]
    rows = {
        name: (k["energy_kwh_per_pkm"], k.get("empty_share") or 0.0)
        for name, k in kpis.items()
        if (k.get("energy_kwh_per_pkm") or 0) > 0
    }
    car = rows.pop("car", (float("nan"), 0.0))[0]
    names = sorted(rows, key=lambda n: rows[n][0])
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    ax.bar(names, [rows[n][0] for n in names], color="#4c6ef5")
    for i, name in enumerate(names):
        ax.annotate(
            f"{rows[name][1]:.0%} empty", (i, rows[name][0]), ha="center", va="bottom", fontsize=8
        )
    ax.axhline(car, color="#e03131", linestyle="--", label=f"private car ({car:.2f} kWh/pkm)")
    ax.set_ylabel("kWh per passenger-km")
    ax.set_title("Energy per passenger-km by service — drt-2030")
    ax.legend()
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def main(batch_dir: Path, sweep_dir: Path | None) -> None:
    runs = pd.read_parquet(batch_dir / "batch.parquet")
    folders = {
        str(name).removeprefix("chungbuk-"): Path(run_dir)
        for name, run_dir in zip(runs["scenario"], runs["run_dir"], strict=True)
    }
    tables = {label: load_run(folder) for label, folder in folders.items()}
    phases = [(label, tables[label]) for label in PHASES]
    energy = [(label, tables[label]) for label in ENERGY]
    plots.save_png(plots.mode_share_chart(phases), HERE / "chungbuk-mode-share.png")
    plots.save_png(plots.energy_chart(phases), HERE / "chungbuk-energy.png")
    plots.save_png(plots.wait_chart(phases), HERE / "chungbuk-wait.png")
    plots.save_png(plots.charging_chart(energy), HERE / "chungbuk-charging.png")
    plots.save_png(
        plots.fleet_state_chart("drt-2030", tables["drt-2030"]), HERE / "chungbuk-fleet-drt.png"
    )
    plots.save_png(energy_per_pkm_chart(folders["drt-2030"]), HERE / "chungbuk-kwh-per-pkm.png")
    if sweep_dir is not None:
        frame = read_sweep(sweep_dir)
        plot_sweep(
            frame,
            "by_service.shuttle.wait_mean_s",
            "services.shuttle.headway_min",
            HERE / "chungbuk-sweep-shuttle-wait.png",
            hue="services.pm.devices.ebike.count",
        )
        plot_sweep(
            frame,
            "by_service.shuttle.request_served_share",
            "services.shuttle.headway_min",
            HERE / "chungbuk-sweep-shuttle-served.png",
            hue="services.pm.devices.ebike.count",
        )
        plot_sweep(
            frame,
            "mode_share.car",
            "services.pm.devices.ebike.count",
            HERE / "chungbuk-sweep-car-share.png",
            hue="services.shuttle.headway_min",
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)

"""Helpers shared by the peer benchmarks: where the peer venvs are, running code in them, tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/tmp/mobisim-peers"))
REPO = Path(__file__).resolve().parents[2]


def peer_python(name: str) -> Path:
    """The python of peer venv ``name`` under $PEERS_DIR; exits with the setup hint if missing."""
    python = PEERS_DIR / name / "bin" / "python"
    if not python.is_file():
        sys.exit(
            f"{python} not found: run `PEERS_DIR={PEERS_DIR} bash benchmarks/peers/setup_peers.sh {name}`"
        )
    return python


def run_in_peer(
    name: str, code: str, cwd: Path, timeout_s: float = 3600, args: tuple[str, ...] = ()
) -> tuple[dict, float]:
    """Run ``code`` with peer ``name``'s python in ``cwd`` (``args`` as its ``sys.argv[1:]``);
    the code prints one JSON line last.

    Returns (that JSON as a dict, wall time of the whole process in s, interpreter start and
    imports included).
    """
    started = time.perf_counter()
    done = subprocess.run(
        [str(peer_python(name)), "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last), wall_s


def machine() -> str:
    """One line describing the machine (CPU model, cores, memory, Python)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GB, Python {platform.python_version()}"


def print_table(rows: list[dict], title: str) -> None:
    """Print ``rows`` as a Markdown table under ``title`` (paste-ready for benchmarks/README.md)."""
    frame = pd.DataFrame(rows)
    print(f"\n### {title}\n")
    print("| " + " | ".join(frame.columns) + " |")
    print("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row]
        print("| " + " | ".join(cells) + " |")


def ensure_drt_registered() -> bool:
    """True if ``type: drt`` is in the service registry; else register it for this process only.

    While the DRT service module exists but is not yet in ``mobisim.scenario.registry``, the
    benchmark registers it itself (and says so in its output) instead of editing the registry.
    """
    from mobisim.scenario import registry

    if "drt" in registry.SERVICE_TYPES:
        return True
    registry.SERVICE_TYPES["drt"] = "mobisim.services.drt:DrtService"
    return False

"""How busy the machine is besides the benchmark itself (Linux: /proc/stat and getrusage).

Timings on a shared machine are only meaningful with the load of the other processes next to
them. :func:`wait_until_idle` waits (up to a limit) until the other processes use less than a
given number of cores; :class:`ForeignLoad` measures, over a stretch of time, the CPU used by
processes other than this one and its descendants (busy CPU time of the whole machine from
/proc/stat minus this process tree's user + system time), in cores on average. The tree
includes grandchildren that are not this process's own children (a fork server's workers).
"""

from __future__ import annotations

import os
import resource
import time

TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, steal included)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def own_cpu_s() -> float:
    """CPU seconds of this process and its reaped children (user + system)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def tree_cpu_s() -> float:
    """CPU seconds of this process, its reaped children and every live descendant (with what
    each of those has reaped): a fork server's workers are grandchildren, reaped by the server."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)], stats[int(entry)] = int(fields[1]), fields
    total, frontier = own_cpu_s(), [os.getpid()]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        for pid in children:  # utime, stime, cutime, cstime (fields 14-17 of proc(5))
            total += sum(int(x) for x in stats[pid][11:15]) / TICKS
        frontier = children
    return total


class ForeignLoad:
    """Context manager: ``cores`` = average cores used by other processes while it was open."""

    def __enter__(self) -> ForeignLoad:
        self._t, self._busy, self._own = time.perf_counter(), machine_busy_s(), tree_cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._t
        foreign = (machine_busy_s() - self._busy) - (tree_cpu_s() - self._own)
        self.cores = max(0.0, foreign / wall) if wall > 0 else 0.0


def busy_cores(sample_s: float = 2.0) -> float:
    """Cores used by other processes over the next ``sample_s`` seconds."""
    with ForeignLoad() as load:
        time.sleep(sample_s)
    return load.cores


def wait_until_idle(max_cores: float = 0.2, timeout_s: float = 300.0) -> float:
    """Wait until other processes use at most ``max_cores`` (2-s samples), ``timeout_s`` at most.

    Returns the last sample (in cores), whether or not the machine became idle.
    """
    deadline = time.monotonic() + timeout_s
    cores = busy_cores()
    while cores > max_cores and time.monotonic() < deadline:
        cores = busy_cores()
    return cores

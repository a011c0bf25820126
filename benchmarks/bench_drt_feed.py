"""The request feeder the DRT benchmarks share (``bench_drt.py``, ``bench_drt_fleet.py``).

One SimPy process asks the real DrtService for an offer at each request's departure and books it
at once, like a commuter who always takes DRT; only offers() + request() are timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mobisim.services.base import Trip


def feed_requests(
    env, service, origins, dests, departs, stats: dict, on_refused: Callable | None = None
):
    """SimPy process: request ``i`` from node ``origins[i]`` to ``dests[i]`` at ``departs[i]``
    (s, sorted). Adds the wall time (s) of offers() + request() to ``stats["dispatch_s"]`` and
    counts ``stats["served"]`` and ``stats["refused"]``; ``on_refused(trip)`` is called for each
    refusal, outside the timing."""
    for i in range(len(departs)):
        if departs[i] > env.now:
            yield env.timeout(departs[i] - env.now)
        trip = Trip(i, i, "bench", "any", int(origins[i]), int(dests[i]), env.now)
        tic = time.perf_counter()
        offer = service.offers(trip, env.now)[0]
        if offer.available:
            service.request(trip, offer)
        stats["dispatch_s"] += time.perf_counter() - tic
        if offer.available:
            stats["served"] += 1
        else:
            stats["refused"] += 1
            if on_refused is not None:
                on_refused(trip)

"""Count en-route diversions in a DRT event log (issue 21: ridepy pools more than mobisim).

Plain pandas, no other import: ``nootdorp_peers.py`` also runs this file's source inside the
ridepy venv, on ridepy's own event log.
"""

from __future__ import annotations

import pandas as pd


def count_diversions(stops: pd.DataFrame, requested_s: pd.Series) -> int:
    """How many requests were picked up before the stop their vehicle was driving to.

    ``stops``: one row per pick-up or drop-off served, in the order they were served, with
    columns ``vehicle_id``, ``time_s`` (s) and ``request_id``; ``requested_s``: the time each
    request was made (s), indexed by request id. A request counts when, at the time it was
    made, its vehicle still had a stop of an earlier request ahead (it was driving there: no
    stop waits here) and the request's own pick-up is the next stop that vehicle served — the
    dispatcher put it before the stop the vehicle was heading to.
    """
    diverted = 0
    for _, rows in stops.groupby("vehicle_id", sort=False):
        times = rows["time_s"].to_numpy()
        ids = rows["request_id"].to_numpy()
        made = requested_s.loc[ids].to_numpy()  # when each stop's request was made
        seen: set = set()
        for k, request_id in enumerate(ids):
            if request_id in seen:  # its drop-off
                continue
            seen.add(request_id)
            t = made[k]
            ahead = times > t  # the stops still to serve when the request was made
            first_ahead = int(ahead.argmax())
            earlier = ahead[k + 1 :] & (made[k + 1 :] < t)
            if first_ahead == k and earlier.any():
                diverted += 1
    return diverted

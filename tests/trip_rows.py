"""The trips table the engine tests feed to ``simulate``: one row per (origin, dest, depart_s)."""

from __future__ import annotations

import pandas as pd


def trips_frame(*rows, car_available: bool = True) -> pd.DataFrame:
    """Trips table rows from (origin node, dest node, depart s) plus optional column overrides
    (a fourth item: a dict of columns); every trip its own person and tour, a worker's leg 0."""
    records = []
    for i, row in enumerate(rows):
        origin, dest, depart_s, *extra = row
        record = {
            "trip_id": i,
            "person_id": i,
            "tour_id": i,
            "leg_index": 0,
            "group": "workers",
            "purpose": "work",
            "origin_node": origin,
            "dest_node": dest,
            "origin_place": "",
            "dest_place": "",
            "depart_s": depart_s,
            "party_size": 1,
            "car_available": car_available,
            "allowed_modes": "",
        }
        record.update(extra[0] if extra else {})
        records.append(record)
    return pd.DataFrame(records)

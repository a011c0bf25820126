"""Time profiles over the day from the event table: fleet by state, link volumes.

Pure functions of the saved tables, used by charts, the HTML report and the GIS export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mobisim.metrics.common import as_str
from mobisim.metrics.fleet import state_rows

#: width of the bins of the fleet-state profile, s
STATE_BIN_S = 300.0


def fleet_state_profile(
    events: pd.DataFrame, bin_s: float = STATE_BIN_S, service: str | None = None
) -> pd.DataFrame:
    """Mean number of vehicles in each state per time bin (from ``vehicle_leg``/``vehicle_dwell`` rows).

    Parameters
    ----------
    events : the event table; only registered vehicles (vehicle_id ≥ 0) are counted.
    bin_s : bin width, s.
    service : only this service's vehicles (None = every shared fleet).

    Returns a frame indexed by bin start (s after midnight), one column per state (vehicles).
    """
    rows = state_rows(events, service)
    if rows.empty:
        return pd.DataFrame(index=pd.Index([], dtype=float, name="time_s"))
    start = rows["time_s"].to_numpy(dtype=float)
    duration = rows["duration_s"].fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)
    states = as_str(rows["state"]).to_numpy()
    first = np.floor(start.min() / bin_s) * bin_s
    last = np.ceil((start + duration).max() / bin_s) * bin_s
    edges = np.arange(first, max(last, first + bin_s) + bin_s / 2, bin_s)
    profile = {}
    for state in sorted(set(states)):
        mask = states == state
        s, d = start[mask], duration[mask]
        # time spent in the state before each edge, summed over rows: F(t) = Σ clip(t - s, 0, d)
        spent = np.array([np.clip(edge - s, 0.0, d).sum() for edge in edges])
        profile[state] = np.diff(spent) / bin_s
    return pd.DataFrame(profile, index=pd.Index(edges[:-1], name="time_s"))


def link_volumes(events: pd.DataFrame, shared_only: bool = False) -> pd.DataFrame:
    """Vehicle volumes per (service, from_node, to_node) from ``vehicle_leg`` rows.

    With ``shared_only`` only registered vehicles (vehicle_id ≥ 0) count, not private cars.

    Columns: service, from_node, to_node, vehicles (legs driven), passengers (Σ pax on board),
    vehicle_km (km). A leg is one row from its start node to its end node: the path between them is
    not logged, so a leg is drawn as a straight segment.
    """
    legs = events[(as_str(events["event"]) == "vehicle_leg") & (events["node"] >= 0)]
    legs = legs[legs["to_node"] >= 0]
    if shared_only:
        legs = legs[legs["vehicle_id"] >= 0]
    frame = pd.DataFrame(
        {
            "service": as_str(legs["service"]).to_numpy(),
            "from_node": legs["node"].to_numpy(dtype=np.int64),
            "to_node": legs["to_node"].to_numpy(dtype=np.int64),
            "passengers": legs["pax"].clip(lower=0).to_numpy(dtype=np.int64),
            "vehicle_km": legs["distance_m"].fillna(0.0).to_numpy(dtype=float) / 1000.0,
        }
    )
    frame = frame[frame["from_node"] != frame["to_node"]]
    grouped = frame.groupby(["service", "from_node", "to_node"], sort=True)
    out = grouped.agg(
        vehicles=("passengers", "size"),
        passengers=("passengers", "sum"),
        vehicle_km=("vehicle_km", "sum"),
    )
    return out.reset_index()


def trip_flows(trips: pd.DataFrame) -> pd.DataFrame:
    """Trips per origin → destination place (or node, when places are unnamed), served trips only.

    Columns: origin, destination, origin_node, dest_node (a representative node: the most frequent),
    trips.
    """
    served = trips[as_str(trips["status"]) != "unserved"]
    if served.empty:
        return pd.DataFrame(
            {"origin": [], "destination": [], "origin_node": [], "dest_node": [], "trips": []}
        )
    use_places = "origin_place" in served and (as_str(served["origin_place"]) != "").all()
    origin = as_str(served["origin_place"]) if use_places else served["origin_node"].astype(str)
    dest = as_str(served["dest_place"]) if use_places else served["dest_node"].astype(str)
    frame = pd.DataFrame(
        {
            "origin": origin.to_numpy(),
            "destination": dest.to_numpy(),
            "origin_node": served["origin_node"].to_numpy(),
            "dest_node": served["dest_node"].to_numpy(),
        }
    )
    frame = frame[frame["origin"] != frame["destination"]]

    def most_frequent(values: pd.Series) -> int:
        return int(values.value_counts().index[0])

    out = frame.groupby(["origin", "destination"], sort=True).agg(
        origin_node=("origin_node", most_frequent),
        dest_node=("dest_node", most_frequent),
        trips=("origin_node", "size"),
    )
    return out.reset_index()

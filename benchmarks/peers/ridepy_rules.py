"""Why ridepy pools more than mobisim on Nootdorp (issue 21): ridepy under mobisim's rules.

    PEERS_DIR=/work/peers .venv/bin/python benchmarks/peers/ridepy_rules.py --inputs FOLDER

``FOLDER`` holds the ``requests.csv``, ``vehicles.csv`` and ``edges.csv`` that
``nootdorp_peers.py`` saved (``--out``). Runs ridepy's pure-Python twin of its brute-force
dispatcher (``ridepy.util.dispatchers.BruteForceTotalTravelTimeMinimizingDispatcher`` with the
Python ``VehicleState``) on the same requests, pooled (capacity 4) or not, each variant
(``--variants space:rule:ties``) in one of two spaces:

* space ``graph``: ridepy's undirected ``Graph`` (what its C++ ``spaces_cython.Graph`` is, the
  only graph space of the compiled core: one-way streets are driven both ways), edge length
  the shorter of the two directions (as the C++ Dijkstra over both parallel edges);
* space ``digraph``: ridepy's ``DiGraph`` (directed, as MaaSSim's and mobisim's network);

and with one of two rules for where a new stop can go:

* ``divert`` (ridepy's own): after the current-position element, i.e. before the stop the
  vehicle is driving to; ridepy's ``Graph`` puts that element at the next node on the path,
  so a vehicle can turn off at the next crossing;
* ``anchored`` (mobisim's): a vehicle driving to a stop is committed to it; new stops go after
  it (the dispatcher sees the stop list from that stop on, as mobisim's plan starts at its
  anchor). An idle vehicle is unchanged.

and with one of two ways to break ties between vehicles of equal cost (added drive time):

* ``ridepy`` (its ``FleetState``): the first vehicle, i.e. the lower id;
* ``mobisim`` (``drt_timing.decision_key``): the earlier pick-up, then the lower id.

Each run's per-request vehicle, pick-up and drop-off times go to
``FOLDER/ridepy_SPACE_RULE_TIES_CAPACITY.csv``. It counts, over the accepted requests, how many pick-ups went before the vehicle's next stop
while it was driving to that stop (``diverted``), and reads the same KPIs as
``nootdorp_peers.py`` with ridepy's own analytics. On Nootdorp the pure-Python twin (space
``graph``, ``divert``, ``ridepy`` ties) and the C++ core agree exactly non-pooled and within
2.3 % pooled (compare with the C++ row of ``nootdorp_peers.py``; benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PEERS_DIR, machine, print_table, run_in_peer

SPEED_MPS = 10.0
MAX_WAIT_S = 600.0
POOL_ALPHA, POOL_BETA_S = 1.5, 600.0

RULES_CODE = r"""
import json, math, sys, time
import pandas as pd
from ridepy.data_structures import TransportationRequest
from ridepy.fleet_state import SlowSimpleFleetState
from ridepy.util.analytics import get_stops_and_requests
from ridepy.util.dispatchers import BruteForceTotalTravelTimeMinimizingDispatcher
from ridepy.util.spaces import DiGraph, Graph
from ridepy.vehicle_state import VehicleState
args = json.loads(sys.argv[1])
edges = pd.read_csv(args["edges"])
req = pd.read_csv(args["requests"]); veh = pd.read_csv(args["vehicles"])
# one Python int object per node, used everywhere: ridepy's Graph.interp_dist walks a path
# with `is not`, so a location equal to a node but another object runs past the path's start
node = {int(v): int(v) for v in sorted(set(edges.u) | set(edges.v))}
pairs = [(node[int(u)], node[int(v)]) for u, v in zip(edges.u, edges.v)]
if args["space"] == "graph":
    shortest = {}  # one weight per unordered pair: the shorter direction
    for (u, v), w in zip(pairs, edges.length_m):
        key = (min(u, v), max(u, v))
        shortest[key] = min(shortest.get(key, math.inf), float(w))
    space = Graph(vertices=list(node.values()), edges=list(shortest),
                  weights=list(shortest.values()), velocity=args["speed_mps"])
else:
    space = DiGraph(vertices=list(node.values()), edges=pairs,
                    weights=edges.length_m.tolist(), velocity=args["speed_mps"])
stock = BruteForceTotalTravelTimeMinimizingDispatcher()

def driving(stoplist):
    # en route to stoplist[1]: every stop due by now was served by fast_forward_time, and no
    # pick-up here waits (earliest 0), so a stop after the current position is driven to
    return len(stoplist) > 1

def anchored(request, stoplist, space, seat_capacity):
    # mobisim's rule: the stop being driven to is committed; plan from it on
    if not driving(stoplist):
        return stock(request=request, stoplist=stoplist, space=space, seat_capacity=seat_capacity)
    cost, tail, windows = stock(request=request, stoplist=stoplist[1:], space=space,
                                seat_capacity=seat_capacity)
    return cost, (None if tail is None else [stoplist[0], *tail]), windows

counts = {"accepted_busy": 0, "diverted": 0}
class CountingVehicleState(VehicleState):
    def select_new_stoplist(self):
        old, new = self.stoplist, self.stoplist_new
        if driving(old):
            counts["accepted_busy"] += 1
            # the new stop list is a deep copy: compare requests by id
            counts["diverted"] += new[1].request.request_id != old[1].request.request_id
        super().select_new_stoplist()

class MobisimTies(SlowSimpleFleetState):
    # mobisim's decision_key: cheapest, then the earlier pick-up, then the lower vehicle id
    # (ridepy's own: cheapest, then the first vehicle, i.e. the lower id)
    def handle_transportation_request(self, req):
        if req.origin == req.destination:
            return super().handle_transportation_request(req)
        solutions = [vs.handle_transportation_request_single_vehicle(req)
                     for vs in self.fleet.values()]
        def pickup_s(vehicle_id):
            for stop in self.fleet[vehicle_id].stoplist_new:
                if stop.request.request_id == req.request_id:  # the pick-up comes first
                    return max(stop.estimated_arrival_time, stop.time_window_min)
        feasible = [s for s in solutions if s[1] < math.inf]
        if feasible:
            solutions = [min(feasible, key=lambda s: (s[1], pickup_s(s[0]), s[0]))]
        return self._apply_request_solution(req, solutions)

latest = lambda r: (r.t_s + args["alpha"] * r.direct_m / args["speed_mps"] + args["beta_s"]
                    if args["capacity"] > 1 else math.inf)
requests = [TransportationRequest(request_id=int(r.Index), creation_timestamp=float(r.t_s),
    origin=node[int(r.origin_osmid)], destination=node[int(r.dest_osmid)], pickup_timewindow_min=0,
    pickup_timewindow_max=float(r.t_s) + args["max_wait_s"], delivery_timewindow_min=0,
    delivery_timewindow_max=float(latest(r))) for r in req.itertuples()]
fleet_class = MobisimTies if args["ties"] == "mobisim" else SlowSimpleFleetState
fs = fleet_class(initial_locations={i: node[int(o)] for i, o in enumerate(veh.osmid)},
    seat_capacities=args["capacity"], space=space,
    dispatcher=anchored if args["rule"] == "anchored" else stock,
    vehicle_state_class=CountingVehicleState)
start = time.perf_counter()
events = list(fs.simulate(requests))
sim_s = time.perf_counter() - start
stops, reqs = get_stops_and_requests(events=events, space=space)
per_request = reqs[[("serviced", "vehicle_id"), ("serviced", "timestamp_pickup"),
                    ("serviced", "timestamp_dropoff")]]
per_request.columns = ["vehicle_id", "pickup_s", "dropoff_s"]
per_request.to_csv(args["out"])
served = reqs[reqs[("serviced", "timestamp_pickup")].notna()]
wait = served[("serviced", "timestamp_pickup")] - served[("submitted", "timestamp")]
ride = served[("serviced", "timestamp_dropoff")] - served[("serviced", "timestamp_pickup")]
print(json.dumps({"sim_s": sim_s, "served": int(len(served)), "requests": len(req),
                  "mean_wait_s": float(wait.mean()),
                  "mean_detour": float((ride / served[("submitted", "direct_travel_time")]).mean()),
                  "vkm": float(stops["dist_to_next"].sum()) / 1000.0, **counts}))
"""


def run_rules(inputs: Path, space: str, rule: str, ties: str, capacity: int) -> dict:
    """One ridepy pure-Python run on the saved inputs in ``inputs`` (``space``: graph or
    digraph; ``rule``: divert or anchored; ``ties``: ridepy or mobisim; ``capacity`` in
    persons); its KPIs and counts."""
    args = {
        "requests": str(inputs / "requests.csv"),
        "vehicles": str(inputs / "vehicles.csv"),
        "edges": str(inputs / "edges.csv"),
        "speed_mps": SPEED_MPS,
        "max_wait_s": MAX_WAIT_S,
        "alpha": POOL_ALPHA,
        "beta_s": POOL_BETA_S,
        "capacity": capacity,
        "space": space,
        "rule": rule,
        "ties": ties,
        "out": str(inputs / f"ridepy_{space}_{rule}_{ties}_{capacity}.csv"),
    }
    result, process_s = run_in_peer("ridepy", RULES_CODE, inputs, args=(json.dumps(args),))
    case = {"space": space, "rule": rule, "ties": ties, "capacity": capacity}
    return {**case, **result, "process_s": process_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, required=True, help="nootdorp_peers.py's folder")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[
            "graph:divert:ridepy",
            "digraph:divert:ridepy",
            "digraph:anchored:ridepy",
            "digraph:divert:mobisim",
            "digraph:anchored:mobisim",
        ],
        help="space:rule:ties (graph|digraph : divert|anchored : ridepy|mobisim)",
    )
    parser.add_argument("--capacities", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    print(f"machine: {machine()}; peers in {PEERS_DIR}")
    rows = []
    for capacity in args.capacities:
        for variant in args.variants:
            space, rule, ties = variant.split(":")
            rows.append(run_rules(args.inputs, space, rule, ties, capacity))
            print(rows[-1], flush=True)
    print_table(rows, f"ridepy (pure Python) under each rule, {args.inputs}")


if __name__ == "__main__":
    main()

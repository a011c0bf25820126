"""MaaSSim, ridepy and mobisim on MaaSSim's Nootdorp network: same requests, same fleet.

    PEERS_DIR=/work/peers /work/venv/bin/python benchmarks/peers/nootdorp_peers.py [--n 1000 5000]

For each N: N requests uniform over one hour between random distinct nodes of the network's
largest strongly connected component, N/4 vehicles on random nodes (seed 42; saved once as
requests.csv and vehicles.csv and fed to each simulator). Fixed travel times: shortest-path
distance at 10 m/s (MaaSSim's ``speeds.ride``; mobisim reads a copy of the network whose every
edge is 36 km/h; ridepy's Graph space with velocity 10). Pick-up within 600 s of the request
(MaaSSim's patience), no dwell at stops. Non-pooled (capacity 1) on all three; pooled
(capacity 4, arrival within request + 1.5 × direct + 600 s) on ridepy and mobisim.
Wall times are of the simulation call (data loading excluded) and of the whole peer process.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PEERS_DIR, ensure_drt_registered, machine, print_table, run_in_peer
from diversions import count_diversions

NETWORK = Path("/work/shared/networks/nootdorp-maassim.graphml")
SPEED_MPS = 10.0
MAX_WAIT_S = 600.0
POOL_CAPACITY, POOL_ALPHA, POOL_BETA_S = 4, 1.5, 600.0
SEED = 42

MAASSIM_CODE = r"""
import json, time, sys, os
import pandas as pd, numpy as np
args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(os.environ["BENCH_ARGS"])
import MaaSSim
from MaaSSim.data_structures import structures
from MaaSSim.utils import get_config, load_G, initialize_df
from MaaSSim.simulators import simulate
from MaaSSim.traveller import travellerEvent
from MaaSSim.driver import driverEvent
root = os.path.dirname(MaaSSim.__file__)
params = get_config(os.path.join(root, "data/config.json"))
params.paths.G = os.path.join(root, "data/Nootdorp.graphml")
params.paths.skim = os.path.join(root, "data/Nootdorp.csv")
req = pd.read_csv(args["requests"]); veh = pd.read_csv(args["vehicles"])
params.nP, params.nV, params.simTime = len(req), len(veh), 2
params.speeds.ride = args["speed_mps"]
params.times.patience = args["max_wait_s"]
params.times.pickup = params.times.dropoff = params.times.transaction = params.times.request = 0
params.shareability.share = 0
inData = structures.copy()
inData = load_G(inData, params, stats=True)
t0 = params.t0
requests = pd.DataFrame(index=req.index, columns=inData.requests.columns)
requests["pax_id"] = req.index
requests["origin"] = req.origin_osmid.values
requests["destination"] = req.dest_osmid.values
requests["treq"] = [t0 + pd.Timedelta(int(s), "s") for s in req.t_s]
requests["dist"] = [inData.skim.loc[o, d] for o, d in zip(requests.origin, requests.destination)]
requests["ttrav"] = (pd.to_timedelta(requests.dist, unit="s") / params.speeds.ride).dt.floor("1s")
requests["tarr"] = requests.treq + requests.ttrav
requests["shareable"] = False
requests["platform"] = 0
passengers = pd.DataFrame(index=req.index, columns=inData.passengers.columns)
passengers["event"] = travellerEvent.STARTS_DAY
passengers["pos"] = requests.origin
passengers["platforms"] = [[0] for _ in range(len(req))]
vehicles = pd.DataFrame(index=pd.RangeIndex(1, len(veh) + 1), columns=inData.vehicles.columns)
vehicles["pos"] = veh.osmid.values
vehicles["event"] = driverEvent.STARTS_DAY
vehicles["shift_start"], vehicles["shift_end"], vehicles["platform"] = 0, 24 * 3600, 0
inData.requests, inData.passengers, inData.vehicles = requests, passengers, vehicles
inData.platforms = initialize_df(inData.platforms)
inData.platforms.loc[0] = [1, "Platform", 1]
start = time.perf_counter()
sim = simulate(params=params, inData=inData)
sim_s = time.perf_counter() - start
pax = sim.res[0].pax_exp
served = int((pax["TRAVEL"] > 0).sum())  # seconds spent riding, per traveller
print(json.dumps({"sim_s": sim_s, "served": served, "requests": len(req)}))
"""

RIDEPY_CODE = r"""
import json, time, sys, os
import pandas as pd, networkx as nx
args = json.loads(os.environ["BENCH_ARGS"])
from ridepy.fleet_state import SlowSimpleFleetState
from ridepy.vehicle_state_cython import VehicleState
from ridepy.util.dispatchers_cython import BruteForceTotalTravelTimeMinimizingDispatcher
from ridepy.util.spaces_cython import Graph
from ridepy.data_structures_cython import TransportationRequest, LocType
edges = pd.read_csv(args["edges"])
req = pd.read_csv(args["requests"]); veh = pd.read_csv(args["vehicles"])
start = time.perf_counter()
space = Graph(vertices=sorted(set(edges.u) | set(edges.v)), edges=list(zip(edges.u, edges.v)),
              weights=edges.length_m.tolist(), velocity=args["speed_mps"])
requests = []
for r in req.itertuples():
    t = float(r.t_s)
    latest = (t + args["alpha"] * r.direct_m / args["speed_mps"] + args["beta_s"]) if args["capacity"] > 1 else float("inf")
    requests.append(TransportationRequest(request_id=int(r.Index), creation_timestamp=t,
        origin=int(r.origin_osmid), destination=int(r.dest_osmid), pickup_timewindow_min=0,
        pickup_timewindow_max=t + args["max_wait_s"], delivery_timewindow_min=0,
        delivery_timewindow_max=latest))
fs = SlowSimpleFleetState(initial_locations={i: int(o) for i, o in enumerate(veh.osmid)},
    seat_capacities=args["capacity"], space=space,
    dispatcher=BruteForceTotalTravelTimeMinimizingDispatcher(space.loc_type),
    vehicle_state_class=VehicleState)
events = list(fs.simulate(requests))
sim_s = time.perf_counter() - start
kinds = pd.Series([e["event_type"] for e in events]).value_counts().to_dict()
# service KPIs with ridepy's own analytics (after the timing)
from ridepy.util.analytics import get_stops_and_requests
stops, reqs = get_stops_and_requests(events=events, space=space)
served = reqs[reqs[("serviced", "timestamp_pickup")].notna()]
wait = served[("serviced", "timestamp_pickup")] - served[("submitted", "timestamp")]
ride = served[("serviced", "timestamp_dropoff")] - served[("serviced", "timestamp_pickup")]
log = pd.DataFrame(events)
served_stops = log[log["event_type"].isin(["PickupEvent", "DeliveryEvent"])].rename(
    columns={"timestamp": "time_s"})
made = log[log["event_type"] == "RequestSubmissionEvent"].set_index("request_id")["timestamp"]
print(json.dumps({"sim_s": sim_s, "served": int(kinds.get("DeliveryEvent", 0)),
                  "accepted": int(kinds.get("RequestAcceptanceEvent", 0)), "requests": len(req),
                  "mean_wait_s": float(wait.mean()),
                  "mean_detour": float((ride / served[("submitted", "direct_travel_time")]).mean()),
                  "vkm": float(stops["dist_to_next"].sum()) / 1000.0,
                  "diverted": count_diversions(served_stops, made)}))
"""
# count_diversions (diversions.py) is defined in the peer process too
RIDEPY_CODE = (Path(__file__).with_name("diversions.py").read_text()) + RIDEPY_CODE


def two_way(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph`` with every street drivable both ways: for each pair of adjacent nodes one edge
    each way, of the shorter ``length`` (m) of the pair's edges in either direction. This is
    the space ridepy's compiled core drives (its ``spaces_cython.Graph`` is undirected: a
    Dijkstra over both directions of every edge)."""
    shortest: dict[tuple[int, int], tuple[float, dict]] = {}
    for u, v, data in graph.edges(data=True):
        if u == v:
            continue
        pair = (min(u, v), max(u, v))
        length_m = float(data["length"])
        if pair not in shortest or length_m < shortest[pair][0]:
            shortest[pair] = (length_m, data)
    both = nx.MultiDiGraph(**graph.graph)
    both.add_nodes_from(graph.nodes(data=True))
    for (a, b), (length_m, data) in shortest.items():
        # the geometry is drawn one way only; the length says what the edge costs
        kept = {k: v for k, v in data.items() if k not in ("geometry", "reversed", "oneway")}
        for u, v in ((a, b), (b, a)):
            both.add_edge(u, v, **{**kept, "length": length_m, "oneway": False})
    return both


def make_inputs(
    n: int, folder: Path, per_vehicle: int = 4, undirected: bool = False
) -> dict[str, Path]:
    """Requests, vehicles (one per ``per_vehicle`` requests) and edge list for ``n`` requests
    (seeded), written under ``folder``. With ``undirected``, mobisim's graph is
    :func:`two_way` of the largest strongly connected component (the requests and vehicles
    are the same) and each request's ``direct_m`` is measured on it, so that mobisim and
    ridepy's compiled core drive the same distances under the same windows."""
    graph = ox.load_graphml(NETWORK)
    keep = max(nx.strongly_connected_components(graph), key=len)
    nodes = np.array(sorted(keep))
    rng = np.random.default_rng(SEED + n)
    origins = rng.choice(nodes, n)
    dests = rng.choice(nodes, n)
    same = origins == dests
    while same.any():
        dests[same] = rng.choice(nodes, int(same.sum()))
        same = origins == dests
    sub = graph.subgraph(keep)
    driven = two_way(sub) if undirected else sub
    lengths = dict(nx.all_pairs_dijkstra_path_length(driven, weight="length"))
    req = pd.DataFrame(
        {
            "t_s": np.sort(rng.uniform(0, 3600, n)).round(1),
            "origin_osmid": origins,
            "dest_osmid": dests,
        }
    )
    req["direct_m"] = [lengths[o][d] for o, d in zip(origins, dests, strict=True)]
    for end, col in (("origin", "origin_osmid"), ("dest", "dest_osmid")):
        req[f"{end}_lat"] = [graph.nodes[v]["y"] for v in req[col]]
        req[f"{end}_lon"] = [graph.nodes[v]["x"] for v in req[col]]
    veh = pd.DataFrame({"osmid": rng.choice(nodes, n // per_vehicle)})
    veh["lat"] = [graph.nodes[v]["y"] for v in veh.osmid]
    veh["lon"] = [graph.nodes[v]["x"] for v in veh.osmid]
    # shortest length per node pair (ridepy's Graph takes one weight per edge)
    edges = {}
    for u, v, data in sub.edges(data=True):
        if u != v:
            edges[(u, v)] = min(edges.get((u, v), np.inf), float(data["length"]))
    edge_frame = pd.DataFrame(
        [(u, v, w) for (u, v), w in edges.items()], columns=["u", "v", "length_m"]
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "requests": folder / "requests.csv",
        "vehicles": folder / "vehicles.csv",
        "edges": folder / "edges.csv",
    }
    req.to_csv(paths["requests"], index=False)
    veh.to_csv(paths["vehicles"], index=False)
    edge_frame.to_csv(paths["edges"], index=False)
    # mobisim: the same graph with every edge at 36 km/h (fixed travel times)
    fixed = two_way(sub) if undirected else graph.copy()
    for *_, data in fixed.edges(data=True):
        data["maxspeed"] = f"{SPEED_MPS * 3.6:g}"
        data["highway"] = "unclassified"
    paths["graphml"] = folder / "nootdorp_fixed.graphml"
    ox.save_graphml(fixed, paths["graphml"])
    return paths


def mobisim_scenario(paths: dict[str, Path], capacity: int, folder: Path) -> Path:
    """A mobisim scenario for the saved requests and vehicles (``type: drt``)."""
    req = pd.read_csv(paths["requests"])
    veh = pd.read_csv(paths["vehicles"])
    trips = pd.DataFrame(
        {
            "trip_id": req.index,
            "depart": req.t_s,
            "origin_lat": req.origin_lat,
            "origin_lon": req.origin_lon,
            "dest_lat": req.dest_lat,
            "dest_lon": req.dest_lon,
        }
    )
    trips_file = folder / f"trips_{capacity}.csv"
    trips.to_csv(trips_file, index=False)
    service = {
        "name": "taxi" if capacity == 1 else "pooled",
        "type": "drt",
        "vehicles": len(veh),
        "capacity_pax": capacity,
        "depots": [
            {"name": f"v{i}", "lat": float(r.lat), "lon": float(r.lon)} for i, r in veh.iterrows()
        ],
        "max_wait_s": MAX_WAIT_S,
        "max_travel_alpha": POOL_ALPHA,
        "max_travel_beta_s": POOL_BETA_S,
        "stop_s": 0.0,
        "fare_base_krw": 0.0,
    }
    scenario = {
        "name": f"nootdorp_{len(req)}_{capacity}",
        "seed": SEED,
        "period": {"start": "00:00", "end": "01:00"},
        "network": {"source": "graphml", "file": str(paths["graphml"]), "max_snap_m": 50},
        "demand": {"trip_table": {"file": trips_file.name, "on_bad_rows": "error"}},
        "services": [service],
        "mode_choice": {"policy": "cheapest", "fallback": "unserved"},
        "energy": {"enabled": False},
        "outputs": {"charts": False},
    }
    path = folder / f"scenario_{capacity}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def run_mobisim(scenario_file: Path, folder: Path) -> dict:
    """Run a scenario; wall time of ``simulate()`` and of the whole ``api.run``; served count."""
    from mobisim import api
    from mobisim.demand.trips import build_trips
    from mobisim.engine.simulation import simulate
    from mobisim.network.load import build_network
    from mobisim.network.router import Router
    from mobisim.randomness import RandomStreams

    t0 = time.perf_counter()
    scenario = api.load_scenario(scenario_file)
    result = api.run(scenario, out_dir=folder / "results")
    run_s = time.perf_counter() - t0
    streams = RandomStreams(scenario.seed)
    network = build_network(scenario.network, scenario.base_dir)
    router = Router(network, scenario.network.router)
    trips, _ = build_trips(
        scenario.demand,
        network,
        streams,
        scenario.period.start_s,
        scenario.period.end_s,
        base_dir=scenario.base_dir,
        max_snap_m=scenario.network.max_snap_m,
    )
    t1 = time.perf_counter()
    simulate(scenario, network, router, trips, streams)
    sim_s = time.perf_counter() - t1
    trips = result.trips
    ok = trips["status"] != "unserved"
    events = result.events
    legs = events[events["event"] == "vehicle_leg"]
    served_stops = events[events["event"].isin(["pickup", "dropoff"])].rename(
        columns={"trip_id": "request_id"}
    )
    return {
        "sim_s": sim_s,
        "process_s": run_s,
        "served": int(ok.sum()),
        "requests": len(trips),
        "mean_wait_s": float(trips.loc[ok, "wait_s"].mean()),
        "mean_detour": float((trips.loc[ok, "in_vehicle_s"] / trips.loc[ok, "direct_s"]).mean()),
        "vkm": float(legs["distance_m"].sum()) / 1000.0,
        "diverted": count_diversions(served_stops, trips.set_index("trip_id")["depart_s"]),
    }


def peer(name: str, code: str, args: dict, folder: Path) -> dict:
    """Run ``code`` in peer ``name`` with ``args`` (JSON in $BENCH_ARGS); add the process time."""
    import os

    os.environ["BENCH_ARGS"] = json.dumps(
        {k: str(v) if isinstance(v, Path) else v for k, v in args.items()}
    )
    result, process_s = run_in_peer(name, code, folder)
    return {**result, "process_s": process_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000], help="request counts")
    parser.add_argument(
        "--skip", nargs="*", default=[], help="simulators to skip: maassim ridepy mobisim"
    )
    parser.add_argument("--out", type=Path, default=None, help="folder for inputs and results")
    parser.add_argument(
        "--per-vehicle",
        type=int,
        default=4,
        help="requests per vehicle (4: every simulator serves all; 20: a scarce fleet)",
    )
    parser.add_argument(
        "--graph",
        choices=["directed", "undirected"],
        default="directed",
        help="the network mobisim drives and direct distances are measured on: directed (as "
        "MaaSSim's skim), or undirected, each street both ways (as ridepy's compiled Graph "
        "space drives it; MaaSSim is then skipped)",
    )
    args = parser.parse_args()
    undirected = args.graph == "undirected"
    if undirected and "maassim" not in args.skip:
        print("note: --graph undirected skips MaaSSim (its own distance skim is directed)")
        args.skip.append("maassim")
    print(f"machine: {machine()}; peers in {PEERS_DIR}")
    if "mobisim" not in args.skip and not ensure_drt_registered():
        print("note: `type: drt` is not in mobisim's registry yet; registered for this run only")
    base = args.out or Path(tempfile.mkdtemp(prefix="nootdorp_peers_"))
    rows = []
    for n in args.n:
        folder = base / f"n{n}_per{args.per_vehicle}_{args.graph}"
        paths = make_inputs(n, folder, args.per_vehicle, undirected)
        common = {
            **paths,
            "speed_mps": SPEED_MPS,
            "max_wait_s": MAX_WAIT_S,
            "alpha": POOL_ALPHA,
            "beta_s": POOL_BETA_S,
        }
        for pooled in (False, True):
            capacity = POOL_CAPACITY if pooled else 1
            case = {
                "N": n,
                "vehicles": n // args.per_vehicle,
                "pooled": pooled,
                "graph": args.graph,
            }
            if not pooled and "maassim" not in args.skip:
                rows.append(
                    {
                        **case,
                        "simulator": "MaaSSim 0.9.5",
                        **peer("maassim", MAASSIM_CODE, common, folder),
                    }
                )
            if "ridepy" not in args.skip:
                rows.append(
                    {
                        **case,
                        "simulator": "ridepy 2.10.1 (C++)",
                        **peer("ridepy", RIDEPY_CODE, {**common, "capacity": capacity}, folder),
                    }
                )
            if "mobisim" not in args.skip:
                rows.append(
                    {
                        **case,
                        "simulator": "mobisim",
                        **run_mobisim(mobisim_scenario(paths, capacity, folder), folder),
                    }
                )
            print(rows[-1], flush=True)
    for row in rows:
        row["served_share"] = row["served"] / row["requests"]
        row.pop("accepted", None)
    print_table(
        rows, "Nootdorp: MaaSSim, ridepy, mobisim (sim_s = simulation call; process_s = whole run)"
    )
    (base / f"nootdorp_peers_{args.graph}.json").write_text(json.dumps(rows, indent=1, default=str))
    print(f"inputs and details: {base}")


if __name__ == "__main__":
    main()

"""The congestion loop of a run: volumes -> BPR -> router -> the day again, until the gap is small."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from mobisim.errors import ScenarioError
from mobisim.experiments.congestion import load_background_od, plot_gaps, run_congestion_loop
from mobisim.network.graph import Network
from mobisim.network.load import prepare_graph
from mobisim.network.router import Router
from mobisim.scenario.network_config import CongestionConfig

DEMO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.yaml"
SPEED_KPH = 60.0


def _two_route_network(t01_s: float, t02_s: float) -> Network:
    """Node 0 to node 3 by route 1 (0-1-3, free time t01_s) or route 2 (0-2-3, t02_s); primary
    roads at 60 km/h, one lane: 1,000 veh/h each (the default primary capacity)."""
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for node, (lat, lon) in enumerate(
        ((37.50, 127.0), (37.51, 127.0), (37.49, 127.0), (37.50, 127.02))
    ):
        graph.add_node(node, y=lat, x=lon, street_count=2)
    for (a, b), route_s in (((0, 1), t01_s), ((1, 3), t01_s), ((0, 2), t02_s), ((2, 3), t02_s)):
        length_m = route_s / 2 * SPEED_KPH / 3.6
        graph.add_edge(a, b, highway="primary", length=length_m, maxspeed="60", oneway=True)
    graph.add_edge(3, 0, highway="residential", length=5000.0, oneway=True)  # the way back
    graph, _ = prepare_graph(graph, "two-routes")
    return Network(graph, name="two-routes")


def _scenario(**congestion) -> SimpleNamespace:
    return SimpleNamespace(
        network=SimpleNamespace(congestion=CongestionConfig(enabled=True, **congestion)),
        base_dir=".",
        enabled_services=lambda: [SimpleNamespace(type="private_car", name="car")],
    )


def _day_of_legs(n_legs: int, origin: int, dest: int):
    """A day whose cars all drive ``origin`` -> ``dest`` (spread over the day)."""
    events = pd.DataFrame(
        {
            "event": "vehicle_leg",
            "service": "car",
            "node": origin,
            "to_node": dest,
            "time_s": np.linspace(0, 86_000, n_legs),
        }
    )
    days = []

    def simulate_day():
        days.append(1)
        return SimpleNamespace(events=events)

    return simulate_day, days


def _route_times_s(router) -> tuple[float, float]:
    return (
        router.travel_time_s("car", 0, 1) + router.travel_time_s("car", 1, 3),
        router.travel_time_s("car", 0, 2) + router.travel_time_s("car", 2, 3),
    )


def test_the_loop_reaches_the_wardrop_split_worked_by_hand():
    """Same hand solution as tests/test_bpr.py: 3,000 veh/h split 2,011 / 989 equalises the
    route times t2(989) = 1200 (1 + 0.15 · 0.989^4) s. Here the demand is 72 simulated cars over
    the day, 1,000 real ones each (vehicle_scale): 72,000 / 24 h = 3,000 veh/h, routed by the
    run's router in each day. Tolerance: route times within 0.5 % of each other and of t2."""
    x1, x2 = 2011.0, 989.0
    t2_s = 1200.0 * (1 + 0.15 * (x2 / 1000) ** 4)
    t01_s = t2_s / (1 + 0.15 * (x1 / 1000) ** 4)
    network = _two_route_network(t01_s, 1200.0)
    router = Router(network)
    scenario = _scenario(max_iterations=400, relative_gap=1e-3, vehicle_scale=1000.0)
    simulate_day, days = _day_of_legs(72, 0, 3)
    result = run_congestion_loop(scenario, network, router, simulate_day)
    assert result.converged
    table = result.table
    assert len(days) == len(table) > 3 and np.isnan(table["relative_gap"].iloc[0])
    assert abs(table["relative_gap"].iloc[-1]) < 1e-3
    assert table["relative_gap"].iloc[1] > 0.1  # the second day is far from equilibrium
    route_1_s, route_2_s = _route_times_s(router)
    assert route_1_s == pytest.approx(t2_s, rel=5e-3)
    assert route_2_s == pytest.approx(t2_s, rel=5e-3)
    view = network.view("drive")
    by_pair = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(view.u, view.v, strict=True))}
    assert result.volume_veh_h[0, by_pair[(0, 1)]] == pytest.approx(x1, abs=0.01 * 3000)
    assert result.volume_veh_h[0, by_pair[(0, 2)]] == pytest.approx(x2, abs=0.01 * 3000)


def test_the_gap_falls_and_the_same_inputs_give_the_same_iterations():
    network = _two_route_network(1100.0, 1200.0)
    runs = []
    for _ in range(2):
        router = Router(network)
        simulate_day, _ = _day_of_legs(72, 0, 3)
        scenario = _scenario(max_iterations=30, relative_gap=1e-6, vehicle_scale=1000.0)
        runs.append(run_congestion_loop(scenario, network, router, simulate_day))
    gaps = runs[0].table["relative_gap"].to_numpy()[1:]
    assert not runs[0].converged and len(gaps) == 29
    assert gaps[-1] < gaps[0] / 10  # MSA: the gap falls (not every step)
    pd.testing.assert_frame_equal(
        runs[0].table.drop(columns="wall_time_s"), runs[1].table.drop(columns="wall_time_s")
    )


def test_background_od_raises_the_times_on_its_links(tmp_path):
    network = _two_route_network(600.0, 1200.0)
    free = _route_times_s(Router(network))
    od = tmp_path / "background.csv"
    od.write_text("origin,destination,hour,vehicles\n0,3,8,24000\n")
    router = Router(network)
    simulate_day, _ = _day_of_legs(0, 0, 3)
    scenario = _scenario(max_iterations=2, background_od=str(od))
    run_congestion_loop(scenario, network, router, simulate_day)
    loaded = _route_times_s(router)
    # 24,000 veh in the one 24-hour period: 1,000 veh/h, at capacity, on route 1 only: +15 %
    assert loaded[0] == pytest.approx(600.0 * 1.15)
    assert loaded[0] > free[0] and loaded[1] == pytest.approx(free[1])


def test_background_od_errors_name_the_file_and_row(tmp_path):
    network = _two_route_network(600.0, 1200.0)
    periods = Router(network).periods
    bad = tmp_path / "od.csv"
    bad.write_text("origin,destination,hour,vehicles\n0,3,8,10\n0,99,8,10\n")
    with pytest.raises(ScenarioError, match=r"od.csv.*row 3: destination '99'"):
        load_background_od(bad, network, periods)
    bad.write_text("origin,destination,period,vehicles\n0,3,rush,10\n")
    with pytest.raises(ScenarioError, match=r"row 2: unknown period 'rush'"):
        load_background_od(bad, network, periods)
    bad.write_text("from,to,vehicles\n0,3,1\n")
    with pytest.raises(ScenarioError, match="expected columns"):
        load_background_od(bad, network, periods)


def test_bad_congestion_keys_are_scenario_errors():
    import mobisim

    for key, value, pattern in (
        ("relative_gap", 0, "relative_gap"),
        ("capacity_by_road_class", {"highway_to_hell": 10}, "unknown road class"),
    ):
        with pytest.raises(ScenarioError, match=pattern):
            mobisim.load_scenario(DEMO, overrides={f"network.congestion.{key}": value})


def test_a_run_with_the_loop_writes_its_gaps_and_a_disabled_loop_changes_nothing(tmp_path):
    import mobisim

    small = {
        "demand.synthetic.residents": 400,
        "demand.synthetic.households": 150,
        "network.synthetic.target_nodes": 300,
        "outputs.charts": False,
    }
    plain = mobisim.run(mobisim.load_scenario(DEMO, overrides=small), out_dir=tmp_path / "a")
    off = mobisim.run(
        mobisim.load_scenario(DEMO, overrides={**small, "network.congestion.enabled": False}),
        out_dir=tmp_path / "b",
    )
    pd.testing.assert_frame_equal(plain.trips, off.trips)
    assert not (off.run_dir / "congestion.parquet").exists()
    on_keys = {
        **small,
        "network.congestion.enabled": True,
        "network.congestion.max_iterations": 3,
        "network.congestion.vehicle_scale": 50.0,
        "outputs.charts": True,
    }
    runs = [
        mobisim.run(mobisim.load_scenario(DEMO, overrides=on_keys), out_dir=tmp_path / f"c{i}")
        for i in range(2)
    ]
    table = pd.read_parquet(runs[0].run_dir / "congestion.parquet")
    assert list(table["iteration"]) == [1, 2, 3][: len(table)] and len(table) >= 2
    assert table["road_legs"].iloc[0] > 0 and np.isfinite(table["relative_gap"].iloc[1])
    assert (runs[0].run_dir / "charts" / "congestion_gap.png").exists() == bool(
        runs[0].scenario.outputs.charts
    )
    pd.testing.assert_frame_equal(runs[0].trips, runs[1].trips)  # same seed, same iterations
    pd.testing.assert_frame_equal(
        table.drop(columns="wall_time_s"),
        pd.read_parquet(runs[1].run_dir / "congestion.parquet").drop(columns="wall_time_s"),
    )
    # the second day drove congested links: its car-hours exceed the free-flow ones
    assert table["mean_link_delay"].iloc[0] == pytest.approx(1.0)
    assert table["mean_link_delay"].iloc[1] > 1.0


def test_plot_gaps_writes_a_png(tmp_path):
    table = pd.DataFrame({"iteration": [1, 2, 3], "relative_gap": [np.nan, 0.2, 0.05]})
    file = plot_gaps(table, tmp_path / "gap.png", 0.01)
    assert file.stat().st_size > 1000


def test_the_cli_flag_turns_the_loop_on_and_shows_each_iteration(tmp_path):
    from typer.testing import CliRunner

    from mobisim.cli import app

    args = [
        "run", str(DEMO), "--out", str(tmp_path), "--congestion",
        "--set", "demand.synthetic.residents=300", "--set", "demand.synthetic.households=120",
        "--set", "network.synthetic.target_nodes=300", "--set", "outputs.charts=false",
        "--set", "network.congestion.max_iterations=2",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "congestion iteration 1: relative gap -" in result.output
    assert "congestion iteration 2: relative gap 0." in result.output
    assert len(list(tmp_path.glob("demo/*/congestion.parquet"))) == 1

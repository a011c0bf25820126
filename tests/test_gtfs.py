"""GTFS export and import (mobisim.convert.gtfs): round trip, service days, frequencies, errors.

Feeds are written to tmp_path: by the project's own export, or by hand (a few CSV lines) for the
broken ones. The network is the small synthetic town with the real router.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simpy

from mobisim.convert.gtfs import export_feed, import_feed, parse_gtfs_time
from mobisim.errors import ScenarioError
from mobisim.events import EventLog
from mobisim.network.load import build_network, config_for
from mobisim.network.router import Router
from mobisim.services.base import ServiceContext
from mobisim.services.transit import TransitConfig, TransitService

START_S, END_S = 6 * 3600.0, 23 * 3600.0


@pytest.fixture(scope="module")
def town():
    network = build_network(config_for("synthetic", target_nodes=500, seed=2))
    return network, Router(network)


def build(town, block: dict) -> TransitService:
    network, router = town
    env = simpy.Environment(initial_time=START_S)
    ctx = ServiceContext(env, network, router, EventLog(), np.random.default_rng(0), START_S, END_S)
    return TransitService(TransitConfig(**block), ctx)


BUS = {
    "name": "bus1",
    "shape": "line",
    "stops": [{"name": p, "place": p} for p in ("town_centre", "supermarket", "bus_terminal")],
    "headways": [
        {"start": "06:00", "end": "09:00", "headway_min": 10},
        {"start": "09:00", "end": "22:00", "headway_min": 20},
    ],
}
LOOP = {
    "name": "loop1",
    "shape": "loop",
    "stops": [{"name": p, "place": p} for p in ("town_centre", "residential_s", "bus_terminal")],
    "timetable": ["07:05", "07:35", "08:10"],
    "dwell_fixed_s": 30.0,
}
RAIL = {
    "name": "rail1",
    "mode": "rail",
    "stops": [{"name": "Centre", "place": "town_centre"}, {"name": "KTX", "place": "rail_station"}],
    "timetable": ["07:00", "08:00", "23:40"],
    "run_times_min": [6],
}


def test_round_trip_gives_the_same_stops_times_and_lines(town, tmp_path):
    network, _ = town
    lines = [build(town, block) for block in (BUS, LOOP, RAIL)]
    feed = export_feed(lines, network, tmp_path / "feed")
    for name in ("agency", "stops", "routes", "trips", "stop_times", "calendar", "frequencies"):
        assert (feed / f"{name}.txt").is_file()
    # the headway line's template trips carry frequencies; the timetables one trip per departure
    frequencies = pd.read_csv(feed / "frequencies.txt", dtype=str)
    assert set(frequencies["trip_id"].str.split("_d").str[0]) == {"bus1"}
    assert len(frequencies) == 4  # two periods x two directions
    result = import_feed(feed, network)
    assert [b["name"] for b in result.blocks] == ["bus1", "loop1", "rail1"]
    assert max(s.snap_m for s in result.snaps) < 0.05  # on their nodes (7 decimals: 1 cm)
    assert result.warnings == []
    for original, block in zip(lines, result.blocks, strict=True):
        again = build(town, block)
        assert again.config.mode == original.config.mode
        assert again.config.shape == original.config.shape
        assert again.stop_nodes.tolist() == original.stop_nodes.tolist()
        assert [s.name for s in again.config.stops] == [s.name for s in original.config.stops]
        assert again.departures_s.tolist() == original.departures_s.tolist()
        assert again.offsets_s == pytest.approx(original.offsets_s)
        assert again.config.dwell_fixed_s == original.config.dwell_fixed_s
    assert result.blocks[0]["headways"] == [
        {"start": "06:00", "end": "09:00", "headway_min": 10.0},
        {"start": "09:00", "end": "22:00", "headway_min": 20.0},
    ]
    assert result.blocks[2]["run_times_min"] == [6.0]
    # the late rail departure returns after midnight: a GTFS time past 24:00 in the feed
    stop_times = pd.read_csv(feed / "stop_times.txt", dtype=str)
    back = stop_times[stop_times["trip_id"] == "rail1_d1_2"]
    assert back["arrival_time"].iloc[-1].startswith("24:")


def write_feed(folder, files: dict[str, str]):
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text.strip() + "\n")
    return folder


def hand_feed(town, stop_times: str, **extra) -> dict[str, str]:
    network, _ = town
    lat = network.nodes["lat"].to_numpy()
    lon = network.nodes["lon"].to_numpy()
    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\na,A,https://a.org,Asia/Seoul",
        "stops.txt": (
            "stop_id,stop_name,stop_lat,stop_lon\n"
            f"s1,One,{lat[3]:.7f},{lon[3]:.7f}\n"
            f"s2,Two,{lat[40]:.7f},{lon[40]:.7f}\n"
            f"s3,Three,{lat[80]:.7f},{lon[80]:.7f}"
        ),
        "routes.txt": "route_id,route_short_name,route_type\nr1,R1,3",
        "trips.txt": (
            "route_id,service_id,trip_id,direction_id\n"
            "r1,wk,t1,0\nr1,wk,t2,0\nr1,we,t3,0\nr1,wk,t4,1"
        ),
        "calendar.txt": (
            "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
            "wk,1,1,1,1,1,0,0,20260101,20261231\nwe,0,0,0,0,0,1,1,20260101,20261231"
        ),
        "stop_times.txt": stop_times,
    }
    files.update(extra)
    return files


GOOD_TIMES = """
trip_id,arrival_time,departure_time,stop_id,stop_sequence
t1,07:00:00,07:00:00,s1,1
t1,07:10:00,07:10:30,s2,2
t1,07:20:00,07:20:00,s3,3
t2,24:50:00,24:50:00,s1,1
t2,25:00:00,25:00:30,s2,2
t2,25:10:00,25:10:00,s3,3
t3,09:00:00,09:00:00,s1,1
t3,09:10:00,09:10:00,s2,2
t3,09:20:00,09:20:00,s3,3
t4,08:00:00,08:00:00,s3,1
t4,08:20:00,08:20:00,s1,2
"""


def test_service_day_and_times_past_midnight(town, tmp_path):
    network, _ = town
    feed = write_feed(tmp_path / "feed", hand_feed(town, GOOD_TIMES))
    weekday = import_feed(feed, network, service_date="2026-12-07")  # a Monday
    block = weekday.blocks[0]
    assert block["name"] == "R1" and block["mode"] == "bus" and block["shape"] == "line"
    assert block["timetable"] == ["07:00", "24:50"]  # 00:50 of the next morning, same service day
    assert [s["name"] for s in block["stops"]] == ["One", "Two", "Three"]
    assert parse_gtfs_time("25:10:00") == 25 * 3600 + 600
    line = build(town, block)  # the loader takes the block as it is
    assert line.departures_s.tolist() == [7 * 3600.0, 24 * 3600 + 50 * 60.0]
    saturday = import_feed(feed, network, service_date="2026-12-05")
    assert saturday.blocks[0]["timetable"] == ["09:00"]
    # calendar_dates: the weekday service removed on a holiday, the weekend one added
    dates = "service_id,date,exception_type\nwk,20261207,2\nwe,20261207,1"
    feed2 = write_feed(
        tmp_path / "feed2", hand_feed(town, GOOD_TIMES, **{"calendar_dates.txt": dates})
    )
    holiday = import_feed(feed2, network, service_date="2026-12-07")
    assert holiday.blocks[0]["timetable"] == ["09:00"]


def test_frequencies_are_honoured(town, tmp_path):
    network, _ = town
    freq = "trip_id,start_time,end_time,headway_secs,exact_times\nt1,07:00:00,08:00:00,900,1"
    feed = write_feed(tmp_path / "feed", hand_feed(town, GOOD_TIMES, **{"frequencies.txt": freq}))
    result = import_feed(feed, network, service_date="2026-12-07")
    # t1 by frequency (07:00, 07:15, 07:30, 07:45) beside t2 on its own time: a timetable
    assert result.blocks[0]["timetable"] == ["07:00", "07:15", "07:30", "07:45", "24:50"]


def test_a_feed_missing_stop_times_names_the_file(town, tmp_path):
    network, _ = town
    files = hand_feed(town, GOOD_TIMES)
    del files["stop_times.txt"]
    feed = write_feed(tmp_path / "feed", files)
    with pytest.raises(
        ScenarioError, match=r"stop_times\.txt: missing: a GTFS feed needs stop_times\.txt"
    ):
        import_feed(feed, network)


def test_an_unknown_stop_id_names_file_row_and_field(town, tmp_path):
    network, _ = town
    times = GOOD_TIMES.replace("t1,07:10:00,07:10:30,s2,2", "t1,07:10:00,07:10:30,s9,2")
    feed = write_feed(tmp_path / "feed", hand_feed(town, times))
    with pytest.raises(ScenarioError) as info:
        import_feed(feed, network)
    assert info.value.file.endswith("stop_times.txt")
    assert info.value.problems == [
        ("row 3, field stop_id", "unknown stop id 's9' (not in stops.txt)")
    ]


def test_a_timetable_going_backwards_names_file_row_and_field(town, tmp_path):
    network, _ = town
    times = GOOD_TIMES.replace("t1,07:20:00,07:20:00,s3,3", "t1,07:05:00,07:05:00,s3,3")
    feed = write_feed(tmp_path / "feed", hand_feed(town, times))
    with pytest.raises(ScenarioError) as info:
        import_feed(feed, network)
    key, message = info.value.problems[0]
    assert key == "row 4, field arrival_time"
    assert "trip 't1' goes backwards: 07:05:00 is before 07:10:30" in message


def test_a_stop_5_km_from_any_road_is_an_error_and_far_snaps_warn(town, tmp_path):
    network, _ = town
    files = hand_feed(town, GOOD_TIMES)
    lat_far = network.nodes["lat"].max() + 0.05  # at least 5.6 km north of every node
    lon = network.nodes["lon"].iat[80]
    files["stops.txt"] = (
        files["stops.txt"].rsplit("\n", 1)[0] + f"\ns3,Three,{lat_far:.7f},{lon:.7f}"
    )
    feed = write_feed(tmp_path / "feed", files)
    with pytest.raises(ScenarioError) as info:
        import_feed(feed, network)
    key, message = info.value.problems[0]
    assert info.value.file.endswith("stops.txt") and key == "row 4, field stop_lat/stop_lon"
    assert "expected a stop within 5000 m of the network" in message
    # 400 m off the road: imported, snapped, with a warning giving the distance
    lat_near = network.nodes["lat"].max() + 0.0036
    files["stops.txt"] = (
        files["stops.txt"].rsplit("\n", 1)[0] + f"\ns3,Three,{lat_near:.7f},{lon:.7f}"
    )
    feed2 = write_feed(tmp_path / "feed2", files)
    result = import_feed(feed2, network)
    far = next(s for s in result.snaps if s.stop_id == "s3")
    assert 250 < far.snap_m < 5000
    assert any("stop 's3' (Three) snapped" in w for w in result.warnings)


SCENARIO = """
name: gtfs-cli
period: {start: "06:00", end: "23:00"}
network:
  source: synthetic
  synthetic: {target_nodes: 500, seed: 2}
demand:
  synthetic: {residents: 50, households: 20}
services:
  - name: rail1
    type: transit
    mode: rail
    stops: [{name: Centre, place: town_centre}, {name: KTX, place: rail_station}]
    timetable: ["07:00", "08:00"]
    run_times_min: [6]
"""


def test_cli_export_then_import_writes_blocks_the_loader_takes(tmp_path):
    from typer.testing import CliRunner

    from mobisim.cli.app import app
    from mobisim.scenario.loader import read_yaml

    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    runner = CliRunner()
    done = runner.invoke(app, ["gtfs", "export", str(scenario), str(tmp_path / "feed")])
    assert done.exit_code == 0, done.output
    assert "wrote 1 line(s)" in done.output
    blocks = tmp_path / "blocks.yaml"
    done = runner.invoke(
        app,
        [
            "gtfs",
            "import",
            str(tmp_path / "feed"),
            "--scenario",
            str(scenario),
            "--out",
            str(blocks),
        ],
    )
    assert done.exit_code == 0, done.output
    (block,) = read_yaml(blocks)["services"]
    assert block["name"] == "rail1" and block["timetable"] == ["07:00", "08:00"]
    assert block["run_times_min"] == [6.0]
    done = runner.invoke(
        app, ["gtfs", "import", str(tmp_path / "nowhere"), "--scenario", str(scenario)]
    )
    assert done.exit_code == 1 and "GTFS feed not found" in done.output


def test_a_zipped_feed_reads_as_the_folder_and_a_missing_field_is_named(town, tmp_path):
    import zipfile

    network, _ = town
    files = hand_feed(town, GOOD_TIMES)
    archive = tmp_path / "feed.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in files.items():
            z.writestr(name, text.strip() + "\n")
    zipped = import_feed(archive, network, service_date="2026-12-07")
    folder = import_feed(write_feed(tmp_path / "feed", files), network, service_date="2026-12-07")
    assert zipped.blocks == folder.blocks
    files["stops.txt"] = files["stops.txt"].replace("stop_lat,", "latitude,", 1)
    broken = write_feed(tmp_path / "broken", files)
    with pytest.raises(
        ScenarioError, match=r"stops\.txt: missing field\(s\) stop_lat in the header"
    ):
        import_feed(broken, network)


def test_untimed_stops_are_interpolated_and_an_untimed_end_is_an_error(town, tmp_path):
    network, _ = town
    times = GOOD_TIMES.replace("t1,07:10:00,07:10:30,s2,2", "t1,,,s2,2")
    result = import_feed(write_feed(tmp_path / "feed", hand_feed(town, times)), network)
    assert result.blocks[0]["timetable"][0] == "07:00"
    rail = hand_feed(town, times)
    rail["routes.txt"] = "route_id,route_short_name,route_type\nr1,R1,2"
    block = import_feed(write_feed(tmp_path / "rail", rail), network, service_date="2026-12-07")
    assert block.blocks[0]["run_times_min"] == [10.0, 10.0]  # s2 at 07:10, halfway in order
    times = GOOD_TIMES.replace("t1,07:20:00,07:20:00,s3,3", "t1,,,s3,3")
    with pytest.raises(ScenarioError) as info:
        import_feed(write_feed(tmp_path / "bad", hand_feed(town, times)), network)
    assert info.value.problems == [
        ("row 4, field arrival_time", "trip 't1': expected a time at its last stop")
    ]

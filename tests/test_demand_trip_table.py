"""Trip tables (CSV and Parquet): places, nodes and lat/lon; bad rows as errors or dropped counts."""

from __future__ import annotations

import pandas as pd
import pytest

from mobisim.demand.trip_table import MAX_LISTED
from mobisim.demand.trips import TRIP_COLUMNS, build_trips
from mobisim.errors import DemandError
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig
from mobisim.scenario.network_config import NetworkConfig

START, END = 5 * 3600.0, 24 * 3600.0
FORMATS = [".csv", ".parquet"]


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(), ".")


def write(tmp_path, rows, suffix=".csv", name="trips"):
    path = tmp_path / f"{name}{suffix}"
    frame = pd.DataFrame(rows)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def load(tmp_path, path, town, on_bad_rows="error", start=START, end=END):
    config = DemandConfig(trip_table={"file": path.name, "on_bad_rows": on_bad_rows})
    return build_trips(config, town, RandomStreams(0), start, end, base_dir=tmp_path)


def point(town, node):
    return float(town.nodes.lat[node]), float(town.nodes.lon[node])


@pytest.fixture
def good_rows(town):
    (lat10, lon10), (lat900, lon900) = point(town, 10), point(town, 900)
    return [
        {"trip_id": 11, "person_id": 1, "origin_place": "residential_nw",
         "dest_place": "public_institutions", "depart": "07:40", "group": "workers"},
        {"trip_id": 12, "person_id": 1, "origin_place": "public_institutions",
         "dest_place": "residential_nw", "depart": "18:10", "group": "workers"},
        {"trip_id": 13, "origin_node": 5, "dest_node": 700, "depart": "08:20", "party_size": 3,
         "car_available": "no", "allowed_modes": "walk, bike"},
        {"trip_id": 14, "origin_lat": lat10, "origin_lon": lon10, "dest_lat": lat900,
         "dest_lon": lon900, "depart": "17:05:30", "purpose": "visit"},
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", FORMATS)
def test_places_nodes_and_points_become_trips(tmp_path, town, good_rows, suffix):
    trips, report = load(tmp_path, write(tmp_path, good_rows, suffix), town)
    assert list(trips.columns) == list(TRIP_COLUMNS)
    assert report["rows_read"] == 4 and report["rows_kept"] == 4 and report["dropped"] == {}
    assert trips["trip_id"].tolist() == [11, 13, 14, 12]  # by departure; the table's ids kept
    by_id = trips.set_index("trip_id")
    assert by_id.loc[11, "origin_node"] == town.place_node("residential_nw")
    assert by_id.loc[11, "origin_place"] == "residential_nw"
    assert (by_id.loc[13, "origin_node"], by_id.loc[13, "dest_node"]) == (5, 700)
    assert (by_id.loc[14, "origin_node"], by_id.loc[14, "dest_node"]) == (10, 900)
    assert by_id.loc[14, "depart_s"] == 17 * 3600 + 5 * 60 + 30
    assert by_id.loc[13, "party_size"] == 3 and not by_id.loc[13, "car_available"]
    assert by_id.loc[13, "allowed_modes"] == "walk,bike" and by_id.loc[11, "allowed_modes"] == ""
    assert by_id.loc[13, "group"] == "table" and by_id.loc[14, "purpose"] == "visit"
    # one person's rows are one tour in time order; other rows are persons of their own
    assert by_id.loc[11, "tour_id"] == by_id.loc[12, "tour_id"]
    assert (by_id.loc[11, "leg_index"], by_id.loc[12, "leg_index"]) == (0, 1)
    assert by_id["person_id"].nunique() == 3 and by_id["tour_id"].nunique() == 3


def test_rows_without_trip_ids_are_numbered_by_data_row(tmp_path, town):
    rows = [
        {"origin_node": 1, "dest_node": 2, "depart": "09:00"},
        {"origin_node": 3, "dest_node": 4, "depart": 6 * 3600},  # seconds after midnight
    ]
    trips, _ = load(tmp_path, write(tmp_path, rows), town)
    assert trips["trip_id"].tolist() == [2, 1]
    assert trips["depart_s"].tolist() == [6 * 3600, 9 * 3600]


def bad_rows(town):
    lat, lon = point(town, 20)
    return [
        {"trip_id": 1, "origin_place": "residential_s", "dest_place": "supermarket", "depart": "08:00"},
        {"trip_id": 2, "origin_place": "atlantis", "dest_place": "supermarket", "depart": "08:00"},
        {"trip_id": 3, "origin_place": "supermarket", "dest_place": "supermarket", "depart": "08:00"},
        {"trip_id": 4, "origin_place": "residential_s", "dest_place": "supermarket", "depart": "03:00"},
        {"trip_id": 5, "origin_lat": 37.5, "origin_lon": 127.0, "dest_place": "supermarket", "depart": "09:00"},
        {"trip_id": 6, "origin_place": "residential_s", "dest_place": "supermarket", "depart": "nine"},
        {"trip_id": 7, "origin_node": 99999, "dest_place": "supermarket", "depart": "09:00"},
        {"trip_id": 8, "dest_place": "supermarket", "depart": "09:00"},
        {"trip_id": 8, "origin_lat": lat, "origin_lon": lon, "dest_node": 3, "depart": "09:00"},
        {"trip_id": 10, "origin_node": 1, "dest_node": 3, "depart": "09:00", "party_size": 0},
        {"trip_id": 11, "origin_node": 1, "dest_node": 3, "depart": "24:00"},
    ]  # fmt: skip


EXPECTED = {
    2: ("unknown_place", "row 2: unknown origin place 'atlantis'"),
    3: ("origin_equals_destination", "row 3: origin equals destination"),
    4: ("outside_period", "row 4: depart 03:00 is outside the period 05:00–24:00"),
    5: ("too_far_to_snap", "row 5: origin (37.5, 127.0) is"),
    6: ("bad_time", "row 6: depart 'nine' is not a clock time"),
    7: ("unknown_node", "row 7: origin_node 99999"),  # CSV: "99999.0" as pandas wrote it
    8: ("missing_location", "row 8: no origin given (origin_place, origin_node or origin_lat+"),
    9: ("duplicate_trip_id", "row 9: trip_id 8 repeats row 8"),
    10: ("bad_value", "row 10: party_size '0"),
    11: ("outside_period", "row 11: depart 24:00 is outside the period"),
}


@pytest.mark.parametrize("suffix", FORMATS)
def test_bad_rows_are_listed_with_their_row_numbers(tmp_path, town, suffix):
    path = write(tmp_path, bad_rows(town), suffix)
    with pytest.raises(DemandError) as info:
        load(tmp_path, path, town)
    text = str(info.value)
    assert text.startswith(f"{path}: 10 bad rows (row N = N-th data row (line N+1")
    for _, line in EXPECTED.values():
        assert line in text
    assert "row 1:" not in text
    assert "is not a node index (0..1499)" in text and "is not a whole number >= 1" in text
    assert "by reason: bad_time 1, bad_value 1, duplicate_trip_id 1, missing_location 1" in text
    assert "m from the network (max_snap_m 500 m)" in text


@pytest.mark.parametrize("suffix", FORMATS)
def test_dropped_bad_rows_are_counted_per_reason(tmp_path, town, suffix):
    path = write(tmp_path, bad_rows(town), suffix)
    trips, report = load(tmp_path, path, town, on_bad_rows="drop")
    assert trips["trip_id"].tolist() == [1]
    expected = pd.Series([code for code, _ in EXPECTED.values()]).value_counts().to_dict()
    assert report["dropped"] == expected
    assert report["dropped_rows"] == sorted(EXPECTED)
    assert report["rows_read"] == 11 and report["rows_kept"] == 1 and report["bad_rows"] == 10


def test_a_row_with_several_problems_lists_them_all_and_counts_the_first(tmp_path, town):
    rows = [
        {"origin_place": "atlantis", "dest_node": -4, "depart": "99:00"},
        {"origin_node": 1, "dest_node": 2, "depart": "08:00"},
    ]
    path = write(tmp_path, rows)
    with pytest.raises(DemandError, match=r"row 1: depart '99:00' is not a clock time; unknown "
                       r"origin place 'atlantis'; dest_node -4 is not a node index"):  # fmt: skip
        load(tmp_path, path, town)
    _, report = load(tmp_path, path, town, on_bad_rows="drop")
    assert report["dropped"] == {"bad_time": 1}


def test_long_lists_of_bad_rows_are_truncated(tmp_path, town):
    rows = [{"origin_place": "nowhere", "dest_node": 1, "depart": "08:00"}] * 45
    with pytest.raises(DemandError) as info:
        load(tmp_path, write(tmp_path, rows), town)
    text = str(info.value)
    assert "45 bad rows" in text and f"row {MAX_LISTED}:" in text
    assert f"row {MAX_LISTED + 1}:" not in text
    assert f"... and {45 - MAX_LISTED} more bad rows" in text
    assert "by reason: unknown_place 45" in text


def test_period_bounds_start_inclusive_end_exclusive(tmp_path, town):
    rows = [
        {"origin_node": 1, "dest_node": 2, "depart": "07:00"},
        {"origin_node": 1, "dest_node": 2, "depart": "06:59:59"},
        {"origin_node": 1, "dest_node": 2, "depart": "09:00"},
    ]
    path = write(tmp_path, rows)
    trips, report = load(tmp_path, path, town, "drop", start=7 * 3600, end=9 * 3600)
    assert trips["depart_s"].tolist() == [7 * 3600]
    assert report["dropped"] == {"outside_period": 2}


def test_missing_file_and_missing_columns_name_the_file_and_column(tmp_path, town):
    with pytest.raises(DemandError, match=r"none\.csv: trip table not found"):
        load(tmp_path, tmp_path / "none.csv", town)
    path = write(tmp_path, [{"origin_place": "supermarket", "dest_place": "residential_s"}])
    with pytest.raises(DemandError, match=rf"{path.name}: missing required column 'depart'"):
        load(tmp_path, path, town)
    path = write(tmp_path, [{"origin_place": "supermarket", "depart": "08:00"}], name="nodest")
    with pytest.raises(DemandError, match=r"nodest\.csv: missing required column 'dest_place', "):
        load(tmp_path, path, town)
    rows = [{"origin_lat": 36.9, "dest_place": "supermarket", "depart": "08:00"}]
    path = write(tmp_path, rows, ".parquet", name="halfpoint")
    with pytest.raises(DemandError, match=r"halfpoint\.parquet: missing column 'origin_lon'"):
        load(tmp_path, path, town)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(DemandError, match=r"broken\.parquet: cannot read the trip table"):
        load(tmp_path, broken, town)


def test_unknown_columns_are_reported_and_an_empty_table_gives_no_trips(tmp_path, town):
    rows = [{"origin_node": 1, "dest_node": 2, "depart": "08:00", "colour": "red"}]
    _, report = load(tmp_path, write(tmp_path, rows), town)
    assert report["ignored_columns"] == ["colour"]
    path = tmp_path / "empty.csv"
    path.write_text("origin_node,dest_node,depart\n")
    trips, report = load(tmp_path, path, town)
    assert trips.empty and list(trips.columns) == list(TRIP_COLUMNS) and report["trips"] == 0

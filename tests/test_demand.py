"""Demand: the synthetic population's distributions, and trip tables with bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mobisim.demand.trips import TRIP_COLUMNS, build_trips
from mobisim.errors import DemandError
from mobisim.network.load import build_network
from mobisim.randomness import RandomStreams
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation
from mobisim.scenario.network_config import NetworkConfig

START, END = 5 * 3600.0, 24 * 3600.0


@pytest.fixture(scope="module")
def town():
    return build_network(NetworkConfig(), ".")


@pytest.fixture(scope="module")
def population(town):
    config = DemandConfig(synthetic=SyntheticPopulation(residents=42_000, households=15_000))
    return build_trips(config, town, RandomStreams(11), START, END)


def test_trips_table_has_the_contract_columns(population):
    trips, report = population
    assert list(trips.columns) == list(TRIP_COLUMNS)
    assert trips["trip_id"].tolist() == list(range(len(trips)))
    assert trips["depart_s"].is_monotonic_increasing
    assert (trips["origin_node"] != trips["dest_node"]).all()
    assert trips["depart_s"].between(START, END).all()
    assert report["residents"] == 42_000 and report["trips"] == len(trips)


def test_each_tour_goes_out_and_comes_back(population):
    trips, _ = population
    tours = trips.sort_values(["tour_id", "leg_index"]).groupby("tour_id")
    first, last = tours.first(), tours.last()
    assert (tours.size() == 2).all()
    assert (first["origin_node"] == last["dest_node"]).all()
    assert (last["depart_s"] >= first["depart_s"] + 15 * 60 - 1e-6).all()


def test_departure_times_follow_the_configured_distributions(population):
    trips, _ = population
    out = trips[trips["leg_index"] == 0]
    # workers: N(08:00, 63 min) [D1], truncated to the period: compare with the truncated normal
    workers = out.loc[out["group"] == "workers", "depart_s"].to_numpy()
    mean, sd = 8 * 3600, 63 * 60
    a, b = (START - mean) / sd, (END - 2 * 900 - mean) / sd
    result = stats.kstest(workers, stats.truncnorm(a, b, loc=mean, scale=sd).cdf)
    assert result.pvalue > 0.01, result
    homemakers = out.loc[out["group"] == "homemakers", "depart_s"].to_numpy()
    assert abs(homemakers.mean() - 10.5 * 3600) < 120
    assert abs(homemakers.std() - 3600) < 120
    back = trips[(trips["leg_index"] == 1) & (trips["group"] == "workers")]["depart_s"]
    assert abs(back.mean() - 18.25 * 3600) < 300


def test_zone_weights_are_respected(population, town):
    trips, _ = population
    homes = trips[trips["leg_index"] == 0]["origin_place"].value_counts()
    residential = town.places[town.places["kind"] == "residential"].set_index("name")["weight"]
    expected = residential / residential.sum() * homes.sum()
    observed = homes.reindex(residential.index).fillna(0)
    # homes are drawn per household; persons cluster by household, so use a generous tolerance
    assert np.allclose(observed / homes.sum(), expected / homes.sum(), atol=0.02)
    workers = trips[(trips["group"] == "workers") & (trips["leg_index"] == 0)]
    kinds = (
        workers["dest_place"]
        .map(town.places.set_index("name")["kind"])
        .value_counts(normalize=True)
    )
    assert kinds["industrial"] == pytest.approx(0.4, abs=0.02)
    assert kinds["institution"] == pytest.approx(0.3, abs=0.02)


def _group_trips(trips: pd.DataFrame, group: str) -> pd.DataFrame:
    part = trips[trips["group"] == group].sort_values(["tour_id", "leg_index"])
    return part[["origin_node", "dest_node", "depart_s"]].reset_index(drop=True)


def test_generation_is_seeded_and_groups_have_their_own_streams(town):
    base = SyntheticPopulation(residents=3000, households=1000)
    a, _ = build_trips(DemandConfig(synthetic=base), town, RandomStreams(1), START, END)
    b, _ = build_trips(DemandConfig(synthetic=base), town, RandomStreams(1), START, END)
    pd.testing.assert_frame_equal(a, b)
    groups = [g.model_copy() for g in base.groups]
    groups[2] = groups[2].model_copy(update={"activity_h": 3.0})  # homemakers stay longer
    changed, _ = build_trips(
        DemandConfig(synthetic=base.model_copy(update={"groups": groups})),
        town,
        RandomStreams(1),
        START,
        END,
    )
    for name in ("workers", "students"):
        pd.testing.assert_frame_equal(_group_trips(a, name), _group_trips(changed, name))
    assert not _group_trips(a, "homemakers").equals(_group_trips(changed, "homemakers"))


def write_table(tmp_path, rows, suffix=".csv"):
    frame = pd.DataFrame(rows)
    path = tmp_path / f"trips{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


GOOD = [
    {
        "trip_id": 1,
        "origin_place": "residential_nw",
        "dest_place": "public_institutions",
        "depart": "07:40",
        "group": "workers",
    },
    {
        "trip_id": 2,
        "origin_place": "residential_s",
        "dest_place": "supermarket",
        "depart": "10:15",
        "group": "shopping",
    },
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_trip_table_with_places_nodes_and_lat_lon(tmp_path, town, suffix):
    nodes = town.nodes
    rows = [
        *GOOD,
        {"trip_id": 3, "origin_node": 5, "dest_node": 700, "depart": "08:20"},
        {
            "trip_id": 4,
            "origin_lat": nodes.lat[10],
            "origin_lon": nodes.lon[10],
            "dest_lat": nodes.lat[900],
            "dest_lon": nodes.lon[900],
            "depart": "17:05:30",
        },
    ]
    path = write_table(tmp_path, rows, suffix)
    trips, report = build_trips(
        DemandConfig(trip_table={"file": path.name}),
        town,
        RandomStreams(0),
        START,
        END,
        base_dir=tmp_path,
    )
    assert len(trips) == 4 and report["rows_read"] == 4 and report["dropped"] == {}
    assert set(trips["origin_node"]) >= {5, 10}
    assert trips["depart_s"].tolist() == sorted(
        [7 * 3600 + 2400, 10 * 3600 + 900, 8 * 3600 + 1200, 17 * 3600 + 330]
    )


def test_trip_table_bad_rows_are_errors_with_row_numbers(tmp_path, town):
    rows = [
        *GOOD,
        {"trip_id": 3, "origin_place": "atlantis", "dest_place": "supermarket", "depart": "08:00"},
        {
            "trip_id": 4,
            "origin_place": "supermarket",
            "dest_place": "supermarket",
            "depart": "08:00",
        },
        {
            "trip_id": 5,
            "origin_place": "residential_s",
            "dest_place": "supermarket",
            "depart": "03:00",
        },
        {
            "trip_id": 6,
            "origin_lat": 37.5,
            "origin_lon": 127.0,
            "dest_place": "supermarket",
            "depart": "09:00",
        },
        {
            "trip_id": 7,
            "origin_place": "residential_s",
            "dest_place": "supermarket",
            "depart": "nine",
        },
    ]
    path = write_table(tmp_path, rows)
    with pytest.raises(DemandError) as info:
        build_trips(
            DemandConfig(trip_table={"file": path.name}),
            town,
            RandomStreams(0),
            START,
            END,
            base_dir=tmp_path,
        )
    text = str(info.value)
    assert "5 bad rows" in text
    for expected in (
        "row 3: unknown origin place 'atlantis'",
        "row 4: origin equals destination",
        "row 5: depart 03:00 is outside the period",
        "row 6: origin (37.5, 127.0) is",
        "row 7: depart 'nine'",
    ):
        assert expected in text
    trips, report = build_trips(
        DemandConfig(trip_table={"file": path.name, "on_bad_rows": "drop"}),
        town,
        RandomStreams(0),
        START,
        END,
        base_dir=tmp_path,
    )
    assert len(trips) == 2 and sum(report["dropped"].values()) == 5
    assert report["dropped_rows"] == [3, 4, 5, 6, 7]


def test_trip_table_missing_file_and_column(tmp_path, town):
    with pytest.raises(DemandError, match="not found"):
        build_trips(
            DemandConfig(trip_table={"file": "none.csv"}),
            town,
            RandomStreams(0),
            START,
            END,
            base_dir=tmp_path,
        )
    path = write_table(tmp_path, [{"origin_place": "supermarket", "dest_place": "residential_s"}])
    with pytest.raises(DemandError, match="missing required column 'depart'"):
        build_trips(
            DemandConfig(trip_table={"file": path.name}),
            town,
            RandomStreams(0),
            START,
            END,
            base_dir=tmp_path,
        )

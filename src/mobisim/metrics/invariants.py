"""Run invariants: what must hold in every run folder, checked from its saved tables alone.

``mobisim check RUN_DIR`` runs :func:`check_tables` on a folder's tables
(:func:`mobisim.metrics.tables.load_run`) and prints one line per check with the worst offender:

====================  =============================================================================
check                 what must hold
====================  =============================================================================
one_final_status      every trip of trips.parquet has exactly one ``trip_end`` event, with the
                      trip's status; no ``trip_end`` for a trip that is not in the table
occupancy             riders on each registered vehicle, counted from its ``board``/``alight``
                      events (party sizes from trips.parquet), stay within 0..``capacity_pax``
                      and equal the load the events record; no leg or dwell carries more
soc_range             each battery's charge, rebuilt from its initial charge, the energy of each
                      leg and dwell and each charge, stays within [0, ``battery_kwh``] (0.1 %)
energy_balance        per electric vehicle: energy drawn (recomputed from the legs and dwells with
                      the manifest's energy section) = charged − change in stored energy (0.1 %)
legs_connected        each vehicle's legs and dwells, in time order, start where the one before
                      ended and start no earlier than it ended (1 ms)
fleet_conserved       per sharing service: the vehicles in its stations at the end plus those on
                      a ride (picked up, not yet dropped off) equal those at the start
non_negative_times    no negative duration, distance or wait in the events or trips; no arrival
                      before the departure
====================  =============================================================================

A check whose tables are absent (a run without events, without energy) passes with 0 rows
checked and says so. The test suite runs the checks at the end of every run
(``MOBISIM_CHECK_RUNS=1``, :func:`checks_enabled`), and a sweep can run them in its workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mobisim.errors import SimulationError
from mobisim.metrics.common import as_str

#: relative tolerance of the energy balance and of the state-of-charge bounds (0.1 %)
ENERGY_TOLERANCE = 1e-3
#: absolute slack of energy comparisons, kWh (rounding of sums over a day)
ENERGY_SLACK_KWH = 1e-6
#: slack of time comparisons, s (rounding of clock sums)
TIME_SLACK_S = 1e-3
#: trips.parquet columns that hold durations (s) and must not be negative
TRIP_DURATIONS = (
    "offered_walk_s",
    "offered_wait_s",
    "offered_in_vehicle_s",
    "access_walk_s",
    "wait_s",
    "in_vehicle_s",
    "egress_walk_s",
    "door_to_door_s",
    "distance_m",
    "fare_krw",
)


@dataclass
class Check:
    """The outcome of one invariant over a run: pass/fail, rows looked at, the worst offender."""

    name: str
    passed: bool
    checked: int  # rows (trips, vehicles, events) the check looked at
    failures: int = 0  # rows that break it
    worst: str = ""  # the worst offender, in words (empty when passed)

    def line(self) -> str:
        """``name: PASS (n checked)`` or ``name: FAIL (k of n): worst offender``."""
        if self.passed:
            return f"{self.name}: PASS ({self.checked} checked)"
        return f"{self.name}: FAIL ({self.failures} of {self.checked}): {self.worst}"


def checks_enabled() -> bool:
    """Whether runs check their invariants when done: environment variable ``MOBISIM_CHECK_RUNS``
    (``tests/conftest.py`` sets it)."""
    return os.environ.get("MOBISIM_CHECK_RUNS", "") not in ("", "0")


def _kind(events: pd.DataFrame, *kinds: str) -> pd.DataFrame:
    return events[as_str(events["event"]).isin(kinds).to_numpy()]


def _passed(name: str, checked: int) -> Check:
    return Check(name, True, checked)


# ---------------------------------------------------------------------------- trips


def one_final_status(events: pd.DataFrame, trips: pd.DataFrame) -> Check:
    """Every trip has exactly one ``trip_end`` with the status of its trips.parquet row.

    Parameters
    ----------
    events : the run's event table.
    trips : trips.parquet (``trip_id``, ``status``).
    """
    ends = _kind(events, "trip_end")
    counts = ends.groupby("trip_id").size()
    ids = trips["trip_id"].to_numpy(np.int64)
    per_trip = counts.reindex(ids, fill_value=0)
    bad_count = per_trip[per_trip != 1]
    unknown = counts.index.difference(pd.Index(ids))
    last = pd.Series(as_str(ends["state"]).to_numpy(), index=ends["trip_id"].to_numpy())
    last = last[~last.index.duplicated(keep="last")]
    status = pd.Series(as_str(trips["status"]).to_numpy(), index=ids)
    logged = last.reindex(ids)
    differ = status[(logged.notna() & (logged != status)).to_numpy()]
    failures = len(bad_count) + len(unknown) + len(differ)
    if not failures:
        return _passed("one_final_status", len(ids))
    if len(bad_count):
        trip = int(bad_count.index[0])
        worst = f"trip {trip} has {int(bad_count.iloc[0])} trip_end events"
    elif len(unknown):
        worst = f"trip_end of trip {int(unknown[0])}, which is not in trips.parquet"
    else:
        trip = int(differ.index[0])
        worst = f"trip {trip}: status {differ.iloc[0]!r} but trip_end says {logged[trip]!r}"
    return Check("one_final_status", False, len(ids), failures, worst)


def non_negative_times(events: pd.DataFrame, trips: pd.DataFrame) -> Check:
    """No negative duration, distance, wait or fare; no arrival before the desired departure.

    Parameters
    ----------
    events : the run's event table (``duration_s``, ``distance_m``; pickup ``value`` = wait s).
    trips : trips.parquet (the columns of :data:`TRIP_DURATIONS`, ``depart_s``, ``arrival_s``).
    """
    kinds = as_str(events["event"]).to_numpy()
    trip_ids = trips["trip_id"].to_numpy(np.int64)
    columns = [  # (values, the table's row labels, what the values are)
        (events["duration_s"].to_numpy(float), kinds, "events", "duration_s"),
        (events["distance_m"].to_numpy(float), kinds, "events", "distance_m"),
        (
            np.where(kinds == "pickup", events["value"].to_numpy(float), np.nan),
            kinds,
            "events",
            "wait_s (value)",
        ),
    ]
    columns += [
        (trips[c].to_numpy(float), trip_ids, "trip", c) for c in TRIP_DURATIONS if c in trips
    ]
    if {"depart_s", "arrival_s"} <= set(trips.columns):
        early = trips["arrival_s"].to_numpy(float) - trips["depart_s"].to_numpy(float)
        columns.append((early + TIME_SLACK_S, trip_ids, "trip", "arrival_s - depart_s"))
    failures, worst_value, worst = 0, 0.0, ""
    for values, labels, table, column in columns:
        negative = values < 0
        failures += int(negative.sum())
        if negative.any():
            i = int(np.nanargmin(values))
            if values[i] < worst_value:
                worst_value = float(values[i])
                row = f"events row {i} ({labels[i]})" if table == "events" else f"trip {labels[i]}"
                worst = f"{row}: {column} = {values[i]:g}"
    checked = len(events) + len(trips)
    if not failures:
        return _passed("non_negative_times", checked)
    return Check("non_negative_times", False, checked, failures, worst)


# ---------------------------------------------------------------------------- vehicles


def _registered(vehicles: pd.DataFrame, column: str) -> pd.Series:
    """``column`` of the vehicles table by vehicle_id, rows where it is given."""
    if column not in vehicles:
        return pd.Series(dtype=float)
    values = pd.Series(vehicles[column].to_numpy(float), index=vehicles["vehicle_id"].to_numpy())
    return values[values.notna()]


def occupancy(events: pd.DataFrame, trips: pd.DataFrame, vehicles: pd.DataFrame) -> Check:
    """Riders on each vehicle with a ``capacity_pax``, rebuilt from ``board``/``alight``, stay
    within 0..capacity and equal the load each event records; legs and dwells carry no more.

    Parameters
    ----------
    events : the run's event table.
    trips : trips.parquet (``trip_id``, ``party_size``).
    vehicles : vehicles.parquet (``vehicle_id``, ``capacity_pax``).
    """
    capacity = _registered(vehicles, "capacity_pax")
    if capacity.empty:
        return _passed("occupancy", 0)
    party = pd.Series(trips["party_size"].to_numpy(np.int64), index=trips["trip_id"].to_numpy())
    moves = _kind(events, "board", "alight")
    moves = moves[moves["vehicle_id"].isin(capacity.index).to_numpy()]
    sign = np.where(as_str(moves["event"]).to_numpy() == "board", 1, -1)
    persons = moves["trip_id"].map(party).fillna(1).to_numpy(np.int64)
    # rows are in writing order, which is time order for boardings (logged as they happen)
    load = pd.Series(sign * persons).groupby(moves["vehicle_id"].to_numpy()).cumsum().to_numpy()
    cap = moves["vehicle_id"].map(capacity).to_numpy(float)
    over = (load > cap) | (load < 0) | (load != moves["pax"].to_numpy())
    rows = _kind(events, "vehicle_leg", "vehicle_dwell")
    rows = rows[rows["vehicle_id"].isin(capacity.index).to_numpy()]
    carried = rows["pax"].to_numpy(float) > rows["vehicle_id"].map(capacity).to_numpy(float)
    checked = len(moves) + len(rows)
    failures = int(over.sum() + carried.sum())
    if not failures:
        return _passed("occupancy", checked)
    if over.any():
        excess = np.where(over, np.maximum(load - cap, np.abs(load - moves["pax"].to_numpy())), 0)
        i = int(np.argmax(np.where(load < 0, np.inf, excess)))
        row = moves.iloc[i]
        worst = (
            f"vehicle {int(row['vehicle_id'])} at {row['time_s']:.0f} s: {load[i]} riders from "
            f"boardings, {int(row['pax'])} logged, capacity {cap[i]:g}"
        )
    else:
        i = int(np.argmax(rows["pax"].to_numpy() - rows["vehicle_id"].map(capacity).to_numpy()))
        row = rows.iloc[i]
        worst = (
            f"vehicle {int(row['vehicle_id'])} at {row['time_s']:.0f} s: a {row['event']} with "
            f"{int(row['pax'])} on board, capacity {capacity[int(row['vehicle_id'])]:g}"
        )
    return Check("occupancy", False, checked, failures, worst)


def legs_connected(events: pd.DataFrame) -> Check:
    """Each registered vehicle's legs and dwells, in time order, start where and after the one
    before ended (a leg ends at its ``to_node``, a dwell where it stands).

    Parameters
    ----------
    events : the run's event table (``vehicle_leg``/``vehicle_dwell`` rows; private cars, vehicle
        −1, are one leg each and not checked).
    """
    rows = _kind(events, "vehicle_leg", "vehicle_dwell")
    rows = rows[rows["vehicle_id"].to_numpy() >= 0]
    start = rows["time_s"].to_numpy(float)
    end = start + rows["duration_s"].fillna(0.0).to_numpy(float)
    vid = rows["vehicle_id"].to_numpy(np.int64)
    # time order; a zero-length row at the same instant before the row that starts then
    order = np.lexsort((np.arange(len(rows)), end, start, vid))
    vid, start, end = vid[order], start[order], end[order]
    node = rows["node"].to_numpy(np.int64)[order]
    is_leg = as_str(rows["event"]).to_numpy()[order] == "vehicle_leg"
    end_node = np.where(is_leg, rows["to_node"].to_numpy(np.int64)[order], node)
    same = vid[1:] == vid[:-1]
    jump = same & (node[1:] != end_node[:-1])
    overlap_s = np.where(same, end[:-1] - start[1:], 0.0)
    overlap = overlap_s > TIME_SLACK_S
    failures = int(jump.sum() + overlap.sum())
    if not failures:
        return _passed("legs_connected", len(rows))
    if jump.any():
        i = int(np.flatnonzero(jump)[0])
        worst = (
            f"vehicle {vid[i + 1]} at {start[i + 1]:.0f} s starts at node {node[i + 1]} but the "
            f"row before ended at node {end_node[i]}"
        )
    else:
        i = int(np.argmax(overlap_s))
        worst = (
            f"vehicle {vid[i + 1]} at {start[i + 1]:.0f} s starts {overlap_s[i]:.1f} s before "
            "the row before ended"
        )
    return Check("legs_connected", False, len(rows), failures, worst)


# ---------------------------------------------------------------------------- energy


def _energy_config(manifest: dict[str, Any]):
    from mobisim.scenario.energy_config import EnergyConfig

    section = (manifest.get("scenario") or {}).get("energy") or {}
    return EnergyConfig.model_validate(section)


def _drawn_rows(events: pd.DataFrame, vehicles: pd.DataFrame, manifest: dict[str, Any]):
    """The legs and dwells of the tracked batteries with their battery kWh, recomputed."""
    from mobisim.energy.accounting import vehicle_rows

    tracked = vehicles[vehicles["initial_soc_kwh"].notna() & vehicles["final_soc_kwh"].notna()]
    mine = events[events["vehicle_id"].isin(tracked["vehicle_id"]).to_numpy()]
    return vehicle_rows(mine, tracked, _energy_config(manifest)), tracked


def _tracked(vehicles: pd.DataFrame) -> bool:
    return {"initial_soc_kwh", "final_soc_kwh", "battery_kwh"} <= set(vehicles.columns) and bool(
        vehicles["initial_soc_kwh"].notna().any()
    )


def energy_balance(events: pd.DataFrame, vehicles: pd.DataFrame, manifest: dict) -> Check:
    """Per tracked battery: drawn (recomputed from the events) = charged (``charge_end``) −
    (final − initial charge), within 0.1 % of the larger of drawn and charged.

    Parameters
    ----------
    events : the run's event table.
    vehicles : vehicles.parquet with the battery columns.
    manifest : the run's manifest (its scenario's ``energy`` section prices the rows).
    """
    if not _tracked(vehicles):
        return _passed("energy_balance", 0)
    rows, tracked = _drawn_rows(events, vehicles, manifest)
    drawn = rows.groupby("vehicle_id")["battery_kwh"].sum()
    ends = _kind(events, "charge_end")
    charged = ends.groupby("vehicle_id")["value"].sum()
    ids = tracked["vehicle_id"].to_numpy(np.int64)
    drawn_kwh = drawn.reindex(ids, fill_value=0.0).to_numpy(float)
    charged_kwh = charged.reindex(ids, fill_value=0.0).to_numpy(float)
    stored = tracked["final_soc_kwh"].to_numpy(float) - tracked["initial_soc_kwh"].to_numpy(float)
    residual = drawn_kwh - (charged_kwh - stored)
    limit = ENERGY_TOLERANCE * np.maximum(drawn_kwh, charged_kwh) + ENERGY_SLACK_KWH
    bad = np.abs(residual) > limit
    if not bad.any():
        return _passed("energy_balance", len(ids))
    i = int(np.argmax(np.where(bad, np.abs(residual), -1.0)))
    worst = (
        f"vehicle {ids[i]}: drew {drawn_kwh[i]:.4f} kWh, charged {charged_kwh[i]:.4f} kWh, "
        f"stored {stored[i]:+.4f} kWh (off by {residual[i]:+.4f} kWh)"
    )
    return Check("energy_balance", False, len(ids), int(bad.sum()), worst)


def soc_range(events: pd.DataFrame, vehicles: pd.DataFrame, manifest: dict) -> Check:
    """Each tracked battery's charge stays within [0, capacity] (0.1 % of capacity): the initial
    and final charge, the charge logged at each plug-in, and the charge rebuilt from the initial
    one, each leg's and dwell's energy (drawn by its end) and each charge (added at unplugging).

    Parameters
    ----------
    events : the run's event table.
    vehicles : vehicles.parquet with ``battery_kwh``, ``initial_soc_kwh``, ``final_soc_kwh``.
    manifest : the run's manifest (the energy section prices the rows).
    """
    if not _tracked(vehicles):
        return _passed("soc_range", 0)
    rows, tracked = _drawn_rows(events, vehicles, manifest)
    capacity = pd.Series(tracked["battery_kwh"].to_numpy(float), index=tracked["vehicle_id"])
    initial = pd.Series(tracked["initial_soc_kwh"].to_numpy(float), index=tracked["vehicle_id"])
    ends = _kind(events, "charge_end")
    ends = ends[ends["vehicle_id"].isin(capacity.index).to_numpy()]
    changes = pd.DataFrame(
        {
            "vehicle_id": np.concatenate([rows["vehicle_id"], ends["vehicle_id"]]),
            "time_s": np.concatenate(
                [rows["time_s"] + rows["duration_s"].fillna(0.0), ends["time_s"]]
            ),
            "after": np.concatenate([np.zeros(len(rows)), np.ones(len(ends))]),  # draws first
            "kwh": np.concatenate([-rows["battery_kwh"], ends["value"]]),
        }
    ).sort_values(["vehicle_id", "time_s", "after"], kind="stable")
    level = changes.groupby("vehicle_id")["kwh"].cumsum() + changes["vehicle_id"].map(initial)
    snapshots = [
        (level.to_numpy(float), changes["vehicle_id"].to_numpy(), changes["time_s"].to_numpy()),
        (initial.to_numpy(), initial.index.to_numpy(), np.full(len(initial), np.nan)),
        (
            tracked["final_soc_kwh"].to_numpy(float),
            initial.index.to_numpy(),
            np.full(len(initial), np.inf),
        ),
    ]
    starts = _kind(events, "charge_start")
    starts = starts[starts["vehicle_id"].isin(capacity.index).to_numpy()]
    snapshots.append(
        (
            starts["value"].to_numpy(float),
            starts["vehicle_id"].to_numpy(),
            starts["time_s"].to_numpy(),
        )
    )
    worst_excess, worst, failures, checked = 0.0, "", 0, 0
    for kwh, ids, times in snapshots:
        cap = pd.Series(ids).map(capacity).to_numpy(float)
        slack = ENERGY_TOLERANCE * cap + ENERGY_SLACK_KWH
        excess = np.maximum(-kwh, kwh - cap)
        bad = excess > slack
        checked += len(kwh)
        failures += int(bad.sum())
        if bad.any():
            i = int(np.argmax(np.where(bad, excess, -np.inf)))
            if excess[i] > worst_excess:
                t = times[i]
                when = (
                    "at the start"
                    if np.isnan(t)
                    else "at the end"
                    if np.isinf(t)
                    else f"at {t:.0f} s"
                )
                worst_excess = float(excess[i])
                worst = f"vehicle {ids[i]} {when}: {kwh[i]:.4f} kWh of a {cap[i]:g} kWh battery"
    if not failures:
        return _passed("soc_range", checked)
    return Check("soc_range", False, checked, failures, worst)


# ---------------------------------------------------------------------------- sharing fleets


def fleet_conserved(events: pd.DataFrame, vehicles: pd.DataFrame, manifest: dict) -> Check:
    """Per sharing service (vehicles with a ``device``; crew vans left out): its whole fleet
    stands in its stations and zones at the start, and at the end every vehicle is in one (its
    station's last ``station_stock``), on a ride (picked up, not dropped off) or in the depot
    (a service whose crews collect to the depot: carried there on a van, ``on_van`` leg, and
    not taken out again).

    Parameters
    ----------
    events : the run's event table.
    vehicles : vehicles.parquet (``service``, ``device``).
    manifest : the run's manifest (which services' crews collect low devices to their depot).
    """
    if "device" not in vehicles:
        return _passed("fleet_conserved", 0)
    rows = _kind(events, "vehicle_leg", "vehicle_dwell")
    crew = set(rows.loc[(as_str(rows["state"]) == "crew").to_numpy(), "vehicle_id"])
    crew |= set(vehicles.loc[as_str(vehicles["device"]) == "van", "vehicle_id"])
    shared = vehicles[vehicles["device"].notna() & ~vehicles["vehicle_id"].isin(crew)]
    vans = rows[rows["vehicle_id"].isin(crew).to_numpy()].sort_values("time_s", kind="stable")
    depots = set(vans.drop_duplicates("vehicle_id")["node"])  # where each van starts
    stock = _kind(events, "station_stock")
    stock_service = as_str(stock["service"])
    rides = _kind(events, "pickup", "dropoff")
    ride_service = as_str(rides["service"])
    offenders, services = [], sorted(set(as_str(shared["service"])))
    blocks = (manifest.get("scenario") or {}).get("services") or []
    collecting = {
        b.get("name")
        for b in blocks
        if ((b.get("crews") or {}).get("low_battery") == "collect_to_depot")
    }
    for service in services:
        fleet = int((as_str(shared["service"]) == service).sum())
        here = stock[(stock_service == service).to_numpy()]
        station = as_str(here["detail"]).to_numpy()
        first_s = here["time_s"].min()
        at_start = here[(here["time_s"] == first_s).to_numpy()]
        start = float(
            at_start.groupby(station[(here["time_s"] == first_s).to_numpy()])["value"].last().sum()
        )
        end = float(here.groupby(station, sort=False)["value"].last().sum())
        moves = as_str(rides.loc[(ride_service == service).to_numpy(), "event"])
        in_use = int((moves == "pickup").sum() - (moves == "dropoff").sum())
        in_depot = 0
        if service in collecting:
            in_depot = _in_depot(rows, rides, shared[as_str(shared["service"]) == service], depots)
        if start != fleet or fleet != end + in_use + in_depot:
            offenders.append(
                (
                    abs(fleet - end - in_use - in_depot) + abs(start - fleet),
                    service,
                    fleet,
                    start,
                    end,
                    in_use,
                    in_depot,
                )
            )
    if not offenders:
        return _passed("fleet_conserved", len(services))
    _, service, fleet, start, end, in_use, in_depot = max(offenders)
    worst = (
        f"{service}: fleet {fleet}, {start:g} in stations at the start; at the end {end:g} in "
        f"stations, {in_use} on a ride, {in_depot} in the depot "
        f"({fleet - end - in_use - in_depot:+g} unaccounted)"
    )
    return Check("fleet_conserved", False, len(services), len(offenders), worst)


def _in_depot(rows: pd.DataFrame, rides: pd.DataFrame, fleet: pd.DataFrame, depots: set) -> int:
    """Vehicles of ``fleet`` whose last crew carry (``on_van`` leg) ended at a depot node (where
    the crew vans stand) and that nobody picked up after it."""
    ids = fleet["vehicle_id"]
    carried = rows[
        (as_str(rows["detail"]) == "on_van").to_numpy() & rows["vehicle_id"].isin(ids).to_numpy()
    ]
    if carried.empty:
        return 0
    last = carried.assign(end_s=carried["time_s"] + carried["duration_s"]).sort_values("end_s")
    last = last.drop_duplicates("vehicle_id", keep="last")
    last = last[last["to_node"].isin(depots).to_numpy()]
    picked = (
        rides[(as_str(rides["event"]) == "pickup").to_numpy()].groupby("vehicle_id")["time_s"].max()
    )
    later = last["vehicle_id"].map(picked) >= last["end_s"]
    return int((~later.fillna(False).astype(bool)).sum())


# ---------------------------------------------------------------------------- all of them


def check_tables(tables: dict[str, Any]) -> list[Check]:
    """Every invariant of a run from its tables (``events``, ``trips``, ``vehicles``,
    ``manifest``, as :func:`mobisim.metrics.tables.load_run` gives them); one Check each.

    Parameters
    ----------
    tables : the run's tables. Without ``events`` (a run with ``outputs.write_events: false``)
        only the checks of trips.parquet run.
    """
    trips, vehicles = tables["trips"], tables.get("vehicles", pd.DataFrame({"vehicle_id": []}))
    manifest = tables.get("manifest", {})
    events = tables.get("events")
    if events is None:
        empty = _empty_events()
        return [non_negative_times(empty, trips)]
    return [
        one_final_status(events, trips),
        occupancy(events, trips, vehicles),
        soc_range(events, vehicles, manifest),
        energy_balance(events, vehicles, manifest),
        legs_connected(events),
        fleet_conserved(events, vehicles, manifest),
        non_negative_times(events, trips),
    ]


def _empty_events() -> pd.DataFrame:
    from mobisim.events import events_frame

    return events_frame([])


def check_run(run_dir: str | Path) -> list[Check]:
    """Every invariant of a run folder, from its saved tables (:func:`check_tables`).

    Parameters
    ----------
    run_dir : a run folder (``results/<scenario>/<run-id>``).
    """
    from mobisim.metrics.tables import load_run

    return check_tables(load_run(run_dir))


def require_ok(checks: list[Check], where: str) -> None:
    """Raise SimulationError naming ``where`` and every failed check, if any failed.

    Parameters
    ----------
    checks : the outcome of :func:`check_tables` or :func:`check_run`.
    where : the run (its folder or scenario name), for the message.
    """
    failed = [c for c in checks if not c.passed]
    if failed:
        lines = "; ".join(c.line() for c in failed)
        raise SimulationError(f"{where}: run invariants fail: {lines}")

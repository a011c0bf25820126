"""When a SimPy process fails: one clear line naming the service, the vehicle or trip, and the place.

A process (a commuter's day, a shuttle's run, a rider, a rental, a DRT vehicle, a relocation tour)
that raises ends the run: SimPy re-raises the exception from ``env.run`` as a copy,
``type(exc)(*exc.args)``, whose ``__cause__`` is the original (``simpy.Environment.step``; every
class in :mod:`mobisim.errors` survives that copy). :func:`explained` wraps the event loop and
turns a user-caused error (a :class:`~mobisim.errors.MobisimError`, e.g. an
``UnreachableError`` after a stop was moved onto a road its vehicles cannot reach) into a
:class:`~mobisim.errors.ProcessError`::

    service 'shuttle', trip 41 (person 17, from node 12 to node 873) at node 12 (lat 37.50120,
    lon 127.03990, 40 m from place 'station'): no shuttle path from node 12 to node 873
    (UnreachableError)

Who and where are read from the failed process's frames, innermost last: the ``self`` that is a
service (or a relocation operator, via its fleet) names the service; a local ``vehicle`` with a
``vehicle_id`` names the vehicle and its node the place; a local ``trip``/``here`` (or a rider's
trip) names the trip, its origin the place. Nothing is added to the processes themselves, so the
event loop costs the same. Any other exception (a bug) keeps its class and gets the same line as
a note (``exc.__notes__``), which the CLI's internal-error line shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mobisim.errors import MobisimError, ProcessError
from mobisim.services.base import Service, Trip

#: a named place this close to the failure's node is named in the message, m
NEAR_PLACE_M = 1000.0


@dataclass
class FailureContext:
    """What the failed process was doing: service name, vehicle id, trip, node (None: unknown)."""

    service: str | None = None
    vehicle_id: int | None = None
    trip: Trip | None = None
    node: int | None = None

    def who(self) -> str:
        """``service 'shuttle', trip 41 (person 17, from node 12 to node 873)``, or the vehicle."""
        parts = [] if self.service is None else [f"service '{self.service}'"]
        if self.vehicle_id is not None:
            parts.append(f"vehicle {self.vehicle_id}")
        if self.trip is not None:
            trip = self.trip
            parts.append(
                f"trip {trip.trip_id} (person {trip.person_id}, from node {trip.origin_node} "
                f"to node {trip.dest_node})"
            )
        return ", ".join(parts) or "a process of the run"


def _frames(exc: BaseException) -> Iterator:
    """The frames of ``exc``'s traceback, outermost first."""
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def _service_name(obj) -> str | None:
    if isinstance(obj, Service):
        return obj.name
    fleet = getattr(obj, "fleet", None)  # a relocation operator: its fleet's service
    name = getattr(fleet, "service", None)
    return name if isinstance(name, str) else None


def context_of(exc: BaseException) -> FailureContext:
    """Service, vehicle, trip and node of the innermost frames of ``exc`` that name them."""
    found = FailureContext()
    for frame in _frames(exc):
        local = frame.f_locals
        name = _service_name(local.get("self"))
        if name is not None:
            found.service = name
        vehicle = local.get("vehicle")
        vehicle_id = getattr(vehicle, "vehicle_id", None)
        if isinstance(vehicle_id, int | np.integer):
            found.vehicle_id = int(vehicle_id)
            node = getattr(vehicle, "node", None)
            if isinstance(node, int | np.integer):
                found.node = int(node)
        for key in ("here", "trip"):
            trip = local.get(key)
            if isinstance(trip, Trip):
                break
        else:
            trip = getattr(local.get("rider"), "trip", None)
        if isinstance(trip, Trip):
            found.trip = trip
            if found.vehicle_id is None:
                found.node = trip.origin_node
    return found


def describe_node(network, node: int | None) -> str:
    """``node 12 (lat 37.50120, lon 127.03990, 40 m from place 'station')``; "" without a node."""
    if node is None or network is None or not 0 <= node < network.n_nodes:
        return "" if node is None else f"node {node}"
    row = network.nodes.iloc[node]
    text = f"node {node} (lat {row['lat']:.5f}, lon {row['lon']:.5f}"
    places = network.places
    if len(places):
        x_m, y_m = network.projector.to_xy_m(places["lat"].to_numpy(), places["lon"].to_numpy())
        dist_m = np.hypot(x_m - row["x_m"], y_m - row["y_m"])
        best = int(np.argmin(dist_m))
        if dist_m[best] <= NEAR_PLACE_M:
            text += f", {dist_m[best]:.0f} m from place '{places['name'].iat[best]}'"
    return text + ")"


def explain(exc: BaseException, network=None) -> BaseException:
    """The error to show for ``exc`` raised by ``env.run``: a ProcessError for a MobisimError
    (an already explained one as it is), else ``exc`` itself with the context line as a note."""
    original = exc.__cause__ if isinstance(exc.__cause__, type(exc)) else exc
    if isinstance(original, ProcessError):
        return original
    context = context_of(original)
    where = describe_node(network, context.node)
    if isinstance(original, MobisimError):
        return ProcessError(context.who(), where, type(original).__name__, str(original))
    exc.add_note(f"in {context.who()}" + (f" at {where}" if where else ""))
    return exc


@contextmanager
def explained(network=None) -> Iterator[None]:
    """Run the event loop inside this: a failed process's error is re-raised by :func:`explain`."""
    try:
        yield
    except Exception as exc:
        shown = explain(exc, network)
        if shown is exc:
            raise
        raise shown from exc

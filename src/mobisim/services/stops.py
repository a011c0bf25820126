"""Stops, depots and other named points of a service: how a scenario says where they are.

A stop is given as lat/lon (snapped to the nearest network node), a node index, or a named place
of the network; :func:`resolve_stops` turns a list of them into node indices, naming every stop
that cannot be placed with its key path.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from mobisim.errors import NetworkError, ScenarioError
from mobisim.scenario.base import StrictModel


class StopConfig(StrictModel):
    """A stop (or depot): a name and where it is, as lat/lon, a node index or a named place."""

    name: str = Field(description="Stop name (shown in events and reports).")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    node: int | None = Field(default=None, ge=0, description="Network node index.")
    place: str | None = Field(
        default=None, description="Named place of the network (e.g. town_centre)."
    )

    @model_validator(mode="after")
    def _one_location(self) -> StopConfig:
        if (self.lat is None) != (self.lon is None):
            raise ValueError(f"stop {self.name!r}: expected both lat and lon")
        given = [self.lat is not None, self.node is not None, self.place is not None]
        if sum(given) != 1:
            raise ValueError(
                f"stop {self.name!r}: expected exactly one of lat+lon, node or place (got {sum(given)})"
            )
        return self


def resolve_stops(network, stops: list[StopConfig], key_path: str) -> np.ndarray:
    """Node indices of ``stops``; ScenarioError listing every stop that cannot be placed.

    Parameters
    ----------
    network : Network
        The prepared network (snapping, named places).
    stops : list of StopConfig
        The stops of a service block.
    key_path : str
        Key path of the list for messages, e.g. ``services.shuttle.stops``.
    """
    nodes, problems = [], []
    for i, stop in enumerate(stops):
        try:
            if stop.node is not None:
                if stop.node >= network.n_nodes:
                    raise NetworkError(
                        f"node {stop.node} is outside 0..{network.n_nodes - 1} of the network"
                    )
                nodes.append(stop.node)
            elif stop.place is not None:
                nodes.append(network.place_node(stop.place))
            else:
                nodes.append(network.snap(stop.lat, stop.lon)[0])
        except NetworkError as exc:
            problems.append((f"{key_path}[{i}] ({stop.name})", str(exc)))
    if problems:
        raise ScenarioError(None, problems)
    return np.asarray(nodes, dtype=np.int64)

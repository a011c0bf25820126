"""The ``network:`` section of a scenario file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mobisim.scenario.base import StrictModel


class NetworkConfig(StrictModel):
    """Where the road network comes from and how it is prepared."""

    source: Literal["synthetic", "osm_xml", "pbf", "graphml", "place", "bbox"] = "synthetic"
    file: str | None = Field(
        default=None, description="Network file, relative to the scenario file."
    )
    max_snap_m: float = Field(default=500.0, gt=0, description="Largest allowed snap distance, m.")

"""The ``network:`` section of a scenario file.

Example::

    network:
      source: synthetic            # synthetic | osm_xml | pbf | graphml | place | bbox
      synthetic: {centre_lat: 36.91, centre_lon: 127.53, area_km2: 6.9, target_nodes: 1500, seed: 1}
      # source: osm_xml
      # file: ../networks/town.osm.bz2        (relative to the scenario file)
      # network_type: drive
      max_snap_m: 500
      router: {all_pairs_max_nodes: 6000, lru_size: 2048, cache_dir: networks/cache/router}
      places:                      # named places on a real network (added to synthetic ones)
        - {name: city_hall, kind: institution, lat: 37.51, lon: 127.10, weight: 1, radius_m: 300}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mobisim.scenario.base import StrictModel

NetworkSource = Literal["synthetic", "osm_xml", "pbf", "graphml", "place", "bbox"]
NetworkType = Literal["drive", "drive_service", "bike", "walk", "all", "all_public"]


class SyntheticNetworkConfig(StrictModel):
    """Parameters of the synthetic new-town generator (mobisim.network.synthetic)."""

    centre_lat: float = Field(
        default=36.91, ge=-80, le=80, description="Latitude of the town centre, degrees."
    )
    centre_lon: float = Field(
        default=127.53, ge=-180, le=180, description="Longitude of the town centre, degrees."
    )
    area_km2: float = Field(
        default=6.9,
        gt=0.05,
        le=400,
        description="Built-up area of the town inside the ring road, km² (Chungbuk Innovation City: 6.9).",
    )
    target_nodes: int = Field(
        default=1500,
        ge=100,
        le=200_000,
        description="Approximate number of graph nodes; larger values add intersections and street-shape nodes.",
    )
    seed: int = Field(
        default=0, ge=0, description="Seed of the layout details (cul-de-sacs, jitter)."
    )
    industrial_distance_km: float = Field(
        default=6.5,
        gt=0,
        description="Distance from the town centre to the industrial complex, km.",
    )
    rail_distance_km: float = Field(
        default=15.0,
        gt=0,
        description="Distance from the town centre to the regional rail station, km.",
    )


class PlaceConfig(StrictModel):
    """A named place (zone) on the network, which demand can refer to by name."""

    name: str = Field(description="Unique place name, used by demand (origin_place / dest_place).")
    kind: str = Field(
        default="zone",
        description="Kind of place: residential, institution, school, shopping, bus_terminal, centre, industrial, rail_station, zone.",
    )
    lat: float = Field(ge=-90, le=90, description="Latitude, degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees.")
    weight: float = Field(
        default=1.0, ge=0, description="Relative weight of the place among places of its kind."
    )
    radius_m: float = Field(
        default=300.0, ge=0, description="Zone radius, m: nodes within it belong to the zone."
    )


class SpeedPeriod(StrictModel):
    """One time-of-day period: hours it covers and the factor applied to edge speeds by road class."""

    name: str = Field(description="Period name (e.g. am_peak), shown in docs and benchmarks.")
    start_h: float = Field(ge=0, lt=24, description="Start of the period, hours after midnight.")
    end_h: float = Field(
        gt=0, le=24, description="End of the period (exclusive), hours after midnight."
    )
    speed_factor: dict[str, float] = Field(
        default_factory=lambda: {"default": 1.0},
        description="Factor on the free-flow edge speed by OSM highway class (e.g. primary, residential); 'default' for every other class (1.0 if absent). A *_link road takes its base class's factor. Must be > 0.",
    )

    @field_validator("speed_factor")
    @classmethod
    def _check_factors(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"speed factors must be > 0 (got {bad})")
        return value

    @model_validator(mode="after")
    def _check_hours(self) -> SpeedPeriod:
        if not self.end_h > self.start_h:
            raise ValueError(
                f"period '{self.name}': end_h ({self.end_h:g}) must be after start_h ({self.start_h:g})"
            )
        return self

    def factor_for(self, highway: str) -> float:
        """Speed factor of an edge of OSM highway class ``highway`` (links fall back to their base)."""
        if highway in self.speed_factor:
            return self.speed_factor[highway]
        base = highway.removesuffix("_link")
        if base in self.speed_factor:
            return self.speed_factor[base]
        return self.speed_factor.get("default", 1.0)


#: one free-flow period all day: the edge speeds as prepared (docs/networks.md)
FREE_FLOW = (SpeedPeriod(name="free_flow", start_h=0, end_h=24),)

#: Korean weekday, five periods. Peak hours from the weekday trip shares by hour [D2]
#: (07-09 and 17-19 the busiest). Factors: the day-mean speed at 0.80 of free flow is an
#: assumption (A); AM peak 0.97 and PM peak 0.86 of the day mean are Seoul's 2014 taxi-GPS
#: figures (24.9 and 21-23.2 km/h against 25.7 km/h all day) [R1]; night 1.0 and evening 0.9
#: are assumptions (A); residential streets lose half as much as other roads (A).
KOREA_WEEKDAY = (
    SpeedPeriod(name="night", start_h=0, end_h=7, speed_factor={"default": 1.0}),
    SpeedPeriod(
        name="am_peak", start_h=7, end_h=9, speed_factor={"default": 0.78, "residential": 0.89}
    ),
    SpeedPeriod(
        name="midday", start_h=9, end_h=17, speed_factor={"default": 0.80, "residential": 0.90}
    ),
    SpeedPeriod(
        name="pm_peak", start_h=17, end_h=19, speed_factor={"default": 0.69, "residential": 0.85}
    ),
    SpeedPeriod(
        name="evening", start_h=19, end_h=24, speed_factor={"default": 0.90, "residential": 0.95}
    ),
)

SPEED_PRESETS: dict[str, tuple[SpeedPeriod, ...]] = {
    "free_flow": FREE_FLOW,
    "korea_weekday": KOREA_WEEKDAY,
}


class RouterSettings(StrictModel):
    """How the router stores travel times (mobisim.network.router)."""

    all_pairs_max_nodes: int = Field(
        default=6000,
        ge=0,
        description="Networks with at most this many nodes get all-pairs matrices (float32, N² × 4 bytes each); larger ones use per-source Dijkstra rows with an LRU cache.",
    )
    lru_size: int = Field(
        default=2048,
        ge=1,
        description="Number of per-source rows kept in LRU mode (memory ≈ lru_size × nodes × 8 bytes per profile).",
    )
    all_pairs_budget_mb: float = Field(
        default=4096.0,
        ge=0,
        description="Memory for all-pairs matrices, MB: when every table of the registered profiles (each period's) would need more, only the tables of many-pair profiles (car, DRT) stay all-pairs and the others (walk, bike, shuttle and bus caps) use LRU rows. Same travel times either way (docs/networks.md 'Storage per profile').",
    )
    storage: dict[str, Literal["all_pairs", "lru"]] = Field(
        default_factory=dict,
        description="Storage per routing profile name (e.g. {shuttle: lru, walk: all_pairs}), overriding `all_pairs_max_nodes` and `all_pairs_budget_mb` for that profile's table; profiles sharing a table (car, drt and carshare on the drive view's edge times) must agree.",
    )
    cache_dir: str | None = Field(
        default=None,
        description="Folder for all-pairs matrices on disk (.npz, keyed by network fingerprint and profile); none = no disk cache. Relative paths resolve against the working directory.",
    )
    speed_preset: Literal["free_flow", "korea_weekday"] = Field(
        default="free_flow",
        description="Time-of-day speed periods by name when `periods` is not given: free_flow (one period, edge speeds all day) or korea_weekday (5 periods, docs/networks.md 'Time of day').",
    )
    periods: list[SpeedPeriod] | None = Field(
        default=None,
        description="Time-of-day periods covering 0-24 h without gaps or overlaps, in order; each scales road-mode edge speeds (car, DRT, shuttles, car-sharing) by road class. Walking and cycling are unaffected. Overrides `speed_preset`.",
    )

    @field_validator("periods")
    @classmethod
    def _check_periods(cls, value: list[SpeedPeriod] | None) -> list[SpeedPeriod] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("give at least one period (or leave the key out for free flow)")
        if value[0].start_h != 0:
            raise ValueError(f"periods[0].start_h must be 0 (got {value[0].start_h:g})")
        for i in range(1, len(value)):
            before, here = value[i - 1], value[i]
            if here.start_h != before.end_h:
                what = "overlaps" if here.start_h < before.end_h else "leaves a gap after"
                raise ValueError(
                    f"periods[{i}] '{here.name}' starts at {here.start_h:g} h and {what} "
                    f"periods[{i - 1}] '{before.name}' (ends {before.end_h:g} h); "
                    "periods must follow each other without gaps or overlaps"
                )
        if value[-1].end_h != 24:
            raise ValueError(
                f"periods[{len(value) - 1}].end_h must be 24 (got {value[-1].end_h:g})"
            )
        return value

    @model_validator(mode="after")
    def _check_one_source(self) -> RouterSettings:
        if self.periods is not None and "speed_preset" in self.model_fields_set:
            raise ValueError("give periods or speed_preset, not both")
        return self

    def speed_periods(self) -> tuple[SpeedPeriod, ...]:
        """The periods in force: ``periods`` if given, else the ``speed_preset``'s."""
        return tuple(self.periods) if self.periods is not None else SPEED_PRESETS[self.speed_preset]


class NetworkCheckConfig(StrictModel):
    """The network check before every run (mobisim.network.check, docs/networks.md)."""

    far_snap_m: float = Field(
        default=150.0,
        gt=0,
        description="A stop, station, depot or charger farther than this from its node is reported, m (A: about two city blocks).",
    )
    move_to_usable: bool = Field(
        default=False,
        description="Move each stop, station, depot or charger its vehicles or riders cannot use (outside the main strongly connected component of its mode view, or on a motorway/trunk node for walkers and cyclists) to the nearest usable node, and say so; false: report it (an error when the run is impossible).",
    )


#: vehicles per hour per lane by OSM highway class (A: planning-model orders of magnitude;
#: docs/networks.md "Congestion feedback"); mobisim.network.bpr uses them
CAPACITY_VEH_H_PER_LANE = {
    "motorway": 2000.0,
    "trunk": 1800.0,
    "primary": 1000.0,
    "secondary": 900.0,
    "tertiary": 800.0,
    "unclassified": 600.0,
    "residential": 500.0,
    "living_street": 300.0,
    "service": 300.0,
}
DEFAULT_CAPACITY_VEH_H_PER_LANE = 600.0  # (A) any other class


class CongestionConfig(StrictModel):
    """Congestion feedback: link volumes of a run slow the roads by BPR, and the day is re-run.

    docs/networks.md "Congestion feedback". Off unless ``enabled``.
    """

    enabled: bool = Field(
        default=False,
        description="Re-run the day with BPR link times from its own road-vehicle volumes until the relative gap is below `relative_gap` (or `max_iterations`).",
    )
    max_iterations: int = Field(
        default=10, ge=1, description="Most days simulated (the first at the period speeds)."
    )
    relative_gap: float = Field(
        default=0.01,
        gt=0,
        description="Stop when the relative gap (sum t*v - sum t*y) / sum t*v is below this (0.01 = 1 %).",
    )
    alpha: float = Field(default=0.15, gt=0, description="BPR alpha [BPR64].")
    beta: float = Field(default=4.0, gt=0, description="BPR beta [BPR64].")
    capacity_by_road_class: dict[str, float] = Field(
        default_factory=dict,
        description="Capacity per lane, veh/h, by OSM highway class, replacing the defaults of mobisim.network.bpr (motorway 2000 ... service 300, any other 600); 'default' for every other class.",
    )
    vehicle_scale: float = Field(
        default=1.0,
        gt=0,
        description="Real vehicles per simulated one (e.g. real population / simulated residents).",
    )
    background_od: str | None = Field(
        default=None,
        description="CSV of background traffic loaded on the network each iteration: origin, destination (place names or node indices), period (a period name) or hour (0-24), vehicles (in that period or hour). Relative to the scenario file.",
    )

    @field_validator("capacity_by_road_class")
    @classmethod
    def _check_capacities(cls, value: dict[str, float]) -> dict[str, float]:
        known = {*CAPACITY_VEH_H_PER_LANE, "default"}
        for name, capacity in value.items():
            if name not in known:
                raise ValueError(
                    f"unknown road class '{name}'; expected one of {', '.join(sorted(known))}"
                )
            if not capacity > 0:
                raise ValueError(f"capacity of '{name}' must be > 0 veh/h (got {capacity})")
        return value


class NetworkConfig(StrictModel):
    """Where the road network comes from and how it is prepared."""

    source: NetworkSource = Field(
        default="synthetic",
        description="synthetic (new-town generator), osm_xml (.osm/.osm.bz2), pbf (.osm.pbf), graphml (osmnx GraphML), place (download by place name), bbox (download by bounding box).",
    )
    file: str | None = Field(
        default=None,
        description="Network file, relative to the scenario file (osm_xml, pbf, graphml).",
    )
    place: str | None = Field(
        default=None,
        description="Place name to download with osmnx (source: place), e.g. 'Jincheon-gun, South Korea'.",
    )
    bbox: list[float] | None = Field(
        default=None,
        description="Bounding box [west, south, east, north] in degrees (source: bbox).",
    )
    network_type: NetworkType = Field(
        default="drive",
        description="osmnx network type whose way filter is applied to OSM data (drive, drive_service, bike, walk, all, all_public).",
    )
    synthetic: SyntheticNetworkConfig = Field(
        default_factory=SyntheticNetworkConfig,
        description="Generator parameters (source: synthetic).",
    )
    cache_dir: str = Field(
        default="networks/cache",
        description="Folder where downloaded networks are cached as GraphML. Relative paths resolve against the working directory.",
    )
    max_snap_m: float = Field(default=500.0, gt=0, description="Largest allowed snap distance, m.")
    router: RouterSettings = Field(
        default_factory=RouterSettings, description="Router storage settings."
    )
    places: list[PlaceConfig] = Field(
        default_factory=list,
        description="Named places (zones) on the network, added to the generator's places for synthetic networks.",
    )
    congestion: CongestionConfig = Field(
        default_factory=CongestionConfig,
        description="Congestion feedback: BPR link times from the run's own volumes, day re-run until the gap is small (docs/networks.md 'Congestion feedback').",
    )
    check: NetworkCheckConfig = Field(
        default_factory=NetworkCheckConfig,
        description="The check of every service's places against the mode views before the run.",
    )

    @field_validator("bbox")
    @classmethod
    def _check_bbox(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        if len(value) != 4:
            raise ValueError(f"expected [west, south, east, north] (4 numbers, got {len(value)})")
        west, south, east, north = value
        if not (west < east and south < north):
            raise ValueError(f"expected west < east and south < north (got {value})")
        return value

    @model_validator(mode="after")
    def _check_source_keys(self) -> NetworkConfig:
        needed = {
            "osm_xml": "file",
            "pbf": "file",
            "graphml": "file",
            "place": "place",
            "bbox": "bbox",
        }
        key = needed.get(self.source)
        if key is not None and getattr(self, key) is None:
            raise ValueError(f"source '{self.source}' needs the key '{key}'")
        names = [p.name for p in self.places]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"place names must be unique (repeated: {', '.join(duplicates)})")
        return self

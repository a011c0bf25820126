"""What the engine hands to services as ``ctx.energy``: vehicle types, batteries, charging sites.

The engine builds one :class:`EnergyContext` per run (when ``energy.enabled``)::

    energy = EnergyContext(scenario.energy, env, log, network)      # ScenarioError if invalid
    ... ServiceContext(..., energy=energy) ...
    env.run(...)
    vehicles, tables = energy.finish(events, vehicles, trips, router)
    # vehicles: with battery columns; tables: energy_* frames (SimulationError if unbalanced)

A service with electric vehicles uses it like this::

    vt = ctx.energy.vehicle_type(self.config.vehicle_type)
    vid = ctx.new_vehicle(self.name, vt.name, capacity=vt.capacity_pax)
    battery = ctx.energy.new_battery(vid, vt)            # initial_soc_share of capacity
    ...
    if needs_charge(battery, ctx.energy.config.charge_below_share):
        site, drive_s = ctx.energy.nearest_site(router, "car", node, self.name)
        ...drive there (log the leg, battery.draw(leg_energy_kwh(...)))...
        yield env.process(site.charge(battery, ctx.energy.config.charge_to_share, vid, self.name, vt))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import simpy

from mobisim.energy.battery import Battery
from mobisim.energy.charging import ChargingSite
from mobisim.energy.vehicle_types import VehicleType, catalogue, get_vehicle_type
from mobisim.errors import NetworkError, ScenarioError
from mobisim.scenario import registry
from mobisim.scenario.energy_config import ChargingSiteConfig, EnergyConfig

#: columns :meth:`EnergyContext.annotate` adds to vehicles.parquet (the balance check reads them)
BATTERY_COLUMNS = ("battery_kwh", "initial_soc_kwh", "final_soc_kwh", "drawn_kwh", "charged_kwh")


def site_node(site: ChargingSiteConfig, index: int, network: Any) -> int:
    """Node index of a configured charging site (node, named place, or snapped lat/lon).

    Parameters:
        site: the site's configuration.
        index: its position in ``energy.charging_sites`` (for the key path of errors).
        network: the run's Network (None only if every site gives ``node``).

    Raises ScenarioError with the key path when the place is unknown or the point is off the network.
    """
    key = f"energy.charging_sites.{index}"
    if site.node is not None:
        n_nodes = len(network.nodes) if network is not None else math.inf
        if site.node >= n_nodes:
            raise ScenarioError(None, [(f"{key}.node", f"expected a node index < {n_nodes}")])
        return int(site.node)
    if network is None:
        raise ScenarioError(None, [(key, "a network is needed to locate this site")])
    try:
        if site.place is not None:
            return int(network.place_node(site.place))
        return int(network.snap(site.lat, site.lon)[0])
    except NetworkError as error:
        field = "place" if site.place is not None else "lat"
        raise ScenarioError(None, [(f"{key}.{field}", str(error))]) from None


class EnergyContext:
    """Vehicle types, batteries and charging sites of one run.

    Parameters:
        config: the scenario's ``energy`` section.
        env: the SimPy environment (charging sites queue in it).
        log: the run's EventLog (charging sites log their sessions).
        network: the run's Network (to locate sites by place or lat/lon).
    """

    def __init__(self, config: EnergyConfig, env: simpy.Environment, log: Any, network: Any = None):
        self.config = config
        self.env = env
        self.log = log
        self.types: dict[str, VehicleType] = catalogue(config.vehicle_types)
        self.sites: dict[str, ChargingSite] = {}
        for index, site in enumerate(config.charging_sites):
            self.sites[site.name] = ChargingSite(
                env,
                site.name,
                node=site_node(site, index, network),
                plugs=site.plugs,
                power_kw=site.power_kw,
                efficiency=site.efficiency,
                log=log,
                services=site.services,
                taper_start_share=config.taper_start_share,
                taper_end_power_share=config.taper_end_power_share,
            )
        self.batteries: dict[int, tuple[Battery, VehicleType]] = {}
        #: when shuttles, buses and DRT vehicles go to charge (``energy.charging_policy``)
        self.charging_policy = registry.policy("charging", config.charging_policy)(config)

    def vehicle_type(self, name: str) -> VehicleType:
        """The vehicle type ``name`` with the scenario's overrides (ScenarioError if unknown)."""
        if name not in self.types:
            self.types[name] = get_vehicle_type(name, self.config.vehicle_types)
        return self.types[name]

    def new_battery(
        self, vehicle_id: int, vehicle_type: VehicleType | str, soc_share: float | None = None
    ) -> Battery:
        """A battery for registered vehicle ``vehicle_id``, tracked for the energy balance.

        Parameters:
            vehicle_id: the id returned by ``ctx.new_vehicle``.
            vehicle_type: its (electric) type or type name; capacity = ``battery_kwh``.
            soc_share: initial state of charge as a share (None = ``energy.initial_soc_share``).
        """
        vt = self.vehicle_type(vehicle_type) if isinstance(vehicle_type, str) else vehicle_type
        if not vt.is_electric:
            raise ValueError(f"vehicle type {vt.name!r} is not electric: it has no battery")
        share = self.config.initial_soc_share if soc_share is None else soc_share
        battery = Battery(vt.battery_kwh, share * vt.battery_kwh, name=f"vehicle {vehicle_id}")
        self.batteries[vehicle_id] = (battery, vt)
        return battery

    def sites_for(self, service: str) -> list[ChargingSite]:
        """The charging sites vehicles of ``service`` may use (in file order)."""
        return [site for site in self.sites.values() if site.serves(service)]

    def nearest_site(
        self, router: Any, profile: str, node: int, service: str
    ) -> tuple[ChargingSite, float] | None:
        """The reachable site of ``service`` nearest by travel time from ``node``, and that time (s).

        Parameters:
            router: the run's Router.
            profile: router profile of the vehicle (``"car"``, ``"shuttle"``, ``"escooter"`` ...).
            node: where the vehicle is, node index.
            service: the vehicle's service (sites may be reserved for services).

        Returns None when the service has no reachable site.
        """
        sites = self.sites_for(service)
        if not sites:
            return None
        times_s = router.travel_times_s(profile, node, np.array([s.node for s in sites]))
        if np.all(np.isnan(times_s)):
            return None
        best = int(np.nanargmin(times_s))
        return sites[best], float(times_s[best])

    def battery_table(self) -> pd.DataFrame:
        """One row per tracked battery: vehicle_id and :data:`BATTERY_COLUMNS` (kWh)."""
        rows = [
            (vid, b.capacity_kwh, b.initial_soc_kwh, b.soc_kwh, b.drawn_kwh, b.charged_kwh)
            for vid, (b, _vt) in sorted(self.batteries.items())
        ]
        return pd.DataFrame(rows, columns=["vehicle_id", *BATTERY_COLUMNS])

    def annotate(self, vehicles: pd.DataFrame) -> pd.DataFrame:
        """``vehicles`` with the battery columns of the tracked vehicles (NaN for the others).

        Parameters:
            vehicles: the vehicles.parquet frame (``vehicle_id`` column).
        """
        merged = vehicles.merge(
            self.battery_table(), on="vehicle_id", how="left", suffixes=("_given", "")
        )
        for column in BATTERY_COLUMNS:  # a value the service gave stays where nothing was tracked
            if f"{column}_given" in merged.columns:
                merged[column] = merged[column].fillna(merged.pop(f"{column}_given"))
        return merged

    def finish(
        self, events: pd.DataFrame, vehicles: pd.DataFrame, trips: pd.DataFrame, router: Any = None
    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """End of the run: the annotated vehicles table and the energy tables (balance checked).

        Parameters:
            events: the run's event table.
            vehicles: the vehicles.parquet frame.
            trips: the trips.parquet frame (with outcomes).
            router: the run's Router, for the private-car distance of every trip (None: the
                trips' own distances).

        Raises SimulationError when an electric vehicle's energy does not balance.
        """
        from mobisim.energy.accounting import car_distances_m, energy_tables

        vehicles = self.annotate(vehicles)
        car_m = car_distances_m(router, trips) if router is not None and len(trips) else None
        return vehicles, energy_tables(events, vehicles, trips, self.config, car_distance_m=car_m)

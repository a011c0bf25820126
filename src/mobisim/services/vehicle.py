"""How a vehicle moves: drive a leg, stand, draw the energy, log it — one helper for every service.

Every movement of a vehicle is one ``vehicle_leg`` row and every stand one ``vehicle_dwell`` row
(:mod:`mobisim.events`); positions, kilometres by state and energy follow from those rows alone.
A vehicle with a battery pays each leg and each stand from it, with the formulas the energy
accounting applies to the same rows afterwards (:func:`~mobisim.energy.consumption.leg_energy_kwh`,
:func:`~mobisim.energy.consumption.dwell_energy_kwh`); the run's energy balance check fails when a
row was logged without being drawn or drawn without being logged, so services move their vehicles
only through :class:`Motion`.

A vehicle here is anything with ``vehicle_id`` (int), ``node`` (node index: where it stands, or
where the leg under way ends), ``battery`` (:class:`~mobisim.energy.battery.Battery` or None) and
``vt`` (its :class:`~mobisim.energy.vehicle_types.VehicleType`, or None when no energy is drawn).
"""

from __future__ import annotations

from typing import Any, Protocol

from mobisim.energy.consumption import dwell_energy_kwh, leg_energy_kwh


class MovingVehicle(Protocol):
    """What :class:`Motion` reads and writes of a vehicle."""

    vehicle_id: int
    node: int
    battery: Any  # Battery or None
    vt: Any  # VehicleType or None


class Motion:
    """The moves of one service's vehicles, logged under the service's name.

    Parameters
    ----------
    ctx : ServiceContext
        Clock (``env``) and event log (``log``) of the run.
    service : str
        Service name written on every row.
    leg_detail : str
        ``detail`` of the service's legs (the vehicle type name for shuttles and DRT; "" else).
    """

    def __init__(self, ctx: Any, service: str, leg_detail: str = ""):
        self.env = ctx.env
        self.log = ctx.log
        self.service = service
        self.leg_detail = leg_detail

    # ------------------------------------------------------------------ energy
    @staticmethod
    def leg_kwh(vehicle: MovingVehicle, distance_m: float, duration_s: float, pax: int) -> float:
        """Battery energy of a leg of ``distance_m`` (m) in ``duration_s`` (s) with ``pax``
        persons on board, kWh (0 without a battery)."""
        if vehicle.battery is None:
            return 0.0
        return leg_energy_kwh(vehicle.vt, distance_m, duration_s, pax)

    @staticmethod
    def stand_kwh(vehicle: MovingVehicle, duration_s: float, state: str) -> float:
        """Battery energy of standing ``duration_s`` (s) in ``state``, kWh (0 without a battery)."""
        if vehicle.battery is None:
            return 0.0
        return dwell_energy_kwh(vehicle.vt, duration_s, state)

    # ------------------------------------------------------------------ moving
    def drive(
        self,
        vehicle: MovingVehicle,
        to_node: int,
        duration_s: float,
        distance_m: float,
        *,
        state: str,
        pax: int,
        trip_id: int = -1,
        detail: str | None = None,
    ):
        """Drive from the vehicle's node to ``to_node``: ``distance_m`` (m) in ``duration_s``
        (s) with ``pax`` on board, in ``state`` (a SimPy sub-story: ``yield from``).

        The battery pays the leg and the row is logged as the leg starts; ``vehicle.node`` is
        ``to_node`` from then on (where its committed move ends). ``trip_id``: the commuter
        driving or riding it, if one; ``detail``: the row's detail (default ``leg_detail``).
        """
        self.log_leg(
            vehicle, self.env.now, to_node, duration_s, distance_m,
            state=state, pax=pax, trip_id=trip_id, detail=detail,
        )  # fmt: skip
        vehicle.node = to_node
        if duration_s > 0:
            yield self.env.timeout(duration_s)

    def stand(self, vehicle: MovingVehicle, duration_s: float, *, state: str, pax: int = 0):
        """Stand at the vehicle's node for ``duration_s`` (s) in ``state`` with ``pax`` on board
        (a SimPy sub-story); nothing when ``duration_s`` <= 0."""
        if duration_s <= 0:
            return
        self.log_stand(vehicle, self.env.now, duration_s, state=state, pax=pax)
        yield self.env.timeout(duration_s)

    # ------------------------------------------------------------------ recording
    def log_leg(
        self,
        vehicle: MovingVehicle,
        start_s: float,
        to_node: int,
        duration_s: float,
        distance_m: float,
        *,
        state: str,
        pax: int,
        trip_id: int = -1,
        detail: str | None = None,
    ) -> None:
        """Draw and log a leg that started at ``start_s`` (s) from the vehicle's node, without
        waiting for it (e.g. a device carried on a van: the leg is known when it is unloaded)."""
        if vehicle.battery is not None:
            vehicle.battery.draw(self.leg_kwh(vehicle, distance_m, duration_s, pax))
        self.log.vehicle_leg(
            start_s,
            service=self.service,
            vehicle_id=vehicle.vehicle_id,
            trip_id=trip_id,
            from_node=vehicle.node,
            to_node=to_node,
            distance_m=distance_m,
            duration_s=duration_s,
            pax=pax,
            state=state,
            detail=self.leg_detail if detail is None else detail,
        )

    def log_stand(
        self,
        vehicle: MovingVehicle,
        start_s: float,
        duration_s: float,
        *,
        state: str,
        pax: int = 0,
        detail: str = "",
        draw: bool = True,
    ) -> None:
        """Draw and log a stand at the vehicle's node from ``start_s`` for ``duration_s`` (s)
        that is over or known (an idle wait closed when the vehicle is dispatched).

        ``draw=False``: log only (the caller has drawn the stand already, e.g. a charging
        session whose energy the charger accounted for)."""
        if draw and vehicle.battery is not None:
            vehicle.battery.draw(self.stand_kwh(vehicle, duration_s, state))
        self.log.vehicle_dwell(
            start_s,
            service=self.service,
            vehicle_id=vehicle.vehicle_id,
            node=vehicle.node,
            duration_s=duration_s,
            pax=pax,
            state=state,
            detail=detail,
        )

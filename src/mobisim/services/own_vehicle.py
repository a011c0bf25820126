"""A ride in the person's own vehicle (private car, private bike): walk to it, ride, park.

The vehicle belongs to the tour: ridden on the way out, it stands at the destination, is there for
the way back and must be used for it (``trip.tour_state[state_key] = "with_person"`` and
``trip.tour_state[MUST_USE]``, read by the commuter). Each ride is one ``vehicle_leg`` row with
vehicle_id -1 (own vehicles are not registered vehicles) and the vehicle type in ``detail``, so
that energy and CO2 follow from the events alone.
"""

from __future__ import annotations

from functools import partial

from mobisim.services.base import MUST_USE, Offer, RideOutcome, Service, Trip


def ride_own_vehicle(
    service: Service,
    trip: Trip,
    offer: Offer,
    *,
    pax: int,
    vehicle_type: str,
    state_key: str,
    fare_krw: float = 0.0,
):
    """The person walks to their vehicle, rides and parks; the event fires on parking.

    Parameters
    ----------
    service : Service
        The service of the vehicle (its ``name`` and ``ctx`` are used).
    trip, offer : Trip, Offer
        The trip and the service's offer (access walk s, ride + parking time s, distance m).
    pax : int
        Persons on board, logged with the leg.
    vehicle_type : str
        The vehicle type logged in ``detail`` (energy and CO2 follow from it).
    state_key : str
        ``trip.tour_state`` key that says where the vehicle is.
    fare_krw : float
        Out-of-pocket cost of the ride, KRW.

    Returns a SimPy timeout firing ``access_walk_s + in_vehicle_s`` from now with the
    :class:`RideOutcome`; on firing, the ride is logged and the vehicle stays with its user.
    """
    env = service.ctx.env
    outcome = RideOutcome(
        served=True,
        wait_s=0.0,
        in_vehicle_s=offer.in_vehicle_s,
        distance_m=offer.distance_m,
        fare_krw=fare_krw,
        egress_node=trip.dest_node,
    )
    parked = env.timeout(offer.access_walk_s + offer.in_vehicle_s, outcome)
    ride_start_s = env.now + offer.access_walk_s
    parked.callbacks.append(
        partial(_parked, service, trip, offer, ride_start_s, pax, vehicle_type, state_key)
    )
    return parked


def _parked(
    service: Service,
    trip: Trip,
    offer: Offer,
    ride_start_s: float,
    pax: int,
    vehicle_type: str,
    state_key: str,
    event,
) -> None:
    """Log the ride that started at ``ride_start_s`` (s); the vehicle now stands with its user."""
    service.ctx.log.vehicle_leg(
        ride_start_s,
        service=service.name,
        vehicle_id=-1,
        trip_id=trip.trip_id,
        from_node=trip.origin_node,
        to_node=trip.dest_node,
        distance_m=offer.distance_m,
        duration_s=offer.in_vehicle_s,
        pax=pax,
        state="occupied",
        detail=vehicle_type,
    )
    # the vehicle is at the destination: it is there for the way back, and must be used for it
    trip.tour_state[state_key] = "with_person"
    trip.tour_state[MUST_USE] = service.name

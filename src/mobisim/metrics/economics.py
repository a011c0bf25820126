"""Operator economics: what each shared service costs a day, what it earns, and the subsidy per trip.

Two halves (docs/economics.md):

- :func:`economics_params` turns a scenario into plain numbers (discount rate, tariff, prices,
  the stations, docks and chargers of each service): they travel in the run's KPI ``meta``, so
  ``mobisim kpis RUN_DIR`` recomputes the same costs from the folder alone;
- :func:`service_economics` and :func:`system_economics` are pure functions of the run's tables
  (vehicles, events, energy tables) and those numbers.

Capital is annualised with the capital recovery factor ``r (1+r)^n / ((1+r)^n - 1)`` (``1/n`` at
``r = 0``) and spread over the operating days of a year; operating cost is per operated
vehicle-hour, per vehicle-km, per rebalancing move, the energy bought (electricity at the
time-of-use tariff, fuel at its price) and a fixed yearly part. Subsidy = cost − fare revenue.
Walking and private cars have no operator and are not costed.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pandas as pd

from mobisim.metrics.common import as_str, event_rows, ratio

#: service types that have an operator (costed); walk and private_car are not
COSTED_TYPES = ("fixed_route", "drt", "carsharing", "micromobility")

#: vehicle type -> (purchase price KRW, lifetime years); sources in docs/economics.md
VEHICLE_PRICES: dict[str, tuple[float, float]] = {
    "av_shuttle": (416e6, 8.0),  # US$320,000 [EC5] at 1,300 KRW/US$ (A); lifetime A
    "e_bus_12m": (450e6, 9.0),  # A (before purchase subsidies); 9 years: city-bus age limit (A)
    "e_midibus": (300e6, 9.0),  # A
    "diesel_bus_12m": (150e6, 9.0),  # A
    "cng_bus_12m": (170e6, 9.0),  # A
    "ev_car": (45e6, 6.0),  # A (compact EV before subsidies)
    "ev_car_ioniq": (50e6, 6.0),  # A
    "petrol_car": (25e6, 6.0),  # A
    "e_scooter": (0.8e6, 2.0),  # A
    "e_bike": (1.5e6, 4.0),  # A; bikes US$100-2,000 [EC6]
    "bike": (0.5e6, 5.0),  # A; [EC6]
    "segway": (1.5e6, 3.0),  # A
    "e_van": (40e6, 6.0),  # A
    "diesel_van": (30e6, 6.0),  # A
}

#: service type -> defaults of the service's ``economics:`` keys (all assumptions A, docs/economics.md)
SERVICE_DEFAULTS: dict[str, dict[str, float]] = {
    "fixed_route": {
        "station_cost_krw": 10e6,  # a stop with a shelter and sign
        "station_lifetime_years": 15.0,
        "dock_cost_krw": 0.0,
        "dock_lifetime_years": 15.0,
        "vehicle_hour_krw": 35_000.0,  # driver or on-board safety operator, with overheads
        "vehicle_km_krw": 300.0,  # maintenance, tyres, insurance
        "rebalancing_move_krw": 0.0,
        "fixed_annual_krw": 0.0,
    },
    "drt": {
        "station_cost_krw": 1e6,  # a virtual stop's sign
        "station_lifetime_years": 10.0,
        "dock_cost_krw": 0.0,
        "dock_lifetime_years": 10.0,
        "vehicle_hour_krw": 35_000.0,
        "vehicle_km_krw": 250.0,
        "rebalancing_move_krw": 0.0,  # empty drives already cost per km and per hour
        "fixed_annual_krw": 0.0,
    },
    "carsharing": {
        "station_cost_krw": 5e6,  # signs, bay markings, card reader
        "station_lifetime_years": 10.0,
        "dock_cost_krw": 1e6,  # per parking space
        "dock_lifetime_years": 10.0,
        "vehicle_hour_krw": 0.0,  # self-driven
        "vehicle_km_krw": 150.0,
        "rebalancing_move_krw": 20_000.0,  # a staff relocation drive
        "fixed_annual_krw": 0.0,
    },
    "micromobility": {
        "station_cost_krw": 15e6,  # a docked station's terminal (dockless zones are not built)
        "station_lifetime_years": 10.0,
        "dock_cost_krw": 1.5e6,  # per dock [EC6]
        "dock_lifetime_years": 10.0,
        "vehicle_hour_krw": 0.0,
        "vehicle_km_krw": 30.0,
        "rebalancing_move_krw": 2_000.0,  # one device moved by a crew van
        "fixed_annual_krw": 0.0,
    },
}

#: KEPCO time-of-use bands (off-peak 23-09, mid 09-10/12-13/17-23, peak 10-12/13-17) [EC3]
_BANDS = (
    (23, 33, "off"),
    (9, 10, "mid"),
    (10, 12, "peak"),
    (12, 13, "mid"),
    (13, 17, "peak"),
    (17, 23, "mid"),
)
#: EV-charging energy price by season and band, KRW/kWh incl. VAT [EC2]
TOU_PRICES: dict[str, dict[str, float]] = {
    "summer": {"off": 182.27, "mid": 227.15, "peak": 255.75},  # June-August
    "spring_fall": {"off": 167.31, "mid": 175.45, "peak": 178.86},  # March-May, Sept-Oct
    "winter": {"off": 194.15, "mid": 213.29, "peak": 255.75},  # November-February
}

#: vehicle states whose hours are not operated (a parked shared car, a vehicle charging)
NOT_OPERATED_STATES = ("parked", "charging")


def season_of_month(month: int) -> str:
    """KEPCO season of a month (1-12): summer (6-8), winter (11-2), else spring_fall."""
    if month in (6, 7, 8):
        return "summer"
    if month in (11, 12, 1, 2):
        return "winter"
    return "spring_fall"


def default_tariff(month: int) -> list[list[float]]:
    """The default tariff of a month as ``[start_s, end_s, KRW/kWh]`` bands (end may pass 24:00)."""
    prices = TOU_PRICES[season_of_month(month)]
    return [[a * 3600.0, b * 3600.0, prices[band]] for a, b, band in _BANDS]


def capital_recovery_factor(rate: float, lifetime_years: float) -> float:
    """Share of a capital cost paid each year over ``lifetime_years`` at discount ``rate``.

    ``r (1+r)^n / ((1+r)^n - 1)``; ``1/n`` when ``r = 0``. Example: 4.5 %, 10 years → 0.12638.
    """
    if rate == 0:
        return 1.0 / lifetime_years
    growth = (1.0 + rate) ** lifetime_years
    return rate * growth / (growth - 1.0)


def _price_at(bands: list[list[float]], clock_s: float) -> float:
    t = clock_s % 86400.0
    for start, end, price in bands:
        span = (end - start) % 86400.0 or 86400.0
        if (t - start) % 86400.0 < span:
            return price
    return math.nan


def tou_cost_krw(kwh: float, start_s: float, end_s: float, bands: list[list[float]]) -> float:
    """Cost of ``kwh`` drawn evenly from ``start_s`` to ``end_s`` (s after midnight) at the tariff.

    ``bands``: ``[start_s, end_s, KRW/kWh]`` covering the day (an end before its start wraps past
    midnight). A session of no duration pays the price at its start.
    """
    if kwh == 0:
        return 0.0
    if end_s <= start_s:
        return kwh * _price_at(bands, start_s)
    edges = {start_s, end_s}
    first_day, last_day = math.floor(start_s / 86400.0) - 1, math.ceil(end_s / 86400.0) + 1
    for day in range(first_day, last_day + 1):
        for band_start, band_end, _ in bands:
            for edge in (band_start, band_end):
                t = day * 86400.0 + edge % 86400.0
                if start_s < t < end_s:
                    edges.add(t)
    cuts = sorted(edges)
    total = 0.0
    for a, b in itertools.pairwise(cuts):
        total += (b - a) * _price_at(bands, (a + b) / 2.0)
    return kwh * total / (end_s - start_s)


# --------------------------------------------------------------------- parameters from a scenario


def _vehicle_prices(scenario: Any) -> dict[str, list[float | None]]:
    """Price and lifetime of every vehicle type the scenario knows (None: unknown)."""
    custom = scenario.energy.vehicle_types or {}
    names = list(VEHICLE_PRICES) + [n for n in custom if n not in VEHICLE_PRICES]
    out: dict[str, list[float | None]] = {}
    for name in names:
        base, seen = name, set()
        while base not in VEHICLE_PRICES and base in custom and base not in seen:
            seen.add(base)
            base = (custom[base] or {}).get("based_on", "")
        cost, life = VEHICLE_PRICES.get(base, (None, None))
        given = scenario.economics.vehicles.get(name)
        if given is not None:
            cost = given.cost_krw if given.cost_krw is not None else cost
            life = given.lifetime_years if given.lifetime_years is not None else life
        out[name] = [cost, life]
    for name, given in scenario.economics.vehicles.items():
        out.setdefault(name, [given.cost_krw, given.lifetime_years])
    return out


def _fuel_prices(scenario: Any) -> dict[str, float]:
    """KRW per fuel unit (litre; Nm³ for CNG) of every combustion vehicle type."""
    from mobisim.energy.vehicle_types import catalogue
    from mobisim.errors import ScenarioError

    eco = scenario.economics
    by_powertrain = {
        "petrol": eco.petrol_krw_per_l,
        "diesel": eco.diesel_krw_per_l,
        "cng": eco.cng_krw_per_nm3,
    }
    try:
        types = catalogue(scenario.energy.vehicle_types)
    except ScenarioError:  # a broken vehicle type is reported when the run starts
        types = catalogue()
    return {
        n: by_powertrain[t.powertrain] for n, t in types.items() if t.powertrain in by_powertrain
    }


def _service_quantities(config: Any) -> dict[str, float]:
    """Stations (stops, stations; dockless zones are not built), docks and station charger kW."""
    stations = list(getattr(config, "stations", None) or [])
    stops = list(getattr(config, "stops", None) or [])
    if getattr(config, "parking", None) == "dockless":
        stations = []
    return {
        "stations": float(len(stations) + len(stops)),
        "docks": float(sum(getattr(s, "spaces", 0) for s in stations)),
        "station_charger_kw": float(
            sum(getattr(s, "spaces", 0) * getattr(s, "charge_kw", 0.0) for s in stations)
        ),
    }


def economics_params(scenario: Any) -> dict[str, Any]:
    """Every number the economics KPIs need, resolved from a scenario (a plain JSON dict).

    Empty when ``economics.enabled`` is false. Defaults: :data:`VEHICLE_PRICES`,
    :data:`SERVICE_DEFAULTS`, :func:`default_tariff` of the month of ``energy.date``.
    """
    eco = scenario.economics
    if not eco.enabled:
        return {}
    month = int(str(scenario.energy.date)[5:7])
    tariff = (
        [[b.start, b.end, b.krw_per_kwh] for b in eco.tariff]
        if eco.tariff is not None
        else default_tariff(month)
    )
    services = {}
    for block in scenario.enabled_services():
        if block.type not in COSTED_TYPES:
            continue
        values = dict(SERVICE_DEFAULTS[block.type])
        values.update({k: v for k, v in block.economics.model_dump().items() if v is not None})
        values.update(_service_quantities(block))
        services[block.name] = {"type": block.type, **values}
    sites = []
    for site in scenario.energy.charging_sites if scenario.energy.enabled else []:
        served = [s for s in (site.services or list(services)) if s in services]
        sites.append(
            {
                "name": site.name,
                "services": served,
                "charger_kw": site.plugs * site.power_kw,
                "pv_kwp": site.pv_kwp,
                "storage_kwh": site.storage_kwh,
            }
        )
    credit = eco.e_mileage
    e_mileage = None
    if credit.enabled:
        from mobisim.engine.fares import e_mileage_services

        e_mileage = {
            "seed": scenario.seed,
            "services": e_mileage_services(scenario),
            "participation_share": credit.participation_share,
            "discount_share": credit.discount_share,
        }
    return {
        "e_mileage": e_mileage,
        "discount_rate": eco.discount_rate,
        "operating_days_per_year": eco.operating_days_per_year,
        "tariff": tariff,
        "fuel_krw_per_unit": _fuel_prices(scenario),
        "vehicles": _vehicle_prices(scenario),
        "charger_cost_krw_per_kw": eco.charger_cost_krw_per_kw,
        "charger_lifetime_years": eco.charger_lifetime_years,
        "pv_cost_krw_per_kwp": eco.pv_cost_krw_per_kwp,
        "pv_lifetime_years": eco.pv_lifetime_years,
        "storage_cost_krw_per_kwh": eco.storage_cost_krw_per_kwh,
        "storage_lifetime_years": eco.storage_lifetime_years,
        "services": services,
        "sites": sites,
    }


# --------------------------------------------------------------------- KPIs from the tables


def _capital(
    params: dict[str, Any], service: str, vehicles: pd.DataFrame
) -> tuple[dict[str, float], float]:
    """Annualised capital of one service by item (KRW/year) and its purchase value (KRW)."""
    rate = params["discount_rate"]
    own = params["services"][service]
    purchase = [0.0]

    def annual(quantity: float, cost: float | None, life: float | None) -> float:
        if not quantity:
            return 0.0
        if cost is None or life is None:
            purchase[0] = math.nan
            return math.nan
        purchase[0] += quantity * cost
        return quantity * cost * capital_recovery_factor(rate, life)

    fleet = vehicles[as_str(vehicles["service"]) == service] if "service" in vehicles else vehicles
    types = as_str(fleet["vehicle_type"]) if "vehicle_type" in fleet else pd.Series(dtype=object)
    vehicle_krw = 0.0
    for vehicle_type, n in types.value_counts().items():
        vehicle_krw += annual(float(n), *params["vehicles"].get(vehicle_type, (None, None)))
    charger_kw = own["station_charger_kw"]
    pv_kwp = storage_kwh = 0.0
    for site in params["sites"]:
        if service in site["services"]:
            share = 1.0 / len(site["services"])
            charger_kw += share * site["charger_kw"]
            pv_kwp += share * site["pv_kwp"]
            storage_kwh += share * site["storage_kwh"]
    p = params
    by_item = {
        "vehicles": vehicle_krw,
        "stations": annual(own["stations"], own["station_cost_krw"], own["station_lifetime_years"]),
        "docks": annual(own["docks"], own["dock_cost_krw"], own["dock_lifetime_years"]),
        "chargers": annual(charger_kw, p["charger_cost_krw_per_kw"], p["charger_lifetime_years"]),
        "pv": annual(pv_kwp, p["pv_cost_krw_per_kwp"], p["pv_lifetime_years"]),
        "storage": annual(storage_kwh, p["storage_cost_krw_per_kwh"], p["storage_lifetime_years"]),
    }
    return by_item, purchase[0]


def energy_cost_krw(
    tables: dict[str, pd.DataFrame], params: dict[str, Any], service: str
) -> float | None:
    """Energy bought for one service in the period, KRW (None without energy tables).

    Electricity: the grid part of each charging session at the time-of-use tariff, spread evenly
    over the session (PV is paid for as capital); plug energy drawn but not charged back in the
    period is bought at the cheapest band (recharged at night). Fuel: litres (Nm³) × price.
    """
    legs, charging = tables.get("energy_legs"), tables.get("energy_charging")
    if legs is None:
        return None
    legs = legs[as_str(legs["service"]) == service] if "service" in legs else legs.iloc[:0]
    bands = params["tariff"]
    cost = 0.0
    charged_kwh = 0.0
    if charging is not None and len(charging) and "service" in charging:
        mine = charging[as_str(charging["service"]) == service]
        grid = mine["grid_kwh"] if "grid_kwh" in mine else mine["energy_kwh"]
        for kwh, start_s, end_s in zip(
            grid.fillna(0.0), mine["start_s"], mine["end_s"], strict=True
        ):
            cost += tou_cost_krw(float(kwh), float(start_s), float(end_s), bands)
        charged_kwh = float(mine["energy_kwh"].fillna(0.0).sum())
    drawn_kwh = float(legs["plug_kwh"].fillna(0.0).sum()) if "plug_kwh" in legs else 0.0
    cost += max(0.0, drawn_kwh - charged_kwh) * min(band[2] for band in bands)
    prices = params["fuel_krw_per_unit"]
    for column in ("fuel_l", "fuel_nm3"):
        if column in legs and len(legs):
            price = as_str(legs["vehicle_type"]).map(prices).astype(float).fillna(0.0)
            cost += float((legs[column].fillna(0.0) * price).sum())
    return cost


def service_economics(
    tables: dict[str, pd.DataFrame], params: dict[str, Any], service: str, kpis: dict[str, Any]
) -> dict[str, Any]:
    """Capital, operating cost, revenue and subsidy of one costed service for the simulated day.

    ``kpis``: the service's other KPIs (``served``, ``vehicle_km``, ``fare_revenue_krw``).
    Returns {} for a service that is not costed.
    """
    if not params or service not in params.get("services", {}):
        return {}
    own = params["services"][service]
    days = params["operating_days_per_year"]
    events = tables["events"]
    vehicles = tables.get("vehicles", pd.DataFrame())
    capital, purchase_krw = _capital(params, service, vehicles)
    capital_annual = sum(capital.values())
    rows = event_rows(events, ("vehicle_leg", "vehicle_dwell"))
    rows = rows[(as_str(rows["service"]) == service) & (rows["vehicle_id"] >= 0)]
    states = as_str(rows["state"])
    operated_h = float(rows.loc[~states.isin(NOT_OPERATED_STATES), "duration_s"].fillna(0.0).sum())
    operated_h /= 3600.0
    moves = int(((as_str(rows["event"]) == "vehicle_leg") & (states == "repositioning")).sum())
    energy = energy_cost_krw(tables, params, service)
    operating = {
        "vehicle_hours": operated_h * own["vehicle_hour_krw"],
        "vehicle_km": kpis["vehicle_km"] * own["vehicle_km_krw"],
        "rebalancing": moves * own["rebalancing_move_krw"],
        "energy": energy if energy is not None else 0.0,
        "fixed": own["fixed_annual_krw"] / days,
    }
    out: dict[str, Any] = {
        "capital_krw": purchase_krw,
        "capital_annual_krw": capital_annual,
        "capital_by_item_annual_krw": capital,
        "capital_day_krw": capital_annual / days,
        "operated_vehicle_h": operated_h,
        "rebalancing_moves": moves,
        "operating_cost_krw": sum(operating.values()),
        "operating_by_item_krw": operating,
    }
    if energy is not None:
        out["energy_cost_krw"] = energy
    out.update(e_mileage_kpis(tables["trips"], params, service))
    return _totals(out, kpis["served"], kpis["fare_revenue_krw"], days)


def e_mileage_kpis(
    trips: pd.DataFrame, params: dict[str, Any], service: str | None = None
) -> dict[str, Any]:
    """What the E-mileage credit paid (KRW) and for how many rides; {} when it was off.

    The members are found again from the seed and person ids (:func:`mobisim.randomness.member`);
    a member's served ride on a credited service paid ``(1 - d)`` of its fare, so the credit is
    ``fare paid × d / (1 - d)``. ``system`` adds the members among the persons with trips.
    """
    from mobisim.engine.fares import E_MILEAGE_LABEL
    from mobisim.randomness import member

    credit = (params or {}).get("e_mileage")
    if not credit or (service is not None and service not in credit["services"]):
        return {}
    seed, share, d = credit["seed"], credit["participation_share"], credit["discount_share"]
    persons = pd.unique(trips["person_id"]) if "person_id" in trips else []
    members = {int(p) for p in persons if member(seed, E_MILEAGE_LABEL, int(p), share)}
    services = as_str(trips["service"])
    credited = services.isin(credit["services"] if service is None else [service])
    mine = trips[credited & trips["status"].isin(("completed", "fallback"))]
    mine = mine[mine["person_id"].astype(int).isin(members) & (mine["fare_krw"] > 0)]
    paid_credit = float(mine["fare_krw"].sum()) * d / (1.0 - d)
    out: dict[str, Any] = {"e_mileage_rides": len(mine), "e_mileage_credit_krw": paid_credit}
    if service is None:
        out["e_mileage_members"] = len(members)
        out["e_mileage_credit_annual_krw"] = paid_credit * params["operating_days_per_year"]
    return out


def _totals(out: dict[str, Any], served: int, revenue: float, days: float) -> dict[str, Any]:
    cost = out["capital_day_krw"] + out["operating_cost_krw"]
    out.update(
        {
            "cost_krw": cost,
            "cost_annual_krw": cost * days,
            "cost_per_trip_krw": ratio(cost, served),
            "subsidy_krw": cost - revenue,
            "subsidy_annual_krw": (cost - revenue) * days,
            "subsidy_per_trip_krw": ratio(cost - revenue, served),
            "farebox_recovery_share": ratio(revenue, cost),
        }
    )
    return out


def system_economics(
    by_service: dict[str, dict[str, Any]], params: dict[str, Any]
) -> dict[str, Any]:
    """The costed services together: sums, and cost and subsidy per trip they served."""
    costed = [
        k
        for name, k in by_service.items()
        if "cost_krw" in k and name in params.get("services", {})
    ]
    if not params or not costed:
        return {}
    days = params["operating_days_per_year"]
    out: dict[str, Any] = {
        key: sum(k[key] for k in costed)
        for key in ("capital_krw", "capital_annual_krw", "capital_day_krw", "operating_cost_krw")
    }
    if all("energy_cost_krw" in k for k in costed):
        out["energy_cost_krw"] = sum(k["energy_cost_krw"] for k in costed)
    served = sum(k["served"] for k in costed)
    revenue = sum(k["fare_revenue_krw"] for k in costed)
    return _totals(out, served, revenue, days)


def cost_per_tco2_avoided_krw(kpis: dict[str, Any], baseline: dict[str, Any]) -> float:
    """Extra daily cost of the costed services per tonne of CO2 the run saves against ``baseline``.

    (cost − baseline cost) / ((baseline CO2 − CO2) / 1000), both from the ``system`` scope;
    a baseline without costed services costs 0. NaN when either run has no CO2 (no energy
    accounting) or the run saves no CO2.
    """
    system, base = kpis.get("system", {}), baseline.get("system", {})
    co2, base_co2 = system.get("co2_kg"), base.get("co2_kg")
    cost = system.get("cost_krw")
    if co2 is None or base_co2 is None or cost is None:
        return math.nan
    saved_t = (float(base_co2) - float(co2)) / 1000.0
    if not saved_t > 0:
        return math.nan
    return (float(cost) - float(base.get("cost_krw") or 0.0)) / saved_t

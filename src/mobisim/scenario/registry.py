"""Registry of service types and pluggable policies, by name.

Adding a service means writing one module under ``mobisim/services/`` with a ``Service``
subclass (which names its pydantic ``Config``) and adding **one line** here. The registry stores
import paths, not classes, so this low layer never imports the service layer at import time.
"""

from __future__ import annotations

import importlib
from typing import Any

#: service ``type`` in a scenario file -> "module:ClassName" of its Service subclass
SERVICE_TYPES: dict[str, str] = {
    "walk": "mobisim.services.walk:WalkService",
    "private_car": "mobisim.services.car:PrivateCarService",
    "private_bike": "mobisim.services.private_bike:PrivateBikeService",
    "fixed_route": "mobisim.services.fixed_route:FixedRouteService",
    "transit": "mobisim.services.transit:TransitService",
    "drt": "mobisim.services.drt:DrtService",
    "carsharing": "mobisim.services.carsharing:CarsharingService",
    "micromobility": "mobisim.services.micromobility:MicromobilityService",
}

#: policy kind -> policy name -> "module:callable_or_class"
POLICIES: dict[str, dict[str, str]] = {
    "mode_choice": {
        "logit": "mobisim.engine.modechoice:LogitChoice",
        "cheapest": "mobisim.engine.modechoice:CheapestChoice",
    },
    "charging": {
        "threshold": "mobisim.energy.charging_policy:ThresholdCharging",
        "opportunity": "mobisim.energy.charging_policy:OpportunityCharging",
    },
    "relocation": {
        "none": "mobisim.services.relocation:NoTours",
        "schedule": "mobisim.services.relocation:ScheduledTours",
        "threshold": "mobisim.services.relocation:ThresholdTours",
    },
    "crew_low_battery": {
        "swap": "mobisim.services.micromobility:SwapInField",
        "collect_to_depot": "mobisim.services.micromobility:CollectToDepot",
    },
    "drt_dispatch": {
        "insertion": "mobisim.services.drt_dispatch:InsertionDispatch",
        "batch": "mobisim.services.drt_dispatch:BatchAssignment",
        "hive_step": "mobisim.services.drt_hive:HiveStepDispatch",
    },
    "drt_idle": {
        "stay": "mobisim.services.drt_dispatch:StayPolicy",
        "return_to_depot": "mobisim.services.drt_dispatch:ReturnToDepotPolicy",
        "zone_rebalancing": "mobisim.services.drt_dispatch:ZoneDemandRebalancing",
        "nearest_base_after_idle": "mobisim.services.drt_dispatch:NearestBaseAfterIdle",
        "hive_base_after_idle": "mobisim.services.drt_hive:HiveBaseAfterIdle",
    },
}


def _load(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def service_class(type_name: str) -> Any:
    """The Service subclass registered for ``type_name``; KeyError if unknown."""
    return _load(SERVICE_TYPES[type_name])


def service_config_model(type_name: str) -> Any:
    """The pydantic Config model of service type ``type_name``."""
    return service_class(type_name).Config


def policy(kind: str, name: str) -> Any:
    """The policy registered as ``name`` for ``kind`` (e.g. ``policy("mode_choice", "logit")``)."""
    return _load(POLICIES[kind][name])

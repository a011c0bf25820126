"""One look for every chart and table: friendly mode names and one fixed colour per mode.

Modes are the labels trips carry in ``trips.mode`` (a service's ``mode``, or the device type of a
micromobility ride), plus ``unserved``. Every chart that shows modes takes its colours and names
from here, so "DRT" is the same blue in the mode-share chart, the trips-by-hour chart and any other.
A mode not listed gets a stable colour from its name (same name, same colour, every run).
"""

from __future__ import annotations

import zlib

#: mode label in results -> name a reader understands
MODE_NAMES: dict[str, str] = {
    "walk": "Walk",
    "car": "Private car",
    "private_bike": "Own bike",
    "drt": "On-demand bus (DRT)",
    "shuttle": "Shuttle (fixed route)",
    "bus": "Bus",
    "rail": "Rail",
    "carsharing": "Car-sharing",
    "micromobility": "Shared bike/scooter",
    "bike": "Shared bike",
    "ebike": "Shared e-bike",
    "escooter": "Shared e-scooter",
    "segway": "Shared segway",
    "unserved": "Unserved",
}

#: mode label in results -> colour (hex); walk and car muted, shared services saturated
MODE_COLOURS: dict[str, str] = {
    "walk": "#adb5bd",
    "car": "#495057",
    "private_bike": "#8ce99a",
    "drt": "#1c7ed6",
    "shuttle": "#f08c00",
    "bus": "#e8590c",
    "rail": "#862e9c",
    "carsharing": "#c2255c",
    "micromobility": "#2f9e44",
    "bike": "#2f9e44",
    "ebike": "#66a80f",
    "escooter": "#0c8599",
    "segway": "#5f3dc4",
    "unserved": "#e03131",
}

#: colours for modes not in MODE_COLOURS, picked by a hash of the name
_SPARE_COLOURS = ("#364fc7", "#a61e4d", "#5c940d", "#d9480f", "#0b7285", "#6741d9", "#e67700")

#: display order of modes (others after these, alphabetically)
MODE_ORDER: tuple[str, ...] = tuple(MODE_NAMES)


def mode_name(mode: str) -> str:
    """The reader's name of a mode label (the label itself, capitalised, when unknown)."""
    return MODE_NAMES.get(mode, mode.replace("_", " ").capitalize() if mode else "Unserved")


def mode_colour(mode: str) -> str:
    """The fixed colour (hex) of a mode label, the same in every chart."""
    if mode in MODE_COLOURS:
        return MODE_COLOURS[mode]
    return _SPARE_COLOURS[zlib.crc32(mode.encode()) % len(_SPARE_COLOURS)]


def ordered_modes(modes) -> list[str]:
    """Mode labels in display order: the known ones as in :data:`MODE_ORDER`, then the rest."""
    modes = set(modes)
    known = [m for m in MODE_ORDER if m in modes]
    return known + sorted(modes - set(known))

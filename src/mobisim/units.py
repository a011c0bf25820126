"""Unit conversions at the edges. Internally mobisim is SI: seconds, metres, m/s, kWh.

Scenario files and reports use human units (minutes, km/h, km, clock times); these helpers
are the only place where the conversion factors live.
"""

from __future__ import annotations

import re

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
METRES_PER_KM = 1000.0

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def kmh_to_mps(speed_kmh: float) -> float:
    """Convert a speed in km/h to m/s."""
    return speed_kmh / 3.6


def mps_to_kmh(speed_mps: float) -> float:
    """Convert a speed in m/s to km/h."""
    return speed_mps * 3.6


def min_to_s(minutes: float) -> float:
    """Convert minutes to seconds."""
    return minutes * SECONDS_PER_MINUTE


def h_to_s(hours: float) -> float:
    """Convert hours to seconds."""
    return hours * SECONDS_PER_HOUR


def km_to_m(km: float) -> float:
    """Convert kilometres to metres."""
    return km * METRES_PER_KM


def parse_clock_s(text: str | int | float) -> float:
    """Parse a clock time ``"HH:MM"`` or ``"HH:MM:SS"`` into seconds after midnight.

    Hours up to 48 are allowed so that a service day can run past midnight ("25:30").
    A number is taken as seconds after midnight already. Raises ValueError with the
    expected format otherwise.
    """
    if isinstance(text, bool):
        raise ValueError(f"expected a clock time 'HH:MM' (got {text!r})")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _CLOCK.match(str(text))
        if not match:
            raise ValueError(f"expected a clock time 'HH:MM' or 'HH:MM:SS' (got {text!r})")
        hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
        if minutes >= 60 or seconds >= 60:
            raise ValueError(f"expected minutes and seconds below 60 (got {text!r})")
        value = hours * 3600.0 + minutes * 60.0 + seconds
    if not 0 <= value <= 48 * 3600:
        raise ValueError(f"expected a clock time between 00:00 and 48:00 (got {text!r})")
    return value


def format_clock(seconds: float) -> str:
    """Format seconds after midnight as ``"HH:MM"`` (or ``"HH:MM:SS"`` when seconds are not whole minutes)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")

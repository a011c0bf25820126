"""The project's exceptions. Every error a user can cause is one of these.

Each carries enough context to be printed as one clear line by the CLI:
the file, the key path and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class MobisimError(Exception):
    """Base class of every error mobisim raises on purpose."""


class ScenarioError(MobisimError):
    """A scenario file is missing, unreadable or invalid.

    ``problems`` is a list of ``(key_path, message)`` pairs so that every problem is
    reported at once, e.g. ``("services.shuttle.vehicles", "expected an integer >= 0 (got -2)")``.
    """

    def __init__(self, file: str | Path | None, problems: list[tuple[str, str]]):
        self.file = str(file) if file is not None else "<scenario>"
        self.problems = list(problems)
        lines = [
            f"{self.file}: {key}: {msg}" if key else f"{self.file}: {msg}"
            for key, msg in self.problems
        ]
        super().__init__("\n".join(lines))


class NetworkError(MobisimError):
    """A road network could not be loaded, built or used (missing file, corrupt XML, empty graph)."""


class SnapError(NetworkError):
    """A point is farther from the network than the allowed snap distance."""


class UnreachableError(NetworkError):
    """No path exists between two nodes for a mode. Callers must handle it; never a silent infinity."""

    def __init__(self, mode: str, origin: int, destination: int):
        self.mode, self.origin, self.destination = mode, origin, destination
        super().__init__(f"no {mode} path from node {origin} to node {destination}")


class DemandError(MobisimError):
    """A trip table or a synthetic population could not be built (bad rows, unknown places)."""


class SimulationError(MobisimError):
    """An invariant of the simulation was violated (a trip without a final status, an energy imbalance)."""


class ResultsError(MobisimError):
    """A result folder is missing, incomplete or of an unknown format."""


class CalibrationError(MobisimError):
    """A calibration did not converge: the message gives the last gaps per mode and what to try."""

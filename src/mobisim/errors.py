"""The project's exceptions. Every error a user can cause is one of these.

Each carries enough context to be printed as one clear line by the CLI:
the file, the key path and what was expected.

Every class can be rebuilt from its ``args``: ``type(e)(*e.args)`` gives an error with the same
message. SimPy re-raises a failed process's exception exactly that way (``Environment.step``), and
pickling (the sweep and batch workers) does too; a class whose ``__init__`` takes other arguments
than its message keeps those arguments as ``args`` and builds its message in ``__str__``.
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
        self.problems = [(key, msg) for key, msg in problems]
        super().__init__(file, self.problems)

    def __str__(self) -> str:
        return "\n".join(
            f"{self.file}: {key}: {msg}" if key else f"{self.file}: {msg}"
            for key, msg in self.problems
        )


class NetworkError(MobisimError):
    """A road network could not be loaded, built or used (missing file, corrupt XML, empty graph)."""


class SnapError(NetworkError):
    """A point is farther from the network than the allowed snap distance."""


class UnreachableError(NetworkError):
    """No path exists between two nodes for a mode. Callers must handle it; never a silent infinity."""

    def __init__(self, mode: str, origin: int, destination: int, message: str | None = None):
        self.mode, self.origin, self.destination = mode, origin, destination
        self.message = message or f"no {mode} path from node {origin} to node {destination}"
        if message is None:
            super().__init__(mode, origin, destination)
        else:
            super().__init__(mode, origin, destination, message)

    def __str__(self) -> str:
        return self.message


class DemandError(MobisimError):
    """A trip table or a synthetic population could not be built (bad rows, unknown places)."""


class SimulationError(MobisimError):
    """An invariant of the simulation was violated (a trip without a final status, an energy imbalance)."""


class ProcessError(SimulationError):
    """A SimPy process of the run failed on a user-caused error: who, where and why, one line.

    ``who`` names the service and the vehicle or trip (``service 'shuttle', vehicle 3``),
    ``where`` the place (``node 812 (lat 37.50120, lon 127.03990, place 'station')``), ``cause``
    the original error's class name and ``reason`` its message. Built by
    :func:`mobisim.engine.failures.explain`.
    """

    def __init__(self, who: str, where: str, cause: str, reason: str):
        self.who, self.where, self.cause, self.reason = who, where, cause, reason
        super().__init__(who, where, cause, reason)

    def __str__(self) -> str:
        reason = " ".join(self.reason.split())  # one line, whatever the cause printed
        place = f" at {self.where}" if self.where else ""
        return f"{self.who}{place}: {reason} ({self.cause})"


class ResultsError(MobisimError):
    """A result folder is missing, incomplete or of an unknown format."""


class CalibrationError(MobisimError):
    """A calibration did not converge: the message gives the last gaps per mode and what to try."""

"""Errors that survive SimPy: every error class rebuilds from its args, and a failed process ends
the run with one clear line naming the service, the vehicle or trip, and the place (issue 26)."""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path

import pytest
import simpy
from typer.testing import CliRunner

import mobisim.events  # noqa: F401 - defines EventRowError, a SimulationError
from mobisim import errors
from mobisim.cli import app
from mobisim.engine.failures import describe_node, explained
from mobisim.errors import MobisimError, ProcessError
from mobisim.network.load import build_network, config_for
from mobisim.services.base import Trip

DEMO_WALK_CAR = Path(__file__).resolve().parents[1] / "scenarios" / "demo-walk-car.yaml"

#: constructor arguments of the classes whose __init__ takes more than a message (a new class
#: with its own __init__ must be added here, or the test below fails and says so)
SAMPLE_ARGS = {
    "ScenarioError": (
        "scenarios/x.yaml",
        [("services.shuttle.vehicles", "expected >= 0"), ("", "bad")],
    ),
    "UnreachableError": ("car", 3, 7),
    "ProcessError": ("service 'car', vehicle 3", "node 7", "UnreachableError", "no car path"),
}


def _all_error_classes() -> list[type]:
    """Every class of mobisim.errors, and every MobisimError subclass defined anywhere else."""
    found = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    }
    stack = [MobisimError]
    while stack:
        cls = stack.pop()
        found.add(cls)
        stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


ERROR_CLASSES = _all_error_classes()


def _sample(cls: type) -> BaseException:
    if cls.__name__ in SAMPLE_ARGS:
        return cls(*SAMPLE_ARGS[cls.__name__])
    assert cls.__init__ is MobisimError.__init__ or cls.__init__ is Exception.__init__, (
        f"{cls.__name__} has its own __init__: add its arguments to SAMPLE_ARGS"
    )
    return cls("something went wrong at node 5")


def test_the_classes_are_discovered():
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert {"ScenarioError", "UnreachableError", "SnapError", "ProcessError"} <= names
    assert "EventRowError" in names  # defined in mobisim.events


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_each_error_rebuilds_from_its_args_and_pickles(cls):
    error = _sample(cls)
    copy = type(error)(*error.args)  # what simpy.Environment.step does
    assert type(copy) is cls and str(copy) == str(error) and str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # the sweep/batch workers


def test_the_messages_are_the_documented_ones():
    scenario = errors.ScenarioError("s.yaml", [("a.b", "expected x"), ("", "no file")])
    assert str(scenario) == "s.yaml: a.b: expected x\ns.yaml: no file"
    assert scenario.problems == [("a.b", "expected x"), ("", "no file")]
    assert str(errors.UnreachableError("bike", 1, 2)) == "no bike path from node 1 to node 2"
    custom = errors.UnreachableError("car", 1, 2, "no car path to any of 3 candidates")
    assert str(type(custom)(*custom.args)) == "no car path to any of 3 candidates"


@pytest.fixture(scope="module")
def town():
    return build_network(config_for("synthetic", target_nodes=150, seed=3), ".")


class _FakeShuttle:
    """Stands in for a service object: a ``name`` and a process with a vehicle and a trip."""


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_a_process_raising_each_error_ends_with_one_clear_line(cls, town, monkeypatch):
    from mobisim.engine import failures

    monkeypatch.setattr(failures, "Service", _FakeShuttle)  # our fake counts as a service
    error = _sample(cls)
    env = simpy.Environment()
    shuttle = _FakeShuttle()
    shuttle.name = "shuttle"

    class Vehicle:
        vehicle_id, node = 4, 9

    def ride(self, vehicle, rider_trip):
        trip = rider_trip  # noqa: F841 - read from the frame
        yield env.timeout(60)
        raise error

    def run_of(self, vehicle):
        yield from ride(self, vehicle, Trip(41, 17, "g", "work", 9, 30, 0.0))

    env.process(run_of(shuttle, Vehicle()))
    with pytest.raises(ProcessError) as caught, explained(town):
        env.run()
    line = str(caught.value)
    assert "\n" not in line
    if cls is ProcessError:  # already explained where it was raised: shown as it is
        assert line == str(error)
        return
    assert line.startswith("service 'shuttle', vehicle 4, trip 41 (person 17, from node 9")
    assert f"at {describe_node(town, 9)}: " in line and "lat " in line
    assert " ".join(str(error).split()) in line and line.endswith(f"({cls.__name__})")
    assert caught.value.__cause__ is not None


def test_a_bug_in_a_process_keeps_its_class_and_gets_the_place_as_a_note(town):
    env = simpy.Environment()

    def day(trip):
        yield env.timeout(1)
        raise KeyError("missing")

    env.process(day(Trip(5, 2, "g", "work", 3, 4, 0.0)))
    with pytest.raises(KeyError) as caught, explained(town):
        env.run()
    assert any("trip 5 (person 2, from node 3 to node 4)" in n for n in caught.value.__notes__)


def test_an_unreachable_place_in_a_run_is_one_error_line_not_an_internal_error(
    monkeypatch, tmp_path
):
    from mobisim.services.car import PrivateCarService

    def request(self, trip, offer):
        raise errors.UnreachableError("car", trip.origin_node, trip.dest_node)

    monkeypatch.setattr(PrivateCarService, "request", request)
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(DEMO_WALK_CAR),
            "--set",
            "demand.synthetic.residents=300",
            "--set",
            "demand.synthetic.households=120",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "service 'car', trip " in lines[0] and " at node " in lines[0]
    assert "no car path from node" in lines[0] and lines[0].endswith("(UnreachableError)")
    assert not list(tmp_path.glob("demo-walk-car/*"))  # a failed run leaves no folder

"""Security of inputs: ``extends`` stays inside the scenario's folder, the working directory or a
folder allowed explicitly (``--allow-extends``); run folders made from scenario names stay inside
the results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mobisim
from mobisim.cli import app
from mobisim.errors import ScenarioError
from mobisim.results.store import folder_name, list_runs, run_folder, scenario_dir
from mobisim.scenario.loader import load_scenario

BASE = "name: base\nservices: [{name: walk, type: walk}]\n"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(a project folder, the working directory; a folder outside it holding base.yaml)."""
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "scenarios").mkdir(parents=True)
    outside.mkdir()
    (outside / "base.yaml").write_text(BASE)
    monkeypatch.chdir(project)
    return project, outside


def test_extends_inside_the_scenario_folder_and_the_project_is_allowed(elsewhere):
    project, _ = elsewhere
    (project / "common.yaml").write_text(BASE)
    (project / "scenarios" / "sibling.yaml").write_text(BASE.replace("base", "sibling"))
    child = project / "scenarios" / "child.yaml"
    child.write_text("extends: ../common.yaml\nname: child\n")  # up, but inside the project
    assert load_scenario(child).name == "child"
    child.write_text("extends: sibling.yaml\nname: child\n")
    assert load_scenario(child).name == "child"


def test_extends_outside_the_tree_is_refused_naming_the_file(elsewhere):
    project, outside = elsewhere
    for target in ("../../outside/base.yaml", str(outside / "base.yaml")):
        child = project / "scenarios" / "child.yaml"
        child.write_text(f"extends: {target}\nname: child\n")
        with pytest.raises(ScenarioError) as info:
            load_scenario(child)
        [(key, message)] = info.value.problems
        assert key == "extends" and "--allow-extends" in message
        assert str(outside / "base.yaml") in message and str(project) in message
        assert info.value.file == str(child.resolve())


def test_a_symlink_out_of_the_tree_is_refused(elsewhere):
    project, outside = elsewhere
    os.symlink(outside / "base.yaml", project / "scenarios" / "link.yaml")
    child = project / "scenarios" / "child.yaml"
    child.write_text("extends: link.yaml\nname: child\n")
    with pytest.raises(ScenarioError, match="expected a file inside"):
        load_scenario(child)


def test_a_folder_given_explicitly_is_allowed(elsewhere):
    project, outside = elsewhere
    child = project / "scenarios" / "child.yaml"
    child.write_text(f"extends: {outside / 'base.yaml'}\nname: child\n")
    assert load_scenario(child, allow_extends=[outside]).name == "child"
    assert mobisim.load_scenario(child, allow_extends=[outside]).name == "child"
    runner = CliRunner()
    refused = runner.invoke(app, ["validate", str(child)])
    assert refused.exit_code == 1 and "--allow-extends" in refused.output
    allowed = runner.invoke(app, ["validate", str(child), "--allow-extends", str(outside)])
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("demo", "demo"),
        ("chungbuk-drt-2030", "chungbuk-drt-2030"),
        ("../../etc", "_._.._etc"),
        ("..", "_."),
        ("/tmp/x", "_tmp_x"),
        (".hidden", "_hidden"),
        ("a b/c\\d", "a_b_c_d"),
        ("", "_"),
        ("x" * 300, "x" * 100),
    ],
)
def test_folder_names_from_scenario_names_are_safe(name, folder):
    assert folder_name(name) == folder


def test_a_hostile_scenario_name_writes_inside_the_results_folder(tmp_path):
    out = tmp_path / "results"
    for name in ("../../escape", "/abs/olute", ".."):
        with run_folder(out, name, "run-1") as tmp:
            (tmp / "manifest.json").write_text("{}")
        assert scenario_dir(out, name).parent == out
        assert list_runs(out, name) == [scenario_dir(out, name) / "run-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # nothing outside

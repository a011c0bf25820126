"""Every registered service type and policy imports; the scenario reference is up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobisim.scenario import registry
from mobisim.scenario.base import ServiceConfig
from mobisim.scenario.reference import generate
from mobisim.services.base import Service

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "scenario-reference.md"


@pytest.mark.parametrize("type_name", sorted(registry.SERVICE_TYPES))
def test_registered_service_types_import(type_name):
    cls = registry.service_class(type_name)
    assert issubclass(cls, Service)
    assert issubclass(cls.Config, ServiceConfig)
    assert cls.Config.model_fields["type"].default == type_name


@pytest.mark.parametrize(
    ("kind", "name"), [(k, n) for k, names in registry.POLICIES.items() for n in names]
)
def test_registered_policies_import(kind, name):
    assert callable(registry.policy(kind, name))


def test_scenario_reference_is_generated_from_the_models():
    assert REFERENCE.read_text() == generate(), (
        "docs/scenario-reference.md is out of date: python -m mobisim.scenario.reference > docs/scenario-reference.md"
    )


def test_reference_lists_every_key_with_its_unit():
    text = generate()
    for key in (
        "`period.start`",
        "`network.max_snap_m`",
        "`demand.synthetic.residents`",
        "`mode_choice.walk_weight`",
        "`services.<name>.parking_search_min`",
    ):
        assert key in text, key
    assert "| `network.max_snap_m` | float | m |" in text

"""The scenario: the top-level model of a scenario file.

Each section has its own model in its own file (network_config, demand_config, mode_choice_config,
energy_config); service blocks are validated by the Config model of their registered type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, SerializeAsAny, field_validator, model_validator

from mobisim.scenario import registry
from mobisim.scenario.base import ClockTime, ServiceConfig, StrictModel
from mobisim.scenario.chains_config import ChainsConfig
from mobisim.scenario.demand_config import DemandConfig, SyntheticPopulation
from mobisim.scenario.economics_config import EconomicsConfig
from mobisim.scenario.energy_config import EnergyConfig
from mobisim.scenario.mode_choice_config import ModeChoiceConfig
from mobisim.scenario.network_config import NetworkConfig


class Period(StrictModel):
    """The simulated clock: from ``start`` to ``end`` (clock times, "HH:MM"; up to "48:00")."""

    start: ClockTime = Field(default=5 * 3600.0, description='Clock start, "HH:MM".')
    end: ClockTime = Field(
        default=24 * 3600.0, description='Clock end, "HH:MM" (after start; up to "48:00").'
    )

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError("expected end after start")
        return self

    @property
    def start_s(self) -> float:
        """Start of the period, seconds after midnight."""
        return self.start

    @property
    def end_s(self) -> float:
        """End of the period, seconds after midnight."""
        return self.end


class OutputsConfig(StrictModel):
    """What a run writes."""

    dir: str = Field(
        default="results", description="Results folder (relative to the working directory)."
    )
    charts: bool = Field(default=True, description="Write PNG charts into the run folder.")
    write_events: bool = Field(
        default=True,
        description=(
            "Write events.parquet (needed to recompute KPIs from the folder; "
            "off saves disk space on large sweeps)."
        ),
    )


class Scenario(StrictModel):
    """A whole scenario file after ``extends`` merging and overrides."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Scenario name (letters, digits, _ . -); results go to <dir>/<name>/.",
    )
    description: str = Field(default="", description="Free text shown in reports.")
    template: bool = Field(
        default=False,
        description=(
            "A base that other files extend: `mobisim batch` skips it (`mobisim run` still runs "
            "it). Not inherited through `extends`."
        ),
    )
    seed: int = Field(default=0, ge=0, description="Seed of every random stream of the run.")
    period: Period = Field(default_factory=Period, description="Simulated clock.")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="Road network.")
    demand: DemandConfig = Field(default_factory=DemandConfig, description="Population and trips.")
    services: list[SerializeAsAny[ServiceConfig]] = Field(
        default_factory=list, description="Named service blocks, each with a type."
    )
    mode_choice: ModeChoiceConfig = Field(
        default_factory=ModeChoiceConfig, description="How commuters choose."
    )
    chains: ChainsConfig = Field(
        default_factory=ChainsConfig,
        description="Intermodal chains: shared device -> main service -> walk (off by default).",
    )
    energy: EnergyConfig = Field(
        default_factory=EnergyConfig, description="Energy, chargers, solar, emissions."
    )
    economics: EconomicsConfig = Field(
        default_factory=EconomicsConfig,
        description="Discount rate, tariff, prices: what services cost (docs/economics.md).",
    )
    outputs: OutputsConfig = Field(default_factory=OutputsConfig, description="What a run writes.")

    # where the scenario came from: not part of the scenario (excluded from dumps and fingerprint)
    _source_file: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("services", mode="before")
    @classmethod
    def _typed_services(cls, blocks: Any) -> Any:
        if not isinstance(blocks, list):
            return blocks
        out = []
        for block in blocks:
            if isinstance(block, ServiceConfig):
                out.append(block)
                continue
            if not isinstance(block, dict) or "type" not in block:
                raise ValueError(f"expected a map with 'name' and 'type' (got {block!r})")
            type_name = block["type"]
            if not isinstance(type_name, str) or type_name not in registry.SERVICE_TYPES:
                known = ", ".join(sorted(registry.SERVICE_TYPES))
                raise ValueError(f"unknown service type {type_name!r}; expected one of: {known}")
            out.append(registry.service_config_model(type_name).model_validate(block))
        return out

    @field_validator("services")
    @classmethod
    def _unique_names(cls, blocks: list[ServiceConfig]) -> list[ServiceConfig]:
        names = [b.name for b in blocks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"expected unique service names (duplicated: {', '.join(duplicates)})")
        return blocks

    def group_problems(self) -> list[tuple[str, str]]:
        """Problems (key path, message) of services that name demand groups (``check_groups``,
        e.g. the private bike's ``ownership_share``) with groups the demand does not have."""
        problems = []
        for block in self.services:
            check = getattr(block, "check_groups", None)
            if check is not None:
                problems.extend(check(self.demand_groups()))
        return problems

    def demand_groups(self) -> set[str] | None:
        """Names of the demand's groups and external flows (None for a trip table: not known
        before the file is read)."""
        demand = self.demand
        if demand.trip_table is not None:
            return None
        synthetic = demand.synthetic if demand.synthetic is not None else SyntheticPopulation()
        return {g.name for g in synthetic.groups} | {f.name for f in synthetic.external}

    @property
    def source_file(self) -> Path | None:
        """The scenario file this was loaded from (None when built in Python)."""
        return self._source_file

    @property
    def base_dir(self) -> Path:
        """Folder against which relative file paths in the scenario resolve.

        The scenario file's folder; for a scenario built in Python, the ``base_dir`` given to
        :func:`mobisim.scenario.loader.validate`, else the current working directory.
        """
        if self._base_dir is not None:
            return self._base_dir
        return self._source_file.parent if self._source_file else Path.cwd()

    def with_origin(self, source_file: Path | None, base_dir: Path | None = None) -> Scenario:
        """Record where this scenario came from (in place) and return it.

        Parameters
        ----------
        source_file : the scenario file it was loaded from, or None.
        base_dir : folder for relative paths (default: the folder of ``source_file``).
        """
        self._source_file = Path(source_file).resolve() if source_file is not None else None
        self._base_dir = Path(base_dir).resolve() if base_dir is not None else None
        return self

    def service(self, name: str) -> ServiceConfig:
        """The service block called ``name`` (KeyError listing the known names otherwise)."""
        for block in self.services:
            if block.name == name:
                return block
        raise KeyError(f"no service {name!r}; services: {', '.join(b.name for b in self.services)}")

    def enabled_services(self) -> list[ServiceConfig]:
        """The service blocks with ``enabled: true``, in file order."""
        return [b for b in self.services if b.enabled]

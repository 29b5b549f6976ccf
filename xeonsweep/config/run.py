"""A run as planned: its settings validated and normalised once, with what follows from them.

Planning builds one `Run` per job from the composed config (a single run is a
plan of one job); the task, the rows and the child's spec read it instead of
validating again. On a cluster node the task function only gets the Hydra
config, and builds the Run from it there, once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xeonsweep.config import components, instances, settings
from xeonsweep.config.environments import interpreter_for
from xeonsweep.errors import Incompatible
from xeonsweep.machine.facts import CpuInfo


@dataclass(frozen=True, eq=False)
class Run:
    # Normalised (settings the run ignores at their "not asked" value): what is hashed, recorded
    # in the row (config_json) and sent to the child. Read it; never change it in place.
    settings: dict
    config_hash: str
    backend: Any                    # the built components (None for a node without impl)
    quantizer: Any
    not_applicable: dict[str, str]  # setting -> why this run ignores it (its row has null there)
    allocator_library: str | None   # what LD_PRELOAD loads (None: the system allocator)
    interpreter: Path
    instances: instances.InstancePlan
    incompatible: str | None = None  # why the settings cannot go together: a sweep records a skipped row

    @classmethod
    def from_settings(cls, asked: dict, cpu: CpuInfo, refuse_incompatible: bool = False) -> Run:
        """Validate `asked` (a composed config as plain containers, see settings.to_settings) and
        normalise it. UserError for a bad value; settings that cannot go together give a Run that
        says so (`incompatible`), or raise Incompatible with `refuse_incompatible` (a single run)."""
        try:
            backend, quantizer = settings.validate(asked, cpu)
            incompatible = None
        except Incompatible as exc:
            if refuse_incompatible:
                raise
            backend = components.build("backend", asked["backend"])
            quantizer = components.build("quantization", asked["quantization"])
            incompatible = str(exc)
        ignored = settings.not_applicable(asked, backend)
        normalised = settings.normalize(asked, ignored)
        return cls(normalised, settings.config_hash(normalised), backend, quantizer, ignored,
                   settings.allocator_library(asked["allocator"]), interpreter_for(asked),
                   instances.plan(asked, cpu), incompatible)

    def __getitem__(self, key: str) -> Any:
        """A top-level setting, as in the settings dict (the block scheduler reads runs this way)."""
        return self.settings[key]

    def describes(self, asked: dict) -> bool:
        """Whether `asked` (a composed config, as plain containers) is this run's config."""
        return settings.normalize(asked, self.not_applicable) == self.settings

    def repeated(self, repeat: int, sweep_id: str) -> Run:
        """This run as repeat `repeat` of sweep `sweep_id` (neither changes the fingerprint)."""
        return dataclasses.replace(self, settings={**self.settings, "repeat": repeat, "sweep_id": sweep_id})

    def run_key(self, machine: str) -> str:
        return settings.run_key(self.settings, machine)

    @property
    def sweep_id(self) -> str | None:
        return self.settings.get("sweep_id")

    @property
    def repeat(self) -> int:
        return self.settings["repeat"]

    @property
    def repeats(self) -> int:
        return self.settings["benchmark"]["repeats"]

    @property
    def method(self) -> str:
        """fresh (one fresh process per run) or blocks (live workers)."""
        return self.settings["benchmark"].get("method", "fresh")

    @property
    def scenario(self) -> str:
        return settings.scenario_name(self.settings)

    @property
    def batch_size(self) -> int:
        return self.settings["batch_size"]

    @property
    def timeout_s(self) -> float:
        return self.settings["benchmark"]["timeout_s"]

    @property
    def memory_limit_mb(self) -> int | None:
        return self.settings["benchmark"].get("memory_limit_mb")

    @property
    def results_dir(self) -> str:
        """As given: relative to where xeonsweep started, or a URI (config.paths.absolute)."""
        return self.settings["results"]["dir"]

    @property
    def rerun(self) -> bool:
        return bool(self.settings["results"]["rerun"])

    @property
    def cache_dir(self) -> str:
        return self.settings["cache"]["dir"]

    @property
    def lock_wait(self) -> bool:
        return (self.settings.get("lock") or {}).get("wait", True)

    @property
    def setup_command(self) -> str:
        """What makes the run's environment (named when its interpreter is missing)."""
        return self.settings["backend"].get("setup") or "make setup"


@dataclass
class Job:
    """One job of a sweep: the overrides that asked for it, its Run, and (once repeated) its run key."""

    overrides: list[str]
    run: Run
    run_key: str = ""

    @property
    def incompatible(self) -> str | None:
        """Why its settings cannot go together (it becomes a skipped row), or None."""
        return self.run.incompatible

"""What became of one run, as whoever ran it reports it: the one input of its row.

A fresh child (xeonsweep.launch.child), a live worker (xeonsweep.blocks.live), or
nothing at all (a run skipped or refused before it started) each give one; the row
is built from it in one place (xeonsweep.store.record).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    status: str
    reason: str | None
    instances: list[dict] = field(default_factory=list)
    child_env: dict = field(default_factory=dict)
    interpreter: str = ""
    parent_cpu_s: float | None = None  # the parent's CPU time while it waited: the harness's cost
    child_cpu_s: float | None = None
    # Live workers (xeonsweep.blocks.live): instances are then the ready reports, measured in blocks.
    method: str = "fresh"
    blocks: list[dict] = field(default_factory=list)
    schedule: dict = field(default_factory=dict)  # group, rounds, target, idle CPU ...
    probes: list[dict] = field(default_factory=list)
    planned_instances: int | None = None  # what xeonsweep asked run_cpu for
    instances_started: int | None = None  # worker processes that really started

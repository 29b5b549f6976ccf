"""One config of a block sweep, kept live: its child, its instances' channels, its blocks."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from xeonsweep.config.run import Job
from xeonsweep.launch import child as launch
from xeonsweep.launch.channel import Channel
from xeonsweep.launch.child import Outcome
from xeonsweep.machine.facts import process_cpu_s


@dataclass(eq=False)
class Live:
    """A config's child and what it measured in its current memory group.

    `reference` marks the sweep's common reference: it stays live from group to
    group and is measured in each, with a row per group; `outcome` is its last
    row's. Any other config has one group and one row.
    """

    job: Job
    run_dir: Path
    label: str
    reference: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    child: launch.Child | None = None
    proc: subprocess.Popen | None = None
    channels: dict[int, Channel] = field(default_factory=dict)  # by instance pid
    ready: list[dict] = field(default_factory=list)
    outcome: Outcome | None = None  # of the row last written for it
    rested: tuple[float, float] | None = None  # (the child's CPU s, monotonic s) once idle after a block
    # This group's measurement, started again for the reference in each group (`next_group`):
    blocks: list[dict] = field(default_factory=list)
    idle_cpu_s: float = 0.0
    idle_s: float = 0.0
    parent_cpu_s: float = 0.0  # the sweep's own CPU time while it set this config up and timed its blocks

    @property
    def run(self) -> dict:
        return self.job.run

    @property
    def failed(self) -> bool:
        return self.outcome is not None and self.outcome.status != "ok"

    @property
    def peak_rss_mb(self) -> float:
        return sum(r["applied"]["peak_rss_mb"] for r in self.ready)

    def cpu_s(self) -> float:
        """CPU time of the instances (all their threads) so far."""
        return sum(process_cpu_s(pid) or 0.0 for pid in self.channels)

    def tree_cpu_s(self) -> float:
        """CPU time of the whole child so far: the instances and, under run_cpu, its launcher that waits on them."""
        pids = set(self.channels) | ({self.proc.pid} if self.proc else set())
        return sum(process_cpu_s(pid) or 0.0 for pid in pids)

    def next_group(self) -> None:
        """The reference, its row for this group written: the next group's blocks and costs start from nothing."""
        self.blocks = []
        self.idle_cpu_s = self.idle_s = self.parent_cpu_s = 0.0

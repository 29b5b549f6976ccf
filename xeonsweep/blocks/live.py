"""Live workers: each config of a sweep set up once, then measured in short interleaved blocks.

The sweep goes group by group: memory grouping (xeonsweep.blocks.groups) sets
up as many configs as fit in memory beside the common reference, each in a
live child (the protocol: xeonsweep.blocks.children); the round loop
(xeonsweep.blocks.rounds) measures the group's configs in rounds, one block
each, with the machine speed probe between rounds; then each config's row is
written and every child but the reference's is stopped before the next group.
The budget for rounds (`benchmark.budget_s`, probes and set-up not counted) is
split over the groups by how many new configs each measures. Every block is
journaled as it is measured (xeonsweep.blocks.journal): a sweep killed in its
rounds and run again goes on from the blocks it had.

Sweep-wide settings (min_rounds, target_ci_pct, budget_s, live_memory_mb) are
the first config's; block_s, block_warmup_s and timeout_s are each config's.

The parent never imports torch and starts every child from its main thread
(the kernel's parent-death signal follows the thread that created the child).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from xeonsweep.blocks.children import Children, completed
from xeonsweep.blocks.groups import MemoryGroups
from xeonsweep.blocks.journal import Journal
from xeonsweep.blocks.member import Live
from xeonsweep.blocks.rounds import RoundLoop
from xeonsweep.config.run import Job
from xeonsweep.launch.child import Outcome


class Sweep:
    """The live part of one sweep: groups, rounds, rows; `write` records a config's row (live.outcome)."""

    def __init__(self, jobs: list[Job], run_dirs: list[Path], cache_dir: Callable[[dict], str],
                 write: Callable[[Live], None], label: Callable[[Job], str] = lambda job: " ".join(job.overrides),
                 status: Callable[[str], None] = lambda text: None,
                 probe: Callable[[], dict] | None = None, clock: Callable[[], float] = time.monotonic,
                 journal: Journal | None = None) -> None:
        self.jobs, self.run_dirs, self.label, self.write, self.status = jobs, run_dirs, label, write, status
        self.journal = journal
        bench = jobs[0].run["benchmark"]
        self.groups = MemoryGroups(bench.get("live_memory_mb"))
        self.budget_s = float(bench["budget_s"])
        self.rounds_s = 0.0  # spent in rounds so far: the budget is for measuring, not for set-up
        self.children = Children(cache_dir, clock)
        self.loop = RoundLoop(bench, self.children, self._finish, status, probe, clock, on_block=self._journaled)

    def run(self) -> None:
        earlier = self.journal.earlier if self.journal else lambda run_key: []
        pending = [Live(job, run_dir, self.label(job), blocks=earlier(job.run_key))
                   for job, run_dir in zip(self.jobs, self.run_dirs)]
        reference: Live | None = None
        group = 0
        with self.children:
            while pending:
                carried = [reference] if reference else []
                members = list(carried)
                self.groups.fill(members, pending, self._set_up)
                if group and members == carried:
                    # Nothing new set up (every config left failed its set-up): the reference, if it
                    # still lives, was measured already; with none (it died earlier) the group is empty.
                    self.children.stop(members)
                    break
                self._measure(members, group, pending)
                # A reference that died leaves later groups without a common reference (or with the first
                # config that sets up in the next one); it is stopped now, as is everyone else but it.
                reference = next((m for m in members if m.reference and not m.failed), None)
                self.children.stop([m for m in members if m is not reference or not pending])
                group += 1

    def _measure(self, members: list[Live], group: int, pending: list[Live]) -> None:
        """The group's rounds, with the budget left shared by the configs new in it and those still to come."""
        share = sum(not m.reference for m in members) or 1
        budget_s = (self.budget_s - self.rounds_s) * share / (share + len(pending))
        began = self.loop.measuring_clock()
        # The next group's first probe follows soon enough: only the last group probes after its rounds.
        self.loop.measure(members, group, budget_s, with_reference=bool(group or pending), last=not pending)
        self.rounds_s += self.loop.measuring_clock() - began

    def _set_up(self, live: Live) -> bool:
        self.status(f"setting up {live.label}")
        failure = self.children.set_up(live)
        if failure is not None:
            self._finish(live, failure)
        return failure is None

    def _finish(self, live: Live, outcome: Outcome) -> None:
        live.outcome = completed(live, outcome)
        self.write(live)
        if self.journal and outcome.status == "ok":  # its blocks are in the row now
            self.journal.forget(live.job.run_key)

    def _journaled(self, live: Live, block: dict) -> None:
        if self.journal:
            self.journal.append(live.job.run_key, block)


def measure_in_blocks(jobs: list[Job], sweep_dir: Path, first_index: int, machine: str,
                      finished: Callable[[Job, dict], None], label: Callable[[Job], str],
                      status: Callable[[str], None],
                      note: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> None:
    """Measure a sweep's jobs with live workers, writing each config's row as soon as it is over.

    Job i runs in `sweep_dir`/`first_index + i` (after any fresh jobs' folders, as
    Hydra numbers them). Jobs whose settings cannot go together become skipped
    rows at once, as in a fresh sweep. Blocks are journaled in the store as they
    are measured; an earlier sweep's, for these configs, are gone on from (`note` says so).
    """
    from xeonsweep.blocks.probe import Probe
    from xeonsweep.config.paths import absolute
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.store import record

    def keys(job: Job) -> dict:
        return record.identity(job.run, machine, " ".join(job.overrides))

    def write(job: Job, outcome: Outcome, started: datetime) -> None:
        finished(job, record.record(job.run, keys(job), outcome, started))

    runnable, run_dirs = [], []
    for index, job in enumerate(jobs, start=first_index):
        if job.incompatible:
            finished(job, record.skipped(job.run, keys(job), method="blocks"))
        else:
            runnable.append(job)
            run_dirs.append(sweep_dir / str(index))
    if runnable:
        journal = Journal.of_store(absolute(runnable[0].run.results_dir))
        continuing = journal.continuing([job.run_key for job in runnable]) if journal else None
        if continuing:
            note(f"xeonsweep: {continuing}")
        with Probe(cpu_info()) as probe:
            Sweep(runnable, run_dirs, lambda run: absolute(run.cache_dir),
                  lambda live: write(live.job, live.outcome, live.started_at), label, status,
                  probe=probe.measure, journal=journal).run()

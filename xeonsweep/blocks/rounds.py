"""The round loop: a memory group's live configs measured round-robin, one block each per round.

One config measures at a time. What the rounds measure until is the sweep's
`benchmark.goal` (stats.goals): every interval within the target (precision),
every config's place settled against its neighbours by paired comparisons
(rank: a settled config rests while the others go on), or a race in which
configs wholly behind the leader are dropped, their row written and their child
released at once (best). The group's budget ends any of them. Every row carries
its paired speedup over the group's reference (the sweep's common config) from
per-round block ratios. The machine speed probe (xeonsweep.blocks.probe) runs
before the first round, between rounds at most every PROBE_INTERVAL_S while
every child waits, and after the last round of the sweep; its time is not the
budget's, and its figures go into the group's rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from xeonsweep.blocks.children import Children
from xeonsweep.blocks.member import Live
from xeonsweep.stats import goals, paired
from xeonsweep.stats.confidence import Rounds
from xeonsweep.store.outcome import Outcome

# The probe (a child that keeps torch imported; a fraction of a second) runs before the first
# round, then between rounds at most this often, and after the last; its time is not the budget's.
PROBE_INTERVAL_S = 10.0


class RoundLoop:
    """Rounds over each group in turn; `finish` writes a config's row (its outcome in live.outcome)."""

    def __init__(self, bench: dict, children: Children, finish: Callable[[Live, Outcome], None],
                 status: Callable[[str], None] = lambda text: None, probe: Callable[[], dict] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 on_block: Callable[[Live, dict], None] = lambda live, block: None) -> None:
        self.min_rounds, self.target_pct = int(bench["min_rounds"]), float(bench["target_ci_pct"])
        self.goal = bench.get("goal", "precision")
        self.margin_pct = float(bench.get("equivalence_pct", 2.0))
        self.children, self.finish, self.status, self.probe, self.clock = children, finish, status, probe, clock
        self.on_block = on_block  # each block as soon as it is measured (the journal)
        self.probes: list[dict] = []
        self.probe_s = 0.0  # time spent probing, left out of the rounds' budget

    def measuring_clock(self) -> float:
        """The clock with the probes' time taken out: what budgets are spent on."""
        return self.clock() - self.probe_s

    def measure(self, members: list[Live], group: int, budget_s: float, with_reference: bool, last: bool) -> None:
        """Rounds over `members` (all live), then each survivor's row. `with_reference`: the sweep has
        several groups, so its reference's rows say they are; `last`: the probe follows the last round.

        Members may come with blocks already (an earlier sweep's, from the journal): they count, and
        the rounds every member has a block of count as done."""
        if not members:
            return
        names = {str(i): m for i, m in enumerate(members)}
        reference = next((name for name, m in names.items() if m.reference), None)
        rounds = goals.schedule(self.goal, list(names), self.min_rounds, self.target_pct, budget_s,
                                self.measuring_clock, reference=reference, margin_pct=self.margin_pct,
                                labels={name: m.label for name, m in names.items()})
        for name, live in names.items():
            for block in live.blocks:
                rounds.record(name, block["sps"], block.get("round"))
        # Rounds go on after the last one any member has a block of (under goal=rank a settled member rests,
        # so block counts differ): no round is measured twice, and every block keeps its own round.
        rounds.done = max((block.get("round", 0) for m in members for block in m.blocks), default=0)
        last_probe, released = None, set()
        while batch := rounds.next_round():
            released |= self._release_dropped(rounds, names, released, group, with_reference)
            if last_probe is None or self.clock() - last_probe >= PROBE_INTERVAL_S:
                last_probe = self._probe(group, rounds.done)
            for name in batch:
                live = names[name]
                self.status(f"group {group + 1}, round {rounds.done}: {live.label}")
                block = self.children.block(live, rounds.done, group)
                if isinstance(block, Outcome):
                    self.finish(live, block)
                    rounds.fail(name)
                else:
                    rounds.record(name, block["sps"])
                    self.on_block(live, block)
        released |= self._release_dropped(rounds, names, released, group, with_reference)
        if last:
            self._probe(group, rounds.done + 1)
        # Every outcome first: a row's paired speedup reads the reference's blocks, which next_group clears.
        outcomes = {name: self._row_outcome(live, rounds, name, group, with_reference and live.reference, names)
                    for name, live in names.items() if name not in rounds.failed and name not in released}
        for name, outcome in outcomes.items():
            self.finish(names[name], outcome)
            names[name].next_group()

    def _release_dropped(self, rounds: Rounds, names: dict[str, Live], released: set[str], group: int,
                         with_reference: bool) -> set[str]:
        """goal=best: a config the race dropped gets its row now and its child is stopped (room freed)."""
        dropped = [n for n in getattr(rounds, "dropped", {}) if n not in released and n not in rounds.failed]
        for name in dropped:
            live = names[name]
            self.finish(live, self._row_outcome(live, rounds, name, group, with_reference and live.reference, names))
            self.children.stop([live])
        return set(dropped)

    def _row_outcome(self, live: Live, rounds: Rounds, name: str, group: int, reference: bool,
                     names: dict[str, Live]) -> Outcome:
        return Outcome("ok", None, live.ready, parent_cpu_s=live.parent_cpu_s, child_cpu_s=live.tree_cpu_s(),
                       method="blocks", schedule={
                           "group": group,
                           "reference": reference,
                           "rounds": rounds.done,
                           "target_ci_pct": rounds.target_pct,
                           "target_met": rounds.met(name),
                           "verdict": rounds.verdict(name),
                           "idle_cpu_s": live.idle_cpu_s,
                           "idle_s": live.idle_s,
                           "goal": self.goal,
                           "equivalence_pct": self.margin_pct,
                           "stopped_by": stopped_by(rounds, name),
                           **self._speedup(live, names),
                       }, blocks=list(live.blocks), probes=[p for p in self.probes if p["group"] == group])

    @staticmethod
    def _speedup(live: Live, names: dict[str, Live]) -> dict:
        """The config's paired speedup over the group's reference, from blocks of the same rounds."""
        ref = next((m for m in names.values() if m.reference), None)
        if ref is None:
            return {}
        est = paired.speedup(by_round(live), by_round(ref))
        return {"speedup_reference": ref.job.run_key,
                **({"speedup": est.median, "speedup_low": est.low, "speedup_high": est.high} if est else {})}

    def _probe(self, group: int, before_round: int) -> float:
        """The machine's own speed now, while every live child waits; returns when it ended."""
        began = self.clock()
        if self.probe is not None:
            self.status(f"group {group + 1}: probing the machine's speed")
            self.probes.append({**self.probe(), "group": group, "before_round": before_round})
        self.probe_s += self.clock() - began
        return self.clock()


def by_round(live: Live) -> dict[int, float]:
    return {block["round"]: block["sps"] for block in live.blocks}


def stopped_by(rounds: Rounds, name: str) -> str:
    """Why the config's measuring ended: settled (its goal met), dropped (behind the leader), budget."""
    if name in getattr(rounds, "dropped", {}):
        return "dropped"
    return "settled" if rounds.met(name) else (rounds.stopped_by or "settled")

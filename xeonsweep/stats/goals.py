"""What a block sweep measures until: `benchmark.goal`, as schedules of rounds. Pure, no I/O.

- `precision`: every config until its interval is within `target_ci_pct` (confidence.Rounds).
- `rank`: a config is measured until its place is settled against both neighbours in the
  ranking by paired speedup over the reference (each pair faster, slower or equivalent:
  paired.compare); a config whose neighbours change can be measured again.
- `best`: a race. A config whose paired interval against the leader lies wholly below
  1 - margin is dropped (below 1/(1 + margin) too, so the leader is then more than the margin
  faster than it); the rounds end when no config left may be faster than the leader by
  more than the margin: each is equivalent to it, proven slower (its interval below 1), or at
  most the margin faster (its interval's top below 1 + margin). That is the indifference zone
  of ranking and selection (Bechhofer; Kim and Nelson): the winner is within the margin of the
  fastest config at the interval's confidence, which is what "which is fastest" can honestly
  ask of configs closer than the margin, and it does not wait for a proof of equivalence.

The reference (the sweep's common config) is measured in every round while any other
config is, so every speedup over it is paired. Nothing is decided before `min_rounds`
rounds, and the budget ends any schedule. The clock is injectable (tests use a fake one).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from xeonsweep.stats import paired
from xeonsweep.stats.confidence import Estimate, Rounds

GOALS = ("precision", "rank", "best")


@dataclass
class PairedRounds(Rounds):
    """Rounds whose stopping rule reads paired comparisons (goal `rank` or `best`)."""

    reference: str | None = None
    margin_pct: float = 2.0
    goal: str = "rank"
    by_round: dict[str, dict[int, float]] = field(default_factory=dict)
    dropped: dict[str, tuple[int, paired.Comparison]] = field(default_factory=dict)  # best: when, how far behind
    resting: set[str] = field(default_factory=set)  # rank: settled, not measured this round
    labels: dict[str, str] = field(default_factory=dict)  # what the verdicts call each config (default: its name)
    _compared: dict[tuple[str, str], paired.Comparison] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.by_round = {name: {} for name in self.names}
        if self.reference not in self.names:
            self.reference = self.names[0] if self.names else None

    def record(self, name: str, sps: float, round_no: int | None = None) -> None:
        super().record(name, sps)
        self.by_round[name][self.done if round_no is None else round_no] = sps
        self._compared.clear()

    # -- the ranking -------------------------------------------------------------------
    def speedup(self, name: str) -> Estimate | None:
        """`name` over the reference, paired by round (None without shared rounds)."""
        if self.reference is None:
            return None
        return paired.speedup(self.by_round[name], self.by_round[self.reference])

    def _key(self, name: str) -> float:
        """Its paired speedup over the reference; without a round shared with it (a resumed journal can hold
        such blocks), its median SPS over the reference's: on the same scale as the paired speedups."""
        est = self.speedup(name)
        if est is not None:
            return est.median
        values = self.blocks[name]
        if not values:
            return 0.0
        reference = self.blocks.get(self.reference) if self.reference is not None else None
        scale = statistics.median(reference) if reference else 0.0
        return statistics.median(values) / scale if scale > 0 else statistics.median(values)

    def ranking(self, names: list[str] | None = None) -> list[str]:
        """Fastest first, by paired speedup over the reference (unpaired where a config shares no round with it)."""
        return sorted(names if names is not None else self.live, key=self._key, reverse=True)

    def compare(self, a: str, b: str) -> paired.Comparison:
        """a against b, paired by round (kept until the next block: a bootstrap is not free)."""
        if (a, b) not in self._compared:
            self._compared[(a, b)] = paired.compare(self.by_round[a], self.by_round[b], self.margin_pct)
        return self._compared[(a, b)]

    def neighbours(self, name: str) -> list[str]:
        order = self.ranking()
        i = order.index(name)
        return order[max(i - 1, 0):i] + order[i + 1:i + 2]

    def settled(self, name: str) -> bool:
        """rank: its place is settled against both neighbours."""
        return all(self.compare(name, other).settled for other in self.neighbours(name))

    # -- the race ----------------------------------------------------------------------
    def leader(self) -> str | None:
        contenders = [n for n in self.live if n not in self.dropped]
        return self.ranking(contenders)[0] if contenders else None

    def _race(self) -> None:
        """Drop every contender wholly behind the leader by more than the margin."""
        leader = self.leader()
        # The reference stays: it pairs every round and links memory groups.
        for name in [n for n in self.live if n not in self.dropped and n not in (leader, self.reference)]:
            versus = self.compare(name, leader)
            if versus.ratio is not None and versus.ratio.blocks >= 2 \
                    and versus.ratio.high < 1 - self.margin_pct / 100:
                self.dropped[name] = (self.done, versus)

    def _race_over(self) -> bool:
        leader = self.leader()
        # The reference is never dropped, but it is a contender too: in a search it is the incumbent.
        contenders = [n for n in self.live if n not in self.dropped and n != leader]
        return all(self.cannot_beat(n, leader) for n in contenders)

    def cannot_beat(self, name: str, leader: str) -> bool:
        """The race has nothing more to learn from `name`: it cannot be faster than the leader by more than
        the margin (the same speed within it, proven slower, or its 95% interval's top below 1 + margin).
        A config proven slower by less than the margin is not dropped, but it holds nothing open."""
        versus = self.compare(name, leader)
        if versus.verdict in ("equivalent", "slower"):
            return True
        return versus.ratio is not None and versus.ratio.blocks >= 2 and versus.ratio.high < 1 + self.margin_pct / 100

    # -- the schedule ------------------------------------------------------------------
    def met(self, name: str) -> bool:
        if self.done < self.min_rounds or name in self.failed:
            return False
        if self.goal == "best":
            return name in self.dropped or self._race_over()
        return self.settled(name)

    def _measured(self) -> list[str]:
        """This round's configs (before min_rounds: every live one), in the order of the ranking so far."""
        if self.done < self.min_rounds:
            return self._in_order(self.live)
        if self.goal == "best":
            wanted = {n for n in self.live if n not in self.dropped}
        else:
            wanted = {n for n in self.live if not self.settled(n)}
        self.resting = set(self.live) - wanted
        if wanted and self.reference in self.live:
            wanted.add(self.reference)
        return self._in_order([n for n in self.live if n in wanted])

    def _in_order(self, names: list[str]) -> list[str]:
        """The round's configs in the order of the ranking so far, fastest first in odd rounds and slowest
        first in even ones. What the rules compare (rank: each config with its neighbours; best: the
        leader with its closest contenders) is then timed seconds apart, not a whole round apart: the
        machine's speed drifts within a round too, and the noise of a paired ratio grows with the time
        between its two blocks. Alternating the direction gives each of two neighbours the first
        place equally often. Round 1 keeps the sweep's order (there is no ranking yet)."""
        order = self.ranking(names)
        return order if (self.done + 1) % 2 else order[::-1]

    def next_round(self) -> list[str]:
        if self.stopped_by is None and self.done >= self.min_rounds:
            if self.goal == "best":
                self._race()
                if self._race_over():
                    self.stopped_by = "target"
            elif all(self.settled(n) for n in self.live):
                self.stopped_by = "target"
            if self.stopped_by is None and self.clock() - self.started >= self.budget_s:
                self.stopped_by = "budget"
        batch = [] if self.stopped_by else self._measured()
        if not batch:
            self.stopped_by = self.stopped_by or "target"
            return []
        self.done += 1
        return batch

    def _label(self, name: str) -> str:
        return self.labels.get(name, name)

    def verdict(self, name: str) -> str | None:
        """Why `name` stopped being measured or what was left open, in words; None when settled."""
        if name in self.dropped:
            when, versus = self.dropped[name]
            r = versus.ratio
            leader = self.leader()
            return (f"dropped after {when} rounds: {(1 - r.median) * 100:.1f}% behind the leader"
                    f"{f' ({self._label(leader)})' if leader else ''} (paired 95% interval {r.low:.3f}-{r.high:.3f}x, "
                    f"margin {self.margin_pct:g}%)")
        if self.met(name):
            return None
        why = "the time budget (benchmark.budget_s) ran out" if self.stopped_by == "budget" else "stopped early"
        if self.goal == "best":
            return f"race left open after {self.done} rounds: not yet told apart from the leader; {why}"
        open_against = [o for o in self.neighbours(name) if not self.compare(name, o).settled]
        return (f"rank left open after {self.done} rounds: not told apart from "
                f"{', '.join(map(self._label, open_against))} "
                f"(margin {self.margin_pct:g}%); {why}")


def schedule(goal: str, names: list[str], min_rounds: int, target_pct: float, budget_s: float, clock,
             reference: str | None = None, margin_pct: float = 2.0, labels: dict[str, str] | None = None) -> Rounds:
    """The rounds of a block sweep for `goal` (one of GOALS); `labels`: what verdicts call each name."""
    if goal == "precision":
        return Rounds(names, min_rounds, target_pct, budget_s, clock)
    return PairedRounds(names, min_rounds, target_pct, budget_s, clock, reference=reference,
                        margin_pct=margin_pct, goal=goal, labels=dict(labels or {}))

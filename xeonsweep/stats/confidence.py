"""How sure a config's SPS is, and when to stop measuring: pure, no I/O.

A config's SPS is the median of its block SPS; its 95% confidence interval is a
percentile bootstrap of that median with a seeded generator, so the same blocks
always give the same interval. `Rounds` is the round-robin schedule: every live
config measures once per round, until every config's interval is within the
target (after a minimum number of rounds) or the time budget runs out. Its
clock is injectable: tests drive it with a fake one.

The confidence interval says where the config's true median lies; it is not
where a second run's median will fall. That second median carries its own
noise, so the difference of the two has sqrt(2) times one median's spread, and
a 95% confidence interval catches a repeat's median only about 83% of the time
(Cumming & Maillardet 2006, "Confidence intervals and replication: where will
the next mean fall?"). `repeat_interval` widens the interval by sqrt(2) about
the median, on each side: where a repeat's median falls 95% of the time when
the machine's noise stays as it was (drift between runs is not in it).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0
REPEAT_WIDENING = math.sqrt(2)


@dataclass(frozen=True)
class Estimate:
    median: float
    low: float
    high: float
    blocks: int

    @property
    def half_width_pct(self) -> float:
        """Half the interval's width, in percent of the median (inf when it says nothing)."""
        if self.blocks < 2 or self.median <= 0:
            return float("inf")
        return (self.high - self.low) / 2 / self.median * 100


def estimate(values: Sequence[float], seed: int = SEED, resamples: int = RESAMPLES, level: float = LEVEL) -> Estimate:
    """The median of `values` with a percentile-bootstrap confidence interval."""
    if not values:
        raise ValueError("no blocks to estimate from")
    median = statistics.median(values)
    if len(values) < 2:
        return Estimate(median, median, median, len(values))
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    low = medians[int(tail * (resamples - 1))]
    high = medians[int(round((1 - tail) * (resamples - 1)))]
    return Estimate(median, low, high, len(values))


def repeat_interval(median: float, low: float, high: float) -> tuple[float, float]:
    """Where a repeat's median falls 95% of the time: the confidence interval widened by sqrt(2) about the median."""
    return median - REPEAT_WIDENING * (median - low), median + REPEAT_WIDENING * (high - median)


def target_met(values: Sequence[float], target_pct: float, min_blocks: int) -> bool:
    return len(values) >= max(min_blocks, 2) and estimate(values).half_width_pct <= target_pct


@dataclass
class Rounds:
    """Round-robin over live configs: at least `min_rounds` rounds, then on until every
    config's interval meets the target or the budget runs out.

    The minimum holds whatever the budget (fewer blocks give no interval worth
    the name). The budget is checked before each round: a round once started
    finishes, so every config has the same number of blocks.
    """

    names: list[str]
    min_rounds: int
    target_pct: float
    budget_s: float
    clock: Callable[[], float] = time.monotonic
    blocks: dict[str, list[float]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    done: int = 0
    stopped_by: str | None = None  # "target" or "budget" once over

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.blocks = {name: [] for name in self.names}

    def record(self, name: str, sps: float, round_no: int | None = None) -> None:
        """A block of `name`, of this round (or of `round_no`: an earlier sweep's, from the journal)."""
        self.blocks[name].append(sps)

    def fail(self, name: str) -> None:
        self.failed.add(name)

    @property
    def live(self) -> list[str]:
        return [n for n in self.names if n not in self.failed]

    def met(self, name: str) -> bool:
        return self.done >= self.min_rounds and target_met(self.blocks[name], self.target_pct, self.min_rounds)

    def next_round(self) -> list[str]:
        """The configs to measure next, in order; empty when the rounds are over."""
        if self.stopped_by is None and self.done >= self.min_rounds:
            if all(self.met(n) for n in self.live):
                self.stopped_by = "target"
            elif self.clock() - self.started >= self.budget_s:
                self.stopped_by = "budget"
        if self.stopped_by or not self.live:
            self.stopped_by = self.stopped_by or "target"
            return []
        self.done += 1
        return self.live

    def verdict(self, name: str) -> str | None:
        """Why `name` did not meet the target, in words; None when it did."""
        if self.met(name):
            return None
        est = estimate(self.blocks[name])
        width = (f"95% CI ±{est.half_width_pct:.1f}% of the median" if est.blocks > 1
                 else f"{est.blocks} block, no interval")
        why = "the time budget (benchmark.budget_s) ran out" if self.stopped_by == "budget" else "stopped early"
        return (f"target not met: {width} (target_ci_pct={self.target_pct:g}) after "
                f"{est.blocks} blocks in {self.done} rounds; {why}")

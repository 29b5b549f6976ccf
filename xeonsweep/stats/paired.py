"""Paired comparisons: one config against another from blocks timed in the same rounds.

Absolute SPS shifts between the minutes of two runs (the whole machine is slower
or faster), but the ratio of two configs timed in the same round keeps: both saw
the same minute. A comparison is the median of the per-round ratios a/b with a
distribution-free 95% interval over rounds, and a verdict:

- `equivalent`: neither is more than the margin faster than the other: the interval lies within
  1/(1 + margin) and 1 + margin (the same speed within the margin, the same verdict both ways);
- `faster` / `slower`: the interval excludes 1;
- `open`: neither yet (or fewer than two shared rounds).

Equivalence is checked first: a difference of 0.5% that the data resolves is,
for choosing a config, the same speed when the margin is 2%. It is the field's
equivalence test (Schuirmann's two one-sided tests at 5% each), so it reads the
90% interval of the median; faster and slower read the 95% one.

The interval is the binomial order-statistic interval of the median (exact for any
distribution of the ratios, no resampling, the same blocks always give the same
interval), not a percentile bootstrap: from a few rounds a bootstrap of the median
covers far less than it claims (from 3 rounds it is the range of the 3 ratios, which
holds the true median 75% of the time, not 95%). The price is honest: fewer than 6
rounds give no 95% interval at all, so nothing is told apart before the sixth round (the 90%
interval that equivalence reads exists from the fifth).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xeonsweep.stats.confidence import LEVEL, Estimate

VERDICTS = ("faster", "slower", "equivalent", "open")
EQUIVALENCE_LEVEL = 0.90  # two one-sided tests at 5% each: the 90% interval within the margin


@dataclass(frozen=True)
class Comparison:
    ratio: Estimate | None  # a / b; None without a shared round
    verdict: str

    @property
    def settled(self) -> bool:
        return self.verdict != "open"


def ratios(a: Mapping[int, float], b: Mapping[int, float]) -> list[float]:
    """a's block over b's block, for every round both were timed in (by round)."""
    return [a[r] / b[r] for r in sorted(set(a) & set(b)) if b[r] > 0]


def median_interval(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """The median with the widest-rank order-statistic interval [x(k), x(n-k+1)] that still holds the
    true median with probability >= level; (0, inf) when too few values allow none."""
    x = sorted(values)
    n = len(x)
    tail = (1 - level) / 2
    # k is the largest rank with P(Binomial(n, 1/2) <= k - 1) <= tail.
    k, below = 0, 0.0
    while k < n // 2 and below + math.comb(n, k) / 2 ** n <= tail:
        below += math.comb(n, k) / 2 ** n
        k += 1
    median = statistics.median(x)
    if k == 0:
        return Estimate(median, 0.0, math.inf, n)
    return Estimate(median, x[k - 1], x[n - k], n)


def speedup(a: Mapping[int, float], b: Mapping[int, float]) -> Estimate | None:
    """The median per-round ratio a/b with its 95% interval; None without a shared round."""
    values = ratios(a, b)
    return median_interval(values) if values else None


def verdict(ratio: Estimate | None, margin_pct: float, equivalence: Estimate | None = None) -> str:
    """The verdict on a ratio's 95% interval; `equivalence`, the same ratio's 90% interval, for the
    equivalence test (without it the 95% interval, a stricter test)."""
    if ratio is None or ratio.blocks < 2:
        return "open"
    margin = margin_pct / 100
    same = equivalence or ratio
    # Bounds symmetric in a/b and b/a: with 1 - margin below, a pair could be equivalent one way and open the
    # other, and under goal=rank the config that saw "open" was measured on alone until the budget ran out.
    if 1 / (1 + margin) <= same.low and same.high <= 1 + margin:
        return "equivalent"
    if ratio.low > 1:
        return "faster"
    if ratio.high < 1:
        return "slower"
    return "open"


def judge(values: Sequence[float], margin_pct: float) -> Comparison:
    """Per-round ratios a/b -> their median with its 95% interval, and the verdict."""
    if not values:
        return Comparison(None, "open")
    ratio = median_interval(values)
    return Comparison(ratio, verdict(ratio, margin_pct, median_interval(values, EQUIVALENCE_LEVEL)))


def compare(a: Mapping[int, float], b: Mapping[int, float], margin_pct: float) -> Comparison:
    return judge(ratios(a, b), margin_pct)

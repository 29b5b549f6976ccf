"""A search's answer, from its rows: the best feasible config with its paired speedup over the
baseline, the Pareto front of two objectives, how much each setting mattered (Optuna's
importance evaluator, when the study is at hand), and the best so far over time.

The baseline is the first batch's reference (every dimension at its first value). The
speedup's interval is paired: from a batch in which the best and the baseline were measured
in the same rounds (the search measures them side by side at its end when no batch did).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xeonsweep.search import values as scoring
from xeonsweep.search.options import OBJECTIVES
from xeonsweep.stats.confidence import Estimate


@dataclass
class Answer:
    objectives: tuple[str, ...]
    scored: dict[int, scoring.Scored]
    labels: dict[int, str]
    baseline: scoring.Scored | None = None
    best: scoring.Scored | None = None
    speedup: Estimate | None = None       # best over baseline, paired by round
    chained: float | None = None          # best over baseline through the batches' references
    front: list[scoring.Scored] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)
    history: list[tuple[float, float]] = field(default_factory=list)  # (s since the search began, best so far)
    began: Any = None                     # when the search's first row started

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]


def dominates(a: list[float], b: list[float], directions: list[str]) -> bool:
    """a is at least as good as b on every objective and better on one."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    at_least = all(s * x >= s * y for s, x, y in zip(signs, a, b))
    return at_least and any(s * x > s * y for s, x, y in zip(signs, a, b))


def label(row: dict, dimensions: list[str]) -> str:
    keys = {d.lstrip("+~") for d in dimensions}
    shown = [o for o in str(row.get("overrides") or "").split() if o.split("=", 1)[0].lstrip("+~") in keys]
    return " ".join(shown) or "(defaults)"


def compute(rows: list[dict], objectives: tuple[str, ...], study: Any, dimensions: list[str]) -> Answer:
    columns = [OBJECTIVES[o][0] for o in objectives]
    scored = scoring.score(rows, columns)
    found = Answer(tuple(objectives), scored, {int(r["trial"]): label(r, dimensions) for r in rows})
    if not scored:
        return found
    found.baseline = _baseline(rows, scored)
    good = [s for s in scored.values() if s.values is not None and s.feasible]
    if good:
        sign = 1 if found.directions[0] == "maximize" else -1
        found.best = max(good, key=lambda s: (sign * s.values[0], -s.trial))
        found.front = [s for s in good if not any(dominates(o.values, s.values, found.directions) for o in good)]
        found.front.sort(key=lambda s: -sign * s.values[0])
    if found.best and found.baseline and found.baseline.values:
        found.speedup = _paired(rows, found.best, found.baseline)
        if objectives[0] == "sps":
            found.chained = found.best.values[0] / found.baseline.values[0]
    found.began = min(r["started_at"] for r in rows)
    found.history = _history(found.began, scored, found.directions[0])
    found.importances = importances(study) if study is not None else {}
    return found


def _baseline(rows: list[dict], scored: dict[int, scoring.Scored]) -> scoring.Scored | None:
    references = sorted((r for r in rows if r.get("measure_reference")), key=lambda r: r["started_at"])
    return scored.get(int(references[0]["trial"])) if references else None


def _paired(rows: list[dict], best: scoring.Scored, baseline: scoring.Scored) -> Estimate | None:
    """best over baseline from the last batch (and memory group) that timed both in the same rounds."""
    if best.trial == baseline.trial:
        return Estimate(1.0, 1.0, 1.0, 0)
    found = None
    for row in sorted(rows, key=lambda r: r["started_at"]):
        if int(row["trial"]) != best.trial or row["status"] != "ok":
            continue
        for other in rows:
            if int(other["trial"]) == baseline.trial and other["status"] == "ok" \
                    and other["sweep_id"] == row["sweep_id"] and other.get("measure_group") == row.get("measure_group"):
                found = scoring.paired_speedup(row, other) or found
    return found


def _history(began: Any, scored: dict[int, scoring.Scored], direction: str) -> list[tuple[float, float]]:
    sign = 1 if direction == "maximize" else -1
    best, out = None, []
    for s in sorted((s for s in scored.values() if s.values is not None and s.feasible), key=lambda s: s.finished_at):
        if best is None or sign * s.values[0] > sign * best:
            best = s.values[0]
        out.append(((s.finished_at - began).total_seconds(), best))
    return out


def importances(study: Any) -> dict[str, float]:
    """Optuna's importance of each setting (PED-ANOVA, its default: which settings the best trials
    share, for the study's direction; for two objectives, the trials nearest the Pareto front)."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):  # too few distinct values to tell
        return {}


def text(found: Answer, search_id: str = "") -> list[str]:
    """The answer as a person reads it."""
    unit = {"sps": "SPS", "peak_qps": "QPS", "p99_ms": "ms p99", "rss_mb": "MB RSS"}
    measured = [s for s in found.scored.values() if s.status == "ok"]
    broke = [s for s in measured if s.feasible is False]
    failed = [s for s in found.scored.values() if s.status not in ("ok",)]
    lines = [f"search {search_id}".rstrip() + f": {len(measured)} configs measured, {len(broke)} broke a limit, "
             f"{len(failed)} failed or skipped"]
    if found.baseline:
        lines.append(f"  baseline: {found.labels.get(found.baseline.trial)}")
    if found.best is None:
        lines.append("  no feasible config found")
    else:
        values = ", ".join(f"{v:.4g} {unit[o]}" for o, v in zip(found.objectives, found.best.values))
        lines.append(f"  best feasible: {found.labels.get(found.best.trial)}  ({values}, trial {found.best.trial})")
        lines.append("  " + speedup_text(found))
    if len(found.objectives) == 2 and found.front:
        lines.append(f"  Pareto front ({' vs '.join(found.objectives)}):")
        for s in found.front:
            lines.append(f"    {s.values[0]:10.4g} {unit[found.objectives[0]]}  {s.values[1]:10.4g} "
                         f"{unit[found.objectives[1]]}  {found.labels.get(s.trial)}")
    for s in sorted(broke, key=lambda s: s.trial):
        lines.append(f"  infeasible: {found.labels.get(s.trial)}: {s.constraint}")
    for s in sorted(failed, key=lambda s: s.trial):
        reason = (s.reason or "").splitlines()[0] if s.reason else ""
        lines.append(f"  {s.status}: {found.labels.get(s.trial)}: {reason}")
    if found.importances:
        lines.append("  importance: " + ", ".join(f"{k} {v:.2f}" for k, v in found.importances.items()))
    return lines


def speedup_text(found: Answer) -> str:
    if found.best is found.baseline or (found.best and found.baseline and found.best.trial == found.baseline.trial):
        return "the baseline itself is the best feasible config"
    s = found.speedup
    if s is not None and math.isfinite(s.high):
        return f"{s.median:.3f}x the baseline (paired 95% interval {s.low:.3f}-{s.high:.3f}x, {s.blocks} rounds)"
    if s is not None:
        return f"{s.median:.3f}x the baseline (paired, {s.blocks} rounds: too few for a 95% interval)"
    if found.chained is not None:
        return f"{found.chained:.3f}x the baseline through the batches' references (never measured side by side)"
    return "no speedup over the baseline: the baseline has no value"


def plot(found: Answer, path: Path) -> Path:
    """Best so far over time beside every config's value (and the Pareto front, or the importances)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    began = found.began
    points = [s for s in found.scored.values() if s.values is not None]
    for feasible_now, marker in ((True, "o"), (False, "x")):
        chosen = [s for s in points if bool(s.feasible) == feasible_now]
        left.scatter([(s.finished_at - began).total_seconds() for s in chosen], [s.values[0] for s in chosen],
                     marker=marker, label="feasible" if feasible_now else "broke a limit")
    if found.history:
        xs, ys = zip(*found.history)
        left.step(xs, ys, where="post", color="black", label="best feasible so far")
    left.set_xlabel("seconds since the search began")
    scale = " (on the baseline's first batch's scale)" if found.objectives[0] == "sps" else ""
    left.set_ylabel(found.objectives[0] + scale)
    left.legend(loc="lower right")
    left.set_title("best so far")
    if len(found.objectives) == 2:
        right.scatter([s.values[0] for s in points], [s.values[1] for s in points], color="lightgray")
        right.plot([s.values[0] for s in found.front], [s.values[1] for s in found.front], "o-", color="C3",
                   label="Pareto front (feasible)")
        right.set_xlabel(found.objectives[0])
        right.set_ylabel(found.objectives[1])
        right.legend()
    elif found.importances:
        names = list(found.importances)[::-1]
        right.barh(names, [found.importances[n] for n in names])
        right.set_xlabel("importance (share)")
        right.set_title("how much each setting mattered")
    else:
        right.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

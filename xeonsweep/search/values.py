"""What each measured trial of a search scored, from the search's rows alone (pure).

Absolute SPS shifts between the minutes of two batches; the ratio of two configs timed in
the same rounds keeps (stats.paired). So each batch is measured with a common reference (the
baseline in the first batch, the incumbent after) and a candidate's SPS is told as the
reference's value times the candidate's paired speedup over it (the median per-round ratio):
every value is on the scale of the baseline's first batch, with the paired precision of each
link. The reference of the first batch is anchored at its own SPS. A batch whose reference
failed leaves its candidates at their own SPS.

The second objective (p99 ms, peak RSS) and peak QPS (server rows, one fresh run each) are the
row's own figures. The report reads the same rows and gets the same values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass

from xeonsweep.stats import paired
from xeonsweep.stats.confidence import Estimate

MARGIN_PCT = 2.0  # paired verdicts: within 2% is the same speed


@dataclass
class Scored:
    trial: int
    config_hash: str
    batch: str                         # the row's sweep_id
    values: list[float] | None         # None: the row failed (status, reason)
    feasible: bool | None
    constraint: str | None
    status: str
    reason: str | None
    finished_at: object
    reference_trial: int | None = None
    versus_reference: Estimate | None = None  # paired speedup over the batch's reference
    verdict: str = "open"                       # ... faster, slower, equivalent or open


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def paired_speedup(row: dict, reference: dict) -> Estimate | None:
    """row over reference, block by block in the same round (stats.paired)."""
    pair = _rounds(row, reference)
    return paired.speedup(*pair) if pair else None


def paired_comparison(row: dict, reference: dict) -> paired.Comparison:
    """row against reference with the verdict the race and the report give (equivalence on the 90% interval)."""
    pair = _rounds(row, reference)
    return paired.compare(*pair, MARGIN_PCT) if pair else paired.Comparison(None, "open")


def _rounds(row: dict, reference: dict) -> tuple[dict[int, float], dict[int, float]] | None:
    """The row's and the reference's blocks by round: each block's own round (`block_round`), so blocks
    pair by the round they ran in, not by their place in the lists (a batch killed and run again goes
    on from its journaled blocks, and a killed round may have left the reference one block ahead)."""
    rounds = [_listed(r.get("block_round")) for r in (row, reference)]
    blocks = [_listed(r.get("block_sps")) for r in (row, reference)]
    if all(rounds) and all(len(r) == len(b) for r, b in zip(rounds, blocks)):
        return tuple({int(r): float(b) for r, b in zip(rs, bs)} for rs, bs in zip(rounds, blocks))
    return _rounds_by_start(row, reference)


def _rounds_by_start(row: dict, reference: dict) -> tuple[dict[int, float], dict[int, float]] | None:
    """Rows without `block_round` (before schema 6): the reference was timed first in every round then,
    so a block belongs to the round of the last reference block that started before it."""
    starts = [float(t) for t in _listed(reference.get("block_start_unix_s"))]
    ref_sps = [float(b) for b in _listed(reference.get("block_sps"))]
    if not starts or len(starts) != len(ref_sps):
        return None
    order = sorted(range(len(starts)), key=starts.__getitem__)
    ref_starts = [starts[i] for i in order]
    by_round_ref = {r: ref_sps[i] for r, i in enumerate(order)}
    by_round = {}
    for start, sps in zip(_listed(row.get("block_start_unix_s")), _listed(row.get("block_sps"))):
        r = bisect.bisect_right(ref_starts, float(start)) - 1
        if r >= 0 and r not in by_round:
            by_round[r] = float(sps)
    return by_round, by_round_ref


def _listed(value) -> list:
    return [] if value is None else list(value)


def score(rows: Iterable[dict], columns: list[str]) -> dict[int, Scored]:
    """Each trial's values, in the order batches were measured; a trial keeps its first value."""
    batches: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["started_at"], r["trial"])):
        batches.setdefault(row["sweep_id"], []).append(row)
    anchors: dict[str, float] = {}  # config_hash -> its value, once known
    scored: dict[int, Scored] = {}
    for batch in batches.values():
        for s in _score_batch(batch, columns, anchors):
            if s.trial not in scored:
                scored[s.trial] = s
            if s.values is not None:
                anchors.setdefault(s.config_hash, s.values[0])
    return scored


def _score_batch(batch: list[dict], columns: list[str], anchors: dict[str, float]) -> list[Scored]:
    references = {r.get("measure_group"): r for r in batch
                  if r.get("measure_reference") and r["status"] == "ok"}
    out = []
    for row in batch:
        ref = references.get(row.get("measure_group"))
        s = Scored(int(row["trial"]), row["config_hash"], row["sweep_id"], None, row.get("feasible"),
                   row.get("constraint"), row["status"], row.get("reason"), row.get("finished_at"))
        if row["status"] == "ok" and not _missing(row.get(columns[0])):
            first = float(row[columns[0]])
            if columns[0] == "sps" and ref is not None:
                anchor = anchors.get(ref["config_hash"], float(ref["sps"]))
                if row is ref:
                    first = anchor
                else:
                    s.reference_trial = int(ref["trial"])
                    versus = paired_comparison(row, ref)
                    s.versus_reference, s.verdict = versus.ratio, versus.verdict
                    if s.versus_reference is not None:
                        first = anchor * s.versus_reference.median
            rest = [float(row[c]) if not _missing(row.get(c)) else math.inf for c in columns[1:]]
            s.values = [first, *rest]
        out.append(s)
    return out

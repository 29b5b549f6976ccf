"""How many candidates a batch asks for when `search.batch` is null: as many as fit in memory.

A batch's candidates are set up as live children beside the reference, and a live child keeps
its memory while it waits (blocks.groups). So the default is the live children's budget
(`benchmark.live_memory_mb`; null: 80% of the memory available now, as memory groups take it)
divided by one candidate's set-up peak RSS, less one child for the reference, kept within
[2, 8]: at least two (memory groups still split a batch that does not fit, the reference in
every group), at most eight (a sampler told more at once learns less from each).

One candidate's peak is the largest this model's rows on this machine show (a block row's
set-up peak, summed over its instances; a fresh row's peak per instance times its instances);
without any row it is a cautious guess, and the reason says so. Under a launcher that runs each
candidate as a job of its own (sweep.launchers: not in the sweeper's process) no child waits live:
on a cluster each job has a node of its own, and a local job launcher (submitit's local) runs them
one after another under this host's lock. Memory bounds nothing, and a batch is the most (8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

FEWEST, MOST = 2, 8
# One candidate's set-up peak RSS without a measured one: a cautious guess, on the high side
# (an export or a compile peaks far above the resting size), so a guess does not overfill memory.
GUESS_MB = 2048.0
# What peaks_of reads from the store.
COLUMNS = ("model", "machine", "setup_peak_rss_mb", "peak_rss_mb", "instances_started", "workers")


@dataclass(frozen=True)
class Choice:
    size: int
    why: str  # for the search's opening line


def choose(asked: int | None, budget_mb: float, budget_text: str, peaks_mb: list[float], model: str,
           cluster: bool = False, runs_here: bool = False) -> Choice:
    """`asked`: search.batch (None: choose); `budget_mb`: the live children's memory (`budget_text` says where
    it comes from); `peaks_mb`: one candidate's set-up peak in each of this model's rows on this machine;
    `cluster`: each candidate is a job of the launcher's, on this machine (`runs_here`) or on the nodes."""
    if asked is not None:
        return Choice(asked, f"search.batch={asked}")
    if cluster and runs_here:
        return Choice(MOST, "each candidate is a job of the launcher's, run one after another under this host's "
                            "lock, none kept live: memory bounds no batch")
    if cluster:
        return Choice(MOST, "on a cluster each job has a node of its own: this machine's memory bounds no batch")
    if peaks_mb:
        peak = max(peaks_mb)
        source = f"the largest set-up peak of {len(peaks_mb)} {model} row(s) on this machine"
    else:
        peak = GUESS_MB
        source = f"no {model} row on this machine yet: a cautious guess"
    # one live child is the reference's; an unknown (infinite) memory figure bounds nothing
    fit = math.floor(budget_mb / peak) - 1 if math.isfinite(budget_mb) else MOST
    size = min(max(fit, FEWEST), MOST)
    kept = f", kept within {FEWEST}-{MOST}" if size != fit else ""
    return Choice(size, f"{budget_text} / {peak:.0f} MB per candidate ({source}), less the reference{kept}")


def budget(live_memory_mb: float | None, available_mb: float, share: float) -> tuple[float, str]:
    """The live children's memory and where it comes from, as memory groups take it."""
    if live_memory_mb:
        return float(live_memory_mb), f"benchmark.live_memory_mb={live_memory_mb:g}"
    return share * available_mb, f"{share:.0%} of {available_mb:.0f} MB available"


def peaks_of(frame: pd.DataFrame, model: str, machine: str | None) -> list[float]:
    """One candidate's set-up peak RSS (MB, all its instances) in each row of `model` on `machine` that has one."""
    if frame.empty or machine is None:
        return []
    rows = frame[(frame["model"] == model) & (frame["machine"] == machine)]
    peaks = []
    for row in rows.to_dict("records"):
        setup, peak = row.get("setup_peak_rss_mb"), row.get("peak_rss_mb")
        instances = next((int(n) for n in (row.get("instances_started"), row.get("workers")) if _known(n) and n), 1)
        if _known(setup):
            peaks.append(float(setup))
        elif _known(peak):
            peaks.append(float(peak) * instances)
    return peaks


def _known(value) -> bool:
    return value is not None and not bool(pd.isna(value))

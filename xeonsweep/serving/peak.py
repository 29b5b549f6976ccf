"""The highest QPS a config serves under its SLO.

One instance: LoadGen's own FindPeakPerformance mode finds it. That mode judges
each step by the latency percentile alone, so its answer is then confirmed by a
normal LoadGen run, stepping down 10% at a time until LoadGen calls a run VALID
(early stopping included); when its starting QPS already fails, LoadGen stops
and the search below takes over. Several instances, each with its own LoadGen: a
search over the total QPS (double, then bisect to 10%), every step a real
LoadGen run on all instances at once, VALID only if every instance is.

Going down stops early when the SLO is out of reach (`out_of_reach`): when
even the median query missed it while the server was idle most of the time
(Little's law: the mean number of queries in the system, QPS x mean latency,
under one half), a query alone takes too long, not because queries queued,
and a lower QPS cannot fix that. (With Poisson arrivals a query waits with
probability equal to the server's busy share, so with the server busy less
than half the time the median query did not wait: its latency is service.)
Without this rule a hopeless search would go on down to 1/16 of its start,
each run lasting min_query_count / QPS seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

STEP_DOWN = 0.9
CONFIRM_TRIES = 4
RESOLUTION = 1.10   # bisect until the invalid bound is within 10% of the valid one
MAX_DOUBLINGS = 8
# Going down stops at 1/16 of where it started: a run lasts at least min_query_count / QPS seconds.
MAX_HALVINGS = 4
EXCHANGE_TIMEOUT_S = 3600.0
IDLE_OCCUPANCY = 0.5  # mean queries in the system below this: the server was mostly idle


def out_of_reach(run: dict, slo_ms: float) -> str | None:
    """Why no lower QPS can meet the SLO that `run` missed, or None when a lower one may."""
    if run.get("valid") or "completed_sps" not in run:
        return None
    mean_ms, p50_ms = run["latency_ms"].get("mean", float("nan")), run["latency_ms"].get("p50", float("nan"))
    occupancy = run["completed_sps"] * mean_ms / 1e3
    if not (occupancy < IDLE_OCCUPANCY and p50_ms > slo_ms):
        return None
    return (f"the SLO is out of reach: at {run['target_qps']:g} QPS the server held {occupancy:.2f} queries on "
            f"average (mostly idle, so little queueing) and even the median query took {p50_ms:.0f} ms, over "
            f"the {slo_ms:g} ms SLO: a query alone takes too long, and a lower QPS would not help")


def _stop_going_down(runs: list[dict], hopeless: Callable[[dict], str | None] | None) -> bool:
    why = hopeless(runs[-1]) if hopeless else None
    if why:
        runs[-1]["reason"] = f"{runs[-1].get('reason') or 'INVALID'}; {why}"
    return why is not None


def confirm(peak: float, run_at: Callable[[float], dict],
            hopeless: Callable[[dict], str | None] | None = None) -> list[dict]:
    """Runs from `peak` down until one is VALID: 10% steps, then halving (a machine busier than
    during the search); at most CONFIRM_TRIES + MAX_HALVINGS runs, fewer when `hopeless` says why."""
    runs = []
    qps = peak
    for attempt in range(CONFIRM_TRIES + MAX_HALVINGS):
        runs.append(run_at(qps))
        if runs[-1]["valid"] or _stop_going_down(runs, hopeless):
            break
        qps *= STEP_DOWN if attempt < CONFIRM_TRIES - 1 else 0.5
    return runs


def search(start: float, run_at: Callable[[float], dict],
           hopeless: Callable[[dict], str | None] | None = None, max_halvings: int = MAX_HALVINGS) -> list[dict]:
    """Runs of a search for the highest VALID total QPS, starting at `start`; going down stops
    at start / 2**max_halvings, or when `hopeless` says why no lower QPS can be VALID."""
    runs: list[dict] = []

    def valid_at(qps: float) -> bool:
        runs.append(run_at(qps))
        return runs[-1]["valid"]

    lo = hi = None
    qps = start
    halvings = 0
    for _ in range(MAX_DOUBLINGS):  # find a VALID and an INVALID bound
        if valid_at(qps):
            lo, qps = qps, qps * 2
        else:
            hi, qps, halvings = qps, qps / 2, halvings + 1
            if lo is None and _stop_going_down(runs, hopeless):
                break
        if (lo is not None and hi is not None) or halvings > max_halvings:
            break
    while lo is not None and hi is not None and hi > lo * RESOLUTION:
        mid = (lo + hi) / 2
        if valid_at(mid):
            lo = mid
        else:
            hi = mid
    return runs


def best_valid(runs: list[dict]) -> dict | None:
    valid = [r for r in runs if r["valid"]]
    return max(valid, key=lambda r: r["target_qps"]) if valid else None


class Exchange:
    """Instances share each step's verdict through files in the run's folder, so all take the same next step."""

    def __init__(self, folder: Path, instances: int, rank: int) -> None:
        self.folder, self.instances, self.rank = folder, instances, rank

    def all_valid(self, step: int, valid: bool) -> bool:
        step_dir = self._post(step, valid)
        deadline = time.monotonic() + EXCHANGE_TIMEOUT_S
        while len(list(step_dir.glob("*.json"))) < self.instances:
            if time.monotonic() > deadline:
                raise RuntimeError(f"step {step}: only {len(list(step_dir.glob('*.json')))} of {self.instances} "
                                   "instances reported")
            time.sleep(0.01)
        verdicts = [json.loads(p.read_text()) for p in step_dir.glob("*.json")]
        if None in verdicts:
            raise RuntimeError(f"step {step}: another instance failed (its own error is in this row's reason)")
        return all(verdicts)

    def failed(self, step: int) -> None:
        """This instance's test raised: the others learn it at this step (its verdict is null)."""
        self._post(step, None)

    def _post(self, step: int, verdict: bool | None) -> Path:
        step_dir = self.folder / f"step-{step:03d}"
        step_dir.mkdir(parents=True, exist_ok=True)
        tmp = step_dir / f".{self.rank}.tmp"
        tmp.write_text(json.dumps(verdict))
        os.replace(tmp, step_dir / f"{self.rank}.json")
        return step_dir

"""Measuring one batch of a search: jobs in, rows out.

`measure_batch` is the search's only way to measure. Offline, a batch's jobs (the reference
first) are measured by live workers in interleaved rounds (blocks.live.measure_in_blocks:
set up once, one config timing at a time, the reference in every memory group), racing
(`benchmark.goal=best`, set by the search driver): a candidate wholly behind the leader is
dropped with its row saying so, and its child released. Server rows (peak QPS
through LoadGen) are one fresh child per config, as a server sweep runs them. Under a cluster
launcher (one that does not run jobs in this process: Submitit, Ray) the batch's jobs go to it
as a grid sweep's do (sweep.driver): one fresh run per job on a node, under that node's host
lock, each row written there into the shared store. Rows are read back from the store: what
the search tells Optuna is what the store holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xeonsweep.config.run import Job
from xeonsweep.store import results


def measure_batch(jobs: list[Job], sweep_dir: Path, first_index: int, machine: str | None, store: str,
                  finished: Callable[[Job, dict], None], label: Callable[[Job], str],
                  status: Callable[[str], None], note: Callable[[str], None], launcher: Any = None) -> list[dict]:
    """Measure `jobs` (all of one sweep_id, the reference first in the list) and return their rows from the store.

    `launcher`: the sweep's cluster launcher (None: measure on this machine, in this process)."""
    if launcher is not None:
        _measure_on_cluster(jobs, launcher, first_index, finished, label, status, note)
    elif all(job.run.scenario == "offline" for job in jobs):
        from xeonsweep.blocks import live

        live.measure_in_blocks(jobs, sweep_dir, first_index, machine, finished=finished, label=label, status=status,
                               note=note)
    else:
        _measure_fresh(jobs, sweep_dir, first_index, machine, finished, label, status)
    return rows_of(store, jobs[0].run["sweep_id"])


def rows_of(store: str, sweep_id: str) -> list[dict]:
    frame = results.load(store, results.SUMMARY_COLUMNS)
    return frame[frame["sweep_id"] == sweep_id].to_dict("records")


def _measure_fresh(jobs: list[Job], sweep_dir: Path, first_index: int, machine: str,
                   finished: Callable[[Job, dict], None], label: Callable[[Job], str],
                   status: Callable[[str], None]) -> None:
    """One fresh child per job (LoadGen scenarios), one after another, each row written when it ends."""
    from xeonsweep.config.paths import absolute
    from xeonsweep.launch import child as launch
    from xeonsweep.store import record

    for index, job in enumerate(jobs, start=first_index):
        keys = record.identity(job.run, machine, " ".join(job.overrides))
        if job.incompatible:
            finished(job, record.skipped(job.run, keys))
            continue
        status(f"measuring {label(job)}")
        run_dir = sweep_dir / str(index)
        run_dir.mkdir(parents=True, exist_ok=True)
        started = datetime.now(timezone.utc)
        outcome = launch.execute(job.run, run_dir, absolute(job.run.cache_dir), job.run.timeout_s)
        finished(job, record.record(job.run, keys, outcome, started))


def _measure_on_cluster(jobs: list[Job], launcher: Any, first_index: int, finished: Callable[[Job, dict], None],
                        label: Callable[[Job], str], status: Callable[[str], None],
                        note: Callable[[str], None]) -> None:
    """The batch's jobs handed to the launcher at once, as a grid sweep hands them: each a fresh run on a
    node, which writes its row. A job lost with its node loses its row only (its trial is told failed)."""
    from xeonsweep.sweep.launchers import job_result

    status(f"{len(jobs)} job(s) on the cluster: " + "; ".join(label(job) for job in jobs))
    try:
        returns = launcher.launch([job.overrides for job in jobs], initial_job_idx=first_index)
    except Exception as exc:  # noqa: BLE001 - the launcher lost the batch (a cancelled array, a dead head)
        note(f"lost {len(jobs)} run(s) with their batch: {type(exc).__name__}: {exc}")
        return
    for job, ret in zip(jobs, returns):
        summary, why_lost = job_result(ret)
        if summary is None:
            note(f"lost 1 run with its job: {label(job)}: {why_lost}")
        else:
            finished(job, summary)

"""Measuring one batch of a search: jobs in, rows out.

`measure_batch` is the search's only way to measure. Offline, a batch's jobs (the reference
first) are measured by live workers in interleaved rounds (blocks.live.measure_in_blocks:
set up once, one config timing at a time, the reference in every memory group); when the
block sweep races (`benchmark.goal=best`), only the call below changes. Server rows (peak QPS
through LoadGen) are one fresh child per config, as a server sweep runs them. Rows are read
back from the store: what the search tells Optuna is what the store holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from xeonsweep.store import results
from xeonsweep.sweep.planning import Job


def measure_batch(jobs: list[Job], sweep_dir: Path, first_index: int, machine: str, store: str,
                  finished: Callable[[Job, dict], None], label: Callable[[Job], str],
                  status: Callable[[str], None], note: Callable[[str], None]) -> list[dict]:
    """Measure `jobs` (all of one sweep_id, the reference first) and return their rows from the store."""
    from xeonsweep.config.settings import scenario_name

    if all(scenario_name(job.run) == "offline" for job in jobs):
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
    from xeonsweep.launch import child as launch
    from xeonsweep.sweep import task as app

    for index, job in enumerate(jobs, start=first_index):
        keys = app.run_keys(job.run, machine, " ".join(job.overrides))
        store = app.absolute(job.run["results"]["dir"])
        started = datetime.now(timezone.utc)
        if job.incompatible:
            outcome = launch.Outcome("skipped", job.incompatible)
        else:
            status(f"measuring {label(job)}")
            run_dir = sweep_dir / str(index)
            run_dir.mkdir(parents=True, exist_ok=True)
            outcome = launch.execute(job.run, run_dir, app.absolute(job.run["cache"]["dir"]),
                                     job.run["benchmark"]["timeout_s"])
        finished(job, app.record(job.run, keys, outcome, started, store))

"""The Hydra task function: one job of a sweep, or a single run.

It takes the job's Run as planning built it (a sweep in this process, or the
command line for a single run) or, on a cluster node that only has the Hydra
config, builds it there once; skips it when the store already has an `ok` row
for it, runs it in a child process and writes its row (xeonsweep.store.record).
It runs in the parent process (basic launcher) or on a cluster node (submitit,
ray), and never imports torch.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from omegaconf import DictConfig

from xeonsweep.config import settings
from xeonsweep.config.paths import absolute
from xeonsweep.config.run import Run
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.launch import child as launch
from xeonsweep.machine.facts import cpu_info
from xeonsweep.store import record, results
from xeonsweep.store.outcome import Outcome
from xeonsweep.sweep.host_lock import host_lock
from xeonsweep.sweep.planning import new_sweep_id

_last: dict = {}  # the last single run's summary, for the command's exit status


def last_status() -> str | None:
    """The last single run's status, or INVALID when it was measured but missed its SLO."""
    return _last.get("verdict") or _last.get("status")


def in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def store_checked_by_sweeper() -> bool:
    """A sweep on this machine dropped finished runs before launching; a node or a single run looks itself."""
    from hydra.core.hydra_config import HydraConfig

    from xeonsweep.sweep import launchers

    return in_sweep() and launchers.of_target(HydraConfig.get().launcher._target_).runs_here


def job_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def job_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task)


class PlannedJobs:
    """The task function for a launcher that runs jobs in the sweeper's own process: each job
    gets the Run that planning built for it (found by the job's overrides)."""

    def __init__(self, runs: Mapping[tuple[str, ...], Run]) -> None:
        self.runs = dict(runs)

    def __call__(self, cfg: DictConfig) -> dict:
        return run_job(cfg, self.runs.get(tuple(job_overrides())))


def run_job(cfg: DictConfig, planned: Run | None = None) -> dict:
    """Task function: returns a short summary (status, sps, reason) for the sweeper.

    `planned`: the run as planning built it; without it (a job on a cluster node), the Run is
    built from `cfg` here.
    """
    cpu = cpu_info()
    try:
        asked = settings.to_settings(cfg)
        run = planned if planned is not None and planned.describes(asked) else Run.from_settings(asked, cpu)
        summary = run_planned(run, settings.machine_label(cpu))
    except UserError as exc:
        # Bad input for a single run: one line, no traceback (a sweep checked it before starting).
        print(f"xeonsweep: {exc}", file=sys.stderr)
        sys.exit(2)
    if not in_sweep():
        _last.update(summary)
        sps = f" {summary['sps']:.2f} samples/s" if summary.get("sps") is not None else ""
        print(f"xeonsweep: {summary.get('verdict') or summary['status']}{sps}"
              + (f": {summary['reason']}" if summary.get("reason") else ""))
    return summary


def run_planned(run: Run, machine: str) -> dict:
    """Skip, run or record `run` on `machine` (its label); its summary."""
    if not run.sweep_id:  # a single run is a sweep of its own
        run = run.repeated(run.repeat, new_sweep_id())
    keys = record.identity(run, machine, " ".join(job_overrides()))
    if run.incompatible:
        if not in_sweep():
            raise Incompatible(run.incompatible)
        return record.skipped(run, keys)
    done = not run.rerun and not store_checked_by_sweeper() and keys["run_key"] in results.finished_keys(
        absolute(run.results_dir))
    if done:
        return {"status": "done", "sps": None, "reason": "already in the store", "run_key": keys["run_key"]}
    started = datetime.now(timezone.utc)
    try:
        # One measurement at a time on this host: a single run, a run on a node, or (already held by
        # the sweeper, so this is a no-op) each run of a sweep here.
        with host_lock(lock_owner(run), wait=run.lock_wait):
            started = datetime.now(timezone.utc)
            outcome = launch.execute(run, job_dir(), absolute(run.cache_dir), run.timeout_s)
    except UserError as exc:
        if not in_sweep():
            raise
        outcome = Outcome("failed", str(exc))  # lock.wait=false on a busy node: a row saying so
    return record.record(run, keys, outcome, started)


def lock_owner(run: Run) -> str:
    kind = "sweep" if in_sweep() else "run"
    return f"{kind} {run.sweep_id} ({' '.join(job_overrides()) or 'defaults'})"

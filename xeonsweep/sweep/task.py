"""The Hydra task function: one job of a sweep, or a single run.

It validates the job's settings, skips it when the store already has an `ok`
row for it, runs it in a child process and writes its row. It runs in the
parent process (basic launcher) or on a cluster node (submitit, ray), and
never imports torch.
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

from omegaconf import DictConfig

from xeonsweep.launch import child as launch

from xeonsweep.store import results

from xeonsweep.store import rows
from xeonsweep.store.verdict import verdict

from xeonsweep.config import settings
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.sweep.host_lock import host_lock
from xeonsweep.machine.facts import cpu_info


_last: dict = {}  # the last single run's summary, for the command's exit status


def last_status() -> str | None:
    """The last single run's status, or INVALID when it was measured but missed its SLO."""
    return _last.get("verdict") or _last.get("status")


def new_sweep_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def absolute(path: str) -> str:
    """A local path relative to where xeonsweep was started; URIs (s3://...) as they are."""
    from hydra.utils import to_absolute_path

    return path if "://" in path else to_absolute_path(path)


def in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def store_checked_by_sweeper() -> bool:
    """A sweep on this machine dropped finished runs before launching; a node or a single run looks itself."""
    from hydra.core.hydra_config import HydraConfig

    from xeonsweep.sweep.planning import runs_here

    return in_sweep() and runs_here(HydraConfig.get().launcher._target_)


def job_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def job_overrides() -> str:
    from hydra.core.hydra_config import HydraConfig

    return " ".join(HydraConfig.get().overrides.task)


def run_job(cfg: DictConfig) -> dict:
    """Task function: returns a short summary (status, sps, reason) for the sweeper."""
    try:
        summary = run_settings(settings.to_settings(cfg))
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


def run_settings(run: dict) -> dict:
    cpu = cpu_info()
    run["sweep_id"] = run.get("sweep_id") or new_sweep_id()
    run = settings.normalize(run)  # settings the backend ignores: as the sweeper planned them
    keys = run_keys(run, settings.machine_label(cpu), job_overrides())
    store = absolute(run["results"]["dir"])
    started = datetime.now(timezone.utc)
    try:
        settings.validate(run, cpu)
    except Incompatible as exc:
        if not in_sweep():
            raise
        outcome = launch.Outcome("skipped", str(exc))
        return record(run, keys, outcome, started, store)
    done = not run["results"]["rerun"] and not store_checked_by_sweeper() and keys["run_key"] in results.finished_keys(store)
    if done:
        return {"status": "done", "sps": None, "reason": "already in the store", "run_key": keys["run_key"]}
    try:
        # One measurement at a time on this host: a single run, a run on a node, or (already held by
        # the sweeper, so this is a no-op) each run of a sweep here.
        with host_lock(lock_owner(run), wait=run.get("lock", {}).get("wait", True)):
            started = datetime.now(timezone.utc)
            outcome = launch.execute(run, job_dir(), absolute(run["cache"]["dir"]), run["benchmark"]["timeout_s"])
    except UserError as exc:
        if not in_sweep():
            raise
        outcome = launch.Outcome("failed", str(exc))  # lock.wait=false on a busy node: a row saying so
    return record(run, keys, outcome, started, store)


def run_keys(run: dict, machine: str, overrides: str) -> dict:
    """The identity columns of a run's row."""
    return {
        "run_key": settings.run_key(run, machine),
        "config_hash": settings.config_hash(run),
        "sweep_id": run["sweep_id"],
        "machine": machine,
        "overrides": overrides,
    }


def lock_owner(run: dict) -> str:
    kind = "sweep" if in_sweep() else "run"
    return f"{kind} {run['sweep_id']} ({job_overrides() or 'defaults'})"


def record(run: dict, keys: dict, outcome: launch.Outcome, started: datetime, store: str) -> dict:
    row = rows.build_row(run, keys, outcome, started, datetime.now(timezone.utc))
    results.write_row(row, store, run["sweep_id"])
    word, reason = verdict(row)  # INVALID, and why, for a LoadGen run that missed its SLO
    return {"status": row["status"], "verdict": word, "sps": row.get("sps"), "reason": reason, "run_key": keys["run_key"],
            "ci_half_width_pct": row.get("ci_half_width_pct"), "target_met": row.get("target_met")}

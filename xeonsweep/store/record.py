"""One path from a run's outcome to its row in the store.

Fresh runs and serving runs (the task function, here or on a cluster node) and
live workers (xeonsweep.blocks.live) all write their rows here; a run whose
settings cannot go together gets its `skipped` row here too.
"""

from __future__ import annotations

from datetime import datetime, timezone

from xeonsweep.config.paths import absolute
from xeonsweep.config.run import Run
from xeonsweep.store import results, rows
from xeonsweep.store.outcome import Outcome
from xeonsweep.store.verdict import verdict


def identity(run: Run, machine: str, overrides: str) -> dict:
    """The identity columns of a run's row."""
    return {
        "run_key": run.run_key(machine),
        "config_hash": run.config_hash,
        "sweep_id": run.sweep_id,
        "machine": machine,
        "overrides": overrides,
    }


def record(run: Run, keys: dict, outcome: Outcome, started: datetime, finished: datetime | None = None) -> dict:
    """Write the run's row; returns the short summary the sweep reports (status, sps, reason ...)."""
    row = rows.build_row(run, keys, outcome, started, finished or datetime.now(timezone.utc))
    results.write_row(row, absolute(run.results_dir), run.sweep_id)
    word, reason = verdict(row)  # INVALID, and why, for a LoadGen run that missed its SLO
    return {"status": row["status"], "verdict": word, "sps": row.get("sps"), "reason": reason,
            "run_key": keys["run_key"], "ci_half_width_pct": row.get("ci_half_width_pct"),
            "target_met": row.get("target_met"), "goal": row.get("goal")}


def skipped(run: Run, keys: dict, method: str = "fresh") -> dict:
    """The row of a sweep's run whose settings cannot go together (run.incompatible says why)."""
    return record(run, keys, Outcome("skipped", run.incompatible, method=method), datetime.now(timezone.utc))

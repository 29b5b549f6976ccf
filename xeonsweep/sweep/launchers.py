"""What a Hydra launcher can do, as a sweep needs to know it.

A launcher says so with class attributes (`runs_here`, `in_process`), as
xeonsweep's own launchers (hydra_plugins/xeonsweep_launchers) do. Hydra's basic
launcher, which cannot say anything, runs every job in this very process, one
after another. A launcher that says nothing is taken to run its jobs elsewhere:
the safe side, where the jobs check the store and take the host lock themselves
and nothing is measured in the sweeper's process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    # Jobs run on this machine, one at a time: the sweeper skips finished runs itself.
    runs_here: bool = False
    # ... in the sweeper's own process: it holds the host lock for the whole sweep, measures
    # configs in blocks with live workers, and hands each job the run it planned.
    in_process: bool = False


def of_class(launcher: type) -> Capabilities:
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    default = Capabilities(True, True) if issubclass(launcher, BasicLauncher) else Capabilities()
    return Capabilities(bool(getattr(launcher, "runs_here", default.runs_here)),
                        bool(getattr(launcher, "in_process", default.in_process)))


def of_target(target: str) -> Capabilities:
    """The capabilities of the launcher class a config names (hydra.launcher._target_)."""
    from hydra.utils import get_class

    try:
        return of_class(get_class(target))
    except Exception:  # noqa: BLE001 - a launcher that cannot be loaded here says nothing
        return Capabilities()


def job_result(ret: Any) -> tuple[dict | None, str | None]:
    """What a launcher's JobReturn says: (the job's summary, None), or (None, why) when the job was lost with
    its node (the cluster launchers' JobLost). A job that raised is an `error` summary."""
    from hydra.core.utils import JobStatus

    from xeonsweep.errors import JobLost

    if ret.status == JobStatus.FAILED and isinstance(ret._return_value, JobLost):
        return None, str(ret._return_value)
    if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
        return ret.return_value, None
    log.error("job %s raised", ret.overrides, exc_info=ret._return_value)
    return {"status": "error", "sps": None, "reason": repr(ret._return_value)}, None

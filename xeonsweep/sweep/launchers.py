"""What a Hydra launcher can do, as a sweep needs to know it.

A launcher says so with class attributes (`runs_here`, `in_process`), as
xeonsweep's own launchers (hydra_plugins/xeonsweep_launchers) do. Hydra's basic
launcher, which cannot say anything, runs every job in this very process, one
after another. A launcher that says nothing is taken to run its jobs elsewhere:
the safe side, where the jobs check the store and take the host lock themselves
and nothing is measured in the sweeper's process.
"""

from __future__ import annotations

from dataclasses import dataclass


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

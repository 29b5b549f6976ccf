"""Turn a sweep's jobs into the runs to launch: validated, repeated, resumed.

Everything here happens before the first run starts, so one bad value stops
the whole sweep with nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from xeonsweep import results, settings
from xeonsweep.errors import Incompatible
from xeonsweep.machine import CpuInfo


# Launchers that run jobs on this machine: runs go one at a time (never two
# benchmarks side by side) and the sweeper skips finished runs itself.
LOCAL_LAUNCHERS = ("BasicLauncher", "submitit_launcher.LocalLauncher")


def runs_here(launcher_target: str) -> bool:
    return launcher_target.endswith(LOCAL_LAUNCHERS)


@dataclass
class Job:
    overrides: list[str]
    run: dict
    incompatible: str | None = None
    run_key: str = ""


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)      # to launch, in order
    already_done: list[Job] = field(default_factory=list)
    # jobs that differ from one in `jobs` only in settings that do not apply to the model
    same_as_another: list[Job] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(1 for j in self.jobs if j.incompatible)


def describe(overrides: Sequence[str], varying: set[str] | None = None) -> str:
    """The overrides a person reads: those that vary across the sweep, without bookkeeping."""
    keys = varying if varying is not None else {o.split("=", 1)[0] for o in overrides}
    shown = [o for o in overrides if o.split("=", 1)[0] in keys and not o.startswith("sweep_id=")]
    return " ".join(shown)


def varying_keys(jobs: list[Job]) -> set[str]:
    """Override keys whose value differs between jobs (all of them for a single job)."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job.overrides:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    if len(jobs) <= 1:
        return set(values) - {"sweep_id"}
    return {k for k, v in values.items() if len(v) > 1}


def plan_sweep(
    job_overrides: list[list[str]],
    compose: Callable[[list[str]], dict],
    cpu: CpuInfo,
    sweep_id: str,
    store: str | None,
) -> Plan:
    """Validate every job, expand repeats (interleaved), drop runs the store has done.

    `compose` turns a job's overrides into its settings dict. `store` is None when
    the runs execute elsewhere (a cluster launcher): nodes then check for themselves.
    """
    validated: list[Job] = []
    for overrides in job_overrides:
        run = settings.drop_not_applicable(compose(overrides), sweep=True)
        job = Job(list(overrides), run)
        try:
            settings.validate(run, cpu)  # UserError propagates: the sweep stops here
        except Incompatible as exc:
            job.incompatible = str(exc)
        validated.append(job)

    plan = Plan()
    done = results.finished_keys(store) if store else set()
    machine = settings.machine_label(cpu)
    rounds = max(j.run["benchmark"]["repeats"] for j in validated) if validated else 0
    planned: set[str] = set()
    # Interleave: every config once, then every config again, so a slow minute
    # of the machine is spread over configs instead of landing on one.
    for repeat in range(rounds):
        for base in validated:
            if repeat >= base.run["benchmark"]["repeats"]:
                continue
            run = {**base.run, "repeat": repeat, "sweep_id": sweep_id}
            job = Job([*base.overrides, f"repeat={repeat}", f"sweep_id={sweep_id}"], run, base.incompatible)
            job.run_key = settings.run_key(run, machine)
            if job.run_key in planned:
                plan.same_as_another.append(job)
            elif job.run_key in done and not run["results"]["rerun"]:
                plan.already_done.append(job)
            else:
                plan.jobs.append(job)
            planned.add(job.run_key)
    return plan

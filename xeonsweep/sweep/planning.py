"""Turn a sweep's jobs into the runs to launch: validated, repeated, resumed.

Everything here happens before the first run starts, so one bad value stops
the whole sweep with nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from xeonsweep.config import settings
from xeonsweep.config.run import Job, Run
from xeonsweep.machine.facts import CpuInfo
from xeonsweep.store import results


def new_sweep_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def asks_for_blocks(run: Run, in_process: bool) -> bool:
    """benchmark.method=blocks where blocks can be: in the sweeper's own process (a launcher that
    runs jobs `in_process`; a Submitit or cluster job is one run) and for the offline scenario."""
    return in_process and run.method == "blocks" and run.scenario == "offline"


def in_blocks(run: Run, in_process: bool) -> bool:
    """Measured by live workers in interleaved blocks (xeonsweep.blocks.live) rather than one fresh
    process per run: where blocks can be, and without fresh-process repeats."""
    return asks_for_blocks(run, in_process) and run.repeats == 1


def fresh_repeats_note(jobs: list[Job], in_process: bool) -> str | None:
    """One line when configs that asked for blocks run as fresh-process repeats, because of benchmark.repeats > 1."""
    repeated = [job for job in jobs if job.run.repeats > 1 and asks_for_blocks(job.run, in_process)]
    if not repeated:
        return None
    repeats = max(job.run.repeats for job in repeated)
    return (f"benchmark.repeats={repeats} asks for independent fresh-process repeats: {len(repeated)} run(s) with "
            "benchmark.method=blocks run one fresh process each instead (blocks need benchmark.repeats=1)")


def split_by_method(jobs: list[Job], in_process: bool) -> tuple[list[Job], list[Job]]:
    """(jobs run one fresh process each through the launcher, jobs measured in blocks by live workers)."""
    fresh, blocks = [], []
    for job in jobs:
        (blocks if in_blocks(job.run, in_process) else fresh).append(job)
    return fresh, blocks


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)      # to launch, in order
    already_done: list[Job] = field(default_factory=list)
    # (job, the earlier job it equals): configs that differ only in settings their backend ignores
    merged: list[tuple[Job, Job]] = field(default_factory=list)


# Where rows go and how a sweep runs, not what it measures: never part of a config's name
# (repeat is, while a sweep's jobs differ in it: it tells the repeats of a config apart).
BOOKKEEPING = ("results", "cache", "sweep_id", "lock", "cluster", "hydra", "repeat")


def bookkeeping(key: str) -> bool:
    return key.lstrip("+~").split(".")[0].split("/")[0] in BOOKKEEPING


def describe(overrides: Sequence[str], varying: set[str] | None = None) -> str:
    """The overrides a person reads: those that vary across the sweep, without bookkeeping."""
    keys = varying if varying is not None else {o.split("=", 1)[0] for o in overrides if not bookkeeping(o)}
    shown = [o for o in overrides if o.split("=", 1)[0] in keys and not o.startswith("sweep_id=")]
    return " ".join(shown)


def varying_keys(jobs: list[Job]) -> set[str]:
    """Override keys whose value differs between jobs (all but bookkeeping for a single job)."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job.overrides:
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    if len(jobs) <= 1:
        return {k for k in values if not bookkeeping(k)}
    return {k for k, v in values.items() if len(v) > 1 and (k == "repeat" or not bookkeeping(k))}


def _check_once(run: Run, checked: set[str]) -> None:
    """Folders and the model's module, once per distinct value (they need the disk or a subprocess)."""
    key = repr((run.results_dir, run.cache_dir, run["model"].get("factory", {}).get("_target_"), str(run.interpreter),
                run["model"].get("weights")))
    if key not in checked:
        settings.check_before_run(run.settings)
        checked.add(key)


def plan_single(asked: dict, cpu: CpuInfo) -> Run:
    """A single run: a plan of one job, refused with one line if its settings cannot go together,
    or if it asks for a setting that does not apply to it."""
    run = Run.from_settings(asked, cpu, refuse_incompatible=True)
    settings.refuse_not_applicable(asked, run.not_applicable)
    settings.check_before_run(run.settings)
    return run


def plan_sweep(
    job_overrides: list[list[str]],
    compose: Callable[[list[str]], dict],
    cpu: CpuInfo,
    sweep_id: str,
    store: str | None,
    machine: str | None = None,
) -> Plan:
    """Validate every job, expand repeats (interleaved), drop runs the store has done.

    `compose` turns a job's overrides into its settings dict (settings.to_settings), which
    becomes the job's Run, validated and normalised once. `machine` is the machine
    label the runs' rows will have (default: this CPU's; for a cluster, the nodes').
    `store` is None when that is unknown (a cluster launcher without cluster.machine):
    nodes then check for themselves.
    """
    validated: list[Job] = []
    plan = Plan()
    seen: dict[str, Job] = {}
    checked: set[str] = set()
    for overrides in job_overrides:
        run = Run.from_settings(compose(overrides), cpu)  # UserError propagates: the sweep stops here
        job = Job(list(overrides), run)
        if not run.incompatible:
            if run.config_hash in seen:  # differs from an earlier job only in settings the backend ignores
                plan.merged.append((job, seen[run.config_hash]))
                continue
            seen[run.config_hash] = job
        _check_once(run, checked)
        validated.append(job)

    if store:
        results.clean_temp_files(store)
    done = results.finished_keys(store) if store else set()
    machine = machine or settings.machine_label(cpu)
    rounds = max(j.run.repeats for j in validated) if validated else 0
    # Interleave: every config once, then every config again, so a slow minute
    # of the machine is spread over configs instead of landing on one.
    for repeat in range(rounds):
        for base in validated:
            if repeat >= base.run.repeats:
                continue
            run = base.run.repeated(repeat, sweep_id)
            job = Job([*base.overrides, f"repeat={repeat}", f"sweep_id={sweep_id}"], run)
            job.run_key = run.run_key(machine)
            if job.run_key in done and not run.rerun:
                plan.already_done.append(job)
            else:
                plan.jobs.append(job)
    return plan

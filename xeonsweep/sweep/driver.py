"""The sweep driver: what xeonsweep's Hydra sweeper (hydra_plugins/xeonsweep_sweeper) does
before and around the launcher.

Before any run: every job is composed and planned into its Run (one bad value stops the
sweep with one line), repeats are interleaved, and runs whose fingerprint already has an
`ok` row are dropped. Then batches go to whatever launcher is configured (basic, submitit,
ray), with progress and a summary; jobs measured in blocks (benchmark.method=blocks under
a launcher that runs jobs in this process) go to live workers here instead
(xeonsweep.blocks.live). What the launcher can do comes from xeonsweep.sweep.launchers.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from xeonsweep.config import settings
from xeonsweep.config.paths import absolute, config_dirs_of
from xeonsweep.config.run import Job
from xeonsweep.errors import UserError
from xeonsweep.machine import doctor
from xeonsweep.machine.facts import cpu_info
from xeonsweep.sweep import launchers, planning
from xeonsweep.sweep.host_lock import host_lock


def varying_of(plan: planning.Plan) -> set:
    return planning.varying_keys(plan.jobs + [job for job, _ in plan.merged])


class Driver:
    """One sweep: `compose` turns a job's overrides into its Hydra config; `launcher` is the
    configured launcher, set up by Hydra."""

    def __init__(self, config: DictConfig, launcher: Any, compose: Callable[[list[str]], DictConfig],
                 max_batch_size: int | None = None) -> None:
        self.config, self.launcher, self.compose, self.max_batch_size = config, launcher, compose, max_batch_size
        self.can = launchers.of_class(type(launcher))

    def sweep(self, job_overrides: list[list[str]], arguments: list[str]) -> Any:
        """Plan the jobs (every job's overrides), run them, report; `arguments` name the sweep."""
        store = absolute(str(self.config.results.dir))  # a bad value (null) is refused in planning
        sweep_id = self.config.get("sweep_id") or planning.new_sweep_id()
        cpu = cpu_info()
        # Which machine the runs' rows will name: this one, or the nodes' when the sweep is told
        # (cluster.machine); unknown nodes check the store themselves.
        here = settings.machine_label(cpu)
        machine = here if self.can.runs_here else (self.config.get("cluster") or {}).get("machine")
        try:
            plan = planning.plan_sweep(job_overrides, self.job_settings, cpu, sweep_id,
                                       store if machine else None, machine)
        except UserError as exc:
            print(f"xeonsweep: {exc}", file=sys.stderr)
            sys.exit(2)
        facts = self._prepare_sweep_dir()
        note = planning.fresh_repeats_note(plan.jobs, self.can.in_process)
        if note:
            print(f"xeonsweep: {note}", file=sys.stderr)
        batch_size = self.max_batch_size or (1 if self.can.runs_here else max(len(plan.jobs), 1))
        from xeonsweep.sweep.progress import SweepProgress

        with self._host_lock(sweep_id, arguments), SweepProgress(len(plan.jobs), sweep_id, store) as progress:
            progress.machine(facts)
            fresh, in_blocks = planning.split_by_method(plan.jobs, self.can.in_process)
            varying = varying_of(plan)
            self._hand_over(fresh)
            returns, errors, lost = self._run(fresh, batch_size, progress, varying)
            self._run_in_blocks(in_blocks, progress, varying, len(fresh), here)
            progress.summary(len(plan.already_done), lost,
                             merged=[planning.describe(job.overrides, varying) for job, _ in plan.merged])
        if errors or lost:
            sys.exit(1)  # a bug (traceback above) or runs lost with their job: not a clean sweep
        return returns

    def _hand_over(self, jobs: list[Job]) -> None:
        """Jobs run in this process get the Run planned for them (a job elsewhere builds its own)."""
        from xeonsweep.sweep.task import PlannedJobs

        if self.can.in_process and hasattr(self.launcher, "task_function"):
            self.launcher.task_function = PlannedJobs({tuple(job.overrides): job.run for job in jobs})

    @contextlib.contextmanager
    def _host_lock(self, sweep_id: str, arguments: list[str]) -> Iterator[None]:
        """Runs in this very process measure one after another: hold the host lock for the whole
        sweep. Jobs in processes of their own (submitit, a cluster node) take it themselves, and a
        sweeper that only submits never holds it."""
        if not self.can.in_process:
            yield
            return
        held = contextlib.ExitStack()
        try:
            held.enter_context(host_lock(f"sweep {sweep_id} (xeonsweep -m {' '.join(arguments)})",
                                         wait=self.config.lock.wait))
        except UserError as exc:
            print(f"xeonsweep: {exc}", file=sys.stderr)
            sys.exit(2)
        with held:
            yield

    def _prepare_sweep_dir(self) -> Any:
        """Only once the sweep is valid: its folder, its config, and what this machine can do."""
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        machine = doctor.examine()
        doctor.save(machine, sweep_dir)
        logging.getLogger("hydra._internal.core_plugins.basic_launcher").setLevel(logging.WARNING)
        return machine

    def _run(self, jobs: list[Job], batch_size: int, progress: Any, varying: set) -> tuple:
        """Hand the jobs to the launcher batch by batch; a batch lost with its job does not stop the rest."""
        returns, errors, lost = [], 0, 0
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start : start + batch_size]
            for offset, job in enumerate(batch):
                progress.starting(start + offset + 1, planning.describe(job.overrides, varying))
            try:
                results = self.launcher.launch([j.overrides for j in batch], initial_job_idx=start)
            except Exception as exc:  # a node died, a job was cancelled: its rows are missing, others stay
                lost += len(batch)
                progress.lost(len(batch), f"{type(exc).__name__}: {exc}")
                continue
            for offset, (job, ret) in enumerate(zip(batch, results)):
                summary, why_lost = launchers.job_result(ret)
                if summary is None:
                    lost += 1  # this job alone: the batch's other results stand
                    progress.lost(1, f"{planning.describe(job.overrides, varying) or '(defaults)'}: {why_lost}")
                    continue
                errors += summary["status"] == "error"
                progress.finished(start + offset + 1, planning.describe(job.overrides, varying), summary)
            returns.append(results)
        return returns, errors, lost

    def _run_in_blocks(self, jobs: list[Job], progress: Any, varying: set, done: int, machine: str) -> None:
        """Live workers in this process: each config set up once, then timed in interleaved blocks."""
        if not jobs:
            return
        from xeonsweep.blocks import live

        count = itertools.count(done + 1)  # after the fresh runs, whose job folders come first too
        live.measure_in_blocks(
            jobs, Path(self.config.hydra.sweep.dir), done, machine,
            finished=lambda job, summary: progress.finished(next(count), planning.describe(job.overrides, varying),
                                                            summary),
            label=lambda job: planning.describe(job.overrides, varying), status=progress.status, note=progress.note,
        )

    def job_settings(self, overrides: list[str]) -> dict:
        """A job's settings, every YAML file it is composed from checked (conf/, --config-dir, hydra.searchpath);
        a job that does not compose is refused in one line, as a single run is."""
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        from xeonsweep.config.composition import override_error
        from xeonsweep.config.yaml_keys import check_config

        try:
            cfg = self.compose(list(overrides))
        except (HydraException, OmegaConfBaseException) as exc:
            without = lambda key: self.compose([o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key])  # noqa: E731
            raise UserError(override_error(exc, without)) from None
        check_config(cfg, config_dirs_of(cfg))
        return settings.to_settings(cfg)


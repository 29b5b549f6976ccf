"""xeonsweep's Hydra sweeper: Hydra's basic sweep expansion, plus what a
benchmark sweep needs before and around the launcher.

Before any run: every job is composed and validated (one bad value stops the
sweep with one line), repeats are interleaved, and runs whose fingerprint
already has an `ok` row are dropped. Then batches go to whatever launcher is
configured (basic, submitit, ray), with progress and a summary; jobs measured
in blocks (benchmark.method=blocks under the basic launcher) go to live
workers in this process instead (xeonsweep.blocks.live).
"""


import contextlib
import itertools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from omegaconf import OmegaConf

from xeonsweep.machine import doctor

from xeonsweep.sweep import planning

from xeonsweep.config import settings
from xeonsweep.sweep.planning import runs_here
from xeonsweep.sweep.task import absolute, new_sweep_id
from xeonsweep.errors import JobLost, UserError
from xeonsweep.sweep.host_lock import host_lock
from xeonsweep.machine.facts import cpu_info

log = logging.getLogger(__name__)


@dataclass
class XeonSweeperConf:
    _target_: str = "hydra_plugins.xeonsweep_sweeper.xeonsweep_sweeper.XeonSweeper"
    # Jobs handed to the launcher at once. null: one at a time for the local
    # launcher (so runs never overlap and progress is per run), all at once otherwise.
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="xeonsweep", node=XeonSweeperConf, provider="xeonsweep")


def varying_of(plan: planning.Plan) -> set:
    return planning.varying_keys(plan.jobs + [job for job, _ in plan.merged])


class XeonSweeper(BasicSweeper):  # noqa: D101
    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        from xeonsweep.search import hook

        if hook.searching(self.config):  # search=tpe, gp, random: the search drives the measuring
            return hook.hand_over(self.config, self._settings, [*self._parse_config(), *arguments])
        local = runs_here(self.config.hydra.launcher._target_)
        store = absolute(str(self.config.results.dir))  # a bad value (null) is refused in planning
        sweep_id = self.config.get("sweep_id") or new_sweep_id()
        cpu = cpu_info()
        # Which machine the runs' rows will name: this one, or the nodes' when the sweep is told
        # (cluster.machine); unknown nodes check the store themselves.
        machine = settings.machine_label(cpu) if local else (self.config.get("cluster") or {}).get("machine")
        try:
            plan = planning.plan_sweep(self._job_overrides(arguments), self._settings, cpu, sweep_id,
                                       store if machine else None, machine)
        except UserError as exc:
            print(f"xeonsweep: {exc}", file=sys.stderr)
            sys.exit(2)
        machine = self._prepare_sweep_dir()
        note = planning.fresh_repeats_note(plan.jobs, self.config.hydra.launcher._target_)
        if note:
            print(f"xeonsweep: {note}", file=sys.stderr)
        batch_size = self.max_batch_size or (1 if local else max(len(plan.jobs), 1))
        from xeonsweep.sweep.progress import SweepProgress

        with self._host_lock(sweep_id, arguments), SweepProgress(len(plan.jobs), sweep_id, store) as progress:
            progress.machine(machine)
            fresh, in_blocks = planning.split_by_method(plan.jobs, self.config.hydra.launcher._target_)
            varying = varying_of(plan)
            returns, errors, lost = self._run(fresh, batch_size, progress, varying)
            self._run_in_blocks(in_blocks, progress, varying, len(fresh))
            progress.summary(len(plan.already_done), lost,
                             merged=[planning.describe(job.overrides, varying) for job, _ in plan.merged])
        if errors or lost:
            sys.exit(1)  # a bug (traceback above) or runs lost with their job: not a clean sweep
        return returns

    @contextlib.contextmanager
    def _host_lock(self, sweep_id: str, arguments: List[str]) -> Iterator[None]:
        """Runs in this very process measure one after another: hold the host lock for the whole
        sweep. Jobs in processes of their own (submitit, a cluster node) take it themselves, and a
        sweeper that only submits never holds it."""
        if not self.config.hydra.launcher._target_.endswith("BasicLauncher"):
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

    def _job_overrides(self, arguments: List[str]) -> List[List[str]]:
        """Every job's overrides: Hydra's basic expansion of params and command line."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        return self.split_arguments(overrides, None)[0]

    def _prepare_sweep_dir(self) -> Any:
        """Only once the sweep is valid: its folder, its config, and what this machine can do."""
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        machine = doctor.examine()
        doctor.save(machine, sweep_dir)
        logging.getLogger("hydra._internal.core_plugins.basic_launcher").setLevel(logging.WARNING)
        return machine

    def _run(self, jobs: List[planning.Job], batch_size: int, progress: Any, varying: set) -> tuple:
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
                if ret.status == JobStatus.FAILED and isinstance(ret._return_value, JobLost):
                    lost += 1  # this job alone: the batch's other results stand
                    progress.lost(1, f"{planning.describe(job.overrides, varying) or '(defaults)'}: {ret._return_value}")
                    continue
                summary = self._summary(ret)
                errors += summary["status"] == "error"
                progress.finished(start + offset + 1, planning.describe(job.overrides, varying), summary)
            returns.append(results)
        return returns, errors, lost

    def _run_in_blocks(self, jobs: List[planning.Job], progress: Any, varying: set, done: int) -> None:
        """Live workers in this process: each config set up once, then timed in interleaved blocks."""
        if not jobs:
            return
        from xeonsweep.blocks import live

        count = itertools.count(done + 1)  # after the fresh runs, whose job folders come first too
        live.measure_in_blocks(
            jobs, Path(self.config.hydra.sweep.dir), done, settings.machine_label(cpu_info()),
            finished=lambda job, summary: progress.finished(next(count), planning.describe(job.overrides, varying), summary),
            label=lambda job: planning.describe(job.overrides, varying), status=progress.status, note=progress.note,
        )

    def _settings(self, overrides: List[str]) -> dict:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        from xeonsweep.cli import config_dirs, job_composition_error
        from xeonsweep.config.yaml_keys import check_config

        try:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        except (HydraException, OmegaConfBaseException) as exc:
            raise job_composition_error(exc, list(overrides)) from None
        check_config(cfg, config_dirs(list(sys.argv[1:]) + list(overrides)))
        return settings.to_settings(cfg)

    @staticmethod
    def _summary(ret: Any) -> dict:
        if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
            return ret.return_value
        log.error("job %s raised", ret.overrides, exc_info=ret._return_value)
        return {"status": "error", "sps": None, "reason": repr(ret._return_value)}

"""xeonsweep's Hydra sweeper: Hydra's basic sweep expansion, plus what a
benchmark sweep needs before and around the launcher.

Before any run: every job is composed and validated (one bad value stops the
sweep with one line), repeats are interleaved, and runs whose fingerprint
already has an `ok` row are dropped. Then batches go to whatever launcher is
configured (basic, submitit, ray), with progress and a summary.
"""


import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from omegaconf import OmegaConf

from xeonsweep import doctor, planning, settings
from xeonsweep.planning import runs_here
from xeonsweep.app import absolute, new_sweep_id
from xeonsweep.errors import UserError
from xeonsweep.machine import cpu_info

log = logging.getLogger(__name__)


@dataclass
class XeonSweeperConf:
    _target_: str = "hydra_plugins.xeonsweep_sweeper.xeonsweep_sweeper.XeonSweeper"
    # Jobs handed to the launcher at once. null: one at a time for the local
    # launcher (so runs never overlap and progress is per run), all at once otherwise.
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="xeonsweep", node=XeonSweeperConf, provider="xeonsweep")


class XeonSweeper(BasicSweeper):  # noqa: D101
    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        local = runs_here(self.config.hydra.launcher._target_)
        store = absolute(self.config.results.dir)
        sweep_id = self.config.get("sweep_id") or new_sweep_id()
        try:
            plan = planning.plan_sweep(self._job_overrides(arguments), self._settings, cpu_info(), sweep_id,
                                       store if local else None)
        except UserError as exc:
            print(f"xeonsweep: {exc}", file=sys.stderr)
            sys.exit(2)
        if plan.same_as_another:
            print(f"xeonsweep: {len(plan.same_as_another)} config(s) differ from another only in settings that do not "
                  "apply to their model (recorded in the not_applicable column): each runs once")
        machine = self._prepare_sweep_dir()
        batch_size = self.max_batch_size or (1 if local else max(len(plan.jobs), 1))
        from xeonsweep.progress import SweepProgress

        with SweepProgress(len(plan.jobs), sweep_id, store) as progress:
            progress.machine(machine)
            returns, errors, lost = self._run(plan, batch_size, progress)
            progress.summary(len(plan.already_done), lost)
        if errors or lost:
            sys.exit(1)  # a bug (traceback above) or runs lost with their job: not a clean sweep
        return returns

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

    def _run(self, plan: planning.Plan, batch_size: int, progress: Any) -> tuple:
        """Hand the jobs to the launcher batch by batch; a batch lost with its job does not stop the rest."""
        varying = planning.varying_keys(plan.jobs)
        returns, errors, lost = [], 0, 0
        for start in range(0, len(plan.jobs), batch_size):
            batch = plan.jobs[start : start + batch_size]
            for offset, job in enumerate(batch):
                progress.starting(start + offset + 1, planning.describe(job.overrides, varying))
            try:
                results = self.launcher.launch([j.overrides for j in batch], initial_job_idx=start)
            except Exception as exc:  # a node died, a job was cancelled: its rows are missing, others stay
                lost += len(batch)
                progress.lost(len(batch), f"{type(exc).__name__}: {exc}")
                continue
            for offset, (job, ret) in enumerate(zip(batch, results)):
                summary = self._summary(ret)
                errors += summary["status"] == "error"
                progress.finished(start + offset + 1, planning.describe(job.overrides, varying), summary)
            returns.append(results)
        return returns, errors, lost

    def _settings(self, overrides: List[str]) -> dict:
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        return settings.to_settings(cfg)

    @staticmethod
    def _summary(ret: Any) -> dict:
        if ret.status == JobStatus.COMPLETED and isinstance(ret.return_value, dict):
            return ret.return_value
        log.error("job %s raised", ret.overrides, exc_info=ret._return_value)
        return {"status": "error", "sps": None, "reason": repr(ret._return_value)}

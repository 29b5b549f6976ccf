"""hydra-ray-launcher's local `ray` launcher, with each job's result collected on its own.

The stock launcher ends with one `ray.get` per job in a single list comprehension, so the
first job lost with its node (WorkerCrashedError, NodeDiedError, ...) raises out of
launch() and the whole batch counts as lost; here a lost job becomes a FAILED JobReturn
holding `JobLost`, and the other jobs' results stand. Jobs are submitted exactly as the
stock launcher submits them (hydra_ray_launcher/_core.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_ray_launcher import ray_launcher as stock

from xeonsweep.errors import JobLost

log = logging.getLogger(__name__)

# What the stock launcher gives Ray when the config sets nothing (too little memory in CI otherwise).
STOCK_OBJECT_STORE_MEMORY = 78643200


class RayLauncher(stock.RayLauncher):
    runs_here = False  # jobs run on the Ray cluster's nodes (xeonsweep.sweep.launchers)
    in_process = False

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        refs = self._submit(job_overrides, initial_job_idx)
        return [collect(ref, idx, overrides)
                for idx, (ref, overrides) in enumerate(zip(refs, job_overrides), start=initial_job_idx)]

    def _submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
        """Start every job on Ray; their object refs, in order."""
        from hydra.core.singleton import Singleton
        from hydra.core.utils import configure_log, setup_globals
        from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray, start_ray
        from omegaconf import open_dict

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info(f"Ray Launcher is launching {len(job_overrides)} jobs, sweep output dir: {sweep_dir}")
        self.ray_cfg.init.setdefault("object_store_memory", STOCK_OBJECT_STORE_MEMORY)
        start_ray(self.ray_cfg.init)
        refs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job_id_for_{idx}"  # the node has no scheduler's id to give
                sweep_config.hydra.job.num = idx
                refs.append(launch_job_on_ray(self.hydra_context, self.ray_cfg.remote, sweep_config,
                                              self.task_function, Singleton.get_state()))
        return refs


def collect(ref: Any, idx: int, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn; a job that ended without a result gives a FAILED one holding JobLost."""
    import ray

    try:
        return ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - whatever ended the job, it loses only its own run
        first_line = (str(exc).strip().splitlines() or [""])[0]
        lost = JobLost(f"Ray job #{idx} ended without a result: {type(exc).__name__}: {first_line}")
        log.warning("%s", lost)
        return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=lost)

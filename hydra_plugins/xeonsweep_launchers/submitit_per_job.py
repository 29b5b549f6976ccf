"""hydra-submitit-launcher's launchers, with a sweep's jobs submitted in arrays of at most
`cluster.max_array_size` (Slurm's MaxArraySize) and their results collected job by job.

The stock launcher collects a batch's results all at once, so one job lost with its node
makes the whole batch count as lost; here a lost job becomes a FAILED JobReturn holding
`JobLost`, and the other jobs' results stand. On a Slurm without accounting (sacct
answers "accounting storage is disabled", as on a single-node test cluster), job states
come from squeue, which knows finished jobs for MinJobAge seconds.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher import submitit_launcher as stock

from xeonsweep.config import settings
from xeonsweep.errors import JobLost

log = logging.getLogger(__name__)

DEFAULT_MAX_ARRAY_SIZE = 1000


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class PerJobMixin:
    """launch() of the stock launcher, with chunked arrays and per-job results."""

    def _max_array_size(self) -> int:
        """cluster.max_array_size, checked (as the sweep's planning did) before anything is submitted."""
        cluster = self.config.get("cluster") if self.config is not None else None
        settings.check_cluster(cluster)
        return int((cluster or {}).get("max_array_size", DEFAULT_MAX_ARRAY_SIZE))

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit
        from hydra.core.singleton import Singleton
        from hydra.core.utils import filter_overrides
        from omegaconf import OmegaConf

        assert self.config is not None and len(job_overrides) > 0
        # The executor and its parameters exactly as the stock launcher builds them.
        init_keys = {"max_num_timeout", "submitit_folder"}
        init_params = {"folder": self.params["submitit_folder"]}
        if "max_num_timeout" in self.params:
            init_params[f"{self._EXECUTOR}_max_num_timeout"] = self.params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        baseparams = set(OmegaConf.structured(stock.BaseQueueConf).keys())
        executor.update_parameters(**{
            k if k in baseparams else f"{self._EXECUTOR}_{k}": v for k, v in self.params.items() if k not in init_keys
        })
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        job_params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        jobs = []
        for chunk in chunks(job_params, self._max_array_size()):  # one array per chunk
            jobs += executor.map_array(self, *zip(*chunk))
        return [collect(job, params[0]) for job, params in zip(jobs, job_params)]


def collect(job: Any, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn; a job that ended without a result gives a FAILED one holding JobLost."""
    try:
        return job.results()[0]
    except Exception as exc:  # noqa: BLE001 - whatever ended the job, it loses only its own run
        first_line = (str(exc).strip().splitlines() or [""])[0]
        lost = JobLost(f"job {job.job_id} ended without a result (state {_state(job)}): "
                       f"{type(exc).__name__}: {first_line}")
        log.warning("%s", lost)
        return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=lost)


def _state(job: Any) -> str:
    try:
        return job.state
    except Exception:  # noqa: BLE001 - the state is only for the message
        return "UNKNOWN"


class LocalLauncher(PerJobMixin, stock.LocalLauncher):
    # What the sweep needs to know (xeonsweep.sweep.launchers): jobs run on this machine, one at a
    # time, each in a process of its own.
    runs_here = True
    in_process = False


class SlurmLauncher(PerJobMixin, stock.SlurmLauncher):
    runs_here = False  # jobs run on the cluster's nodes
    in_process = False

    def setup(self, **kwargs: Any) -> None:
        """Before anything is submitted: with no Slurm to answer, every run would end "lost with its job"."""
        super().setup(**kwargs)
        problem = slurm_unreachable()
        if problem:
            print(f"xeonsweep: cluster=slurm: {problem}; valid: a host that submits to a running Slurm, "
                  "or cluster=local", file=sys.stderr)
            sys.exit(2)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        if not accounting_enabled():
            use_squeue_for_states()
        return super().launch(job_overrides, initial_job_idx)


SLURM_COMMANDS = ("sbatch", "srun", "scontrol")  # submitit submits with sbatch and looks for srun
PING_TIMEOUT_S = 15


def slurm_unreachable() -> str | None:
    """Why this host cannot submit to Slurm (its commands missing, its controller not answering), or None."""
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        return f"no Slurm commands here ({', '.join(missing)} not on PATH)"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=PING_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"Slurm's controller did not answer `scontrol ping` within {PING_TIMEOUT_S} s"
    except OSError as exc:
        return f"scontrol ping could not start: {exc}"
    if "is UP" not in ping.stdout:
        said = " ".join((ping.stdout + ping.stderr).split()) or f"exit status {ping.returncode}"
        return f"Slurm's controller is not up (scontrol ping: {said})"
    return None


@functools.cache
def accounting_enabled() -> bool:
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "AccountingStorageType":
            return value.strip() != "accounting_storage/none"
    return True


def use_squeue_for_states() -> None:
    """Job states from squeue instead of sacct (a Slurm without accounting)."""
    from submitit.slurm import slurm

    slurm.SlurmJob.watcher.__class__ = SqueueInfoWatcher


try:
    from submitit.slurm.slurm import SlurmInfoWatcher
except ImportError:  # pragma: no cover - submitit is part of the cluster extra
    SlurmInfoWatcher = object  # type: ignore[assignment,misc]


class SqueueInfoWatcher(SlurmInfoWatcher):  # type: ignore[misc,valid-type]
    def _make_command(self) -> Any:
        command = super()._make_command()
        if command is None:
            return None
        ids = [command[i + 1] for i, arg in enumerate(command) if arg == "-j"]
        return ["squeue", "--states=all", "--noheader", "--array", "-o", "%i|%T|%N", "-j", ",".join(ids)]

    def read_info(self, string: Any) -> dict:
        if not isinstance(string, str):
            string = string.decode()
        return super().read_info("JobID|State|NodeList\n" + string)

"""Sweeps through cluster engines: Submitit's local executor and a local Ray
cluster run for real (Slurm for real: tests/test_slurm.py). The sbatch scripts
are also generated from the config by Submitit itself and checked here, with
sbatch faked, as unit tests."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST, ROOT, compose
from tests.test_failures import wait_for_rows

pytestmark = pytest.mark.slow


def test_submitit_local_sweep(sweep):
    result = sweep("-m", "cluster=local", "batch_size=1,2", *FAST)
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(sweep.store)
    assert sorted(frame["batch_size"]) == [1, 2] and set(frame["status"]) == {"ok"}
    assert (sweep.tmp / "sweep" / ".submitit").is_dir()  # the runs really went through Submitit


def submitit_jobs(tmp: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"submitit.*{tmp}"], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_a_node_that_dies_loses_only_its_run(sweep):
    args = ["-m", "cluster=local", "batch_size=1,2,3", *FAST[:-1], "benchmark.min_duration_s=4"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_rows(sweep.store, 1, proc)
    deadline = time.monotonic() + 60
    while not submitit_jobs(sweep.tmp) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the second run is measuring
    for pid in submitit_jobs(sweep.tmp):
        os.kill(pid, signal.SIGKILL)  # the "node" dies
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "lost with their job" in err
    first = pd.read_parquet(sweep.store)
    assert set(first["status"]) == {"ok"} and len(first) == 2  # the runs before and after it are intact

    again = sweep(*args)
    assert again.returncode == 0, again.stderr
    assert "2 already in the store" in again.stderr
    final = pd.read_parquet(sweep.store)
    assert sorted(final["batch_size"]) == [1, 2, 3] and final["run_key"].nunique() == 3


def test_a_job_lost_in_a_batch_loses_only_its_run(sweep):
    """Three jobs handed to the launcher at once; one is killed: the other two results stand."""
    args = ["-m", "cluster=local", "hydra.sweeper.max_batch_size=3", "batch_size=1,2,3", *FAST[:-1],
            "benchmark.min_duration_s=6"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(submitit_jobs(sweep.tmp)) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.2)
    time.sleep(2)
    import psutil

    jobs = submitit_jobs(sweep.tmp)
    victim = psutil.Process(next(p for p in jobs if psutil.Process(p).ppid() not in jobs))
    for process in [victim, *victim.children(recursive=True)]:  # one "node" dies, with all it runs
        process.kill()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err[-3000:]
    assert "lost 1 run(s) with their job" in err and "2 ok, 1 lost with their job" in err, err[-3000:]
    frame = pd.read_parquet(sweep.store)
    assert len(frame) == 2 and set(frame["status"]) == {"ok"}


RAY_PORT = 26379  # loopback only: the test cluster never leaves this machine


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster for this module's Ray tests (each sweep is a Ray job of its own)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Ray turns token authentication on when ~/.ray/auth_token exists (left by any earlier
        # `ray` command on the machine) and the sweep's client then fails to authenticate: this
        # loopback-only test cluster runs without it, for the cluster and the sweep alike.
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        ray = str(Path(sys.executable).parent / "ray")
        temp = Path("/tmp") / f"ray-{os.getpid()}"  # Ray's socket paths must stay short
        started = subprocess.run(
            [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={RAY_PORT}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
            capture_output=True, text=True, timeout=180,
        )
        assert started.returncode == 0, started.stderr
        yield
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_cluster_sweep(sweep, ray_cluster):
    result = sweep("-m", "cluster=ray", f"hydra.launcher.ray.init.address=127.0.0.1:{RAY_PORT}",
                   "batch_size=1,2", *FAST, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_parquet(sweep.store)
    assert sorted(frame["batch_size"]) == [1, 2] and set(frame["status"]) == {"ok"}, frame["reason"].tolist()
    assert frame["hostname"].notna().all()
    # each run still went through xeonsweep's own child launch, with its environment
    assert all(Path(i).parent == Path(sys.executable).parent for i in frame["interpreter"])
    assert (frame["applied_allocator"] == "system").all() and frame["torch_threads"].notna().all()


def test_a_ray_job_lost_with_its_worker_loses_only_its_run(sweep, ray_cluster):
    """Three jobs handed to Ray at once; the middle one's Ray worker process exits during its
    task (tests/lost_jobs.py), as when its node dies: the other two rows stand."""
    result = sweep("-m", "cluster=ray", f"hydra.launcher.ray.init.address=127.0.0.1:{RAY_PORT}",
                   "batch_size=1,2,3", *FAST,
                   "+hydra.callbacks.lose._target_=tests.lost_jobs.LoseJob", "+hydra.callbacks.lose.batch_size=2",
                   timeout=900)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "lost 1 run(s) with their job: batch_size=2: Ray job #1 ended without a result: WorkerCrashedError" \
        in " ".join(result.stderr.split()), result.stderr[-3000:]
    assert "2 ok, 1 lost with their job" in result.stderr, result.stderr[-3000:]
    frame = pd.read_parquet(sweep.store)
    assert sorted(frame["batch_size"]) == [1, 3] and set(frame["status"]) == {"ok"}, frame["reason"].tolist()


def test_a_search_on_ray_runs_each_batch_as_jobs_and_run_again_measures_nothing_new(sweep, ray_cluster):
    """search=tpe with cluster=ray: each batch's candidates are Ray jobs (fresh runs, each under the node's
    host lock: lock.wait=false would fail a run if the submitting search held it), rows carry the search and
    its trials, the study is beside the store, and the same command again measures nothing."""
    args = ["-m", "search=tpe", "cluster=ray", f"hydra.launcher.ray.init.address=127.0.0.1:{RAY_PORT}", *FAST,
            "batch_size=choice(1,2,4)", "search.n_trials=3", "search.batch=2", "lock.wait=false"]
    result = sweep(*args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    frame = pd.read_parquet(sweep.store)
    assert set(frame["status"]) == {"ok"}, frame["reason"].tolist()
    assert sorted(frame["batch_size"]) == [1, 2, 4] and frame["config_hash"].nunique() == 3
    assert set(frame["measurement"]) == {"fresh"} and frame["search_id"].nunique() == 1
    assert frame["trial"].notna().all() and frame["trial"].nunique() == 3
    assert frame["sweep_id"].nunique() == 2  # two batches: 2 candidates, then 1
    reference = frame[frame["measure_reference"].fillna(False).astype(bool)]
    assert list(reference["batch_size"]) == [1]  # the baseline, the first batch's only
    assert "batch 2 (search.batch=2)" in result.stderr and "best feasible: batch_size=" in result.stdout
    search_id = frame["search_id"].iloc[0]
    assert (sweep.store / "_search" / f"{search_id}.journal").stat().st_size > 0

    again = sweep(*args, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "search.n_trials=3 configs measured" in again.stderr
    assert len(pd.read_parquet(sweep.store)) == len(frame)


def test_slurm_submission_from_the_config(tmp_path, monkeypatch):
    """Compose cluster=slurm, let the real launcher build and write its sbatch
    script; only Slurm itself (srun's presence, the call to sbatch) is faked."""
    import submitit.slurm.slurm as slurm
    from hydra.utils import instantiate

    scripts = []

    def no_sbatch(self, command):  # instead of writing the script and calling sbatch on it
        scripts.append(self._make_submission_file_text(command, "test"))
        raise RuntimeError("stop here: no Slurm on this machine")

    monkeypatch.setattr(slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # "srun is here"
    monkeypatch.setattr(slurm.SlurmExecutor, "_submit_command", no_sbatch)
    overrides = ["cluster=slurm", "hydra.launcher.partition=cpu-spr", "hydra.launcher.constraint=sapphirerapids",
                 "hydra.launcher.timeout_min=45", f"hydra.sweep.dir={tmp_path}/sweep"]
    cfg = compose(*overrides)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    with pytest.raises(RuntimeError, match="no Slurm"):
        launcher.launch([["model=tiny", "batch_size=1"], ["model=tiny", "batch_size=8"]], initial_job_idx=0)
    script = scripts[0]
    for line in ("#SBATCH --partition=cpu-spr", "#SBATCH --constraint=sapphirerapids", "#SBATCH --exclusive",
                 "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1", "#SBATCH --time=45", "#SBATCH --array=0-1",
                 "#SBATCH --job-name=xeonsweep"):
        assert line in script, script


def test_slurm_arrays_are_submitted_in_chunks_of_max_array_size(tmp_path, monkeypatch):
    """Five jobs with cluster.max_array_size=2: arrays of 2, 2 and a single job (sbatch faked)."""
    import submitit.slurm.slurm as slurm
    from hydra.utils import instantiate

    scripts = []

    def fake_sbatch(self, command):
        scripts.append(self._make_submission_file_text(command, "test"))
        if len(scripts) == 3:
            raise RuntimeError("stop here: no Slurm in this test")
        return slurm.SlurmJob(folder=self.folder, job_id=str(100 + len(scripts)))

    monkeypatch.setattr(slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    monkeypatch.setattr(slurm.SlurmExecutor, "_submit_command", fake_sbatch)
    cfg = compose("cluster=slurm", "cluster.max_array_size=2", f"hydra.sweep.dir={tmp_path}/sweep")
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    with pytest.raises(RuntimeError, match="no Slurm"):
        launcher.launch([["model=tiny", f"batch_size={b}"] for b in range(1, 6)], initial_job_idx=0)
    assert ["#SBATCH --array=0-1" in s for s in scripts] == [True, True, False]
    assert "#SBATCH --array" not in scripts[2]


def test_a_cluster_sweep_told_the_nodes_machine_skips_runs_done_there(tmp_path, compose_run):
    """cluster.machine: the submitting host computes the nodes' run keys and submits only what is missing."""
    import copy

    from xeonsweep.config import settings
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.store import results
    from xeonsweep.sweep import planning

    run = compose_run("model=tiny")
    nodes = "Intel(R) Xeon(R) Platinum 8488C (48 cores)"
    store = tmp_path / "results"
    results.write_row({"run_key": settings.run_key({**run, "repeat": 0}, nodes), "status": "ok"}, store, "earlier")

    def plan(machine):
        return planning.plan_sweep([["model=tiny"]], lambda _: copy.deepcopy(run), cpu_info(), "now", str(store),
                                   machine)

    told = plan(nodes)
    assert len(told.already_done) == 1 and told.jobs == []
    here = plan(None)  # this host's machine: nothing done on it yet
    assert len(here.jobs) == 1 and here.already_done == []

"""cluster=slurm for real: a single-node Slurm on this machine (scripts/slurm-local.sh: Debian's
munge, slurmctld and slurmd on localhost), sweeps submitted through it, rows checked."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT
from xeonsweep.config.settings import machine_label
from xeonsweep.machine.facts import cpu_info

pytestmark = pytest.mark.slow

SLURM_DIR = Path("/tmp/xeonsweep-slurm-test")
# Not Slurm's default ports, so a real Slurm on this machine is left alone.
PORTS = {"XEONSWEEP_SLURMCTLD_PORT": "16817", "XEONSWEEP_SLURMD_PORT": "16818"}
SCRIPT = ROOT / "scripts" / "slurm-local.sh"


def slurm_up(env: dict) -> bool:
    try:
        ping = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in ping.stdout


@pytest.fixture(scope="module")
def slurm():
    """SLURM_CONF of a running single-node Slurm: reused if up, else started (and stopped after)."""
    env = {**os.environ, **PORTS, "SLURM_CONF": str(SLURM_DIR / "slurm.conf")}
    reused = (SLURM_DIR / "slurm.conf").exists() and slurm_up(env)
    if not reused:
        started = subprocess.run([str(SCRIPT), "start", str(SLURM_DIR)], env=env, capture_output=True,
                                 text=True, timeout=900)
        if started.returncode != 0:
            subprocess.run([str(SCRIPT), "stop", str(SLURM_DIR)], env=env, capture_output=True, timeout=120)
            reason = (started.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"\nSlurm could not start: {reason}")
            pytest.skip(f"a single-node Slurm could not start here: {reason}")
    yield env["SLURM_CONF"]
    if not reused:
        subprocess.run([str(SCRIPT), "stop", str(SLURM_DIR)], env=env, capture_output=True, timeout=120)


def array_jobs(sweep_dir: Path) -> set[str]:
    """Slurm array job ids the sweep submitted (submitit's folders are named <array>_<task>)."""
    folders = (sweep_dir / ".submitit").iterdir() if (sweep_dir / ".submitit").is_dir() else []
    return {f.name.split("_")[0] for f in folders if "_" in f.name}


def test_a_slurm_sweep_runs_in_arrays_under_max_array_size_and_resumes(sweep, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm)
    args = ["-m", "cluster=slurm", "batch_size=1,2,3", "cluster.max_array_size=2", *FAST]
    first = sweep(*args, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    frame = sweep.rows()
    assert sorted(frame["batch_size"]) == [1, 2, 3] and set(frame["status"]) == {"ok"}, frame["reason"].tolist()
    assert (frame["sps"] > 0).all() and frame["hostname"].notna().all()
    assert len(array_jobs(sweep.tmp / "sweep")) == 2  # 3 jobs in arrays of at most 2: two submissions

    # The nodes' machine is known: the submitting host skips their done runs, submits nothing.
    label = machine_label(cpu_info())
    again = sweep(*args, f'cluster.machine="{label}"', timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "3 already in the store" in again.stderr
    assert len(array_jobs(sweep.tmp / "sweep")) == 2 and len(sweep.rows()) == 3


def running_tasks(env_conf: str) -> list[str]:
    out = subprocess.run(["squeue", "--noheader", "--states=RUNNING", "-o", "%i"], capture_output=True, text=True,
                         env={**os.environ, "SLURM_CONF": env_conf}).stdout
    return out.split()


def test_a_cancelled_slurm_job_loses_only_its_run(sweep, slurm, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm)
    args = ["-m", "cluster=slurm", "batch_size=1,2,3", *FAST[:-1], "benchmark.min_duration_s=6"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not running_tasks(slurm) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.5)
    victim = running_tasks(slurm)[0]
    # "Its node died": SIGKILL at once. A plain scancel sends SIGTERM, which submitit's job ignores ("Bypassing
    # signal SIGTERM") until Slurm's KillWait (30 s) ends in SIGKILL: a run that finishes within it comes back ok.
    subprocess.run(["scancel", "--signal=KILL", victim], env={**os.environ, "SLURM_CONF": slurm}, check=True)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 1, err[-3000:]
    assert "lost 1 run(s) with their job" in err and "1 lost with their job" in err, err[-3000:]
    frame = sweep.rows()
    assert len(frame) == 2 and set(frame["status"]) == {"ok"}

"""A run that crashes, hangs or is killed becomes a row with its reason; a killed
sweep loses nothing already written and resumes where it stopped."""

import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.conftest import FAST, FAULTS, ROOT

pytestmark = pytest.mark.slow


def test_crashes_become_rows_and_the_sweep_goes_on(sweep):
    result = sweep("-m", "model=killed,segfault,broken,tiny", *FAST[1:], faults=True)
    assert result.returncode == 0, result.stderr
    assert "4 runs: 1 ok, 3 failed" in result.stderr
    frame = sweep.rows().set_index("model")
    assert frame.loc["tiny", "status"] == "ok"
    assert frame.loc["killed", "status"] == "failed"
    assert "killed by SIGKILL (out of memory, or killed from outside)" in frame.loc["killed", "reason"]
    assert "killed by SIGSEGV" in frame.loc["segfault", "reason"]
    assert "RuntimeError: this model cannot be built" in frame.loc["broken", "reason"]
    assert frame.loc[["killed", "segfault", "broken"], "sps"].isna().all()


def test_crash_under_run_cpu_is_named(sweep):
    result = sweep("model=segfault", "runtime=run_cpu", *FAST[1:], faults=True)
    assert result.returncode == 1, result.stderr  # a single run that failed is a failed command
    row = sweep.rows().iloc[0]
    assert row["status"] == "failed" and "killed by SIGSEGV" in row["reason"]


def test_timeout_kills_the_whole_process_group(sweep):
    started = time.monotonic()
    result = sweep("model=hang", "runtime=run_cpu", "benchmark.timeout_s=8", *FAST[1:], faults=True)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 60
    row = sweep.rows().iloc[0]
    assert row["status"] == "timeout"
    assert "exceeded timeout_s=8; the child and its instances killed" in row["reason"]
    leftovers = subprocess.run(["pgrep", "-f", str(sweep.tmp)], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""


def processes_mentioning(text: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if text in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_timeout_kills_every_instance_while_the_parent_lives(tmp_path, cache_dir, compose_run):
    """run_cpu's instances run in sessions of their own: a process-group kill misses them.
    This instance also ignores SIGTERM and has no parent-death signal, so only a kill of
    the whole tree, checked here while the parent (this test) is still alive, stops it."""
    from xeonsweep.config.run import Run
    from xeonsweep.launch import child as launch
    from xeonsweep.machine.facts import cpu_info

    run = compose_run("model=hang_alone", "runtime=run_cpu", f"cache.dir={cache_dir}", *FAST[1:], searchpath=FAULTS)
    run["sweep_id"] = "timeout-test"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    outcome = launch.execute(Run.from_settings(run, cpu_info()), run_dir, str(cache_dir), timeout_s=6)
    left = processes_mentioning(str(run_dir))
    for proc in left:
        proc.kill()  # do not leave a hung instance behind, whatever the result
    assert outcome.status == "timeout"
    assert left == [], [p.info["cmdline"] for p in left]


def wait_for_rows(store, count, proc, limit_s=300):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if store.exists() and len([p for p in store.rglob("*.parquet") if not p.name.startswith(".")]) >= count:
            return
        assert proc.poll() is None, "sweep ended before it could be killed"
        time.sleep(0.2)
    raise AssertionError("no row appeared in time")


def test_kill_9_of_the_sweep_loses_nothing_and_resumes(sweep):
    args = ["-m", "batch_size=1,2,3", *FAST[:-1], "benchmark.min_duration_s=1.5"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_rows(sweep.store, 1, proc)
    time.sleep(2.5)  # the second run is now under way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1)

    done = pd.read_parquet(sweep.store)
    assert 1 <= len(done) < 3 and set(done["status"]) == {"ok"}
    assert not [p for p in sweep.store.rglob("*") if p.name.startswith(".tmp")]
    leftovers = subprocess.run(["pgrep", "-f", str(sweep.tmp)], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", "a child outlived the killed sweep"

    resumed = sweep(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done)} already in the store" in resumed.stderr
    final = pd.read_parquet(sweep.store)
    assert len(final) == 3 and final["run_key"].nunique() == 3
    assert sorted(final["batch_size"]) == [1, 2, 3]

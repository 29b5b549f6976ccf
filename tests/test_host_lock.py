"""The host lock: one measurement at a time on a machine, with real processes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from xeonsweep import host_lock
from xeonsweep.errors import UserError
from tests.conftest import ROOT

HOLD = """
import sys, time
from xeonsweep.host_lock import host_lock
with host_lock(sys.argv[1], wait=sys.argv[2] == "wait"):
    print("held", time.time(), flush=True)
    time.sleep(float(sys.argv[3]))
    print("released", time.time(), flush=True)
"""


@pytest.fixture
def lock_file(tmp_path, monkeypatch):
    path = tmp_path / "host.lock"
    monkeypatch.setenv(host_lock.ENV_PATH, str(path))
    return path


def holder(owner: str, seconds: float, wait: bool = True) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, owner, "wait" if wait else "no", str(seconds)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_held(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line.startswith("held"), line + proc.stderr.read()


def test_no_wait_fails_at_once_naming_the_holder(lock_file):
    first = holder("sweep-A", 30)
    wait_until_held(first)
    try:
        started = time.monotonic()
        with pytest.raises(UserError) as error:
            with host_lock.host_lock("sweep-B", wait=False):
                pass
        assert time.monotonic() - started < 5
        message = str(error.value)
        assert "\n" not in message
        assert f"held by sweep-A (pid {first.pid} on " in message and "since " in message and "lock.wait=true" in message
    finally:
        first.kill()
        first.wait()


def test_a_waiter_says_who_holds_the_lock_and_runs_after_it(lock_file):
    first = holder("sweep-A", 2)
    wait_until_held(first)
    second = holder("sweep-B", 0)
    out, err = second.communicate(timeout=60)
    first_out, _ = first.communicate(timeout=60)
    released = float(first_out.split()[-1])
    got = float(out.split()[1])
    assert got >= released
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "waiting for the host lock" in lines[0] and "held by sweep-A" in lines[0], err


def test_a_lock_whose_holder_was_killed_is_taken_over(lock_file):
    first = holder("sweep-A", 300)
    wait_until_held(first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert host_lock.read_holder()["owner"] == "sweep-A"  # left behind by the dead holder ...
    with host_lock.host_lock("sweep-B", wait=False):
        assert host_lock.read_holder()["owner"] == "sweep-B"
        assert host_lock.held_here()
    assert not host_lock.held_here() and host_lock.read_holder() is None


def test_a_stale_record_is_not_believed(lock_file):
    """A holder that took the lock but has not written its record is not named after a dead sweep."""
    first = holder("sweep-A", 300)
    wait_until_held(first)
    record = host_lock.read_holder()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    import fcntl

    fd = os.open(lock_file, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a holder without a record; the dead sweep's record is still there
    host_lock.holder_path(lock_file).write_text(__import__("json").dumps(record))
    try:
        assert "sweep-A" not in host_lock.describe_holder(lock_file)
        assert str(os.getpid()) in host_lock.describe_holder(lock_file)
    finally:
        os.close(fd)


def test_nested_holds_in_one_process_share_the_lock(lock_file):
    with host_lock.host_lock("sweep"):
        with host_lock.host_lock("its run", wait=False):
            assert host_lock.read_holder()["owner"] == "sweep"
        assert host_lock.held_here()
    assert not host_lock.held_here()


@pytest.mark.slow
def test_two_sweeps_started_together_never_measure_at_the_same_time(tmp_path, cache_dir, lock_file):
    from tests.conftest import FAST, Sweep

    sweeps = [Sweep(tmp_path / name, cache_dir) for name in ("a", "b")]
    procs = [subprocess.Popen(s.argv("-m", *FAST, "batch_size=1,2"), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in sweeps]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    frames = [s.rows() for s in sweeps]
    assert all(len(f) == 2 and (f["status"] == "ok").all() for f in frames)
    windows = [[(r.started_at, r.finished_at) for r in f.itertuples()] for f in frames]
    for start_a, end_a in windows[0]:
        for start_b, end_b in windows[1]:
            assert end_a <= start_b or end_b <= start_a, (windows, outputs)
    waited = [i for i, (_, err) in enumerate(outputs) if "waiting for the host lock" in err]
    assert len(waited) == 1, outputs
    holder_id = frames[1 - waited[0]]["sweep_id"].iloc[0]
    line = next(l for l in outputs[waited[0]][1].splitlines() if "waiting for the host lock" in l)
    assert f"held by sweep {holder_id} " in line and "since " in line


@pytest.mark.slow
def test_a_single_run_that_must_not_wait_fails_in_one_line_then_takes_over_a_dead_holder(sweep, lock_file):
    from tests.conftest import FAST

    first = holder("sweep-A", 300)
    wait_until_held(first)
    refused = sweep(*FAST, "lock.wait=false")
    assert refused.returncode == 2
    lines = [l for l in refused.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "held by sweep-A" in lines[0], refused.stderr
    assert sweep.rows().empty
    os.kill(first.pid, signal.SIGKILL)  # its record stays behind; the kernel dropped its lock
    first.wait()
    taken = sweep(*FAST, "lock.wait=false")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert list(sweep.rows()["status"]) == ["ok"]


@pytest.mark.slow
def test_two_live_worker_sweeps_started_together_never_have_overlapping_blocks(tmp_path, cache_dir, lock_file):
    import pandas as pd

    from tests.conftest import Sweep

    blocks = ["model=tiny", "benchmark.method=blocks", "benchmark.block_s=0.1",
              "benchmark.block_warmup_s=0.02", "benchmark.min_rounds=2", "benchmark.budget_s=0"]
    sweeps = [Sweep(tmp_path / name, cache_dir) for name in ("a", "b")]
    procs = [subprocess.Popen(s.argv("-m", *blocks), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in sweeps]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    frames = [pd.read_parquet(s.store) for s in sweeps]
    for frame in frames:
        assert len(frame) == 1 and (frame["status"] == "ok").all() and (frame["measurement"] == "blocks").all()
    spans = [[(s, e) for _, row in frame.iterrows() for s, e in zip(row["block_start_unix_s"], row["block_end_unix_s"])]
             for frame in frames]
    assert all(len(s) == 2 for s in spans)  # two rounds each
    for start_a, end_a in spans[0]:
        for start_b, end_b in spans[1]:
            assert end_a <= start_b or end_b <= start_a, spans
    waited = [i for i, (_, err) in enumerate(outputs) if "waiting for the host lock" in err]
    assert len(waited) == 1, outputs
    first, second = frames[1 - waited[0]], frames[waited[0]]
    # The second set its children up only once the first sweep was over, blocks and all.
    assert second["started_at"].min() >= first["finished_at"].max()
    assert min(s for s, _ in spans[waited[0]]) >= max(e for _, e in spans[1 - waited[0]])

"""The host lock: one measurement at a time on a machine, with real processes."""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pytest

from tests.conftest import ROOT
from xeonsweep.errors import UserError
from xeonsweep.sweep import host_lock

HOLD = """
import sys, time
from xeonsweep.sweep.host_lock import host_lock
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


@pytest.mark.slow
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
        assert (f"held by sweep-A (pid {first.pid} on " in message and "since " in message
                and "lock.wait=true" in message)
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
def test_a_waiter_says_who_holds_the_lock_and_runs_after_it(lock_file):
    first = holder("sweep-A", 2)
    wait_until_held(first)
    second = holder("sweep-B", 0)
    out, err = second.communicate(timeout=60)
    first_out, _ = first.communicate(timeout=60)
    released = float(first_out.split()[-1])
    got = float(out.split()[1])
    assert got >= released
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "waiting for the host lock" in lines[0] and "held by sweep-A" in lines[0], err


@pytest.mark.slow
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


@pytest.mark.slow
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
    lock_file.write_text(__import__("json").dumps(record))
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


class AsNobody:
    """A forked child that takes the lock as user `nobody` (permission bits do not stop root)."""

    def __init__(self, owner: str, seconds: float, wait: bool = True) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            self._child(out_w, err_w, owner, seconds, wait)
        os.close(out_w)
        os.close(err_w)
        self.stdout, self.stderr = os.fdopen(out_r), os.fdopen(err_r)
        self.returncode: int | None = None

    @staticmethod
    def _child(out_w: int, err_w: int, owner: str, seconds: float, wait: bool) -> None:
        code = 1
        try:
            nobody = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            sys.stdout, sys.stderr = os.fdopen(out_w, "w", buffering=1), os.fdopen(err_w, "w", buffering=1)
            with host_lock.host_lock(owner, wait=wait):
                print("held", time.time(), flush=True)
                time.sleep(seconds)
                print("released", time.time(), flush=True)
            code = 0
        except UserError as exc:
            print(f"xeonsweep: {exc}", file=sys.stderr, flush=True)
            code = 2
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)

    def communicate(self, timeout: float = 60) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while (done := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the child running as nobody did not finish")
            time.sleep(0.05)
        self.returncode = os.waitstatus_to_exitcode(done[1])
        return self.stdout.read(), self.stderr.read()

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


@pytest.fixture
def shared_lock(monkeypatch):
    """A lock path another user can reach (pytest's tmp_path is root's alone); its folder not made yet."""
    base = Path(tempfile.mkdtemp(prefix="xeonsweep-lock-", dir="/tmp"))
    base.chmod(0o755)
    path = base / "locks" / "host.lock"
    monkeypatch.setenv(host_lock.ENV_PATH, str(path))
    yield path
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_another_user_waits_for_the_lock_root_made_and_holds_then_takes_it(shared_lock):
    umask = os.umask(0o022)  # the usual umask, under which the folder was 0755 and the file 0644
    try:
        first = holder("sweep-root", 2)
    finally:
        os.umask(umask)
    wait_until_held(first)
    assert stat.S_IMODE(shared_lock.parent.stat().st_mode) == 0o1777
    assert stat.S_IMODE(shared_lock.stat().st_mode) == 0o666
    second = AsNobody("sweep-nobody", 0)
    out, err = second.communicate()
    first_out, _ = first.communicate(timeout=60)
    assert second.returncode == 0, err
    assert float(out.split()[1]) >= float(first_out.split()[-1])
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"held by sweep-root (pid {first.pid} on " in lines[0], err


@pytest.mark.slow
@pytest.mark.parametrize("left_by_older_xeonsweep", [False, True])
def test_root_waits_for_another_users_hold_naming_it(shared_lock, left_by_older_xeonsweep):
    if left_by_older_xeonsweep:  # root's file, 0644: the other user can only open it read-only
        shared_lock.parent.mkdir()
        shared_lock.parent.chmod(0o1777)
        shared_lock.touch()
        shared_lock.chmod(0o644)
    else:
        with host_lock.host_lock("root, making the lock"):
            pass
    other = AsNobody("sweep-nobody", 60)
    wait_until_held(other)
    try:
        with pytest.raises(UserError, match=rf"held by sweep-nobody \(pid {other.pid} on "):
            with host_lock.host_lock("sweep-root", wait=False):
                pass
    finally:
        other.kill()
    with host_lock.host_lock("sweep-root", wait=False):  # the kernel dropped the killed holder's lock
        assert host_lock.read_holder()["owner"] == "sweep-root"


@pytest.mark.slow
def test_a_lock_another_user_cannot_open_is_one_line(shared_lock):
    shared_lock.parent.mkdir(mode=0o755)  # root's folder, not shared: the lock file cannot be made there
    other = AsNobody("sweep-nobody", 0)
    _, err = other.communicate()
    assert other.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"xeonsweep: cannot open the host lock {shared_lock}: "
                                                   "Permission denied; ask the owner"), err


@pytest.mark.slow
def test_two_sweeps_started_together_never_measure_at_the_same_time(tmp_path, cache_dir, lock_file):
    from tests.conftest import FAST, Sweep

    sweeps = [Sweep(tmp_path / name, cache_dir) for name in ("a", "b")]
    procs = [subprocess.Popen(s.argv("-m", *FAST, "batch_size=1,2"), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in sweeps]
    outputs = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
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
    line = next(text for text in outputs[waited[0]][1].splitlines() if "waiting for the host lock" in text)
    assert f"held by sweep {holder_id} " in line and "since " in line


@pytest.mark.slow
def test_a_single_run_that_must_not_wait_fails_in_one_line_then_takes_over_a_dead_holder(sweep, lock_file):
    from tests.conftest import FAST

    first = holder("sweep-A", 300)
    wait_until_held(first)
    refused = sweep(*FAST, "lock.wait=false")
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
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
    for proc, (_, err) in zip(procs, outputs):
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

"""One measurement at a time on a machine: a host-wide lock.

Whatever measures on this host (a single run, a fresh-process sweep, a
live-worker sweep, a run on a cluster node) holds it; a sweeper that only
submits to Slurm or Ray never does. The lock is flock(2) on a file: the kernel
drops it when its holder dies, so a killed sweep never leaves the host locked.
A side file next to it says who holds it (owner, pid, host, since); it is only
believed when its pid is the one the kernel says holds the lock, because a
holder killed with -9 leaves its side file behind.

Nested uses in one process (a sweep that holds the lock running its jobs in
the same process) share the one lock. The lock's file descriptor is not
inherited by children, so an orphan could never keep the host locked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from xeonsweep.errors import UserError

DEFAULT_PATH = "/tmp/xeonsweep/host.lock"
ENV_PATH = "XEONSWEEP_HOST_LOCK"
# A new holder writes its side file right after taking the lock: how long a
# waiter gives it before saying the holder is unrecorded.
HOLDER_RECORD_WAIT_S = 1.0

_held: dict[str, int] = {}  # lock path -> nesting depth in this process


def lock_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH)


def holder_path(path: Path) -> Path:
    return path.with_name(path.name + ".holder")


def held_here(path: Path | None = None) -> bool:
    """True while this process holds the host lock."""
    return _held.get(str(path or lock_path()), 0) > 0


@contextmanager
def host_lock(owner: str, wait: bool = True) -> Iterator[None]:
    """Hold the host lock for the block; `owner` names the sweep or command holding it.

    Waiting prints one line saying who holds the lock; wait=False raises a
    one-line UserError instead.
    """
    path = lock_path()
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _acquire(path, owner, wait)
    _held[key] = 1
    try:
        _write_holder(path, owner)
        yield
    finally:
        _held.pop(key, None)
        try:
            holder_path(path).unlink()
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, owner: str, wait: bool) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise UserError(f"cannot open the host lock {path}: {exc.strerror}; set {ENV_PATH} to a writable file") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            os.close(fd)
            raise
    who = describe_holder(path, fd)
    if not wait:
        os.close(fd)
        raise UserError(f"the host lock {path} is held by {who}; another measurement is running on this host "
                        "(lock.wait=true waits for it)")
    print(f"xeonsweep: waiting for the host lock {path}, held by {who}", file=sys.stderr, flush=True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks in the kernel: no polling
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_holder(path: Path, owner: str) -> None:
    info = {
        "owner": owner,
        "pid": os.getpid(),
        "pid_start": _process_start(os.getpid()),
        "host": socket.gethostname(),
        "since_unix_s": time.time(),
    }
    side = holder_path(path)
    tmp = side.with_name(f".{side.name}.{os.getpid()}")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, side)


def read_holder(path: Path | None = None) -> dict | None:
    """The side file's record, or None when it is missing or unreadable."""
    try:
        return json.loads(holder_path(path or lock_path()).read_text())
    except (OSError, ValueError):
        return None


def describe_holder(path: Path, fd: int | None = None) -> str:
    """Who holds the lock, in words: only what the kernel confirms is believed."""
    deadline = time.monotonic() + HOLDER_RECORD_WAIT_S
    while True:
        pids = _flock_holders(path)
        info = read_holder(path)
        if info and _is_current(info, pids):
            since = datetime.fromtimestamp(info["since_unix_s"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"{info['owner']} (pid {info['pid']} on {info['host']}, since {since})"
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)  # the new holder is writing its record; bounded, only to name it
    if pids:
        return f"pid {', '.join(map(str, sorted(pids)))} (it has not recorded its sweep)"
    return "another process (it has not recorded its sweep)"


def _is_current(info: dict, pids: set[int] | None) -> bool:
    """A record is current when its pid holds the lock now (and is the same process, not a reused pid)."""
    try:
        pid = int(info["pid"])
    except (KeyError, TypeError, ValueError):
        return False
    if info.get("host") != socket.gethostname():
        return True  # a lock file on a shared filesystem: another host's pids are not ours to check
    if pids is not None and pid not in pids:
        return False
    start = _process_start(pid)
    return start is not None and start == info.get("pid_start")


def _flock_holders(path: Path) -> set[int] | None:
    """Pids the kernel lists in /proc/locks as holding a flock on this file (None: cannot tell)."""
    try:
        stat = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    pids = set()
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2b:5678 0 EOF"; waiters are marked "->"
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK":
            continue
        if parts[5].lower() == inode:
            pids.add(int(parts[4]))
    return pids


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot: tells a live holder from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])

"""One measurement at a time on a machine: a host-wide lock.

Whatever measures on this host (a single run, a fresh-process sweep, a
live-worker sweep, a run on a cluster node) holds it; a sweeper that only
submits to Slurm or Ray never does. The lock is flock(2) on a file: the kernel
drops it when its holder dies, so a killed sweep never leaves the host locked.
The holder writes who it is (owner, pid, host, since) into the lock file itself;
a record is only believed when its pid is the one the kernel says holds the
lock, because a holder killed with -9 leaves its record behind.

Several users share a host: the lock's folder is made sticky and world-writable
(1777, like /tmp) and the lock file 0666, whatever the umask, so each user can
open it, and whoever holds it can write the record. A lock file another user
left read-only (made before it was shared) can still be flocked read-only; its
holder then writes a record of its own, `host.lock.holder-<uid>`, beside it.

Nested uses in one process (a sweep that holds the lock running its jobs in
the same process) share the one lock. The lock's file descriptor is not
inherited by children, so an orphan could never keep the host locked.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from xeonsweep.errors import UserError

DEFAULT_PATH = "/tmp/xeonsweep/host.lock"
ENV_PATH = "XEONSWEEP_HOST_LOCK"
# A new holder writes its record right after taking the lock: how long a
# waiter gives it before saying the holder is unrecorded.
HOLDER_RECORD_WAIT_S = 1.0

_held: dict[str, int] = {}  # lock path -> nesting depth in this process


def lock_path() -> Path:
    return Path(os.environ.get(ENV_PATH) or DEFAULT_PATH)


def user_record_path(path: Path) -> Path:
    """Where a holder that cannot write the lock file records itself."""
    return path.with_name(f"{path.name}.holder-{os.geteuid()}")


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
    fd, writable = _acquire(path, owner, wait)
    _held[key] = 1
    try:
        _write_holder(path, fd, writable, owner)
        yield
    finally:
        _held.pop(key, None)
        _clear_holder(path, fd, writable)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, owner: str, wait: bool) -> tuple[int, bool]:
    fd, writable = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd, writable
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            os.close(fd)
            raise UserError(f"cannot lock the host lock {path}: {exc.strerror}; set {ENV_PATH} to a file "
                            "on a local filesystem") from exc
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
    return fd, writable


def _open(path: Path) -> tuple[int, bool]:
    """(fd, writable): the lock file opened for flock, made if missing (one line on failure)."""
    try:
        _make_folder(path.parent)
        while True:
            opened = _open_existing(path)
            if opened is not None:
                return opened
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            except FileExistsError:
                continue  # another process made it just now: open theirs
            os.fchmod(fd, 0o666)  # os.open's mode obeys the umask
            return fd, True
    except OSError as exc:
        raise UserError(f"cannot open the host lock {path}: {exc.strerror}; ask the owner of {path.parent} to "
                        f"`chmod 1777 {path.parent}`, or set {ENV_PATH} to a file you can write") from exc


def _open_existing(path: Path) -> tuple[int, bool] | None:
    """The existing lock file, read-write if we may (repaired to 0666 if ours), else read-only; None if missing.

    Without O_CREAT: in a sticky folder, fs.protected_regular refuses O_CREAT on another user's file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except PermissionError:  # another user's file, left 0644: flock works on a read-only descriptor too
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False
        except FileNotFoundError:
            return None
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o666:
        os.fchmod(fd, 0o666)
    return fd, True


def _make_folder(folder: Path) -> None:
    """The lock's folder, sticky and world-writable (1777, like /tmp) when xeonsweep makes it, and
    the default folder repaired to 1777 when it is ours (made before locks were shared)."""
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:
            return
        os.chmod(folder, 0o1777)  # mkdir's mode obeys the umask
        return
    info = folder.stat()
    if folder == Path(DEFAULT_PATH).parent and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o1777:
        os.chmod(folder, 0o1777)


def _write_holder(path: Path, fd: int, writable: bool, owner: str) -> None:
    """Who holds the lock, into the lock file; a holder with a read-only lock file records
    itself in a file of its own (if even that cannot be written, waiters name its pid)."""
    info = {
        "owner": owner,
        "pid": os.getpid(),
        "pid_start": _process_start(os.getpid()),
        "host": socket.gethostname(),
        "since_unix_s": time.time(),
    }
    data = json.dumps(info).encode()
    try:
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            return
        record = user_record_path(path)
        tmp = record.with_name(f".{record.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, record)
    except OSError:
        pass  # the lock is held all the same


def _clear_holder(path: Path, fd: int, writable: bool) -> None:
    try:
        if writable:
            os.ftruncate(fd, 0)
        else:
            user_record_path(path).unlink()
    except OSError:
        pass


def records(path: Path | None = None) -> list[dict]:
    """Every holder record there is: the lock file's, then any user's own; unreadable ones left out."""
    path = path or lock_path()
    found = []
    for candidate in (path, *sorted(path.parent.glob(f"{glob.escape(path.name)}.holder-*"))):
        try:
            info = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            found.append(info)
    return found


def read_holder(path: Path | None = None) -> dict | None:
    """The first record, or None when there is none (a free lock, or a holder not yet recorded)."""
    found = records(path)
    return found[0] if found else None


def describe_holder(path: Path, fd: int | None = None) -> str:
    """Who holds the lock, in words: only what the kernel confirms is believed."""
    deadline = time.monotonic() + HOLDER_RECORD_WAIT_S
    while True:
        pids = _flock_holders(path)
        info = next((r for r in records(path) if _is_current(r, pids)), None)
        if info:
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
        info = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
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

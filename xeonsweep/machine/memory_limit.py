"""benchmark.memory_limit_mb: a memory limit on a run's child through the cgroup
memory controller this machine has (cgroup v2's memory.max, else cgroup v1's
memory.limit_in_bytes).

The parent makes a cgroup of its own below the one it runs in, the child moves
itself into it before exec (so the child, run_cpu and every instance are in it
from their start and share the limit), and the parent reads the cgroup's OOM
counters afterwards and removes it. An address-space limit would not serve:
`import torch` alone maps about 3 GB.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"


@dataclass(frozen=True)
class Controller:
    version: int      # 1 or 2
    parent: Path      # the cgroup this process is in, for that controller: new cgroups go below it

    @property
    def limit_file(self) -> str:
        return "memory.max" if self.version == 2 else "memory.limit_in_bytes"


def _mounts(mountinfo: str) -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, fs type, super options) of each cgroup mount."""
    found = []
    for line in Path(mountinfo).read_text().splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, options = fields[sep + 1], set(fields[sep + 3].split(","))
        if fstype in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], fstype, options))
    return found


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """Controller name ('' for cgroup v2) -> this process's cgroup path."""
    paths = {}
    for line in Path(proc_cgroup).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _inside(mount_point: str, mount_root: str, path: str) -> Path:
    relative = os.path.relpath(path, mount_root) if path.startswith(mount_root) else path.lstrip("/")
    here = Path(mount_point) / relative
    return here if here.is_dir() else Path(mount_point)  # a cgroup namespace shows its root as '/'


def controllers(mountinfo: str | None = None, proc_cgroup: str | None = None) -> list[Controller]:
    """The memory controllers mounted here, v2 first (XEONSWEEP_MOUNTINFO: a recorded mountinfo)."""
    mountinfo = mountinfo or os.environ.get("XEONSWEEP_MOUNTINFO") or MOUNTINFO
    own = _own_paths(proc_cgroup or PROC_CGROUP)
    found = []
    for root, point, fstype, options in _mounts(mountinfo):
        if fstype == "cgroup2" and "" in own:
            parent = _inside(point, root, own[""])
            if "memory" in _read(parent / "cgroup.controllers").split():
                found.append(Controller(2, parent))
        elif fstype == "cgroup" and "memory" in options and "memory" in own:
            found.append(Controller(1, _inside(point, root, own["memory"])))
    return sorted(found, key=lambda c: -c.version)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@functools.cache
def writable_controller() -> Controller | None:
    """The first memory controller in which this process can make a limited cgroup, or None."""
    for controller in controllers():
        try:
            probe = MemoryCgroup.create(controller, 1 << 30, "probe")
        except OSError:
            continue
        probe.remove()
        return controller
    return None


def refusal(limit_mb: int) -> str | None:
    """Why benchmark.memory_limit_mb cannot be applied here, or None."""
    if writable_controller() is not None:
        return None
    return (f"benchmark.memory_limit_mb={limit_mb}: no writable cgroup memory controller on this machine "
            "(cgroup v2 memory.max or v1 memory.limit_in_bytes; run as root with the memory controller "
            "mounted); valid here: null")


class MemoryCgroup:
    """One run's cgroup: limited at creation, entered by the child, removed after."""

    def __init__(self, controller: Controller, path: Path) -> None:
        self.controller, self.path = controller, path
        self._procs = str(path / "cgroup.procs").encode()

    @classmethod
    def create(cls, controller: Controller, limit_bytes: int, tag: str = "run") -> MemoryCgroup:
        path = controller.parent / f"xeonsweep-{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        cgroup = cls(controller, path)
        try:
            (path / controller.limit_file).write_text(str(limit_bytes))
            if controller.version == 2 and (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")  # the limit is on memory, not memory plus swap
            if controller.version == 1 and (path / "memory.memsw.limit_in_bytes").exists():
                try:
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
                except OSError:
                    pass  # swap accounting off: nothing to limit
        except OSError:
            cgroup.remove()
            raise
        return cgroup

    def enter(self) -> None:
        """Move the calling process in (called by the child between fork and exec)."""
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer stopped in this cgroup: its own oom_kill counter
        (v2 memory.events, v1 memory.oom_control). A kernel without that counter gives 0: v1's
        memory.failcnt counts every time usage reached the limit (reclaim included), not kills,
        so it cannot say that a run died of memory."""
        name = "memory.events" if self.controller.version == 2 else "memory.oom_control"
        for line in _read(self.path / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def peak_mb(self) -> float | None:
        name = "memory.peak" if self.controller.version == 2 else "memory.max_usage_in_bytes"
        text = _read(self.path / name).strip()
        return int(text) / 2**20 if text.isdigit() else None

    def remove(self, wait_s: float = 5.0) -> None:
        """Remove the cgroup once its processes are gone (they were killed or exited)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)

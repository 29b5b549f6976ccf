"""Facts about the machine, read from /proc and /sys without importing torch.

Both the parent (validation, rows for runs that never started) and the worker
(what a run really had) use these; tests feed recorded cpuinfo of other CPUs.
"""

from __future__ import annotations

import functools
import glob
import os
import platform
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

# The ISA extensions that decide CPU inference speed, in the names /proc/cpuinfo uses.
ISA_FLAGS = (
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "avx_ne_convert",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
)

LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/local/lib",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
)


@dataclass(frozen=True)
class CpuInfo:
    model: str
    logical_cpus: int
    physical_cores: int
    sockets: int
    flags: frozenset[str] = field(default_factory=frozenset)
    family: str = ""  # /proc/cpuinfo's `cpu family` and `model` numbers: the microarchitecture
    model_number: str = ""

    def has(self, flag: str) -> bool:
        return flag in self.flags

    @property
    def isa(self) -> list[str]:
        return [f for f in ISA_FLAGS if f in self.flags]

    @property
    def label(self) -> str:
        """`CPU model (N cores)`, the store's `machine`. Where the model name carries no model number (a VM's
        masked `AMD EPYC`, which Zen 4 and Zen 5 hosts both show; `Intel(R) Xeon(R) CPU @ 2.20GHz`; `QEMU
        Virtual CPU version 2.5+`), cpuinfo's family and model numbers too, so rows of different CPUs stay
        apart in the report and one CPU's done runs are never taken for another's."""
        named = re.search(r"\d", re.sub(r"@\s*[\d.]+\s*[GM]Hz|version\s+\S+", "", self.model))
        if named or not (self.family and self.model_number):
            return f"{self.model} ({self.physical_cores} cores)"
        return f"{self.model} ({self.physical_cores} cores, family {self.family} model {self.model_number})"


def parse_cpuinfo(text: str) -> CpuInfo:
    """Parse /proc/cpuinfo text (x86 layout) into the facts xeonsweep records."""
    model, flags, family, model_number = "unknown", frozenset(), "", ""
    logical = 0
    cores: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    for block in text.strip().split("\n\n"):
        fields = dict(_fields(block))
        if "processor" not in fields:
            continue
        logical += 1
        model = fields.get("model name", model)
        flags = frozenset(fields.get("flags", "").split()) or flags
        family, model_number = fields.get("cpu family", family), fields.get("model", model_number)
        socket_id = fields.get("physical id", "0")
        sockets.add(socket_id)
        cores.add((socket_id, fields.get("core id", fields["processor"])))
    return CpuInfo(
        model=model,
        logical_cpus=logical,
        physical_cores=len(cores) or logical,
        sockets=len(sockets) or 1,
        flags=flags,
        family=family,
        model_number=model_number,
    )


def _fields(block: str):
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip(), value.strip()


def cpu_info(path: str | None = None) -> CpuInfo:
    """This CPU, or the one recorded in $XEONSWEEP_CPUINFO (a saved /proc/cpuinfo).

    The variable lets tests, and what-if checks, see how xeonsweep treats a CPU
    it is not running on (an AMX Xeon, an AVX2-only machine). Each file is read
    once per process: the CPU does not change under a running sweep.
    """
    return _read_cpuinfo(path or os.environ.get("XEONSWEEP_CPUINFO") or "/proc/cpuinfo")


@functools.cache
def _read_cpuinfo(path: str) -> CpuInfo:
    return parse_cpuinfo(Path(path).read_text())


def numa_nodes(root: str = "/sys/devices/system/node") -> int:
    return len(glob.glob(os.path.join(root, "node[0-9]*"))) or 1


def thp_mode(path: str = "/sys/kernel/mm/transparent_hugepage/enabled") -> str:
    """The kernel's transparent huge page mode: always, madvise, never (or unknown)."""
    try:
        match = re.search(r"\[(\w+)\]", Path(path).read_text())
    except OSError:
        return "unknown"
    return match.group(1) if match else "unknown"


def find_library(names: list[str], dirs: tuple[str, ...] = LIBRARY_DIRS) -> str | None:
    """Absolute path of the first of `names` found in the system library directories."""
    for name in names:
        for directory in dirs:
            path = os.path.join(directory, name)
            if os.path.exists(path):
                return os.path.realpath(path)
    return None


def host_facts() -> dict:
    """Host columns that need no torch: recorded even for runs that never started."""
    cpu = cpu_info()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu.model,
        "cpu_physical_cores": cpu.physical_cores,
        "cpu_logical": cpu.logical_cpus,
        "cpu_sockets": cpu.sockets,
        "numa_nodes": numa_nodes(),
        "isa": ",".join(cpu.isa),
        **{f"isa_{flag}": cpu.has(flag) for flag in ISA_FLAGS},
        "kernel": platform.release(),
        "thp_mode": thp_mode(),
        "python_version": platform.python_version(),
    }


def available_memory_mb(path: str = "/proc/meminfo") -> float:
    """Memory the kernel can give new work without swapping (MemAvailable), in MB."""
    match = re.search(r"MemAvailable:\s+(\d+) kB", Path(path).read_text())
    return int(match.group(1)) / 1024.0 if match else float("inf")


def process_cpu_s(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces; fields start at state (3rd)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(cpu_s, interval_s: float = 0.03, cap_s: float = 2.0) -> float:
    """Wait until `cpu_s()` (a process's CPU seconds) stops growing, at most `cap_s`: OpenMP
    threads spin for a while after a parallel region (OMP_WAIT_POLICY=active for ever). Returns the wait."""
    start = time.monotonic()
    before = cpu_s()
    while time.monotonic() - start < cap_s:
        time.sleep(interval_s)
        now = cpu_s()
        if now <= before:
            break
        before = now
    return time.monotonic() - start

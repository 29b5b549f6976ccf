"""The machine speed probe, parent side: the fixed kernel (xeonsweep/probe_kernel.py)
timed in a child of its own, and its figures read back.

The parent never imports torch. The probe is timed between rounds of a sweep
and recorded with the blocks around it, so the report can tell a config that
got slower from a machine that got slower. A sweep keeps one probe child for
its whole length (`Probe`): it imports torch once and then waits on its stdin
without using CPU, so a probe costs the kernel's fraction of a second instead
of a fresh interpreter's seconds. `run_probe` is the one-off form.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xeonsweep.launch.child import WORKER_SCRIPT
from xeonsweep.launch.process import die_with_parent, passed_through_env
from xeonsweep.machine.facts import CpuInfo, cpu_info, process_cpu_s, wait_until_idle

TIMEOUT_S = 120.0
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")


def has_native_bf16(cpu: CpuInfo) -> bool:
    return any(cpu.has(flag) for flag in NATIVE_BF16)


class Probe:
    """One probe child, started at the first `measure` and kept until `close`.

    `measure` asks it for one timing and returns {probe_unix_s, fp32_gflops,
    bf16_gflops (None without native bf16), mem_gbps, status ("ok" or "failed"), reason}.
    A probe that fails or hangs gives None figures and says why; its child is
    killed and the next `measure` starts a new one.
    """

    def __init__(self, cpu: CpuInfo | None = None, timeout_s: float = TIMEOUT_S,
                 interpreter: str | Path | None = None) -> None:
        cpu = cpu or cpu_info()
        self.argv = [str(interpreter or sys.executable), "-m", "xeonsweep.worker.probe_kernel", "--serve"]
        if has_native_bf16(cpu):
            self.argv.append("--bf16")
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        self.stderr = None  # a file, not a pipe: a chatty child must never block on a full pipe

    def measure(self) -> dict:
        started = time.time()
        try:
            if self.proc is None:
                env = passed_through_env() | {"PYTHONUNBUFFERED": "1"}
                self.stderr = tempfile.TemporaryFile(mode="w+")
                # `-m` puts the working folder first on sys.path: the worker entry's folder shadows nothing
                # (and exists in any install), where the user's folder or a checkout might.
                self.proc = subprocess.Popen(self.argv, env=env, cwd=WORKER_SCRIPT.parent, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                             start_new_session=True, preexec_fn=die_with_parent)
            self.proc.stdin.write("probe\n")
            self.proc.stdin.flush()
            line = self._read_line(time.monotonic() + self.timeout_s)
        except BrokenPipeError:
            line = None
        except BaseException:
            self.close()
            raise
        if line is None:
            return self._failed(started)
        try:
            figures = json.loads(line)
        except ValueError:
            return self._failed(started, f"probe printed no figures: {line[-200:]!r}")
        wait_until_idle(lambda: process_cpu_s(self.proc.pid) or 0.0)  # its OpenMP threads spin for a while
        return {**figures, "status": "ok", "reason": None}

    def _read_line(self, deadline: float) -> str | None:
        """The child's next line of stdout; None when it exits or the deadline passes first."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
                return None
        return self.proc.stdout.readline().strip() or None

    def _failed(self, started: float, reason: str | None = None) -> dict:
        if reason is None:
            try:
                self.proc.wait(timeout=1.0)  # its stdout closed: the exit status follows at once
            except subprocess.TimeoutExpired:
                pass
            if self.proc.poll() is None:
                reason = f"probe exceeded {self.timeout_s:g} s; killed"
            else:
                self.stderr.seek(0)
                tail = " ".join(self.stderr.read().strip().splitlines()[-1:])
                reason = f"probe exited with status {self.proc.returncode}: {tail}"
        self.close()
        return {"probe_unix_s": started, "fp32_gflops": None, "bf16_gflops": None, "mem_gbps": None,
                "status": "failed", "reason": reason}

    def close(self) -> None:
        """End the child: EOF on its stdin, a short wait, then a kill of its whole session."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        proc.stdout.close()
        self.stderr.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_probe(cpu: CpuInfo | None = None, timeout_s: float = TIMEOUT_S, interpreter: str | Path | None = None) -> dict:
    """One probe in a child of its own, ended after it (see `Probe.measure`)."""
    with Probe(cpu, timeout_s, interpreter) as probe:
        return probe.measure()

"""The machine speed probe, parent side: run the fixed kernel
(xeonsweep/probe_kernel.py) in a child of its own and read its figures.

The parent never imports torch. The probe is timed between rounds of a sweep
and recorded with the blocks around it, so the report can tell a config that
got slower from a machine that got slower.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from xeonsweep.environments import ROOT
from xeonsweep.launch import PASS_THROUGH
from xeonsweep.machine import CpuInfo, cpu_info
from xeonsweep.worker import die_with_parent

TIMEOUT_S = 120.0
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")


def has_native_bf16(cpu: CpuInfo) -> bool:
    return any(cpu.has(flag) for flag in NATIVE_BF16)


def run_probe(cpu: CpuInfo | None = None, timeout_s: float = TIMEOUT_S, interpreter: str | Path | None = None) -> dict:
    """Time the probe kernel in a child: {probe_unix_s, fp32_gflops, bf16_gflops (None without native bf16),
    status ("ok" or "failed"), reason}. A probe that fails gives None figures and says why."""
    cpu = cpu or cpu_info()
    argv = [str(interpreter or sys.executable), "-m", "xeonsweep.probe_kernel"]
    if has_native_bf16(cpu):
        argv.append("--bf16")
    env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ} | {"PYTHONUNBUFFERED": "1"}
    started = time.time()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=die_with_parent)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return _failed(started, f"probe exceeded {timeout_s:g} s; killed")
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        tail = " ".join(err.strip().splitlines()[-1:])
        return _failed(started, f"probe exited with status {proc.returncode}: {tail}")
    try:
        figures = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return _failed(started, f"probe printed no figures: {out[-200:]!r}")
    return {**figures, "status": "ok", "reason": None}


def _failed(started: float, reason: str) -> dict:
    return {"probe_unix_s": started, "fp32_gflops": None, "bf16_gflops": None, "status": "failed", "reason": reason}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()

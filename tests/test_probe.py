"""The machine speed probe runs its kernel in a child; the parent stays light."""

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.conftest import ROOT
from xeonsweep.blocks.probe import Probe, has_native_bf16, run_probe
from xeonsweep.machine.facts import CpuInfo, cpu_info


@pytest.mark.slow
def test_probe_measures_fp32_and_bf16_where_native():
    probe = run_probe()
    assert probe["status"] == "ok", probe["reason"]
    assert probe["fp32_gflops"] > 0 and probe["probe_unix_s"] > 0
    assert (probe["bf16_gflops"] is not None) == has_native_bf16(cpu_info())
    if probe["bf16_gflops"] is not None:
        assert probe["bf16_gflops"] > 0


@pytest.mark.slow
def test_no_bf16_probe_without_native_bf16():
    avx2 = CpuInfo(model="zen3", logical_cpus=2, physical_cores=2, sockets=1, flags=frozenset({"avx2"}))
    probe = run_probe(cpu=avx2)
    assert probe["status"] == "ok" and probe["bf16_gflops"] is None and probe["fp32_gflops"] > 0


def test_amx_and_avx512_bf16_are_native():
    assert has_native_bf16(CpuInfo("spr", 2, 2, 1, frozenset({"amx_bf16"})))
    assert has_native_bf16(CpuInfo("zen4", 2, 2, 1, frozenset({"avx512_bf16"})))


@pytest.mark.slow
def test_a_failing_probe_says_why():
    probe = run_probe(interpreter="/bin/false")
    assert probe["status"] == "failed" and probe["fp32_gflops"] is None and "status 1" in probe["reason"]


@pytest.mark.slow
def test_the_parent_never_imports_torch():
    code = "import sys; from xeonsweep.blocks.probe import run_probe; run_probe(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.slow
def test_a_sweep_keeps_one_probe_child_and_ends_it():
    with Probe() as probe:
        first = probe.measure()
        pid = probe.proc.pid
        second = probe.measure()
        assert first["status"] == second["status"] == "ok" and second["fp32_gflops"] > 0
        assert probe.proc.pid == pid  # torch imported once, not per probe
        assert second["probe_unix_s"] > first["probe_unix_s"]
    assert probe.proc is None and not psutil.pid_exists(pid)


@pytest.mark.slow
def test_a_probe_child_that_died_is_reported_then_replaced():
    with Probe() as probe:
        assert probe.measure()["status"] == "ok"
        dead = probe.proc.pid
        os.kill(dead, signal.SIGKILL)
        failed = probe.measure()
        assert failed["status"] == "failed" and failed["fp32_gflops"] is None and "status -9" in failed["reason"]
        again = probe.measure()
        assert again["status"] == "ok" and probe.proc.pid != dead

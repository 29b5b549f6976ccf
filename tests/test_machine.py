from pathlib import Path

import pytest

from xeonsweep.config.settings import machine_label
from xeonsweep.machine.facts import cpu_info, find_library, parse_cpuinfo, thp_mode

DATA = Path(__file__).parent / "data"


def test_amx_xeon_cpuinfo():
    cpu = parse_cpuinfo((DATA / "cpuinfo-sapphire-rapids.txt").read_text())
    assert cpu.model == "Intel(R) Xeon(R) Platinum 8488C"
    assert (cpu.logical_cpus, cpu.physical_cores, cpu.sockets) == (4, 2, 1)
    for flag in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"):
        assert cpu.has(flag)
    assert cpu.isa[:2] == ["avx2", "avx512f"]


def test_avx2_only_cpuinfo():
    cpu = parse_cpuinfo((DATA / "cpuinfo-epyc-avx2.txt").read_text())
    assert cpu.has("avx2")
    assert cpu.isa == ["avx2"]
    assert not any(cpu.has(f) for f in ("avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"))
    assert (cpu.logical_cpus, cpu.physical_cores) == (2, 2)


def test_this_machine_is_read():
    cpu = cpu_info()
    assert cpu.logical_cpus >= 1 and cpu.physical_cores >= 1


@pytest.mark.parametrize("mode", ["always", "madvise", "never"])
def test_thp_mode_is_the_kernels_bracketed_choice(mode):
    assert thp_mode(str(DATA / f"thp-{mode}.txt")) == mode  # recorded /sys/kernel/mm/transparent_hugepage/enabled


def test_thp_mode_without_the_kernels_file_is_unknown(tmp_path):
    assert thp_mode(str(tmp_path / "enabled")) == "unknown"
    (tmp_path / "enabled").write_text("no choice in brackets\n")
    assert thp_mode(str(tmp_path / "enabled")) == "unknown"


def test_find_library(tmp_path):
    (tmp_path / "libfoo.so.2").write_text("")
    assert find_library(["libbar.so.1", "libfoo.so.2"], (str(tmp_path),)) == str(tmp_path / "libfoo.so.2")
    assert find_library(["libbar.so.1"], (str(tmp_path),)) is None


def test_available_memory_from_meminfo(tmp_path):
    from xeonsweep.machine.facts import available_memory_mb

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   20480000 kB\n")
    assert available_memory_mb(str(meminfo)) == 20000.0
    assert available_memory_mb() > 0


@pytest.mark.slow
def test_a_process_cpu_time_grows_while_it_works_and_is_none_once_it_is_gone():
    import os
    import subprocess
    import time

    from xeonsweep.machine.facts import process_cpu_s

    before = process_cpu_s(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert process_cpu_s(os.getpid()) >= before + 0.05
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert process_cpu_s(gone.pid) is None


def test_a_masked_model_name_is_told_apart_by_family_and_model():
    # This VM's CPU (a Zen 5 host) shows only "AMD EPYC", as the Zen 4 host before it did: without the
    # family and model numbers both were "AMD EPYC (2 cores)", their rows pooled and one's done runs skipped
    # on the other.
    text = (DATA / "cpuinfo-epyc-masked-zen5.txt").read_text()
    zen5 = parse_cpuinfo(text)
    zen4 = parse_cpuinfo(text.replace("cpu family\t: 26", "cpu family\t: 25")
                         .replace("model\t\t: 2\n", "model\t\t: 17\n"))
    assert zen5.model == zen4.model == "AMD EPYC"
    assert machine_label(zen5) == "AMD EPYC (2 cores, family 26 model 2)"
    assert machine_label(zen4) == "AMD EPYC (2 cores, family 25 model 17)"
    assert "avx512_bf16" in zen5.isa and "avx_vnni" in zen5.isa


@pytest.mark.parametrize("masked", ["Intel(R) Xeon(R) CPU @ 2.20GHz", "QEMU Virtual CPU version 2.5+"])
def test_a_clock_or_a_version_is_not_a_model_number(masked):
    cpu = parse_cpuinfo((DATA / "cpuinfo-sapphire-rapids.txt").read_text().replace(
        "Intel(R) Xeon(R) Platinum 8488C", masked))
    assert machine_label(cpu) == f"{masked} (2 cores, family 6 model 143)"


def test_a_named_cpu_keeps_its_label():
    spr = parse_cpuinfo((DATA / "cpuinfo-sapphire-rapids.txt").read_text())
    assert (spr.family, spr.model_number) == ("6", "143")
    assert machine_label(spr) == "Intel(R) Xeon(R) Platinum 8488C (2 cores)"
    assert machine_label(parse_cpuinfo((DATA / "cpuinfo-epyc-avx2.txt").read_text())) == "AMD EPYC 7R32 (2 cores)"

"""The machine check, on this machine and on recorded CPUs it cannot be."""

import subprocess
import sys
from pathlib import Path

import pytest

from xeonsweep.machine import doctor
from xeonsweep.machine.facts import parse_cpuinfo, thp_mode

DATA = Path(__file__).parent / "data"


def notes_for(name):
    return " ".join(doctor.isa_notes(parse_cpuinfo((DATA / name).read_text())))


def test_amx_xeon():
    notes = notes_for("cpuinfo-sapphire-rapids.txt")
    assert "bf16 is native with AMX" in notes
    assert "int8 is native with AMX" in notes
    assert "emulated" not in notes and "skipped" not in notes and "reduce_range" not in notes


def test_avx2_only_cpu():
    notes = notes_for("cpuinfo-epyc-avx2.txt")
    assert "bf16 is emulated (no AVX512_BF16, no AMX)" in notes
    assert "int8 without VNNI: pt2e uses reduce_range" in notes
    assert "IPEX bf16 weight prepack needs AVX-512: backend=ipex precision=bf16 runs will be skipped" in notes


def test_this_machine(tmp_path):
    report = doctor.examine()
    assert report.physical_cores >= 1
    assert report.allocators["tcmalloc"] and report.allocators["jemalloc"]  # make setup installed them
    assert report.environments["main"]["versions"]["torch"].startswith("2.14")
    doctor.save(report, tmp_path)
    assert "CPU" in (tmp_path / "doctor.txt").read_text() and (tmp_path / "doctor.json").exists()


@pytest.mark.parametrize("mode", ["madvise", "never"])
def test_thp_mode_of_a_recorded_machine_and_what_never_means(mode, monkeypatch):
    # The recorded file, wherever the doctor imported thp_mode from.
    monkeypatch.setattr(thp_mode, "__defaults__", (str(DATA / f"thp-{mode}.txt"),))
    report = doctor.examine()
    assert report.thp_mode == mode and f"THP          {mode}\n" in doctor.render(report)
    off = "transparent huge pages are off (mode never): thp=true will have no effect."
    assert (off in report.notes) == (mode == "never")


@pytest.mark.slow
def test_doctor_command_on_a_recorded_cpu():
    env = {"XEONSWEEP_CPUINFO": str(DATA / "cpuinfo-epyc-avx2.txt"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "xeonsweep", "doctor"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("CPU          AMD EPYC 7R32")
    assert "avx512f no" in out.stdout and "bf16 is emulated" in out.stdout

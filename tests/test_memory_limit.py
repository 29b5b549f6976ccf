"""benchmark.memory_limit_mb: a real cgroup memory limit on the run's child and its instances."""

import pytest

from tests.conftest import FAST, ROOT
from xeonsweep.config import settings
from xeonsweep.machine import memory_limit

needs_cgroup = pytest.mark.skipif(memory_limit.writable_controller() is None,
                                  reason="no writable cgroup memory controller on this machine")


def leftover_cgroups() -> list:
    return sorted(memory_limit.writable_controller().parent.glob("xeonsweep-*"))


@needs_cgroup
def test_the_limit_is_in_the_fingerprint_only_when_set(compose_run):
    default = compose_run("model=tiny")
    limited = compose_run("model=tiny", "benchmark.memory_limit_mb=512")
    assert "memory_limit_mb" in default["benchmark"]
    assert settings.config_hash(default) != settings.config_hash(limited)


@pytest.mark.slow
@needs_cgroup
def test_a_run_over_its_memory_limit_is_failed_out_of_memory(sweep):
    before = leftover_cgroups()
    result = sweep("-m", "runtime=python,run_cpu", "benchmark.memory_limit_mb=120", *FAST)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows()
    assert len(frame) == 2 and set(frame["status"]) == {"failed"}
    for reason in frame["reason"]:
        assert reason.startswith("out of memory: over benchmark.memory_limit_mb=120, "
                                 "the cgroup's OOM killer stopped"), reason
    assert (frame["memory_limit_mb"] == 120).all()
    assert leftover_cgroups() == before  # each run's cgroup was removed


@pytest.mark.slow
@needs_cgroup
def test_a_run_within_its_memory_limit_is_ok_and_records_it(sweep):
    result = sweep("benchmark.memory_limit_mb=4000", *FAST)
    assert result.returncode == 0, result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok", row["reason"]
    assert row["memory_limit_mb"] == 4000 and row["peak_rss_mb"] < 4000


@pytest.mark.slow
@needs_cgroup
def test_a_live_child_that_times_out_in_set_up_is_released_and_its_oom_kill_named(sweep, tmp_path, monkeypatch):
    """A helper process of the live child is OOM-killed, then the child hangs until its set-up times out."""
    monkeypatch.setenv("XEONSWEEP_HOST_LOCK", str(tmp_path / "host.lock"))
    before = leftover_cgroups()
    result = sweep("-m", "model=oom_then_hang", "benchmark.method=blocks", "benchmark.memory_limit_mb=1500",
                   "benchmark.timeout_s=30", faults=True, timeout=300)
    assert result.returncode == 0, result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "failed" and row["measurement"] == "blocks", row["reason"]
    assert row["reason"].startswith("out of memory: over benchmark.memory_limit_mb=1500, the cgroup's OOM killer "
                                    "stopped 1 process(es); set-up exceeded timeout_s=30"), row["reason"]
    assert leftover_cgroups() == before  # the child's cgroup was removed


@pytest.mark.slow
def test_no_writable_memory_controller_is_one_line(sweep, monkeypatch):
    monkeypatch.setenv("XEONSWEEP_MOUNTINFO", str(ROOT / "tests/data/mountinfo-no-memory-controller.txt"))
    result = sweep("benchmark.memory_limit_mb=512", *FAST, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "benchmark.memory_limit_mb=512: no writable cgroup memory controller" in lines[0]
    assert not sweep.store.exists()


def test_the_memory_controller_is_found_in_v2_first_then_v1(tmp_path):
    v2, v1 = tmp_path / "unified", tmp_path / "memory"
    v2.mkdir()
    (v1 / "jobs" / "me").mkdir(parents=True)
    mountinfo, own = tmp_path / "mountinfo", tmp_path / "cgroup"
    mountinfo.write_text(f"35 31 0:32 / {v1} rw,relatime - cgroup cgroup rw,memory\n"
                         f"41 31 0:38 / {v2} rw,relatime - cgroup2 cgroup2 rw\n")
    own.write_text("4:memory:/jobs/me\n0::/\n")
    (v2 / "cgroup.controllers").write_text("cpu io pids\n")  # v2 without its memory controller
    assert memory_limit.controllers(str(mountinfo), str(own)) == [memory_limit.Controller(1, v1 / "jobs" / "me")]
    (v2 / "cgroup.controllers").write_text("cpu io memory pids\n")
    assert [c.version for c in memory_limit.controllers(str(mountinfo), str(own))] == [2, 1]


def fake_cgroup(tmp_path, version: int, files: dict) -> memory_limit.MemoryCgroup:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return memory_limit.MemoryCgroup(memory_limit.Controller(version, tmp_path.parent), tmp_path)


def test_oom_kills_come_only_from_the_kernels_oom_kill_counter(tmp_path):
    """v1's memory.failcnt counts every time usage reached the limit (reclaim included): not kills."""
    counters = {1: ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n"),
                2: ("memory.events", "low 0\nhigh 0\nmax 9\noom 0\n")}
    for version, (name, without_counter) in counters.items():
        folder = tmp_path / f"v{version}"
        folder.mkdir()
        cgroup = fake_cgroup(folder, version, {name: without_counter + "oom_kill 2\n", "memory.failcnt": "9\n"})
        assert cgroup.oom_kills() == 2
        (folder / name).write_text(without_counter)  # a kernel without the oom_kill counter
        assert cgroup.oom_kills() == 0
    (tmp_path / "v1" / "memory.oom_control").unlink()
    assert fake_cgroup(tmp_path / "v1", 1, {"memory.failcnt": "37\n"}).oom_kills() == 0

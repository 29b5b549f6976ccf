"""runtime.mode: xeonsweep computes the instances a mode means, passes them to run_cpu
explicitly and records them; a row whose instances never overlapped is failed."""

import json
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT, compose
from xeonsweep.config import instances, settings
from xeonsweep.errors import UserError
from xeonsweep.launch import child as launch
from xeonsweep.machine.facts import CpuInfo, cpu_info, numa_nodes

SPR = cpu_info(str(ROOT / "tests/data/cpuinfo-sapphire-rapids.txt"))


def cpu(cores: int) -> CpuInfo:
    return CpuInfo(model="test", logical_cpus=cores * 2, physical_cores=cores, sockets=1, flags=SPR.flags)


def run_cpu(mode=None, **runtime) -> dict:
    return settings.to_settings(compose("model=tiny", "runtime=run_cpu", f"runtime.mode={mode or 'null'}",
                                        *[f"runtime.{k}={v}" for k, v in runtime.items()]))


@pytest.mark.parametrize("cores, nodes, mode, expected", [
    (56, 2, "latency", (14, 4)),      # run_cpu's rule: 4 physical cores each
    (6, 1, "latency", (1, 4)),        # torch 2.14 would start a second instance with 2 cores: not here
    (56, 2, "throughput", (2, 28)),   # one per NUMA node
    (2, 1, "throughput", (1, 2)),
    (2, 1, None, (1, None)),
])
def test_the_instances_a_mode_means(cores, nodes, mode, expected):
    plan = instances.plan(run_cpu(mode), cpu(cores), nodes=nodes)
    assert (plan.count, plan.cores_each) == expected


def test_the_mode_is_passed_as_explicit_instances(tmp_path):
    run = run_cpu("throughput")
    argv = launch.child_command(run, Path("python"), tmp_path / "spec.json", tmp_path, instances.InstancePlan(2, 28))
    assert "--throughput-mode" not in argv and "--latency-mode" not in argv
    assert argv[argv.index("--ninstances") + 1] == "2" and argv[argv.index("--ncores-per-instance") + 1] == "28"


def test_a_mode_that_starts_no_instance_is_refused():
    with pytest.raises(UserError, match="runtime.mode=latency starts no instance on this machine: its instances "
                                        "have 4 physical cores each and this machine has 2"):
        settings.validate(run_cpu("latency"), cpu(2))
    settings.validate(run_cpu("latency"), cpu(8))


def test_a_mode_with_options_it_would_ignore_is_refused():
    with pytest.raises(UserError, match="runtime.mode=throughput chooses the instances' physical cores itself"):
        settings.validate(run_cpu("throughput", ncores_per_instance=1), cpu(2))


def write_instance(out_dir: Path, pid: int, start: int, latency: int, n: int) -> None:
    ends = [start + latency * (i + 1) for i in range(n)]
    (out_dir / "started").mkdir(exist_ok=True)
    (out_dir / "started" / str(pid)).touch()
    (out_dir / f"instance-{pid}.json").write_text(json.dumps(
        {"status": "ok", "start_ns": start, "end_ns": ends[-1] if ends else start, "ends_ns": ends,
         "latencies_ns": [latency] * n}))


def outcome(out_dir: Path, expected: int) -> launch.Outcome:
    stderr = out_dir / "stderr.txt"
    stderr.write_text("")
    return launch.read_outcome(out_dir, expected, 0, stderr, {}, "python")


def test_instances_that_never_overlapped_are_a_failed_run(tmp_path):
    write_instance(tmp_path, 1, 0, 100, 10)        # 0 .. 1000 ns
    write_instance(tmp_path, 2, 2000, 100, 10)     # 2000 .. 3000 ns: after the first one ended
    result = outcome(tmp_path, 2)
    assert result.status == "failed" and "never overlapped" in result.reason
    assert result.instances_started == 2


def test_an_instance_with_nothing_in_the_common_window_is_a_failed_run(tmp_path):
    write_instance(tmp_path, 1, 0, 100, 30)        # 0 .. 3000 ns
    write_instance(tmp_path, 2, 500, 2000, 1)      # one iteration 500 .. 2500 ns ...
    write_instance(tmp_path, 3, 1000, 100, 20)     # ... but the common window is 1000 .. 2500 ns
    result = outcome(tmp_path, 3)
    assert result.status == "failed" and "measured window is empty for instance(s) 1" in result.reason


def test_an_empty_measured_window_is_a_failed_run(tmp_path):
    write_instance(tmp_path, 1, 0, 100, 0)
    result = outcome(tmp_path, 1)
    assert result.status == "failed" and "measured window is empty" in result.reason


def test_more_instances_than_asked_for_is_a_failed_run(tmp_path):
    write_instance(tmp_path, 1, 0, 100, 10)
    write_instance(tmp_path, 2, 0, 100, 10)
    result = outcome(tmp_path, 1)
    assert result.status == "failed" and "2 of 1 instances reported" in result.reason


@pytest.mark.slow
def test_throughput_mode_records_the_instances_it_really_started(sweep):
    result = sweep("runtime=run_cpu", "runtime.mode=throughput", *FAST)
    assert result.returncode == 0, result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok", row["reason"]
    assert row["workers"] == numa_nodes() == row["instances_started"] == len(row["instance_sps"])
    command = (sweep.tmp / "run" / "command.txt").read_text()
    assert f"--ninstances {numa_nodes()}" in command and "--throughput-mode" not in command


@pytest.mark.slow
@pytest.mark.skipif(cpu_info().physical_cores >= 4, reason="latency mode starts an instance on 4 cores or more")
def test_latency_mode_that_would_start_none_is_one_line(sweep):
    result = sweep("runtime=run_cpu", "runtime.mode=latency", *FAST, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "runtime.mode=latency starts no instance on this machine" in lines[0], result.stderr
    assert not sweep.store.exists()

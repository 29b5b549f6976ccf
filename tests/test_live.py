"""Live workers, for real: each config set up once in its own child, then timed in interleaved blocks."""

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def own_host_lock(tmp_path, monkeypatch):
    """A lock of the test's own: these tests check live workers, not waiting for whatever else measures here."""
    monkeypatch.setenv("XEONSWEEP_HOST_LOCK", str(tmp_path / "host.lock"))

# Short blocks, no budget beyond the minimum: exactly three rounds, a few seconds of blocks per sweep.
BLOCKS = ["benchmark.method=blocks", "benchmark.block_s=0.2", "benchmark.block_warmup_s=0.05",
          "benchmark.min_rounds=3", "benchmark.budget_s=0"]


def intervals_overlap(rows) -> bool:
    spans = sorted((s, e) for _, row in rows.iterrows()
                   for s, e in zip(row["block_start_unix_s"], row["block_end_unix_s"]))
    return any(later_start < end for (_, end), (later_start, _) in zip(spans, spans[1:]))


def test_each_config_is_set_up_once_and_measured_in_interleaved_blocks(sweep, tmp_path):
    marker = tmp_path / "setups.txt"
    # live_memory_mb=1: no two set-up children fit, so each group is the reference and one config.
    args = ["-m", "model=counted", f"model.factory.marker={marker}", "batch_size=1,2,3",
            *BLOCKS, "benchmark.live_memory_mb=1"]
    result = sweep(*args, faults=True)
    assert result.returncode == 0, result.stderr
    setups = marker.read_text().split()
    assert len(setups) == 3 and len(set(setups)) == 3  # one child per config, each set up once

    frame = sweep.rows()
    assert set(frame["status"]) == {"ok"} and set(frame["measurement"]) == {"blocks"}
    # batch_size=1 is the sweep's first config: the common reference, measured again in the second group.
    reference = frame[frame["batch_size"] == 1].sort_values("measure_group")
    assert list(reference["measure_group"]) == [0, 1] and reference["measure_reference"].all()
    others = frame[frame["batch_size"] != 1].set_index("batch_size")
    assert others.loc[2, "measure_group"] == 0 and others.loc[3, "measure_group"] == 1
    assert not others["measure_reference"].any()
    for group in (0, 1):  # one config measures at a time
        assert not intervals_overlap(frame[frame["measure_group"] == group])

    for _, row in frame.iterrows():
        assert row["blocks"] == row["rounds"] == 3 and len(row["block_sps"]) == 3
        assert row["sps"] == pytest.approx(sorted(row["block_sps"])[len(row["block_sps"]) // 2])
        assert row["sps_ci_low"] <= row["sps"] <= row["sps_ci_high"]
        assert row["target_met"] == (row["ci_half_width_pct"] <= 3.0)
        if not row["target_met"]:
            assert row["reason"].startswith("target not met")
        assert row["iterations_measured"] >= 3 * row["blocks"]
        assert len(row["probe_fp32_gflops"]) >= 1 and min(row["probe_fp32_gflops"]) > 0
        assert row["setup_peak_rss_mb"] > 50 and row["top1_agreement"] == 1.0
        assert row["artifact_path"].endswith("/state_dict.pt")  # a live child reports what it loaded too
        # A waiting child blocks on its socket: next to no CPU while the others measure.
        assert row["idle_s"] > 1.0
        assert row["idle_cpu_s"] <= max(0.05, 0.02 * row["idle_s"]), (row["idle_cpu_s"], row["idle_s"])

    again = sweep(*args, faults=True)
    assert again.returncode == 0, again.stderr
    assert "3 already in the store" in again.stderr
    assert len(marker.read_text().split()) == 3


def test_a_child_that_fails_dies_or_hangs_becomes_a_row_and_the_others_finish(sweep):
    args = ["-m", "model=tiny,broken,dies_between_blocks,hangs_in_a_block", *BLOCKS, "benchmark.timeout_s=40"]
    result = sweep(*args, faults=True)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows().set_index("model")
    assert frame.loc["tiny", "status"] == "ok" and frame.loc["tiny", "blocks"] >= 3
    broken = frame.loc["broken"]  # its set-up raised: reported as a fresh run's would be
    assert broken["status"] == "failed" and "RuntimeError: this model cannot be built" in broken["reason"]
    died = frame.loc["dies_between_blocks"]
    assert died["status"] == "failed" and died["measurement"] == "blocks"
    assert "killed by SIGKILL (out of memory, or killed from outside)" in died["reason"]
    hung = frame.loc["hangs_in_a_block"]
    assert hung["status"] == "timeout"
    assert "a block exceeded timeout_s=40; instances killed" in hung["reason"]
    leftovers = subprocess.run(["pgrep", "-f", str(sweep.tmp)], capture_output=True, text=True).stdout
    assert leftovers.strip() == ""


def test_a_group_left_empty_after_the_reference_died_ends_the_sweep_cleanly(sweep):
    # live_memory_mb=1: each group is the reference and one config. The reference dies in its first
    # block, so the second group has no reference, and both its configs fail their set-up.
    args = ["-m", "model=dies_in_a_block,tiny,broken,killed", *BLOCKS, "benchmark.live_memory_mb=1"]
    result = sweep(*args, faults=True)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "4 runs: 1 ok, 3 failed" in result.stderr  # the sweep's summary
    frame = sweep.rows().set_index("model")
    assert len(frame) == 4 and set(frame["measurement"]) == {"blocks"}
    assert frame.loc["dies_in_a_block", "status"] == "failed" and "SIGKILL" in frame.loc["dies_in_a_block", "reason"]
    assert frame.loc["tiny", "status"] == "ok" and frame.loc["tiny", "measure_group"] == 0
    assert frame.loc["broken", "status"] == frame.loc["killed", "status"] == "failed"
    assert "this model cannot be built" in frame.loc["broken", "reason"]
    assert pids(sweep.tmp) == []


def test_several_instances_measure_together_in_each_block(sweep):
    result = sweep("-m", "model=tiny", "runtime=run_cpu", "workers=2", *BLOCKS)
    assert result.returncode == 0, result.stdout + result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok" and row["measurement"] == "blocks" and row["blocks"] == 3
    assert row["workers"] == row["instances_started"] == 2  # as a fresh run records them (launch.release)
    # Both instances timed every block together, each on a core of its own.
    assert len(row["instance_sps"]) == 2 and all(s > 0 for s in row["instance_sps"])
    assert row["torch_threads"] == 1 and len(set(row["cpu_affinity"].split(";"))) == 2
    assert row["iterations_measured"] >= 2 * 3 * 3
    assert row["idle_cpu_s"] <= max(0.05, 0.02 * row["idle_s"])


def test_kill_9_of_a_live_sweep_leaves_no_child_and_no_partial_file(sweep):
    args = ["-m", "model=tiny", "runtime=run_cpu", "workers=2", "batch_size=1,2",
            *BLOCKS[:-1], "benchmark.budget_s=600", "benchmark.target_ci_pct=0.01"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = sweep.tmp / "sweep" / "1" / "child"
    deadline = time.monotonic() + 240
    while not (second.exists() and len(pids(sweep.tmp)) >= 6):  # 2 x (run_cpu + its agent... + 2 instances)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "the live children never started"
        time.sleep(0.2)
    time.sleep(3)  # the rounds are under way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    assert pids(sweep.tmp) == []
    assert not [p for p in sweep.tmp.rglob("*") if p.name.startswith(".tmp")]


def pids(tmp) -> list[str]:
    return subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True, text=True).stdout.split()


def test_the_idle_measure_sees_a_child_whose_openmp_threads_spin(sweep):
    # OMP_WAIT_POLICY=active: GNU OpenMP threads spin instead of sleeping between parallel regions.
    # The sweep leaves the config's own OpenMP settings alone, and its row shows the CPU it burnt waiting.
    result = sweep("-m", "model=tiny", "batch_size=1", "+env.OMP_WAIT_POLICY=passive,active", *BLOCKS)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows()
    frame["policy"] = frame["child_env"].str.extract(r'"OMP_WAIT_POLICY": "(\w+)"', expand=False)
    rows = frame.set_index("policy")
    assert set(rows["status"]) == {"ok"}
    assert rows.loc["passive", "idle_cpu_s"] <= max(0.05, 0.02 * rows.loc["passive", "idle_s"])
    # a spinning thread: a share of a core
    assert rows.loc["active", "idle_cpu_s"] >= 0.1 * rows.loc["active", "idle_s"]


def test_blocks_with_repeats_run_fresh_repeats_and_say_so_in_one_line(sweep):
    from tests.conftest import FAST

    result = sweep("-m", *FAST, "benchmark.method=blocks", "benchmark.repeats=2")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "fresh-process repeats" in line]
    assert notes == ["xeonsweep: benchmark.repeats=2 asks for independent fresh-process repeats: 2 run(s) with "
                     "benchmark.method=blocks run one fresh process each instead (blocks need benchmark.repeats=1)"]
    frame = sweep.rows()
    assert sorted(frame["repeat"]) == [0, 1] and set(frame["measurement"]) == {"fresh"}


def test_a_block_sweep_started_outside_the_checkout_measures(tmp_path, cache_dir):
    """From a folder of the user's own, with the default (relative) store and sweep folders."""
    import sys

    import pandas as pd

    user = tmp_path / "user"
    user.mkdir()
    argv = [sys.executable, "-m", "xeonsweep", "-m", "model=tiny", "batch_size=2,4", *BLOCKS[:-2],
            "benchmark.min_rounds=2", "benchmark.budget_s=0", f"cache.dir={cache_dir}"]
    result = subprocess.run(argv, cwd=user, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(user / "outputs" / "results")
    assert sorted(frame["batch_size"]) == [2, 4]
    assert set(frame["status"]) == {"ok"}, frame[["status", "reason"]].to_string()
    assert set(frame["measurement"]) == {"blocks"} and (frame["blocks"] == 2).all()


def test_a_block_sweep_killed_mid_rounds_goes_on_from_its_blocks_when_run_again(sweep):
    args = ["-m", "model=tiny", "batch_size=1,2", *BLOCKS[:3], "benchmark.min_rounds=3",
            "benchmark.budget_s=600", "benchmark.target_ci_pct=0.01"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journals = sweep.store / "_blocks"
    deadline = time.monotonic() + 300
    while len(files := list(journals.rglob("*.jsonl"))) < 2 or min(lines(f) for f in files) < 3:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no blocks were journaled"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not sweep.store.exists() or sweep.rows().empty  # no row yet: rows are written when rounds end
    earlier = sorted(lines(f) for f in journals.rglob("*.jsonl"))
    rerun_at = time.time()

    # Run again (min_rounds and budget_s are not part of a config's identity): two more rounds each.
    result = sweep(*args[:-3], f"benchmark.min_rounds={earlier[-1] + 2}", "benchmark.budget_s=0")
    assert result.returncode == 0, result.stderr
    assert f"continuing 2 config(s) from {sum(earlier)} block(s)" in result.stderr
    frame = sweep.rows()
    assert set(frame["status"]) == {"ok"} and len(frame) == 2
    more = earlier[-1] + 2 - earlier[0]  # the rounds every config had a block of count as done
    assert sorted(frame["blocks"]) == [n + more for n in earlier]
    for _, row in frame.iterrows():
        starts = sorted(row["block_start_unix_s"])
        assert sum(s < rerun_at for s in starts) == row["blocks"] - more  # the killed sweep's blocks are in
    assert list(journals.rglob("*.jsonl")) == []  # the rows hold them now


def lines(path) -> int:
    return path.read_text().count("\n")

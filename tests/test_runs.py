"""Real sweeps: real child processes, real allocators, real Parquet read back with pandas."""

import json
import os

import pandas as pd
import pytest

from tests.conftest import FAST
from xeonsweep.machine.facts import thp_mode
from xeonsweep.stats.measure import combined_sps

pytestmark = pytest.mark.slow


def test_sweep_writes_one_row_per_run_and_resumes(sweep):
    first = sweep("-m", "batch_size=1,2", "channels_last=false,true", *FAST)
    assert first.returncode == 0, first.stderr
    assert "4 runs: 4 ok" in first.stderr
    frame = pd.read_parquet(sweep.store)
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert sorted(zip(frame["batch_size"], frame["channels_last"])) == [(1, False), (1, True), (2, False), (2, True)]
    assert (frame["sps"] > 0).all() and (frame["iterations_measured"] >= 3).all()
    assert (frame["latency_ms_p99"] >= frame["latency_ms_p50"]).all()
    assert frame["latencies_ms"].map(len).ge(3).all()
    assert (frame["top1_agreement"] == 1.0).all()  # fp32 eager agrees with itself
    assert frame["sweep_id"].nunique() == 1
    assert frame["cpu_model"].notna().all() and frame["isa"].str.len().gt(0).all()
    assert frame["torch_version"].str.startswith("2.14").all()

    again = sweep("-m", "batch_size=1,2", "channels_last=false,true", *FAST)
    assert again.returncode == 0, again.stderr
    assert "4 already in the store" in again.stderr
    assert len(pd.read_parquet(sweep.store)) == 4

    forced = sweep("-m", "batch_size=1", "channels_last=false", "results.rerun=true", *FAST)
    assert forced.returncode == 0, forced.stderr
    assert len(pd.read_parquet(sweep.store)) == 5


def test_single_run_prints_its_result(sweep):
    result = sweep(*FAST)
    assert result.returncode == 0, result.stderr
    assert "xeonsweep: ok" in result.stdout and "samples/s" in result.stdout
    assert len(sweep.rows()) == 1
    again = sweep(*FAST)  # a single run checks the store itself
    assert again.returncode == 0 and "xeonsweep: done: already in the store" in again.stdout
    assert len(sweep.rows()) == 1


def test_allocators_are_really_mapped_in_the_child(sweep):
    result = sweep("-m", "allocator=system,tcmalloc,jemalloc", *FAST)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows().set_index("allocator")
    assert frame.loc["system", "applied_allocator"] == "system"
    assert frame.loc["system", "ld_preload"] == ""
    for name, library in (("tcmalloc", "libtcmalloc"), ("jemalloc", "libjemalloc")):
        assert frame.loc[name, "applied_allocator"] == name
        assert library in frame.loc[name, "ld_preload"] and os.path.exists(frame.loc[name, "ld_preload"])
        assert library in json.loads(frame.loc[name, "child_env"])["LD_PRELOAD"]
    assert "MALLOC_CONF" in json.loads(frame.loc["jemalloc", "child_env"])


def test_transparent_huge_pages(sweep):
    result = sweep("-m", "thp=false,true", *FAST)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows().set_index("thp")
    assert json.loads(frame.loc[True, "child_env"])["THP_MEM_ALLOC_ENABLE"] == "1"
    assert "THP_MEM_ALLOC_ENABLE" not in json.loads(frame.loc[False, "child_env"])
    mode = frame.loc[True, "thp_mode"]
    assert mode == thp_mode()  # the row says the machine's mode
    if mode == "unknown":
        pytest.skip("this kernel has no transparent huge pages: nothing to measure")
    huge_kb = frame["thp_anon_huge_kb"]
    if mode == "never":
        assert (huge_kb == 0).all()
    else:
        assert huge_kb[True] > 0
        if mode == "madvise":  # nothing else asks for huge pages in the child
            assert huge_kb[False] == 0


def test_run_cpu_with_two_instances(sweep):
    result = sweep("runtime=run_cpu", "workers=2", *FAST[:-1], "benchmark.min_duration_s=1.5")
    assert result.returncode == 0, result.stdout + result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok"
    assert len(row["instance_sps"]) == 2 and all(s > 0 for s in row["instance_sps"])
    # Recomputed exactly from what the instances themselves wrote, by the common-window rule
    # (combined_sps, checked with a fake clock in test_measure.py). The instances start at a
    # barrier, so summing their overall rates is off by only about one iteration in each
    # (<1%): a loose tolerance could not tell the two apart, an exact comparison does.
    instances = [json.loads(p.read_text()) for p in sorted((sweep.tmp / "run" / "child").glob("instance-*.json"))]
    expected, per_instance = combined_sps(instances, row["batch_size"])
    assert row["sps"] == pytest.approx(expected, rel=1e-9)
    assert list(row["instance_sps"]) == pytest.approx(per_instance, rel=1e-9)
    overall = sum(row["batch_size"] * len(i["ends_ns"]) / ((i["end_ns"] - i["start_ns"]) / 1e9) for i in instances)
    assert row["sps"] != pytest.approx(overall, rel=1e-9)  # so this run could tell them apart
    assert row["torch_threads"] == 1  # run_cpu gave each instance its own core
    assert len(row["cpu_affinity"].split(";")) == 2
    assert row["cpu_affinity"].split(";")[0] != row["cpu_affinity"].split(";")[1]


def test_run_cpu_with_intel_openmp_really_maps_it(sweep):
    result = sweep("runtime=run_cpu", "runtime.intel_openmp=true", *FAST)
    assert result.returncode == 0, result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok"
    assert "intel" in row["applied_openmp"].split(",")
    assert "libiomp5" in row["ld_preload"]


def test_incompatible_combination_in_a_sweep_is_a_skipped_row(sweep):
    result = sweep("-m", "workers=1,2", *FAST)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows().set_index("workers")
    assert frame.loc[1, "status"] == "ok"
    assert frame.loc[2, "status"] == "skipped"
    assert "needs runtime=run_cpu" in frame.loc[2, "reason"]

"""How the store scales: build a store of realistic rows as sweeps leave it (one file
per run, through `results.write_row`, index and all), then time what every sweep and
report does: the resume check, `load` of the summary columns, the report's summary,
and a full `load`; then compact it and time them again.

    python benchmarks/store_scale.py --rows 100000 [--store DIR]
    python benchmarks/store_scale.py --copied 20000   # rows copied in from another machine's store

Goals (issue 9): resume check < 2 s, summary load < 5 s on 2 cores, before and
after compaction. With --copied (issue 20): the row files of a store built elsewhere are
copied into an empty store without its index, as `cp -r` or `rsync` brings them; the first
resume check reads them and takes them into the index, the loads after it should be as fast
as for rows written here (before issue 20: 55 s each, every time, until `store compact`).
Building 100,000 rows takes about half an hour here (each row is
fsynced and indexed); `--store DIR` keeps it for another measurement.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xeonsweep.report import tables as report
from xeonsweep.store import (
    compaction,  # noqa: E402
    results,
)

BACKENDS = ("eager", "compile", "ipex", "onnxruntime", "openvino")


def realistic_row(i: int, rng: random.Random) -> dict:
    """A row shaped like a real one: per-iteration latencies, the resolved config, versions."""
    started = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=30 * i)
    latencies = [rng.gauss(12.0, 1.0) for _ in range(rng.randint(50, 400))]
    config = {"model": {"name": "resnet50", "input_shape": [3, 224, 224],
                        "factory": {"_target_": "torchvision.models.resnet50"}},
              "batch_size": 8, "seed": i % 5, "benchmark": {"warmup": 10, "iterations": 50}, "padding": "x" * 1500}
    return {
        "run_key": f"{i:016x}", "config_hash": f"{i // 3:016x}", "sweep_id": f"sweep-{i // 1000:04d}",
        "started_at": started, "finished_at": started + timedelta(seconds=20),
        "status": "ok" if i % 10 else "failed", "reason": None if i % 10 else "killed by SIGKILL",
        "ladder_step": None, "model": "resnet50", "input_shape": "3x224x224", "batch_size": 8,
        "channels_last": bool(i % 2), "precision": "bf16", "allocator": "tcmalloc", "thp": True,
        "backend": BACKENDS[i % len(BACKENDS)], "backend_options": json.dumps({"mode": "default"}),
        "quantization": "none", "quantization_options": "{}", "workers": 1, "runtime": "python",
        "runtime_options": "{}", "warmup": 10, "iterations": 50, "min_duration_s": 5.0, "timeout_s": 900.0,
        "seed": i % 5, "repeat": i % 3, "overrides": "backend=eager batch_size=8", "config_json": json.dumps(config),
        "sps": rng.uniform(50, 500), "instance_sps": [rng.uniform(50, 500)], "latencies_ms": latencies,
        "latency_ms_p50": 12.0, "latency_ms_p99": 15.0, "top1_agreement": 1.0, "max_rel_error": 0.01,
        "machine": "AMD EPYC (2 cores)", "hostname": "node-1", "cpu_model": "AMD EPYC", "isa": "avx512",
        "versions": json.dumps({"torch": "2.9.0", "numpy": "2.3.0", "onnxruntime": "1.23"}),
        "child_env": json.dumps({"LD_PRELOAD": "/usr/lib/libtcmalloc.so.4", "PYTHONUNBUFFERED": "1"}),
        "backend_details": json.dumps({"applied_precision": "bf16 autocast"}),
    }


def build(store: Path, rows: int) -> float:
    rng = random.Random(0)
    started = time.perf_counter()
    for i in range(rows):
        row = realistic_row(i, rng)
        results.write_row(row, store, row["sweep_id"])
        if (i + 1) % 10000 == 0:
            print(f"  {i + 1} rows written ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def timed(label: str, action) -> float:
    """Wall seconds (the goal), with this process's CPU seconds beside them: on a machine
    shared with other work the wall time is mostly waiting for a core."""
    import os

    started, cpu = time.perf_counter(), time.process_time()
    value = action()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    size = len(value) if hasattr(value, "__len__") else value
    load = os.getloadavg()[0]
    print(f"  {label:<32} {seconds:7.2f} s wall {cpu:6.2f} s CPU  ({size} rows; load average {load:.1f})", flush=True)
    return seconds


def measure(store: Path) -> dict:
    results.finished_keys(store)  # once untimed: imports and the page cache, as in a sweep that has started
    return {
        "resume check (finished_keys)": timed("resume check (finished_keys)", lambda: results.finished_keys(store)),
        "load summary columns": timed("load summary columns", lambda: results.load(store, results.SUMMARY_COLUMNS)),
        "report summary": timed("report summary", lambda: report.summarize(report.load(store))),
        "full load (with latencies)": timed("full load (with latencies)", lambda: results.load(store)),
    }


def copied(rows: int) -> None:
    """Rows written by another machine's store, copied in without its index; then what a sweep and the report
    time, the first time (the files are read and taken into the index) and after it."""
    with tempfile.TemporaryDirectory(prefix="store-copied-") as tmp:
        source, store = Path(tmp) / "elsewhere", Path(tmp) / "here"
        print(f"building {rows} rows in another store (one file per run) ...")
        print(f"  built in {build(source, rows):.0f} s")
        shutil.copytree(source, store, ignore=shutil.ignore_patterns("_index", "*.lock"))
        files = sum(1 for _ in store.rglob("*.parquet"))
        print(f"copied {files} row files into an empty store, without the other store's index")
        first = timed("resume check, first (takes them in)", lambda: results.finished_keys(store))
        again = timed("resume check, again", lambda: results.finished_keys(store))
        summary = timed("load summary columns", lambda: results.load(store, results.SUMMARY_COLUMNS))
        timed("report summary", lambda: report.summarize(report.load(store)))
        print(f"copied-in rows: the first resume check {first:.2f} s, then {again:.2f} s; summary load {summary:.2f} s "
              f"(goal: as fast as rows written here; resume < 2 s, summary < 5 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", help="reuse (or build) this store instead of a temp folder")
    parser.add_argument("--copied", type=int, metavar="N", help="time N rows copied in from another store instead")
    args = parser.parse_args()
    if args.copied:
        copied(args.copied)
        return 0
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="store-scale-"))
    try:
        if not store.exists() or not any(store.iterdir()):
            print(f"building {args.rows} rows in {store} (one file per run) ...")
            print(f"  built in {build(store, args.rows):.0f} s")
        print("as sweeps leave it (one file per run, index kept by the writers):")
        before = measure(store)
        started = time.perf_counter()
        done = compaction.compact(store)
        print(f"compacted {done['merged_files']} files in {time.perf_counter() - started:.1f} s; after compaction:")
        after = measure(store)
        for name, goal in (("resume check (finished_keys)", 2.0), ("load summary columns", 5.0)):
            verdict = "ok" if max(before[name], after[name]) < goal else "OVER GOAL"
            print(f"{name}: {before[name]:.2f} s before, {after[name]:.2f} s after compaction; "
                  f"goal < {goal:g} s: {verdict}")
    finally:
        if not args.store:
            shutil.rmtree(store, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

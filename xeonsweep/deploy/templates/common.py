# ---- The timing, the same for every backend (numpy and the standard library only) ----
# A template: `xeonsweep recipe` writes it into infer.py after SETTINGS; nothing imports it.
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ARTIFACT = HERE / "artifact"
# Variables that change how the libraries run, reported by --applied.
WATCHED = ("LD_PRELOAD", "MALLOC_", "THP_", "OMP_", "KMP_", "ONEDNN_", "DNNL_")


def make_inputs(settings):
    """The model's inputs, seeded: {name: numpy array}, batch first (values do not change the speed)."""
    rng = np.random.default_rng(settings["seed"])
    batch = {}
    for spec in settings["inputs"]:
        shape = (settings["batch_size"], *spec["shape"])
        if spec["fill"] == "normal":
            array = rng.standard_normal(shape, dtype=np.float32)
        elif spec["fill"] == "randint":
            array = rng.integers(spec["low"], spec["high"], shape).astype(spec["dtype"])
        else:
            array = (np.ones if spec["fill"] == "ones" else np.zeros)(shape, dtype=spec["dtype"])
        batch[spec["name"]] = array
    return batch


def by_name(batch, names):
    """The graph's inputs by name; an image model's one input under whatever name the graph gives it."""
    if len(batch) == 1 and len(names) == 1:
        return {names[0]: next(iter(batch.values()))}
    return {name: batch[name] for name in names}


def threads():
    """Threads per instance: OMP_NUM_THREADS, which run.sh (or run_cpu) sets as the measured child had it."""
    return int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))


def closed_loop(call, warmup, iterations, seconds):
    """Call, wait, call again: `warmup` untimed calls, then at least `iterations` calls and `seconds`.
    Returns each call's latency (s) and the timed window (s)."""
    for _ in range(warmup):
        call()
    latencies = []
    start = now = time.perf_counter()
    while len(latencies) < iterations or now - start < seconds:
        before = time.perf_counter()
        call()
        now = time.perf_counter()
        latencies.append(now - before)
    return latencies, now - start


def wait_for_peers(folder, instances):
    """Instances started together (run_cpu) time together: each marks itself ready and waits for the rest."""
    if instances <= 1:
        return
    ready = folder / "ready"
    ready.mkdir(exist_ok=True)
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + 600
    while len(list(ready.iterdir())) < instances:
        if time.monotonic() > deadline:
            sys.exit(f"infer.py: only {len(list(ready.iterdir()))} of {instances} instances got ready")
        time.sleep(0.005)


def percentile(ordered, q):
    """Linear-interpolated percentile (numpy's default, as xeonsweep computes it) of sorted values."""
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def result(instances, batch_size):
    """One line for all instances: SPS summed (they ran at once), latency percentiles over every call."""
    latencies = sorted(ms for figures in instances for ms in figures["latencies_ms"])
    return {"sps": round(sum(figures["sps"] for figures in instances), 3),
            "p50_ms": round(percentile(latencies, 50), 4), "p99_ms": round(percentile(latencies, 99), 4),
            "instances": len(instances), "batch_size": batch_size, "calls": len(latencies)}


def anon_huge_kb():
    """Anonymous memory in transparent huge pages in this process (as xeonsweep's worker reads it)."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return -1


def write_applied(folder, threads_used):
    """What this process had, read as xeonsweep's worker reads it: the libraries mapped, the variables,
    its threads and CPUs."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = {
        "maps": Path("/proc/self/maps").read_text(),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "env": {k: v for k, v in os.environ.items() if k.startswith(WATCHED)},
        "threads": threads_used,
        "cpu_affinity": ",".join(str(c) for c in sorted(os.sched_getaffinity(0))),
        "anon_huge_kb": anon_huge_kb(),
    }
    (folder / f"applied-{os.getpid()}.json").write_text(json.dumps(facts))


def arguments(settings):
    parser = argparse.ArgumentParser(description="Time the model as the xeonsweep row did; prints one RESULT line.")
    parser.add_argument("--seconds", type=float, default=settings["seconds"], help="time at least this long")
    parser.add_argument("--warmup", type=int, default=settings["warmup"], help="untimed calls first")
    parser.add_argument("--iterations", type=int, default=settings["iterations"], help="and at least this many calls")
    parser.add_argument("--results", help="a folder for each instance's figures (run.sh makes one)")
    parser.add_argument("--instances", type=int, default=1, help="instances started together (run_cpu)")
    parser.add_argument("--combine", metavar="FOLDER", help="print the RESULT line of the figures in FOLDER")
    parser.add_argument("--applied", metavar="FOLDER", help="also write what this process had into FOLDER")
    return parser.parse_args()


def main(load, settings):
    args = arguments(settings)
    if args.combine:
        found = [json.loads(p.read_text()) for p in sorted(Path(args.combine).glob("instance-*.json"))]
        if not found:
            sys.exit(f"infer.py: no instance figures in {args.combine}")
        print("RESULT " + json.dumps(result(found, settings["batch_size"])), flush=True)
        return
    timer, threads_used = load(settings, make_inputs(settings), threads())
    folder = Path(args.results) if args.results else None
    if folder:
        wait_for_peers(folder, args.instances)
    latencies, window = timer(args.warmup, args.iterations, args.seconds)
    figures = {"sps": len(latencies) * settings["batch_size"] / window, "latencies_ms": [s * 1e3 for s in latencies]}
    if args.applied:
        write_applied(Path(args.applied), threads_used)
    if folder:
        (folder / f"instance-{os.getpid()}.json").write_text(json.dumps(figures))
    else:
        print("RESULT " + json.dumps(result([figures], settings["batch_size"])), flush=True)

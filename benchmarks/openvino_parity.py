"""Does xeonsweep measure OpenVINO as fast as OpenVINO's own benchmark_app?

The same cached IR (the one xeonsweep converted), the same batch shape,
precision hint and duration, measured by `benchmark_app` (it ships in the openvino
wheel) and by xeonsweep, alternated round after round in one run, for the latency
and the throughput hint. Prints the medians and xeonsweep / benchmark_app per hint
(goal >= 0.95 for both). Nothing is asserted: the cores may be shared.

    .venv/bin/python benchmarks/openvino_parity.py [--model resnet50] [--batch-size 8] [--seconds 15] [--rounds 3]
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import alternation  # benchmarks/alternation.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
HINTS = ("latency", "throughput")


def xeonsweep_run(args, hint: str, tmp: Path, n: int) -> dict:
    store = tmp / f"results-{n}"
    subprocess.run(
        [sys.executable, "-m", "xeonsweep", f"model={args.model}", f"batch_size={args.batch_size}", "backend=openvino",
         f"backend.options.performance_hint={hint}", "benchmark.warmup=10", "benchmark.iterations=10",
         f"benchmark.min_duration_s={args.seconds}", f"results.dir={store}", f"cache.dir={tmp / 'cache'}",
         f"hydra.run.dir={tmp}/runs/{n}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    from xeonsweep.store.results import load

    row = load(store).iloc[-1]
    if row["status"] != "ok":
        raise SystemExit(f"xeonsweep {hint}: {row['status']}: {row['reason']}")
    details = json.loads(row["backend_details"])
    return {"sps": float(row["sps"]), "ir": details["ir"], "threads": int(row["torch_threads"]),
            "precision": details["precision_hint"], "requests": details.get("ov_requests"),
            "streams": details.get("ov_streams")}


def benchmark_app(args, hint: str, ir: str, precision: str) -> float:
    tool = Path(sys.executable).parent / "benchmark_app"
    shape = f"[{args.batch_size},{','.join(str(d) for d in input_shape(args.model))}]"
    # benchmark_app refuses -nthreads with a hint; both use every physical core by default.
    command = [str(tool), "-m", ir, "-d", "CPU", "-hint", hint, "-shape", shape, "-t", str(args.seconds),
               "-infer_precision", precision]
    out = subprocess.run(command, capture_output=True, text=True, check=True,
                         env=os.environ | {"PYTHONUNBUFFERED": "1"}).stdout
    found = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", out)
    if not found:
        raise SystemExit("benchmark_app printed no throughput:\n" + out[-2000:])
    return float(found.group(1))


def input_shape(model: str) -> list[int]:
    from omegaconf import OmegaConf

    return list(OmegaConf.load(ROOT / "xeonsweep" / "conf" / "model" / f"{model}.yaml")["input_shape"])


def main() -> None:
    args = alternation.arguments(__doc__.splitlines()[0])
    ours: dict[str, list[float]] = {h: [] for h in HINTS}
    theirs: dict[str, list[float]] = {h: [] for h in HINTS}
    facts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for hint in HINTS:  # converts the IR once (cached) and learns its path
            facts[hint] = xeonsweep_run(args, hint, Path(tmp), n := n + 1)
        for _ in range(args.rounds):
            for hint in HINTS:
                f = facts[hint]
                theirs[hint].append(benchmark_app(args, hint, f["ir"], f["precision"]))
                ours[hint].append(xeonsweep_run(args, hint, Path(tmp), n := n + 1)["sps"])
    print(f"{args.model}, batch {args.batch_size}, {args.seconds} s per measurement, {args.rounds} alternated rounds")
    for hint in HINTS:
        mine, app = statistics.median(ours[hint]), statistics.median(theirs[hint])
        print(f"hint={hint:10} xeonsweep {mine:8.1f} samples/s  benchmark_app {app:8.1f} FPS  "
              f"ratio {mine / app:.3f}  (goal >= 0.95; streams {facts[hint]['streams']}, "
              f"requests {facts[hint]['requests']}; "
              f"rounds: xeonsweep {[round(x, 1) for x in ours[hint]]}, "
              f"benchmark_app {[round(x, 1) for x in theirs[hint]]})")


if __name__ == "__main__":
    main()

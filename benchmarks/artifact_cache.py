"""How much set-up time does the artifact cache save?

Runs the onnxruntime, openvino and openvino+nncf rows of one model twice with
a fresh cache: the first run exports / converts / quantizes, the second finds
the artifacts. Prints each row's setup time and the ratio second/first
(goal <= 0.2).

    .venv/bin/python benchmarks/artifact_cache.py [--model resnet50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = {
    "onnxruntime": ["backend=onnxruntime"],
    "openvino": ["backend=openvino"],
    "openvino+nncf": ["backend=openvino", "quantization=nncf"],
}


def setup_seconds(args: list[str], tmp: Path, attempt: int) -> float:
    store = tmp / f"results-{attempt}"
    cache = tmp / ("cache-" + "-".join(args).replace("=", "_"))
    subprocess.run(
        [sys.executable, "-m", "xeonsweep", *args, "benchmark.warmup=1", "benchmark.iterations=3",
         "benchmark.min_duration_s=0", f"results.dir={store}", f"cache.dir={cache}",  # one cache per row: each first run starts cold
         f"hydra.run.dir={tmp}/runs/{attempt}-{'-'.join(args).replace('=', '_')}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    from xeonsweep.store.results import load

    row = load(store).iloc[-1]
    if row["status"] != "ok":
        raise SystemExit(f"{' '.join(args)}: {row['status']}: {row['reason']}")
    return float(row["setup_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in ROWS.items():
            row_args = [f"model={args.model}", *overrides]
            first = setup_seconds(row_args, Path(tmp), 1)
            second = setup_seconds(row_args, Path(tmp), 2)
            print(f"{name:15} setup first {first:7.2f} s, second {second:6.2f} s, ratio {second / first:.3f}  (goal <= 0.2)")


if __name__ == "__main__":
    main()

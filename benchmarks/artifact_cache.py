"""Does the artifact cache save set-up time, and does a cached artifact run as fast?

For each cached backend (ONNX Runtime, OpenVINO from ONNX and from PyTorch,
OpenVINO+NNCF, pt2e), one block sweep of two processes of the same ladder step
into a fresh cache: the first (cold) exports / converts / quantizes, the second
(warm) finds the artifacts; both stay live and are timed in interleaved blocks,
round after round (benchmark.method=blocks). Prints each one's set-up time with
the ratio warm/cold (goal <= 0.2), and the SPS ratio warm/cold from the rounds'
paired blocks: the median of the per-round ratios with a seeded bootstrap 95%
interval over rounds (goal 0.97 to 1.03). Nothing is asserted: run it on a quiet machine.

    .venv/bin/python benchmarks/artifact_cache.py [--model resnet50] [--rounds 8] [--only pt2e]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {
    "onnxruntime": ["step=onnxruntime"],
    "openvino": ["step=openvino"],
    "openvino (pytorch)": ["step=openvino", "backend.options.source=pytorch"],
    "openvino+nncf": ["step=openvino_nncf"],
    "pt2e": ["step=pt2e"],
}
# The two processes must be two configs of one sweep with the same artifact: they differ in
# benchmark.warmup, which no artifact or reference key holds and blocks never use (they re-warm
# for block_warmup_s). Live children are set up in sweep order: the first builds, the second loads.
COLD_WARM = "benchmark.warmup=10,11"


def cold_and_warm(name: str, overrides: list[str], args, tmp: Path):
    folder = tmp / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)  # a folder Hydra reads back as a plain override value
    result = subprocess.run(
        [sys.executable, "-m", "xeonsweep", "-m", f"model={args.model}", *overrides, COLD_WARM,
         "benchmark.method=blocks", f"benchmark.min_rounds={args.rounds}", f"benchmark.budget_s={args.budget}",
         f"results.dir={folder / 'results'}", f"cache.dir={folder / 'cache'}",  # a fresh cache: the first starts cold
         f"hydra.sweep.dir={folder / 'sweep'}"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{name}: xeonsweep exited {result.returncode}\n"
                         f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    from xeonsweep.store.results import load

    rows = load(folder / "results").sort_values("warmup")
    if list(rows["status"]) != ["ok", "ok"]:
        raise SystemExit(f"{name}: {list(rows['status'])}: {list(rows['reason'])}")
    cold, warm = rows.iloc[0], rows.iloc[1]
    if (bool(cold["artifact_cached"]), bool(warm["artifact_cached"])) != (False, True):
        raise SystemExit(f"{name}: artifact_cached {cold['artifact_cached']}, {warm['artifact_cached']}: "
                         "not one cold, one warm")
    return cold, warm


def paired_ratio(cold, warm, seed: int = 0) -> tuple[float, float, float, int]:
    """Median over rounds of warm block SPS / cold block SPS, and its bootstrap 95% interval."""
    n = min(len(cold["block_sps"]), len(warm["block_sps"]))
    ratios = np.asarray(warm["block_sps"][:n]) / np.asarray(cold["block_sps"][:n])
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(ratios, size=(10_000, n), replace=True), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(np.median(ratios)), float(low), float(high), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--rounds", type=int, default=8, help="at least this many paired rounds (benchmark.min_rounds)")
    parser.add_argument("--budget", type=float, default=300, help="benchmark.budget_s of each backend's sweep")
    parser.add_argument("--only", choices=list(BACKENDS), action="append", help="these backends only (repeatable)")
    args = parser.parse_args()
    print(f"{args.model}: set-up and SPS of a process that loaded the cached artifact (warm) "
          f"over one that made it (cold), paired blocks, at least {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or BACKENDS:
            cold, warm = cold_and_warm(name, BACKENDS[name], args, Path(tmp))
            ratio, low, high, rounds = paired_ratio(cold, warm)
            print(f"{name:19} setup cold {cold['setup_s']:7.2f} s, warm {warm['setup_s']:6.2f} s, "
                  f"ratio {warm['setup_s'] / cold['setup_s']:.3f} (goal <= 0.2)   "
                  f"SPS cold {cold['sps']:7.1f}, warm {warm['sps']:7.1f}, warm/cold {ratio:.3f} "
                  f"[{low:.3f}, {high:.3f}] over {rounds} rounds (goal 0.97 to 1.03)")


if __name__ == "__main__":
    main()

"""Does xeonsweep measure what a bare loop measures, and what does the parent cost?

The same config (resnet50, eager, fp32, batch 8) is timed alternately by the
seed's bare loop (benchmarks/bare_loop.py) and by `python -m xeonsweep`, each
in a fresh process, so that drift of the noisy machine hits both alike.

Prints the ratio of median SPS, xeonsweep / bare (goal >= 0.97), and the
parent's CPU time while its child ran as a share of the child's (goal < 2%).

    .venv/bin/python benchmarks/harness_overhead.py [--rounds 6] [--iterations 40]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 8


def bare(iterations: int) -> float:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bare_loop.py"), str(BATCH), str(iterations)],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def xeonsweep(iterations: int, tmp: Path, round_no: int) -> tuple[float, float, float]:
    store = tmp / "results"
    subprocess.run(
        [sys.executable, "-m", "xeonsweep", "model=resnet50", "backend=eager", "precision=fp32",
         f"batch_size={BATCH}", "benchmark.warmup=10", f"benchmark.iterations={iterations}",
         "benchmark.min_duration_s=0", f"results.dir={store}", "results.rerun=true",
         f"hydra.run.dir={tmp}/runs/{round_no}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    from xeonsweep.store.results import load

    row = load(store).sort_values("finished_at").iloc[-1]
    return float(row["sps"]), float(row["parent_cpu_s"]), float(row["child_cpu_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    bare_sps, sweep_sps, cpu_share = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            # Alternate which goes first, so neither always gets the warmer machine.
            order = ("bare", "xeonsweep") if round_no % 2 == 0 else ("xeonsweep", "bare")
            for which in order:
                if which == "bare":
                    bare_sps.append(bare(args.iterations))
                else:
                    sps, parent_cpu, child_cpu = xeonsweep(args.iterations, Path(tmp), round_no)
                    sweep_sps.append(sps)
                    cpu_share.append(parent_cpu / child_cpu)
            print(f"round {round_no + 1}: bare {bare_sps[-1]:.2f} SPS, xeonsweep {sweep_sps[-1]:.2f} SPS, "
                  f"parent CPU {100 * cpu_share[-1]:.2f}% of child's")
    ratio = statistics.median(sweep_sps) / statistics.median(bare_sps)
    share = statistics.median(cpu_share)
    print(f"SPS ratio xeonsweep/bare (median of {args.rounds}): {ratio:.3f}  (goal >= 0.97)")
    print(f"parent CPU while the child runs: {100 * share:.2f}% of the child's  (goal < 2%)")


if __name__ == "__main__":
    main()

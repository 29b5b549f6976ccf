"""The seed's ladder for resnet50 on this machine, and how close it gets to the hardware.

Runs `experiment=ladder` with a short measurement (or reads an existing store
with --store), then prints each step's SPS, the best step's speedup over the
baseline, and the best fp32 and int8 SPS as a fraction of the fp32 limit:
the machine's fp32 peak (the higher of a measured large matmul and
cores x clock x FLOPs per cycle for its ISA) divided by the model's FLOPs per
sample (torch's FlopCounterMode).

    .venv/bin/python benchmarks/ladder.py [--store DIR] [--iterations 10] [--min-duration 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xeonsweep.machine.facts import cpu_info  # noqa: E402


def run_ladder(store: Path, iterations: int, min_duration: float) -> None:
    subprocess.run(
        [sys.executable, "-m", "xeonsweep", "-m", "experiment=ladder", "model=resnet50",
         "benchmark.warmup=3", f"benchmark.iterations={iterations}", f"benchmark.min_duration_s={min_duration}",
         f"results.dir={store}", f"hydra.sweep.dir={store.parent}/sweep"],
        cwd=ROOT, check=True,
    )


def flops_per_sample() -> float:
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    model = torchvision.models.resnet50().eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 3, 224, 224))
    return float(counter.get_total_flops())


def measured_matmul_flops(size: int = 2048, seconds: float = 3.0) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start)


def theoretical_flops() -> tuple[float, str]:
    """Physical cores x clock x fp32 FLOPs per cycle (two FMA units of the widest vectors)."""
    cpu = cpu_info()
    mhz = max(float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", Path("/proc/cpuinfo").read_text()))
    lanes = 16 if cpu.has("avx512f") else 8 if cpu.has("avx2") else 4
    per_cycle = 2 * 2 * lanes  # 2 FMA units x (multiply + add) x fp32 lanes
    return (cpu.physical_cores * mhz * 1e6 * per_cycle,
            f"{cpu.physical_cores} cores x {mhz:.0f} MHz x {per_cycle} FLOP/cycle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="read this store instead of running the ladder")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--min-duration", type=float, default=3.0)
    args = parser.parse_args()
    from xeonsweep.report.summary import summarize
    from xeonsweep.store.results import load

    if args.store is None:
        args.store = Path(tempfile.mkdtemp()) / "results"
        run_ladder(args.store, args.iterations, args.min_duration)
    frame = load(args.store)
    frame = frame[(frame["model"] == "resnet50") & frame["ladder_step"].notna()]
    summary = summarize(frame)
    print(f"\n{'step':15} {'SPS':>9} {'speedup':>8}  status")
    for _, r in summary.iterrows():
        sps = f"{r['sps_median']:.1f}" if r["sps_median"] == r["sps_median"] else "-"
        print(f"{r['config']:15} {sps:>9} {r['speedup']:>7.2f}x  "
              f"{r['status']}{': ' + r['reason'] if r['reason'] else ''}")
    best = summary.loc[summary["sps_median"].idxmax()]
    print(f"\nbest step: {best['config']}, {best['speedup']:.2f}x the baseline")

    measured = measured_matmul_flops()
    theory, how = theoretical_flops()
    peak = max(measured, theory)
    per_sample = flops_per_sample()
    limit = peak / per_sample
    print(f"fp32 peak: {peak / 1e9:.0f} GFLOP/s (matmul measured {measured / 1e9:.0f}, "
          f"theoretical {theory / 1e9:.0f}: {how})")
    print(f"resnet50: {per_sample / 1e9:.2f} GFLOP per sample -> fp32 limit {limit:.1f} SPS")
    ok = frame[frame["status"] == "ok"]
    fp32 = ok[ok["applied_precision"].isin(["fp32", "f32"])]
    int8 = ok[ok["applied_precision"].fillna("").str.startswith("int8")]
    for name, rows in (("fp32", fp32), ("int8", int8)):
        if rows.empty:
            print(f"best {name}: no ok row")
            continue
        top = rows.loc[rows["sps"].idxmax()]
        print(f"best {name}: {top['sps']:.1f} SPS ({top['ladder_step']}) = {top['sps'] / limit:.2f} of the fp32 limit")


if __name__ == "__main__":
    main()

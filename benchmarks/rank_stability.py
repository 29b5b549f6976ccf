"""Does the ladder rank the same way twice? The resnet50 ladder, run as two independent
invocations into fresh stores (and fresh artifact caches, so each run pays its whole setup).

Prints, for the steps that finished `ok` in both runs: the Kendall tau between the two
rankings by SPS, how many of run 2's medians fall inside run 1's 95% confidence interval
and inside the interval run 1 gives for a repeat (confidence.repeat_interval), and each
run's wall time. Goal (issue 8): tau >= 0.9, at least 13 of 15 steps inside, each run within
10 minutes on 2 cores. Nothing is asserted: the figures are for the README.

    .venv/bin/python benchmarks/rank_stability.py [--keep DIR] [--shared-cache] [-- OVERRIDE ...]
    .venv/bin/python benchmarks/rank_stability.py --stores STORE1 STORE2   # compare two existing stores
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_TAU, GOAL_INSIDE, GOAL_WALL_S = 0.9, 13, 600.0
LADDER = ["-m", "experiment=ladder", "model=resnet50", "benchmark.method=blocks"]


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two paired sequences (ties counted as neither concordant nor discordant)."""
    if len(x) != len(y):
        raise ValueError("x and y must pair up")
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else float("nan")


def compare(first, second):
    """Steps `ok` in both summaries (summary.summarize), side by side: SPS, interval, rank, inside or not."""
    import pandas as pd

    cols = ["config", "sps_median", "sps_ci_low", "sps_ci_high", "sps_repeat_low", "sps_repeat_high", "target_met", "status"]
    both = pd.merge(first[cols], second[cols], on="config", suffixes=("_1", "_2"), how="outer", sort=False)
    ok = (both["status_1"] == "ok") & (both["status_2"] == "ok")
    both["rank_1"] = both["sps_median_1"].where(ok).rank(ascending=False)
    both["rank_2"] = both["sps_median_2"].where(ok).rank(ascending=False)
    both["inside"] = ok & (both["sps_ci_low_1"] <= both["sps_median_2"]) & (both["sps_median_2"] <= both["sps_ci_high_1"])
    both["inside_reverse"] = ok & (both["sps_ci_low_2"] <= both["sps_median_1"]) & (both["sps_median_1"] <= both["sps_ci_high_2"])
    both["inside_repeat"] = ok & (both["sps_repeat_low_1"] <= both["sps_median_2"]) & (both["sps_median_2"] <= both["sps_repeat_high_1"])
    both["inside_repeat_reverse"] = ok & (both["sps_repeat_low_2"] <= both["sps_median_1"]) & (both["sps_median_1"] <= both["sps_repeat_high_2"])
    both["ok_both"] = ok
    return both


def figures(both) -> dict:
    ok = both[both["ok_both"]]
    return {
        "steps": len(both),
        "ok_both": len(ok),
        "tau": kendall_tau(list(ok["sps_median_1"]), list(ok["sps_median_2"])) if len(ok) > 1 else float("nan"),
        "inside": int(both["inside"].sum()),
        "inside_reverse": int(both["inside_reverse"].sum()),
        "inside_repeat": int(both["inside_repeat"].sum()),
        "inside_repeat_reverse": int(both["inside_repeat_reverse"].sum()),
    }


def run_ladder(folder: Path, cache: Path, overrides: list[str]) -> float:
    """One independent ladder invocation into a fresh store; its wall time in seconds."""
    argv = [sys.executable, "-m", "xeonsweep", *LADDER, f"results.dir={folder / 'results'}", f"cache.dir={cache}",
            f"hydra.sweep.dir={folder / 'sweep'}", *overrides]
    print("$", " ".join(argv[1:]), flush=True)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(f"(the ladder exited with status {done.returncode}; its rows are still compared)", flush=True)
    return wall


def ladder_rows(store: Path):
    from xeonsweep.store.results import load

    frame = load(store)
    return frame[(frame["model"] == "resnet50") & frame["ladder_step"].notna()]


def summary_of(store: Path):
    from xeonsweep.report.summary import summarize

    return summarize(ladder_rows(store))


def span_s(store: Path) -> float:
    """From the first row's start to the last row's end: the run without any wait for the host lock."""
    rows = ladder_rows(store)
    return (rows["finished_at"].max() - rows["started_at"].min()).total_seconds() if len(rows) else float("nan")


def cell(value, pattern: str) -> str:
    return "-" if value is None or value != value else pattern.format(value)


def print_comparison(both, walls: list[float | None], spans: list[float]) -> None:
    print(f"\n{'step':15} {'run 1 SPS [95% CI]':>26} {'[a repeat]':>14} {'run 2 SPS':>10} {'in CI':>6} {'in rep':>6} "
          f"{'rank 1':>7} {'rank 2':>7}")
    for _, r in both.iterrows():
        ci = f"{cell(r['sps_median_1'], '{:.1f}')} [{cell(r['sps_ci_low_1'], '{:.1f}')}, {cell(r['sps_ci_high_1'], '{:.1f}')}]"
        rep = f"[{cell(r['sps_repeat_low_1'], '{:.1f}')}, {cell(r['sps_repeat_high_1'], '{:.1f}')}]"
        status = "" if r["ok_both"] else f"  ({r['status_1']} / {r['status_2']})"
        print(f"{r['config']:15} {ci:>26} {rep:>14} {cell(r['sps_median_2'], '{:.1f}'):>10} "
              f"{'yes' if r['inside'] else 'no':>6} {'yes' if r['inside_repeat'] else 'no':>6} "
              f"{cell(r['rank_1'], '{:.0f}'):>7} {cell(r['rank_2'], '{:.0f}'):>7}{status}")
    f = figures(both)
    from xeonsweep.machine.facts import cpu_info

    print(f"\nCPU: {cpu_info().model}")
    print(f"Kendall tau between the two rankings: {f['tau']:.2f} over {f['ok_both']} steps ok in both (goal >= {GOAL_TAU})")
    print(f"run 2's median inside run 1's 95% interval: {f['inside']} of {f['steps']} steps (goal >= {GOAL_INSIDE} of 15)")
    print(f"(the other way round, run 1's median inside run 2's interval: {f['inside_reverse']} of {f['steps']})")
    print(f"run 2's median inside the interval run 1 gives for a repeat (95% CI widened by sqrt 2; a 95% CI alone "
          f"catches a repeat ~83% of the time): {f['inside_repeat']} of {f['steps']} steps (goal >= {GOAL_INSIDE} of 15; "
          f"the other way round {f['inside_repeat_reverse']})")
    for i, (wall, span) in enumerate(zip(walls, spans), 1):
        whole = f"wall time {wall / 60:.1f} min, " if wall is not None else ""
        print(f"run {i}: {whole}first row's start to last row's end {span / 60:.1f} min (goal <= {GOAL_WALL_S / 60:.0f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs=2, type=Path, metavar=("STORE1", "STORE2"), help="compare these instead of running")
    parser.add_argument("--keep", type=Path, help="folder for the two runs' stores (default: a temporary one)")
    parser.add_argument("--shared-cache", action="store_true", help="let run 2 reuse run 1's exported artifacts")
    parser.add_argument("overrides", nargs="*", help="extra settings for both runs, e.g. benchmark.target_ci_pct=2")
    args = parser.parse_args()
    walls: list[float | None] = [None, None]
    if args.stores:
        stores = list(args.stores)
    else:
        base = args.keep or Path(tempfile.mkdtemp(prefix="rank-stability-"))
        folders = [base / "run1", base / "run2"]
        caches = [base / "cache"] * 2 if args.shared_cache else [f / "cache" for f in folders]
        walls = [run_ladder(folder, cache, args.overrides) for folder, cache in zip(folders, caches)]
        stores = [f / "results" for f in folders]
    print_comparison(compare(summary_of(stores[0]), summary_of(stores[1])), walls, [span_s(s) for s in stores])


if __name__ == "__main__":
    main()

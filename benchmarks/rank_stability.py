"""Does the ladder rank the same way twice, and how long does it take? Two independent resnet50 ladder
runs into fresh stores, in two pairs: one whose runs share an artifact cache as a user's would (run 2
finds what run 1 exported) and one whose runs each start with an empty cache.

For each run: its wall time with the rounds apart from set-up (and the rest), how many configs its goal
settled, dropped or left open, and the adjacent pairs of its paired ranking resolved, equivalent or left
open. Between the two runs of a pair: the Kendall tau of the paired rankings (by speedup over the
baseline from per-round ratios; pairs a run found equivalent count as ties) and how many of run 2's
paired speedups fall inside the interval run 1 gives for a repeat (confidence.repeat_interval applied to
the speedup's interval). Goals (issue 18, on a quiet 2-core machine): at least 14 of 15 inside, tau at
least 0.95, nothing left open, each run within 6 minutes with warm caches. Nothing is asserted.

    .venv/bin/python benchmarks/rank_stability.py [--keep DIR] [--cache DIR] [--pairs shared empty] [-- OVERRIDE ...]
    .venv/bin/python benchmarks/rank_stability.py --quick [--pairs shared]      # a dry run: model=tiny, 3 steps
    .venv/bin/python benchmarks/rank_stability.py --stores STORE1 STORE2        # compare two existing stores
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import block_sweeps  # noqa: E402

GOAL_INSIDE, GOAL_TAU, GOAL_WARM_S = 14, 0.95, 360.0
LADDER = ["experiment=ladder", "benchmark.method=blocks"]
# --quick: a dry run that checks the script end to end in a minute or two, not a measurement.
QUICK = ["step=baseline,batch8,onnxruntime", "benchmark.warmup=2", "benchmark.block_s=0.2",
         "benchmark.block_warmup_s=0.05", "benchmark.min_rounds=6", "benchmark.budget_s=15"]
PAIRS = {"shared": "sharing one artifact cache (run 1 fills it, run 2 finds it)",
         "empty": "each with an empty artifact cache"}


# -- Kendall's tau ------------------------------------------------------------------------------
def tau_b(first: Sequence[int], second: Sequence[int]) -> float:
    """Kendall's tau-b from each pair's order in two rankings (+1, -1, or 0 for a tie), pair by pair."""
    concordant = discordant = ties_first = ties_second = 0
    for a, b in zip(first, second, strict=True):
        if a == 0 and b == 0:
            continue
        if a == 0:
            ties_first += 1
        elif b == 0:
            ties_second += 1
        elif a == b:
            concordant += 1
        else:
            discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_first) * (concordant + discordant + ties_second))
    return (concordant - discordant) / denominator if denominator else float("nan")


def sign(value: float) -> int:
    return (value > 0) - (value < 0)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two paired sequences (ties counted as neither concordant nor discordant)."""
    if len(x) != len(y):
        raise ValueError("x and y must pair up")
    pairs = [(i, j) for i in range(len(x)) for j in range(i + 1, len(x))]
    return tau_b([sign(x[i] - x[j]) for i, j in pairs], [sign(y[i] - y[j]) for i, j in pairs])


def paired_orders(configs: list[str], speedup: dict[str, float], rounds: dict[str, dict], margin: float) -> list[int]:
    """Each pair's order by paired speedup, 0 where the run found the two equivalent (the same speed within
    the margin, from their blocks of the same rounds)."""
    orders = []
    for i, a in enumerate(configs):
        for b in configs[i + 1:]:
            comparison = block_sweeps.compare(rounds.get(a, {}), rounds.get(b, {}), margin)
            tied = comparison is not None and comparison.verdict == "equivalent"
            orders.append(0 if tied else sign(speedup[a] - speedup[b]))
    return orders


# -- one run ------------------------------------------------------------------------------------
def read_run(store: Path) -> dict:
    """A ladder run's figures from its store: the report's summary (paired speedups), each config's blocks by
    round, its margin, its ranking by paired speedup, its adjacent pairs, why each config stopped, its rounds' time."""
    from xeonsweep.report.summary import labelled, summarize
    from xeonsweep.store.results import load

    rows = load(store)
    rows = rows[rows["ladder_step"].notna()]
    summary, rows = summarize(rows), labelled(rows)
    ok = summary[summary["status"] == "ok"]
    order = list(ok.sort_values("speedup", ascending=False, kind="stable")["config"])
    rounds, margin = block_sweeps.config_rounds(rows), block_sweeps.margin_pct(rows)
    return {"summary": summary, "rounds": rounds, "margin": margin, "order": order,
            "pairs": block_sweeps.adjacent_pairs(order, rounds, margin), "stops": block_sweeps.stops(rows),
            "rounds_s": block_sweeps.rounds_s(rows), "span_s": span_s(rows)}


def span_s(rows) -> float:
    """From the first row's start to the last row's end (what `--stores` has instead of a wall time)."""
    return (rows["finished_at"].max() - rows["started_at"].min()).total_seconds() if len(rows) else float("nan")


def run_line(name: str, run: dict, wall_s: float | None, warm: bool | None) -> str:
    cache = "" if warm is None else (" (warm cache)" if warm else " (cold cache)")
    if wall_s is None:
        time_text = f"first row's start to last row's end {block_sweeps.minutes(run['span_s'])}"
    else:
        time_text = f"wall {block_sweeps.minutes(wall_s)}"
    time_text += f": rounds {block_sweeps.minutes(run['rounds_s'])}"
    if wall_s is not None:
        time_text += f", set-up and the rest {block_sweeps.minutes(wall_s - run['rounds_s'])}"
    stopped = Counter(run["stops"].values())
    pairs = Counter(word for _, _, word in run["pairs"])
    return (f"{name}{cache}: {time_text}; configs {stopped.get('settled', 0)} settled, {stopped.get('dropped', 0)} "
            f"dropped, {stopped.get('left open', 0)} left open; adjacent pairs {pairs.get('resolved', 0)} resolved, "
            f"{pairs.get('equivalent', 0)} equivalent, {pairs.get('open', 0)} open"
            + (f", {pairs['unpaired']} unpaired (different memory groups)" if pairs.get("unpaired") else ""))


# -- two runs -----------------------------------------------------------------------------------
def compare(first: dict, second: dict):
    """Steps side by side: paired speedup, its interval and repeat interval (run 1), run 2's speedup and whether it
    falls inside; ranks by paired speedup; absolute SPS for comparison."""
    import pandas as pd

    from xeonsweep.stats.confidence import repeat_interval

    cols = ["config", "speedup", "speedup_low", "speedup_high", "speedup_kind", "sps_median", "sps_repeat_low",
            "sps_repeat_high", "status"]
    both = pd.merge(first["summary"][cols], second["summary"][cols], on="config", suffixes=("_1", "_2"), how="outer",
                    sort=False)
    seen = set(first["summary"]["config"])
    order = [*first["summary"]["config"], *(c for c in second["summary"]["config"] if c not in seen)]
    both = both.set_index("config").loc[order].reset_index()  # in run 1's ladder order
    ok = (both["status_1"] == "ok") & (both["status_2"] == "ok")
    repeat = [repeat_interval(s, low, high) for s, low, high in
              zip(both["speedup_1"], both["speedup_low_1"], both["speedup_high_1"])]
    both["speedup_repeat_low_1"], both["speedup_repeat_high_1"] = [r[0] for r in repeat], [r[1] for r in repeat]
    # The reference is 1 in both runs by definition (no interval): it counts as inside.
    reference = (both["speedup_kind_1"] == "") & (both["speedup_1"] == 1.0) & (both["speedup_2"] == 1.0)
    within = (both["speedup_repeat_low_1"] <= both["speedup_2"]) & (both["speedup_2"] <= both["speedup_repeat_high_1"])
    both["reference"] = reference
    both["inside"] = ok & (reference | within)
    both["sps_inside"] = ok & (both["sps_repeat_low_1"] <= both["sps_median_2"]) & (
        both["sps_median_2"] <= both["sps_repeat_high_1"])
    both["rank_1"] = both["speedup_1"].where(ok).rank(ascending=False)
    both["rank_2"] = both["speedup_2"].where(ok).rank(ascending=False)
    both["ok_both"] = ok
    return both


def figures(both, first: dict, second: dict) -> dict:
    """tau of the paired rankings (equivalent pairs tied), of the SPS rankings, and the counts inside."""
    ok = both[both["ok_both"]]
    configs = list(ok["config"])
    tau = tau_b(*(paired_orders(configs, dict(zip(ok["config"], ok[f"speedup_{n}"])), run["rounds"], run["margin"])
                  for n, run in ((1, first), (2, second)))) if len(ok) > 1 else float("nan")
    return {
        "steps": len(both),
        "ok_both": len(ok),
        "tau": tau,
        "tau_sps": kendall_tau(list(ok["sps_median_1"]), list(ok["sps_median_2"])) if len(ok) > 1 else float("nan"),
        "inside": int(both["inside"].sum()),
        "sps_inside": int(both["sps_inside"].sum()),
    }


def reference_shift(both) -> tuple[float, float] | None:
    """The reference's SPS run 2 over run 1, and the median of the other steps' (what the machine did between the
    runs); None without a reference ok in both."""
    import statistics

    ok = both[both["ok_both"]]
    ratio = ok["sps_median_2"] / ok["sps_median_1"]
    if ok["reference"].sum() != 1 or len(ok) < 2:
        return None
    return float(ratio[ok["reference"]].iloc[0]), statistics.median(ratio[~ok["reference"]])


def cell(value, pattern: str) -> str:
    return "-" if value is None or value != value else pattern.format(value)


def print_pair(title: str, first: dict, second: dict, walls: list[float | None], warm: list[bool | None]) -> dict:
    both = compare(first, second)
    print(f"\n== two runs {title} ==")
    print(f"{'step':24} {'run 1 speedup [95%]':>22} {'[a repeat]':>14} {'run 2':>7} {'inside':>6} {'rank 1':>6} "
          f"{'rank 2':>6} {'SPS 1':>8} {'SPS 2':>8}")
    for _, r in both.iterrows():
        speedup = f"{cell(r['speedup_1'], '{:.3f}')} [{cell(r['speedup_low_1'], '{:.3f}')}, " \
                  f"{cell(r['speedup_high_1'], '{:.3f}')}]"
        repeat = f"[{cell(r['speedup_repeat_low_1'], '{:.3f}')}, {cell(r['speedup_repeat_high_1'], '{:.3f}')}]"
        status = "" if r["ok_both"] else f"  ({r['status_1']} / {r['status_2']})"
        print(f"{str(r['config'])[:24]:24} {speedup:>22} {repeat:>14} {cell(r['speedup_2'], '{:.3f}'):>7} "
              f"{'yes' if r['inside'] else 'no':>6} {cell(r['rank_1'], '{:.0f}'):>6} {cell(r['rank_2'], '{:.0f}'):>6} "
              f"{cell(r['sps_median_1'], '{:.1f}'):>8} {cell(r['sps_median_2'], '{:.1f}'):>8}{status}")
    for n, (run, wall, is_warm) in enumerate(zip((first, second), walls, warm), 1):
        print(run_line(f"run {n}", run, wall, is_warm))
        for a, b, word in run["pairs"]:
            if word not in ("resolved", "equivalent"):
                print(f"  {a} / {b}: {word}")
    f = figures(both, first, second)
    print(f"Kendall tau of the paired rankings (pairs a run found equivalent tied): {cell(f['tau'], '{:.3f}')} over "
          f"{f['ok_both']} steps ok in both (goal >= {GOAL_TAU})")
    print(f"run 2's paired speedups inside run 1's repeat interval: {f['inside']} of {f['steps']} steps (the "
          f"reference is 1 in both by definition and counts as inside; goal >= {GOAL_INSIDE} of 15)")
    print(f"(for comparison, absolute SPS: run 2's median inside run 1's repeat interval {f['sps_inside']} of "
          f"{f['steps']}; tau of the SPS rankings {cell(f['tau_sps'], '{:.3f}')})")
    shift = reference_shift(both)
    if shift is not None:
        reference, machine = shift
        print(f"the reference's own SPS, run 2 over run 1: {reference:.3f}; the other steps' median: {machine:.3f} "
              f"(the machine's shift between the runs). Every paired speedup of run 2 moves by the ratio of the two, "
              f"{machine / reference:.3f}: run 2's process of the reference ran "
              f"{(reference / machine - 1) * 100:+.1f}% against run 1's beyond the median step's shift, as a new "
              "process of a config can (a spread between processes that no interval from one process per config "
              "holds) "
              "(docs/blocks.md, \"Between processes\")")
    left_open = [(sum(w == "left open" for w in run["stops"].values()), sum(w == "open" for *_, w in run["pairs"]))
                 for run in (first, second)]
    return {**f, "open": left_open, "walls": walls, "warm": warm}


def goal_line(title: str, f: dict) -> str:
    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    warm = [(n, w) for n, (w, is_warm) in enumerate(zip(f["walls"], f["warm"]), 1) if is_warm and w is not None]
    walls = ", ".join(f"run {n} {block_sweeps.minutes(w)}: {met(w <= GOAL_WARM_S)}" for n, w in warm) or \
        "no run with a warm cache and a wall time"
    left_open = ", ".join(f"run {n} {configs} and {pairs}" for n, (configs, pairs) in enumerate(f["open"], 1))
    return (f"  {title}: {f['inside']} of {f['steps']} inside: {met(f['inside'] >= GOAL_INSIDE)}; "
            f"tau {cell(f['tau'], '{:.3f}')}: {met(f['tau'] >= GOAL_TAU)}; configs and adjacent pairs left open: "
            f"{left_open}: {met(not any(sum(o) for o in f['open']))}; warm runs' wall: {walls}")


# -- running ------------------------------------------------------------------------------------
def ladder_arguments(args) -> list[str]:
    model = args.model or ("tiny" if args.quick else "resnet50")
    return [*LADDER, f"model={model}", *(QUICK if args.quick else []), *args.overrides]


def run_pair(kind: str, base: Path, args) -> tuple[list[Path], list[float], list[bool]]:
    folders = [base / kind / "run1", base / kind / "run2"]
    shared = args.cache or base / kind / "cache"
    caches = [shared, shared] if kind == "shared" else [f / "cache" for f in folders]
    walls, warm = [], []
    for folder, cache in zip(folders, caches):
        warm.append(block_sweeps.cache_is_warm(cache))
        walls.append(block_sweeps.run_sweep(ladder_arguments(args), folder, cache))
    return [f / "results" for f in folders], walls, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs=2, type=Path, metavar=("STORE1", "STORE2"),
                        help="compare these instead of running")
    parser.add_argument("--keep", type=Path, help="folder for the runs' stores (default: a temporary one)")
    parser.add_argument("--cache", type=Path,
                        help="the artifact cache the shared pair uses (default: a fresh folder that run 1 fills; "
                             "outputs/cache is the default cache.dir a user's runs share)")
    parser.add_argument("--pairs", nargs="+", choices=list(PAIRS), default=list(PAIRS), help="which pairs to run")
    parser.add_argument("--model", help="the ladder's model (default resnet50; tiny with --quick)")
    parser.add_argument("--quick", action="store_true", help="a dry run: model=tiny, 3 steps, short blocks and budget")
    parser.add_argument("overrides", nargs="*", help="extra settings for every run, e.g. benchmark.equivalence_pct=1")
    args = parser.parse_args()
    results = []
    if args.stores:
        first, second = (read_run(s) for s in args.stores)
        results.append(("given", print_pair("given", first, second, [None, None], [None, None])))
    else:
        base = args.keep or Path(tempfile.mkdtemp(prefix="rank-stability-"))
        for kind in args.pairs:
            stores, walls, warm = run_pair(kind, base, args)
            first, second = (read_run(s) for s in stores)
            results.append((kind, print_pair(PAIRS[kind], first, second, walls, warm)))
        print(f"\nstores under {base}")
    print(f"\n{block_sweeps.machine_line()}")
    print(f"Goals (issue 18, a quiet 2-core machine): at least {GOAL_INSIDE} of 15 inside, tau >= {GOAL_TAU}, nothing "
          f"left open, each run within {GOAL_WARM_S / 60:.0f} minutes with warm caches")
    for kind, f in results:
        print(goal_line(kind, f))


if __name__ == "__main__":
    main()

"""Which config is fastest, and how soon is that known? A sweep of 12 resnet50 configs (backend eager,
compile, onnxruntime, openvino x batch 1, 8, 16, channels-last) asking only which is fastest, measured
with benchmark.goal=best (a race: configs wholly behind the leader are dropped) and with goal=rank
(every config's place settled) on the same configs, alternated (best then rank, then rank then best,
...) at least three times each, each run into a fresh store, all sharing one artifact cache (the
first run fills it, so set-up costs the same in both modes after it).

Prints per run: the winner (fastest by paired speedup over the sweep's reference) and the configs it
found the same speed within the margin, the runner-up's verdict against it, the time in rounds apart
from set-up and the wall time, and how many configs were settled, dropped or left open. Then best
mode's median time in rounds as a share of rank mode's (goal at most 40%; the wall share beside it,
set-up being the same in both), and whether every run found the same winner (or winners every run
found the same speed within the margin). The margin is 5% (the ladder's) unless an override sets
benchmark.equivalence_pct. Nothing is asserted.

    .venv/bin/python benchmarks/racing.py [--times 3] [--budget 600] [--keep DIR] [-- OVERRIDE ...]
    .venv/bin/python benchmarks/racing.py --quick        # a dry run: model=tiny, 4 configs, once each
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import block_sweeps  # noqa: E402

GOAL_SHARE = 0.40
# The ladder's margin, which every published racing figure used; an override of it takes its place.
MARGIN_KEY, MARGIN_PCT = "benchmark.equivalence_pct", 5
SWEEP = ["backend=eager,compile,onnxruntime,openvino", "batch_size=1,8,16", "channels_last=true",
         "benchmark.method=blocks"]
# --quick: a dry run that checks the script end to end in a minute or two, not a measurement.
QUICK = ["backend=eager,onnxruntime", "batch_size=1,8", "benchmark.method=blocks", "benchmark.warmup=2",
         "benchmark.block_s=0.2", "benchmark.block_warmup_s=0.05", "benchmark.min_rounds=6"]


def read_race(store: Path) -> dict:
    """One run's answer from its rows: the winner by paired speedup, the configs the same speed as it, the
    runner-up's verdict against it, why each config stopped, the time in rounds."""
    from xeonsweep.report.summary import labelled, summarize
    from xeonsweep.store.results import load

    rows = load(store)
    summary, rows = summarize(rows), labelled(rows)
    ok = summary[summary["status"] == "ok"].sort_values("speedup", ascending=False, kind="stable")
    order = list(ok["config"])
    rounds, margin = block_sweeps.config_rounds(rows), block_sweeps.margin_pct(rows)
    winner = order[0] if order else None
    verdicts = {c: block_sweeps.verdict_word(block_sweeps.compare(rounds.get(c, {}), rounds.get(winner, {}), margin))
                for c in order[1:]}
    return {"winner": winner, "speedup": dict(zip(ok["config"], ok["speedup"])),
            "same_speed": [c for c, word in verdicts.items() if word == "equivalent"],
            "runner_up": (order[1], verdicts[order[1]]) if len(order) > 1 else None,
            "stops": Counter(block_sweeps.stops(rows).values()), "rounds_s": block_sweeps.rounds_s(rows),
            "margin": margin, "configs": len(summary)}


def agreement(runs: list[dict]) -> str:
    """The same winner every time, or winners that every run found the same speed within the margin."""
    winners = Counter(run["winner"] for run in runs)
    if len(winners) == 1:
        return f"the same winner in every run: {next(iter(winners))}"
    named = ", ".join(f"{w} in {n} runs" for w, n in winners.most_common())
    proven = all(w == run["winner"] or w in run["same_speed"] for w in winners for run in runs)
    if proven:
        return f"winners differ ({named}), but every run found them the same speed within the margin"
    return f"winners differ ({named}) and are not proven the same speed: NOT met"


def share(best: list[float], rank: list[float]) -> float:
    return statistics.median(best) / statistics.median(rank) if best and rank else float("nan")


def run_line(n: int, goal: str, run: dict, wall_s: float | None) -> str:
    winner = run["winner"] or "none"
    speedup = run["speedup"].get(run["winner"], float("nan"))
    runner = f"; runner-up {run['runner_up'][0]}: {run['runner_up'][1]}" if run["runner_up"] else ""
    same = ", ".join(run["same_speed"]) or "none"
    stops = run["stops"]
    wall = "" if wall_s is None else (f", wall {block_sweeps.minutes(wall_s)} (set-up and the rest "
                                      f"{block_sweeps.minutes(wall_s - run['rounds_s'])})")
    return (f"run {n} ({goal}): winner {winner} ({speedup:.2f}x the reference); the same speed within "
            f"{run['margin']:g}%: {same}{runner}; rounds {block_sweeps.minutes(run['rounds_s'])}{wall}; "
            f"of {run['configs']} configs {stops.get('settled', 0)} settled, {stops.get('dropped', 0)} dropped, "
            f"{stops.get('left open', 0)} left open")


def print_verdict(runs: list[tuple[str, dict, float | None]]) -> None:
    rounds = {goal: [run["rounds_s"] for g, run, _ in runs if g == goal] for goal in ("best", "rank")}
    walls = {goal: [w for g, _, w in runs if g == goal and w is not None] for goal in ("best", "rank")}
    median = {goal: block_sweeps.minutes(statistics.median(v)) if v else "-" for goal, v in rounds.items()}
    ratio = share(rounds["best"], rounds["rank"])
    verdict = "met" if ratio <= GOAL_SHARE else "NOT met"
    print(f"\ngoal=best's time in rounds as a share of goal=rank's (medians over {len(rounds['best'])} and "
          f"{len(rounds['rank'])} runs): {median['best']} / {median['rank']} = {ratio:.0%} "
          f"(goal <= {GOAL_SHARE:.0%}: {verdict})")
    if walls["best"] and walls["rank"]:
        print(f"(wall time, set-up included and the same in both: {share(walls['best'], walls['rank']):.0%})")
    print(f"winner: {agreement([run for _, run, _ in runs])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=3, help="runs of each goal, alternated (default 3)")
    parser.add_argument("--budget", type=float, default=600, help="benchmark.budget_s of every run (default 600)")
    parser.add_argument("--model", help="the model (default resnet50; tiny with --quick)")
    parser.add_argument("--quick", action="store_true", help="a dry run: model=tiny, 4 configs, once each, budget 20 s")
    parser.add_argument("--keep", type=Path,
                        help="folder for the runs' stores and the cache (default: a temporary one)")
    parser.add_argument("overrides", nargs="*", help="extra settings for every run, e.g. benchmark.equivalence_pct=1")
    args = parser.parse_args()
    times, budget = (1, 20.0) if args.quick else (args.times, args.budget)
    model = args.model or ("tiny" if args.quick else "resnet50")
    margin = [] if any(o.startswith(f"{MARGIN_KEY}=") for o in args.overrides) else [f"{MARGIN_KEY}={MARGIN_PCT}"]
    sweep = [f"model={model}", *(QUICK if args.quick else SWEEP), f"benchmark.budget_s={budget:g}", *margin,
             *args.overrides]
    base = args.keep or Path(tempfile.mkdtemp(prefix="racing-"))
    runs = []
    for i in range(times):
        for goal in ("best", "rank") if i % 2 == 0 else ("rank", "best"):
            folder = base / f"{len(runs) + 1}-{goal}"
            wall = block_sweeps.run_sweep([*sweep, f"benchmark.goal={goal}"], folder, base / "cache")
            runs.append((goal, read_race(folder / "results"), wall))
    print(f"\n{model}: which config is fastest, goal=best against goal=rank (stores under {base})")
    for n, (goal, run, wall) in enumerate(runs, 1):
        print(run_line(n, goal, run, wall))
    print_verdict(runs)
    print(block_sweeps.machine_line())


if __name__ == "__main__":
    main()

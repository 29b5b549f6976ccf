"""How much of a grid's machine time does a search need to find its best? Record a grid once, then
replay TPE, GP and random search against the recorded data, many seeds each (issue 19).

    # once, on a quiet machine: a full grid of resnet50 (about 180 distinct configs), in blocks
    .venv/bin/python benchmarks/search_replay.py --record --store DIR [-- OVERRIDE ...]
    # then, as often as wanted (no measuring): 50 seeds per sampler
    .venv/bin/python benchmarks/search_replay.py --replay DIR [--seeds 50] [--batch 4] [--samplers tpe,gp,random]
    # a check that the script runs: a small made-up grid, two seeds, nothing measured
    .venv/bin/python benchmarks/search_replay.py --dry

A replayed search asks its sampler in batches as xeonsweep's search does: a candidate folds to
its config (settings its backend ignores do not make a new one: the same config_hash as the grid
sweep recorded), a known config is told its value at no cost, a config the grid skipped or that
failed is told failed. Measuring a new config costs its recorded set-up and measuring time and
returns the median of its recorded blocks resampled (seeded); a batch's new configs are measured
together and told when the batch ends. Printed per sampler: the median share of the grid's machine
time spent until the end of the batch that measured a config within 3% of the grid's best,
and the share of seeds that got there within 15% of the grid's time. Goal for the default sampler
(TPE): at least 90% of seeds, random search's figures beside it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WITHIN, TIME_SHARE, GOAL_SEEDS = 0.03, 0.15, 0.90
GRID = ["model=resnet50", "backend=eager,compile,onnxruntime,openvino", "precision=fp32,bf16",
        "batch_size=1,4,8,16,32", "channels_last=false,true", "allocator=system,tcmalloc", "thp=false,true"]
SAMPLERS = {"tpe": "optuna.samplers.TPESampler", "gp": "optuna.samplers.GPSampler",
            "random": "optuna.samplers.RandomSampler"}


@dataclass
class Config:
    blocks: list[float]       # the recorded block SPS (empty: failed or skipped)
    cost_s: float             # set-up and measuring, as recorded

    @property
    def sps(self) -> float:
        return statistics.median(self.blocks) if self.blocks else float("nan")


def record(store: Path, extra: list[str]) -> None:
    argv = [sys.executable, "-m", "xeonsweep", "-m", *GRID, "benchmark.method=blocks", f"results.dir={store}", *extra]
    print(" ".join(argv), flush=True)
    subprocess.run(argv, cwd=ROOT, check=False)


def load_grid(store: Path, grid: list[str]):
    """(the space, params -> config_hash for every combination, config_hash -> Config, machine)."""
    import itertools

    from tests.conftest import compose
    from xeonsweep.config import settings
    from xeonsweep.errors import UserError
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.search import space as spaces
    from xeonsweep.store import results

    space = spaces.parse(grid)
    frame = results.load(store, results.SUMMARY_COLUMNS)
    configs = {}
    for _, row in frame.iterrows():
        blocks = list(row["block_sps"]) if row["status"] == "ok" and row["block_sps"] is not None else []
        cost = sum(v for v in (row["setup_s"], row["measured_s"], row["warmup_s"]) if v == v and v is not None)
        configs[row["config_hash"]] = Config(blocks, float(cost))
    folded = {}
    names = [d.name for d in space.dimensions]
    for values in itertools.product(*(d.distribution.choices for d in space.dimensions)):
        params = dict(zip(names, values))
        run = settings.to_settings(compose(*space.overrides(params)))
        try:
            settings.validate(run, cpu_info())
            folded[values] = settings.config_hash(settings.normalize(run))
        except UserError:
            folded[values] = None
    machine = frame["machine"].dropna().iloc[0] if len(frame) else "?"
    return space, folded, configs, machine


def made_up_grid():
    """--dry: two settings, a known best, costs in seconds; nothing composed or measured."""
    from xeonsweep.search import space as spaces

    space = spaces.parse(["batch_size=1,2,4,8,16", "backend=eager,compile,openvino"])
    folded, configs = {}, {}
    rng = random.Random(0)
    for b in (1, 2, 4, 8, 16):
        for k, backend in enumerate(("eager", "compile", "openvino")):
            key = f"{b}-{backend}"
            folded[(b, backend)] = key
            base = 100 * (1 + k) * (1 + b / 8)
            configs[key] = Config([base * rng.uniform(0.97, 1.03) for _ in range(8)], 30.0 + 10 * k)
    return space, folded, configs, "made-up machine"


def replay(space, folded, configs, sampler: str, seed: int, batch: int) -> float | None:
    """Machine time spent until a config within 3% of the best was measured; None if never."""
    import optuna

    from xeonsweep.search import samplers
    from xeonsweep.search.driver import ASKS_PER_CANDIDATE, REPEATS_BEFORE_EXPLORING
    from xeonsweep.search.options import Options

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options = Options({"_target_": SAMPLERS[sampler]}, ("sps",), {}, batch, None, None, None, seed, None)
    study = optuna.create_study(direction="maximize", sampler=samplers.build(options, space.distributions))
    best = max(c.sps for c in configs.values() if c.blocks)
    rng = random.Random(seed)
    names = [d.name for d in space.dimensions]
    spent, known, runnable = 0.0, {}, {k for k in folded.values() if k in configs and configs[k].blocks}
    explorer = random.Random(f"{seed}-explore")
    study.enqueue_trial(space.baseline())
    while len(known) < len(runnable):
        # As the search asks a batch: known configs are told at once and cost nothing, refused ones are told
        # failed, twins of a new config wait for its value; up to `batch` new configs, then all are measured
        # together (a batch is set up and raced as one) and told.
        new: dict[str, list] = {}
        repeats = 0
        for _ in range(batch * ASKS_PER_CANDIDATE):
            if len(new) >= batch:
                break
            if repeats >= REPEATS_BEFORE_EXPLORING:  # as the search does: an unexplored config, at random
                # uniform over the settings that can run, as the search's draws are (not over configs)
                unexplored = sorted(v for v, k in folded.items() if k in runnable and k not in known and k not in new)
                if not unexplored:
                    break
                study.enqueue_trial(dict(zip(names, explorer.choice(unexplored))))
                repeats = 0
            repeats += 1
            trial = study.ask(space.distributions)
            key = folded.get(tuple(trial.params[n] for n in names))
            config = configs.get(key)
            if config is None or not config.blocks:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            elif key in known:
                study.tell(trial, known[key])
            else:
                repeats = 0 if key not in new else repeats
                new.setdefault(key, []).append(trial)
        if not new:
            return None  # the search stops here: its sampler proposes only configs already known
        reached = False
        for key, trials in new.items():
            config = configs[key]
            spent += config.cost_s
            known[key] = statistics.median(rng.choice(config.blocks) for _ in config.blocks)
            reached |= config.sps >= (1 - WITHIN) * best
            for trial in trials:
                study.tell(trial, known[key])
        if reached:
            return spent  # the batch that measured it has ended
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--record", action="store_true", help="measure the grid into --store")
    what.add_argument("--replay", type=Path, metavar="STORE", help="replay searches against a recorded grid")
    what.add_argument("--dry", action="store_true", help="a small made-up grid, two seeds: checks the script")
    parser.add_argument("--store", type=Path, default=ROOT / "outputs" / "search-grid")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--samplers", default="tpe,gp,random")
    parser.add_argument("overrides", nargs="*", help="after --: overrides for --record (e.g. model=vit)")
    args = parser.parse_args(argv)
    if args.record:
        record(args.store, args.overrides)
        return 0
    space, folded, configs, machine = made_up_grid() if args.dry else load_grid(args.replay, GRID)
    seeds = 2 if args.dry else args.seeds
    grid_s = sum(c.cost_s for c in configs.values())
    distinct = sum(1 for c in configs.values() if c.blocks)
    print(f"grid: {distinct} configs measured ok on {machine}, {grid_s / 60:.1f} min of set-up and measuring")
    print(f"{'sampler':8} {'median share of the grid time':>30} {'seeds within 15%':>18}")
    for sampler in args.samplers.split(","):
        shares = [replay(space, folded, configs, sampler, seed, args.batch) for seed in range(seeds)]
        reached = sorted(s / grid_s for s in shares if s is not None)
        within = sum(1 for s in reached if s <= TIME_SHARE) / seeds
        median = statistics.median(reached) if len(reached) == seeds else float("nan")
        print(f"{sampler:8} {median:>29.1%} {within:>17.0%}" + ("  (goal: 90%)" if sampler == "tpe" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

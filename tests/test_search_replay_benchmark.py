"""The search-replay benchmark's pure part: replaying a sampler against a recorded grid (here the
script's made-up one). The recording itself is a sweep for the lead to run alone."""

import importlib.util
import sys

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("search_replay", ROOT / "benchmarks" / "search_replay.py")
search_replay = importlib.util.module_from_spec(spec)
sys.modules["search_replay"] = search_replay  # its dataclass looks its module up
spec.loader.exec_module(search_replay)


def test_a_replay_costs_whole_batches_until_a_config_near_the_best_is_measured():
    space, folded, configs, _ = search_replay.made_up_grid()
    costs = sorted(c.cost_s for c in configs.values())
    for sampler in ("random", "tpe"):
        spent = search_replay.replay(space, folded, configs, sampler, seed=3, batch=4)
        assert spent is not None and costs[0] <= spent <= sum(costs)
        # seeded: the same replay again spends exactly the same
        assert search_replay.replay(space, folded, configs, sampler, seed=3, batch=4) == spent


def test_a_config_that_failed_in_the_grid_is_told_failed_and_costs_nothing():
    space, folded, configs, _ = search_replay.made_up_grid()
    best = max(configs, key=lambda k: configs[k].sps)
    configs[best] = search_replay.Config([], 1e9)  # failed in the grid: a huge cost if it were ever measured
    for seed in range(3):
        spent = search_replay.replay(space, folded, configs, "random", seed=seed, batch=4)
        assert spent is not None and spent < 1e9  # the best that ran is reached; the failed one cost nothing

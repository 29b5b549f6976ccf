"""The confidence interval and the round-robin stopping rule, with a fake clock: exact, not timed."""

import statistics

import pytest

from xeonsweep.stats.confidence import Rounds, estimate, repeat_interval, target_met


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bootstrap_is_seeded_and_brackets_the_median():
    values = [100.0, 103.0, 98.0, 101.0, 99.5, 102.0, 97.0, 100.5]
    first, again = estimate(values), estimate(list(values))
    assert first == again  # the same blocks always give the same interval
    assert first.median == statistics.median(values)
    assert first.low <= first.median <= first.high
    assert min(values) <= first.low and first.high <= max(values)
    assert first.half_width_pct == pytest.approx((first.high - first.low) / 2 / first.median * 100)
    assert (first.low, first.high) == (98.0, 102.0)  # seed 0's interval, as recorded: stored rows keep theirs
    assert (estimate(values, seed=1).low, estimate(values, seed=1).high) == (98.25, 102.0)  # another seed, another


def test_identical_blocks_have_a_zero_width_interval():
    assert estimate([50.0] * 5).half_width_pct == 0.0


def test_one_block_says_nothing_about_its_spread():
    one = estimate([42.0])
    assert (one.median, one.low, one.high) == (42.0, 42.0, 42.0)
    assert one.half_width_pct == float("inf")
    assert not target_met([42.0], target_pct=50, min_blocks=1)


def test_a_wider_spread_gives_a_wider_interval():
    tight = estimate([100, 101, 99, 100, 100.5, 99.5])
    loose = estimate([100, 130, 70, 110, 90, 120])
    assert tight.half_width_pct < 3 < loose.half_width_pct


def test_a_repeats_interval_is_the_confidence_interval_widened_by_root_two_on_each_side():
    assert repeat_interval(100.0, 96.0, 102.0) == pytest.approx((100 - 4 * 2 ** 0.5, 100 + 2 * 2 ** 0.5))
    assert repeat_interval(50.0, 50.0, 50.0) == (50.0, 50.0)


def test_the_repeat_interval_catches_a_repeats_median_about_95_percent_of_the_time():
    """Seeded simulation: pairs of runs of 12 blocks each from one noise distribution. The 95% CI
    catches the second run's median well under 95% of the time (about 83% in theory); the repeat
    interval close to 95%."""
    import random

    rng = random.Random(7)
    trials, in_ci, in_repeat = 300, 0, 0
    for _ in range(trials):
        first = [rng.gauss(100, 8) for _ in range(12)]
        second = statistics.median(rng.gauss(100, 8) for _ in range(12))
        est = estimate(first, resamples=400)
        low, high = repeat_interval(est.median, est.low, est.high)
        in_ci += est.low <= second <= est.high
        in_repeat += low <= second <= high
    assert in_ci / trials < 0.9
    assert 0.9 <= in_repeat / trials


def run_rounds(rounds: Rounds, sps_of, clock: FakeClock, block_s: float = 1.0) -> list[list[str]]:
    """Drive the schedule as live.Sweep does: every block advances the fake clock by block_s."""
    order = []
    while batch := rounds.next_round():
        order.append(batch)
        for name in batch:
            clock.now += block_s
            rounds.record(name, sps_of(name, len(rounds.blocks[name])))
    return order


def test_round_robin_until_min_rounds_when_every_config_is_steady():
    clock = FakeClock()
    rounds = Rounds(["a", "b", "c"], min_rounds=4, target_pct=3, budget_s=1000, clock=clock)
    order = run_rounds(rounds, lambda name, i: {"a": 10.0, "b": 20.0, "c": 30.0}[name], clock)
    assert order == [["a", "b", "c"]] * 4  # every config once per round, in the sweep's order
    assert rounds.stopped_by == "target"
    assert all(rounds.met(n) and rounds.verdict(n) is None for n in "abc")
    assert clock.now == 12.0


def test_a_noisy_config_keeps_every_config_measuring_until_it_meets_the_target():
    clock = FakeClock()
    noisy = [100, 140, 60, 120, 80, 100, 101, 99, 100, 100, 100, 100, 100, 100, 100, 100]
    rounds = Rounds(["steady", "noisy"], min_rounds=3, target_pct=3, budget_s=1000, clock=clock)
    order = run_rounds(rounds, lambda name, i: 50.0 if name == "steady" else float(noisy[i]), clock)
    assert rounds.stopped_by == "target"
    assert len(order) > 3 and all(batch == ["steady", "noisy"] for batch in order)
    assert not target_met(rounds.blocks["noisy"][:-1], 3, 3)  # one round less would not have done
    assert target_met(rounds.blocks["noisy"], 3, 3)
    assert len(rounds.blocks["steady"]) == len(rounds.blocks["noisy"])


def test_the_budget_stops_the_rounds_and_the_config_says_so():
    clock = FakeClock()

    def alternating(name, i):
        return 50.0 if name == "steady" else (80.0 if i % 2 else 120.0)

    rounds = Rounds(["steady", "noisy"], min_rounds=2, target_pct=3, budget_s=7, clock=clock)
    order = run_rounds(rounds, alternating, clock, block_s=1.0)
    # Checked before each round: after 4 rounds (8 s of blocks) the 7 s budget is spent.
    assert len(order) == 4 and clock.now == 8.0
    assert rounds.stopped_by == "budget"
    assert rounds.verdict("steady") is None
    verdict = rounds.verdict("noisy")
    assert verdict.startswith("target not met: 95% CI ±") and "(target_ci_pct=3) after 4 blocks in 4 rounds" in verdict
    assert verdict.endswith("the time budget (benchmark.budget_s) ran out")


def test_min_rounds_run_even_without_budget():
    clock = FakeClock()
    rounds = Rounds(["a", "b"], min_rounds=3, target_pct=3, budget_s=0, clock=clock)
    order = run_rounds(rounds, lambda name, i: 10.0 if name == "a" else 10.0 + i, clock)
    assert order == [["a", "b"]] * 3 and rounds.stopped_by == "budget"
    b = estimate(rounds.blocks["b"])  # blocks 10, 11, 12
    assert (b.median, b.low, b.high, b.blocks) == (11.0, 10.0, 12.0, 3)
    assert rounds.verdict("a") is None
    assert rounds.verdict("b") == ("target not met: 95% CI ±9.1% of the median (target_ci_pct=3) after 3 blocks "
                                   "in 3 rounds; the time budget (benchmark.budget_s) ran out")


def test_one_block_has_no_interval():
    rounds = Rounds(["a"], min_rounds=1, target_pct=3, budget_s=0, clock=FakeClock())
    assert run_rounds(rounds, lambda name, i: 10.0, rounds.clock) == [["a"]]
    assert rounds.verdict("a") == ("target not met: 1 block, no interval (target_ci_pct=3) after 1 blocks "
                                   "in 1 rounds; the time budget (benchmark.budget_s) ran out")


def test_a_failed_config_leaves_the_rounds_and_the_others_go_on():
    clock = FakeClock()
    rounds = Rounds(["a", "b", "c"], min_rounds=3, target_pct=3, budget_s=100, clock=clock)
    order = []
    while batch := rounds.next_round():
        order.append(batch)
        for name in batch:
            if name == "b" and rounds.done == 2:
                rounds.fail("b")
            else:
                rounds.record(name, 10.0)
    assert order == [["a", "b", "c"], ["a", "b", "c"], ["a", "c"]]
    assert rounds.stopped_by == "target" and len(rounds.blocks["a"]) == 3


def test_min_rounds_holds_even_when_the_target_is_met_sooner():
    clock = FakeClock()
    rounds = Rounds(["a"], min_rounds=6, target_pct=50, budget_s=100, clock=clock)
    assert len(run_rounds(rounds, lambda name, i: 10.0, clock)) == 6

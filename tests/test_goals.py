"""Paired comparisons and the goals' stopping rules, driven by a fake clock and seeded noise: exact."""

import random

import pytest

from xeonsweep.stats import paired
from xeonsweep.stats.confidence import Rounds, estimate
from xeonsweep.stats.goals import PairedRounds, schedule


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def by_round(values):
    return {r: v for r, v in enumerate(values, start=1)}


def test_a_clearly_faster_config_is_faster_and_the_slower_slower():
    fast, slow = by_round([110, 111, 109, 110, 112, 110]), by_round([100, 101, 99, 100, 100, 100])
    assert paired.compare(fast, slow, 2.0).verdict == "faster"
    assert paired.compare(slow, fast, 2.0).verdict == "slower"
    assert paired.compare(fast, slow, 2.0).ratio.median == pytest.approx(1.1, abs=0.01)


def test_the_same_speed_within_the_margin_is_equivalent():
    a, b = by_round([100, 101, 99, 100, 100, 100]), by_round([100.5, 100.5, 99.5, 100.2, 99.8, 100])
    assert paired.compare(a, b, 2.0).verdict == "equivalent"
    assert paired.compare(a, b, 0.1).verdict == "open"  # too strict a margin: neither told apart nor the same


def test_fewer_than_six_shared_rounds_say_nothing():
    """Five rounds allow no 95% interval of a median: even five ratios of 2x leave it open."""
    assert paired.compare(by_round([200] * 5), by_round([100] * 5), 2.0).verdict == "open"
    assert paired.compare(by_round([200] * 6), by_round([100] * 6), 2.0).verdict == "faster"
    assert paired.compare({1: 110, 2: 111}, {3: 100, 4: 100}, 2.0).ratio is None


def test_the_median_interval_holds_its_level_exactly():
    """Order statistics: from 6 values the range (96.9%), from 9 the 2nd to the 8th (96.1%)."""
    six = paired.median_interval([6, 1, 5, 2, 4, 3])
    assert (six.low, six.high, six.median) == (1, 6, 3.5)
    nine = paired.median_interval(list(range(1, 10)))
    assert (nine.low, nine.high) == (2, 8)


def test_pairing_removes_the_machine_s_minute_to_minute_drift():
    """Both configs see the same slow and fast minutes: unpaired intervals overlap, the paired one resolves 3%."""
    drift = [0.8, 1.2, 0.9, 1.1, 1.0, 0.85, 1.15]
    b = by_round([100 * f for f in drift])
    a = by_round([103 * f for f in drift])
    ea, eb = estimate(list(a.values())), estimate(list(b.values()))
    assert ea.low < eb.high  # unpaired: not told apart
    versus = paired.compare(a, b, 1.0)
    assert versus.verdict == "faster" and versus.ratio.median == pytest.approx(1.03)


def drive(rounds, speeds, clock, noise=0.01, seed=1, seconds_per_block=1.0):
    """Run the schedule to its end; returns {name: [rounds it was measured in]}."""
    rng = random.Random(seed)
    measured = {name: [] for name in speeds}
    while batch := rounds.next_round():
        minute = rng.uniform(0.8, 1.2)  # the whole machine, shared by every config of the round
        for name in batch:
            measured[name].append(rounds.done)
            rounds.record(name, speeds[name] * minute * rng.uniform(1 - noise, 1 + noise))
            clock.now += seconds_per_block
    return measured


def test_rank_stops_measuring_a_settled_config_while_two_close_ones_go_on():
    clock = Clock()
    speeds = {"ref": 100.0, "slow": 50.0, "close_a": 150.0, "close_b": 151.5}
    rounds = schedule("rank", list(speeds), min_rounds=3, target_pct=3.0, budget_s=200, clock=clock,
                      reference="ref", margin_pct=0.5)
    measured = drive(rounds, speeds, clock)
    assert isinstance(rounds, PairedRounds)
    assert len(measured["slow"]) == 6  # settled as soon as an interval exists
    assert len(measured["close_a"]) > 6 and len(measured["close_b"]) > 6  # measured on after "slow" stopped
    assert measured["ref"] == list(range(1, rounds.done + 1))  # the reference pairs every round
    assert rounds.ranking()[-1] == "slow"
    assert rounds.met("slow")


def test_rank_ends_when_every_place_is_settled():
    clock = Clock()
    speeds = {"ref": 100.0, "b": 200.0, "c": 300.0}
    rounds = schedule("rank", list(speeds), 3, 3.0, 500, clock, reference="ref")
    drive(rounds, speeds, clock)
    assert rounds.stopped_by == "target" and rounds.done == 6
    assert rounds.ranking() == ["c", "b", "ref"]
    assert all(rounds.verdict(n) is None for n in speeds)


def test_a_config_without_a_round_shared_with_the_reference_ranks_on_the_speedup_scale():
    # A resumed journal can hold blocks of a config from rounds the reference's new process never saw: its key
    # is then its median SPS over the reference's (1.2), not its raw SPS (120), which would outrank every speedup.
    rounds = schedule("rank", ["ref", "a", "c"], 3, 3.0, 500, Clock(), reference="ref")
    for r in (1, 2, 3):
        rounds.record("ref", 100.0, r)
        rounds.record("a", 150.0, r)
    for r in (4, 5):
        rounds.record("c", 120.0, r)
    assert rounds.speedup("c") is None
    assert rounds.ranking() == ["a", "c", "ref"]


def test_rank_left_open_by_the_budget_says_so():
    clock = Clock()
    speeds = {"ref": 100.0, "a": 100.0}
    rounds = schedule("rank", list(speeds), 3, 3.0, budget_s=10, clock=clock, reference="ref", margin_pct=0.0)
    drive(rounds, speeds, clock)
    assert rounds.stopped_by == "budget"
    assert rounds.verdict("a").startswith("rank left open after 5 rounds: not told apart from ref")
    assert not rounds.met("a")


def test_best_drops_a_clearly_slower_config_and_says_by_how_much():
    clock = Clock()
    speeds = {"ref": 100.0, "half": 60.0, "best": 200.0, "near": 199.0}
    rounds = schedule("best", list(speeds), 3, 3.0, 500, clock, reference="ref", margin_pct=2.0)
    measured = drive(rounds, speeds, clock)
    assert "half" in rounds.dropped and len(measured["half"]) == 6
    assert "ref" not in rounds.dropped and len(measured["ref"]) == rounds.done  # kept as the common reference
    assert rounds.leader() in ("best", "near") and rounds.stopped_by == "target"
    assert rounds.verdict("half").startswith("dropped after 6 rounds: 69.")
    assert rounds.verdict(rounds.leader()) is None


def test_verdicts_name_configs_by_their_labels():
    # The round loop names configs "0", "1"...: a verdict must say which config it means, not its index.
    clock = Clock()
    speeds = {"0": 100.0, "1": 100.0, "2": 50.0}
    labels = {"0": "step=baseline", "1": "step=batch8", "2": "step=slow"}
    rounds = schedule("rank", list(speeds), 3, 3.0, budget_s=10, clock=clock, reference="0", margin_pct=0.0,
                      labels=labels)
    drive(rounds, speeds, clock)
    assert "not told apart from step=baseline" in rounds.verdict("1")
    race = schedule("best", list(speeds), 3, 3.0, 500, Clock(), reference="0", labels=labels)
    drive(race, {"0": 100.0, "1": 200.0, "2": 50.0}, race.clock)
    assert "behind the leader (step=batch8)" in race.verdict("2")


def test_nothing_is_decided_before_the_minimum_rounds():
    clock = Clock()
    speeds = {"ref": 100.0, "slow": 10.0}
    rounds = schedule("best", list(speeds), 8, 3.0, 500, clock, reference="ref")
    measured = drive(rounds, speeds, clock)
    assert len(measured["slow"]) == 8


def test_precision_is_today_s_rule():
    assert type(schedule("precision", ["a"], 3, 3.0, 10, Clock())) is Rounds


def test_the_report_pairs_blocks_of_the_same_rounds_and_says_which_ties_are_equivalent():
    """Rows of one sweep whose blocks drift together: the report's speedup is paired, and a tie says its kind."""
    import pandas as pd

    from xeonsweep.report.summary import summarize

    drift = [0.8, 1.2, 0.9, 1.1, 1.0, 0.85, 1.15]

    def row(step, position, scale):
        sps = [100 * scale * f for f in drift]
        return {"machine": "m", "model": "tiny", "scenario": "offline", "ladder_step": step,
                "ladder_position": position, "config_hash": step, "run_key": step, "sweep_id": "s",
                "measure_group": 0, "status": "ok", "reason": None,
                "started_at": pd.Timestamp("2026-12-07", tz="UTC"), "sps": 100 * scale, "sps_ci_low": 80 * scale,
                "sps_ci_high": 120 * scale, "target_met": True, "target_ci_pct": 3.0, "blocks": 7, "rounds": 7,
                "block_sps": sps, "block_round": list(range(1, 8)), "equivalence_pct": 2.0, "loadgen_valid": None}

    from xeonsweep.store.results import COLUMNS

    frame = pd.DataFrame([row("baseline", 0, 1.0), row("faster", 1, 1.05), row("same", 2, 1.051)])
    frame = frame.assign(**{c: None for c in COLUMNS if c not in frame})
    table = summarize(frame).set_index("config")
    assert table.loc["faster", "speedup_kind"] == "paired"
    assert table.loc["faster", "speedup"] == pytest.approx(1.05) and table.loc["faster", "speedup_low"] > 1
    assert table.loc["baseline", "tie"] == ""  # told apart from both, though every unpaired interval overlaps
    assert table.loc["faster", "tie"] == table.loc["same", "tie"] != ""
    assert table.loc["same", "tie_kind"] == "equivalent"


def test_equivalence_reads_the_90_percent_interval_as_two_one_sided_tests_do():
    # Eight rounds: the 95% interval of the median is the whole range (one stray round reaches 1.06), the 90%
    # interval leaves the extremes out and lies within 1/1.05 and 1.05.
    values = [0.99, 1.0, 1.01, 1.0, 0.98, 1.02, 1.06, 0.97]
    assert paired.median_interval(values).high == 1.06
    assert paired.judge(values, 5.0).verdict == "equivalent"
    assert paired.verdict(paired.median_interval(values), 5.0) == "open"  # without it: the stricter 95% test
    assert paired.judge(values, 1.0).verdict == "open"


def test_best_ends_when_what_is_left_is_the_same_speed_or_proven_slower():
    # "behind" runs at 95% of the leader: with a 5% margin it is never proven more than 5% behind (not dropped)
    # nor within 5% (not equivalent), but it is proven slower, so it cannot be the fastest: the race is answered.
    clock = Clock()
    speeds = {"ref": 100.0, "best": 200.0, "behind": 190.0}
    rounds = schedule("best", list(speeds), 3, 3.0, 500, clock, reference="ref", margin_pct=5.0)
    drive(rounds, speeds, clock)
    assert rounds.stopped_by == "target" and rounds.done == 6
    assert rounds.leader() == "best" and "behind" not in rounds.dropped
    assert rounds.compare("behind", "best").verdict == "slower"
    assert rounds.verdict("behind") is None and rounds.met("behind")


def test_best_does_not_end_before_the_leader_is_told_apart_from_the_reference():
    # The reference (a search's incumbent) is never dropped, but the race is not answered while it might still
    # be as fast as the leader: with one candidate, the race goes on until the pair is told apart.
    clock = Clock()
    speeds = {"ref": 100.0, "new": 103.0}
    rounds = schedule("best", list(speeds), 5, 3.0, 500, clock, reference="ref", margin_pct=1.0)
    drive(rounds, speeds, clock, noise=0.001)
    assert rounds.done >= 6 and rounds.compare("ref", "new").verdict == "slower"


def test_best_ends_when_nothing_left_can_beat_the_leader_by_more_than_the_margin():
    # Two configs 1% apart, blocks 3% noisy: neither proven slower nor the same speed within 5% after six rounds,
    # but neither can be more than 5% faster than the other. The race is answered (the indifference zone): the
    # winner is within the margin of the fastest. Before, it ran until the budget.
    clock = Clock()
    speeds = {"ref": 100.0, "a": 200.0, "b": 198.0}
    rounds = schedule("best", list(speeds), 3, 3.0, 500, clock, reference="ref", margin_pct=5.0)
    drive(rounds, speeds, clock, noise=0.03, seed=8)
    assert rounds.stopped_by == "target" and rounds.done == 6
    other = "b" if rounds.leader() == "a" else "a"
    versus = rounds.compare(other, rounds.leader())
    assert versus.verdict == "open" and versus.ratio.high < 1.05  # not proven either way, but within reach
    assert rounds.met(other) and rounds.verdict(other) is None and not rounds.dropped


def test_best_goes_on_while_a_contender_may_still_beat_the_leader_by_more_than_the_margin():
    clock = Clock()
    speeds = {"ref": 100.0, "a": 200.0, "b": 200.0}
    rounds = schedule("best", list(speeds), 3, 3.0, 40, clock, reference="ref", margin_pct=0.5)
    drive(rounds, speeds, clock, noise=0.03)
    # the same speed, 3% noisy blocks: at 0.5% each may still beat the other by more than the margin
    assert rounds.stopped_by == "budget" and rounds.done > 6


def drive_drifting(rounds, speeds, clock, seed=3, drift_per_block=0.02):
    """Like drive, but the machine's speed also drifts within a round, block by block (a random walk):
    two blocks timed k blocks apart see speeds about k steps apart. Returns each round's batch."""
    rng = random.Random(seed)
    batches, speed = [], 1.0
    while batch := rounds.next_round():
        batches.append(batch)
        for name in batch:
            speed = min(max(speed * (1 + rng.uniform(-drift_per_block, drift_per_block)), 0.7), 1.3)
            rounds.record(name, speeds[name] * speed * rng.uniform(0.995, 1.005))
            clock.now += 1.0
    return batches


def test_a_round_times_each_config_beside_its_neighbours_in_the_ranking_alternating_direction():
    speeds = {"ref": 100.0, "a": 300.0, "b": 50.0, "c": 302.0, "d": 200.0}
    rounds = schedule("rank", list(speeds), 3, 3.0, 500, Clock(), reference="ref", margin_pct=0.5)
    batches = drive_drifting(rounds, speeds, rounds.clock)
    assert batches[0] == list(speeds)  # no ranking before the first round: the sweep's order
    assert batches[1] == ["b", "ref", "d", "a", "c"] or batches[1] == ["b", "ref", "d", "c", "a"]  # slowest first
    assert set(batches[2][:2]) == {"a", "c"} and batches[2][2:] == ["d", "ref", "b"]  # fastest first


def test_neighbours_timed_one_after_the_other_settle_in_fewer_rounds_when_the_machine_drifts_within_a_round():
    # Two configs 2% apart at the two ends of the sweep's order, five others between them, and a machine whose
    # speed wanders block by block: timed a whole round apart their ratio carries the drift of six blocks, timed
    # side by side the drift of one.
    class SweepOrder(PairedRounds):
        def _in_order(self, names):
            return names

    speeds = {"close_a": 200.0, "ref": 100.0, "s1": 60.0, "s2": 70.0, "s3": 80.0, "s4": 90.0, "close_b": 203.0}

    def rounds_to_settle(cls, seed):
        clock = Clock()
        rounds = cls(list(speeds), 3, 3.0, 10_000, clock, reference="ref", margin_pct=1.0, goal="rank")
        drive_drifting(rounds, speeds, clock, seed=seed, drift_per_block=0.03)
        assert rounds.stopped_by == "target"
        return rounds.done

    side_by_side = [rounds_to_settle(PairedRounds, seed) for seed in range(10)]
    a_round_apart = [rounds_to_settle(SweepOrder, seed) for seed in range(10)]
    assert sum(side_by_side) * 1.5 < sum(a_round_apart)  # 155 rounds against 298


def test_equivalence_gives_the_same_verdict_whichever_config_is_on_top():
    # Within 1 - margin and 1 + margin it did not: a/b open with b/a equivalent, and under goal=rank the config that
    # saw "open" was measured on for 105 rounds after its neighbour had rested as settled (race5, 7 December).
    mirror = {"faster": "slower", "slower": "faster", "equivalent": "equivalent", "open": "open"}
    rng = random.Random(5)
    for _ in range(3000):
        values = [rng.uniform(0.93, 1.07) for _ in range(rng.randint(5, 30))]
        forward, backward = paired.judge(values, 5.0), paired.judge([1 / v for v in values], 5.0)
        assert backward.verdict == mirror[forward.verdict], values


def test_a_pair_neither_more_than_the_margin_faster_is_equivalent_at_both_bounds():
    def said(low, high):
        return paired.verdict(paired.Estimate(1.0, low, high, 20), 5.0)

    assert said(1 / 1.05, 1.05) == "equivalent"  # either may be up to 5% faster than the other
    assert said(1 / 1.05 - 1e-9, 1.0) == "open" and said(1.0, 1.05 + 1e-9) == "open"
    assert said(0.951, 1.02) == "open"  # within 1 - 5% (0.95), but b may be 5.2% faster than a

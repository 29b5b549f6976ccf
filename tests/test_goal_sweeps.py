"""benchmark.goal on real block sweeps of the small model: what each goal measures until."""

import pytest

BLOCKS = ["benchmark.method=blocks", "benchmark.min_rounds=2", "benchmark.block_s=0.2", "benchmark.block_warmup_s=0.05",
          "benchmark.warmup=2", "model=tiny"]


@pytest.mark.slow
def test_best_drops_a_clearly_slower_config_and_its_row_says_so(sweep):
    # batch 16 first: the sweep's reference (never dropped); batch 1 runs the same model far slower per sample.
    result = sweep("-m", "batch_size=16,1", *BLOCKS, "benchmark.goal=best", "benchmark.budget_s=120")
    assert result.returncode == 0, result.stderr
    frame = sweep.rows().set_index("batch_size")
    slow, ref = frame.loc[1], frame.loc[16]
    assert slow["status"] == "ok" and slow["stopped_by"] == "dropped" and slow["goal"] == "best"
    assert slow["reason"].startswith("dropped after 6 rounds: ") and "% behind the leader" in slow["reason"]
    assert slow["speedup_high"] < 1 and slow["speedup_reference"] == ref["run_key"]
    assert ref["stopped_by"] == "settled" and ref["speedup"] == 1.0 and list(ref["block_round"]) == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_rank_rests_a_settled_config_while_two_close_ones_go_on(sweep):
    # close_a and close_b (tests/conf/step: batch 16, seeds 0 and 1) run at the same speed and cannot be told
    # apart within 0.5%; slow (batch 1) can, from either.
    result = sweep("-m", "step=close_a,close_b,slow", *BLOCKS, "benchmark.goal=rank", "benchmark.budget_s=25",
                   "benchmark.equivalence_pct=0.5", faults=True)
    assert result.returncode == 0, result.stderr
    frame = sweep.rows()
    slow = frame[frame["ladder_step"] == "slow"]
    close = frame[frame["ladder_step"] != "slow"]
    assert set(slow["stopped_by"]) == {"settled"} and set(slow["blocks"]) == {6}
    assert (close["blocks"] > 6).all()  # measured on after the slow ones were settled
    assert set(frame["goal"]) == {"rank"} and frame["block_round"].map(len).equals(frame["blocks"])

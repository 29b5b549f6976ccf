"""The block-gap benchmark's reading of stores (it runs nothing)."""

import importlib.util
import math

import pytest

from tests.conftest import ROOT
from tests.report_store import paired_row
from xeonsweep.store import results

spec = importlib.util.spec_from_file_location("block_gaps", ROOT / "benchmarks" / "block_gaps.py")
block_gaps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(block_gaps)


def test_residuals_are_binned_by_the_seconds_between_the_two_blocks_of_a_round(tmp_path):
    # paired_row starts round r's block at 10 r s plus the config's position: "near" runs 1 s after "a", "far" 7 s.
    # a/near wobbles 1% about its mean, a/far 4%.
    wobble = [1, -1, 1, -1, 1, -1]
    a = [100.0] * 6
    near = [100.0 * math.exp(0.01 * w) for w in wobble]
    far = [100.0 * math.exp(0.04 * w) for w in wobble]
    for step, position, blocks in (("a", 0, a), ("near", 1, near), ("far", 7, far)):
        results.write_row(paired_row("s", step, position, blocks), tmp_path, "s")
    bins = block_gaps.residuals_by_gap([tmp_path], 5.0)
    assert sorted(bins) == [0, 5]
    assert math.sqrt(sum(bins[0]) / len(bins[0])) == pytest.approx(0.01 * math.sqrt(6 / 5))
    assert len(bins[5]) == 12  # a/far and near/far (6 s apart)

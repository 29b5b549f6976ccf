"""The rank-stability benchmark's pure parts (the ladder runs themselves are the lead's to run)."""

import importlib.util
import random
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from tests.conftest import ROOT
from xeonsweep.store import results

spec = importlib.util.spec_from_file_location("rank_stability", ROOT / "benchmarks" / "rank_stability.py")
rank_stability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rank_stability)


def test_kendall_tau_known_values():
    assert rank_stability.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert rank_stability.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert rank_stability.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)


def test_kendall_tau_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(1)
    for _ in range(20):
        x = [rng.randint(0, 5) for _ in range(15)]
        y = [rng.randint(0, 5) for _ in range(15)]
        assert rank_stability.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def write(store, step, position, sps, low, high, status="ok"):
    now = datetime.now(timezone.utc)
    results.write_row({
        "run_key": step, "status": status, "machine": "m", "model": "resnet50", "ladder_step": step,
        "ladder_position": position, "started_at": now, "finished_at": now, "batch_size": 8, "measurement": "blocks",
        "sps": sps if status == "ok" else None, "sps_ci_low": low, "sps_ci_high": high, "target_met": True,
        "blocks": 5, "rounds": 5, "reason": None if status == "ok" else "broken",
    }, store, "s")


@pytest.fixture
def stores(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for step, pos, sps in (("baseline", 1, 10.0), ("batch8", 2, 20.0), ("compile", 3, 30.0), ("openvino", 4, 40.0)):
        write(one, step, pos, sps, sps * 0.97, sps * 1.03)
    write(two, "baseline", 1, 10.1, 10.05, 10.4)     # inside (but run 1's 10.0 is not inside run 2's interval)
    write(two, "batch8", 2, 31.0, 30.0, 32.0)        # outside, and swaps rank with compile
    write(two, "compile", 3, 29.5, 29.0, 30.0)       # inside
    write(two, "openvino", 4, None, None, None, status="failed")
    return one, two


def test_compare_counts_inside_and_ranks_only_steps_ok_in_both(stores):
    both = rank_stability.compare(rank_stability.summary_of(stores[0]), rank_stability.summary_of(stores[1]))
    figures = rank_stability.figures(both)
    assert figures == {"steps": 4, "ok_both": 3, "tau": pytest.approx(1 / 3), "inside": 2, "inside_reverse": 1,
                       "inside_repeat": 2, "inside_repeat_reverse": 1}
    assert list(both["inside"]) == [True, False, True, False]
    assert list(both["inside_reverse"]) == [False, False, True, False]
    # run 2's baseline interval 10.05-10.4 about 10.1, widened by sqrt 2: 10.03-10.52, so run 1's 10.0 is still out;
    # compile 29.0-30.0 about 29.5 widens to 28.79-30.21 and catches run 1's 30.0 as before.
    assert list(both["inside_repeat"]) == [True, False, True, False]
    assert list(both["inside_repeat_reverse"]) == [False, False, True, False]


@pytest.mark.slow
def test_the_script_compares_two_stores(stores):
    out = subprocess.run([sys.executable, "benchmarks/rank_stability.py", "--stores", *map(str, stores)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Kendall tau between the two rankings: 0.33 over 3 steps ok in both" in out.stdout
    assert "inside run 1's 95% interval: 2 of 4 steps" in out.stdout
    assert "run 1's median inside run 2's interval: 1 of 4" in out.stdout
    assert "run 1 gives for a repeat (95% CI widened by sqrt 2" in out.stdout and "2 of 4 steps" in out.stdout
    assert "(ok / failed)" in out.stdout
    assert "run 1: first row's start to last row's end 0.0 min" in out.stdout

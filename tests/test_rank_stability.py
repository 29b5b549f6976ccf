"""The rank-stability benchmark's pure parts (the ladder runs themselves are the lead's to run)."""

import importlib.util
import random
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.report_store import EPYC, T0, paired_row
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


PATTERN = [1.0, 1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 1.0]   # each config's per-round ratio wobble
MACHINE = [1.0, 0.98, 1.02, 1.0, 0.97, 1.03, 1.0, 1.0]  # the whole machine, round by round: pairing cancels it


def write_run(store, sweep, scale, speedups, stopped=(), failed=()):
    """A ladder run's rows (schema 6): each step's blocks are the baseline's of the same round times its speedup."""
    base = [100.0 * scale * m for m in MACHINE]
    for position, (step, ratios) in enumerate(speedups.items(), 1):
        blocks = [b * r for b, r in zip(base, ratios)]
        results.write_row(paired_row(sweep, step, position, blocks, "budget" if step in stopped else "settled"),
                          store, sweep)
    for step in failed:
        results.write_row({"run_key": f"{sweep}-{step}", "config_hash": f"{step}-resnet50", "status": "failed",
                           "reason": "broken", "machine": EPYC, "model": "resnet50", "ladder_step": step,
                           "ladder_position": 9, "batch_size": 8, "started_at": T0, "finished_at": T0}, store, sweep)


def times(factor, wobble=PATTERN):
    return [factor * w for w in wobble]


@pytest.fixture
def stores(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    compile_1 = times(2.0 * 1.004)
    write_run(one, "r1", 1.0, {"baseline": times(1.0, [1.0] * 8), "batch8": times(1.5), "compile": compile_1,
                               "openvino": [c / 1.004 for c in compile_1], "ipex": times(3.0), "thp": times(1.2)})
    # Run 2: the whole machine 10% slower (absolute SPS shifts), compile and openvino swap places but each run
    # finds them the same speed within 2%, ipex 10% faster than run 1 found it, thp failed, batch8 left open.
    compile_2 = times(2.0 * 0.998)
    write_run(two, "r2", 0.9, {"baseline": times(1.0, [1.0] * 8), "batch8": times(1.5), "compile": compile_2,
                               "openvino": [c * 1.004 for c in compile_2], "ipex": times(3.3)},
              stopped={"batch8"}, failed={"thp"})
    return one, two


def test_paired_figures_between_two_runs(stores):
    first, second = (rank_stability.read_run(s) for s in stores)
    assert first["order"] == ["ipex", "compile", "openvino", "batch8", "thp", "baseline"]
    assert first["pairs"] == [("ipex", "compile", "resolved"), ("compile", "openvino", "equivalent"),
                              ("openvino", "batch8", "resolved"), ("batch8", "thp", "resolved"),
                              ("thp", "baseline", "resolved")]
    assert first["stops"]["batch8"] == "settled" and second["stops"]["batch8"] == "left open"
    both = rank_stability.compare(first, second)
    f = rank_stability.figures(both, first, second)
    # compile/openvino swap but are tied in both runs: the paired tau is 1; the SPS ranking's is not.
    assert f["tau"] == 1.0 and f["tau_sps"] == pytest.approx(0.8)
    # baseline (the reference), batch8, compile, openvino inside; ipex outside; thp failed in run 2.
    assert f["inside"] == 4 and f["ok_both"] == 5 and f["steps"] == 6
    assert dict(zip(both["config"], both["inside"]))["ipex"] == False  # noqa: E712
    # Absolute SPS moved 10% with the machine: only ipex's (10% faster on a 10% slower machine) lands inside.
    assert f["sps_inside"] == 1 and dict(zip(both["config"], both["sps_inside"]))["ipex"] == True  # noqa: E712


def test_a_process_of_the_reference_that_ran_faster_moves_every_speedup_and_is_named(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    steps = {"batch8": times(1.5), "compile": times(2.0)}
    write_run(one, "r1", 1.0, {"baseline": times(1.0, [1.0] * 8), **steps})
    write_run(two, "r2", 1.0, {"baseline": times(1.05, [1.0] * 8), **steps})  # only the reference's process moved
    first, second = (rank_stability.read_run(s) for s in (one, two))
    both = rank_stability.compare(first, second)
    reference, machine = rank_stability.reference_shift(both)
    assert reference == pytest.approx(1.05) and machine == pytest.approx(1.0)
    assert rank_stability.figures(both, first, second)["inside"] == 1  # the reference only: every speedup moved 5%


def test_run_line_says_time_with_set_up_apart_and_what_was_left_open(stores):
    second = rank_stability.read_run(stores[1])
    line = rank_stability.run_line("run 2", second, wall_s=600.0, warm=True)
    assert line.startswith("run 2 (warm cache): wall 10.0 min: rounds 1.2 min, set-up and the rest 8.8 min; ")
    assert "configs 4 settled, 0 dropped, 1 left open" in line
    assert "adjacent pairs 3 resolved, 1 equivalent, 0 open" in line


@pytest.mark.slow
def test_the_script_compares_two_stores(stores):
    out = subprocess.run([sys.executable, "benchmarks/rank_stability.py", "--stores", *map(str, stores)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Kendall tau of the paired rankings (pairs a run found equivalent tied): 1.000 over 5 steps" in out.stdout
    assert "run 2's paired speedups inside run 1's repeat interval: 4 of 6 steps" in out.stdout
    assert "(ok / failed)" in out.stdout
    assert "the reference's own SPS, run 2 over run 1: 0.900; the other steps' median: 0.901" in out.stdout
    assert "Goals (issue 18, a quiet 2-core machine): at least 14 of 15 inside, tau >= 0.95" in out.stdout
    assert "given: 4 of 6 inside: NOT met; tau 1.000: met; configs and adjacent pairs left open: run 1 0 and 0, " \
        "run 2 1 and 0: NOT met; warm runs' wall: no run" in out.stdout
    lines = out.stdout.splitlines()
    table = lines[lines.index("== two runs given ==") + 2:][:6]
    assert [line.split()[0] for line in table] == ["baseline", "batch8", "compile", "openvino", "ipex", "thp"]

"""The racing benchmark's pure parts (the sweeps themselves are the lead's to run): a run's winner and the
configs it found the same speed, from rows written directly; agreement between runs; the time share."""

import importlib.util

import pytest

from tests.conftest import ROOT
from tests.report_store import paired_row
from xeonsweep.store import results

spec = importlib.util.spec_from_file_location("racing", ROOT / "benchmarks" / "racing.py")
racing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(racing)

WOBBLE = [1.0, 1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 1.0]


def write_race(store, sweep, speedups, stopped_by, rounds=8):
    """A goal=best run: each config's blocks are the reference's of the same round times its speedup."""
    for position, (config, factor) in enumerate(speedups.items(), 1):
        blocks = [100.0 * factor * w for w in WOBBLE[:rounds if stopped_by.get(config) != "dropped" else 6]]
        results.write_row(paired_row(sweep, config, position, blocks, stopped_by.get(config, "settled"), goal="best"),
                          store, sweep)
    return racing.read_race(store)


def test_a_run_names_its_winner_and_what_it_found_the_same_speed(tmp_path):
    run = write_race(tmp_path, "b1", {"eager": 1.0, "compile": 2.0, "openvino": 3.0, "onnxruntime": 3.01},
                     {"compile": "dropped"})
    assert run["winner"] == "onnxruntime" and run["same_speed"] == ["openvino"]
    assert run["runner_up"] == ("openvino", "equivalent")
    assert run["stops"] == {"settled": 3, "dropped": 1} and run["configs"] == 4
    # Rounds 1-8 at 10 s apart: from round 1's first block to round 8's last (position 4, 1 s long).
    assert run["rounds_s"] == pytest.approx(70 + 3 + 1)
    line = racing.run_line(1, "best", run, wall_s=300.0)
    assert line.startswith("run 1 (best): winner onnxruntime (3.01x the reference); "
                           "the same speed within 2%: openvino; "
                           "runner-up openvino: equivalent; rounds 1.2 min, wall 5.0 min")
    assert line.endswith("of 4 configs 3 settled, 1 dropped, 0 left open")


def test_winners_agree_only_when_the_same_or_proven_the_same_speed():
    same = {"winner": "ov", "same_speed": []}
    assert racing.agreement([same, same]) == "the same winner in every run: ov"
    tied = [{"winner": "ov", "same_speed": ["ort"]}, {"winner": "ort", "same_speed": ["ov"]}]
    assert racing.agreement(tied).startswith("winners differ (ov in 1 runs, ort in 1 runs), but every run found them")
    told_apart = [{"winner": "ov", "same_speed": ["ort"]}, {"winner": "ort", "same_speed": []}]
    assert racing.agreement(told_apart).endswith("not proven the same speed: NOT met")


def test_best_modes_share_is_of_median_times():
    assert racing.share([60.0, 30.0, 40.0], [100.0, 200.0, 150.0]) == pytest.approx(40 / 150)
    assert racing.share([], [1.0]) != racing.share([], [1.0])  # nan without runs

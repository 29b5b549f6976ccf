"""Serving verdicts (issue 17, item 11): a LoadGen run that was measured but did not meet its SLO
says INVALID and why, in the single run's line (and its exit status), the sweep's progress line
and the report, instead of `ok`."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.test_scenarios import SHORT
from xeonsweep.store.verdict import verdict

REASON = "performance constraints not satisfied (the latency percentile is over the SLO)"
SERVER = {"status": "ok", "reason": None, "scenario": "server", "target_qps": 500.0, "latency_slo_ms": 0.001,
          "latency_percentile": 90.0, "loadgen_valid": False, "loadgen_reason": REASON, "sps": 446.22}
SEARCHED = [[{"target_qps": 16.0, "valid": False}, {"target_qps": 8.0, "valid": False},
             {"target_qps": 4.0, "valid": False}]]


@pytest.mark.parametrize("row, expected", [
    (SERVER, ("INVALID", f"LoadGen at 500 QPS: {REASON}")),
    ({**SERVER, "target_qps": 4.0, "find_peak_runs": json.dumps(SEARCHED), "peak_qps": None},
     ("INVALID", f"no QPS met the SLO (p90 <= 0.001 ms) down to 4 QPS; LoadGen at 4 QPS: {REASON}")),
    ({**SERVER, "scenario": "single_stream", "target_qps": None, "loadgen_reason": "min duration not satisfied"},
     ("INVALID", "LoadGen: min duration not satisfied")),
    ({**SERVER, "loadgen_valid": True, "loadgen_reason": None}, ("ok", None)),
    ({"status": "ok", "reason": None, "scenario": "offline", "loadgen_valid": float("nan")}, ("ok", None)),
    (pd.Series({"status": "ok", "reason": pd.NA, "scenario": "offline", "loadgen_valid": pd.NA}), ("ok", None)),
    ({**SERVER, "status": "failed", "reason": "killed by SIGKILL"}, ("failed", "killed by SIGKILL")),
])
def test_a_run_that_missed_its_slo_is_invalid_with_loadgen_reason(row, expected):
    assert verdict(row) == expected


def test_the_progress_line_and_summary_say_invalid(capsys):
    from xeonsweep.sweep.progress import SweepProgress

    with SweepProgress(2, "s", "store") as progress:
        progress.finished(1, "scenario.latency_slo_ms=0.001", {"status": "ok", "verdict": "INVALID", "sps": 446.22,
                                                              "reason": f"LoadGen at 500 QPS: {REASON}"})
        progress.finished(2, "scenario.latency_slo_ms=5000", {"status": "ok", "verdict": "ok", "sps": 99.5,
                                                              "reason": None})
        progress.summary(0)
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("[1/2]"))
    assert "INVALID" in line and " ok " not in line
    assert f"LoadGen at 500 QPS: {REASON}" in " ".join(err.split())  # rich wraps at the terminal's width
    assert "2 runs: 1 ok, 1 INVALID" in err


@pytest.mark.slow
def test_a_single_server_run_short_of_its_slo_says_invalid_and_exits_1(tmp_path, cache_dir):
    """Run from a folder of the user's own, as a new user would."""
    argv = [sys.executable, "-m", "xeonsweep", "scenario=server", "scenario.target_qps=100",
            "scenario.latency_slo_ms=0.001", *SHORT, f"results.dir={tmp_path / 'results'}", f"cache.dir={cache_dir}"]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    line = run.stdout.strip().splitlines()[-1]
    assert line.startswith("xeonsweep: INVALID ") and "samples/s: LoadGen at 100 QPS: performance constraints" in line
    assert run.returncode == 1, run.stdout + run.stderr


@pytest.mark.slow
def test_a_find_peak_run_that_found_no_valid_qps_says_so(tmp_path, cache_dir):
    argv = [sys.executable, "-m", "xeonsweep", "scenario=server", "scenario.find_peak=true", "scenario.target_qps=400",
            "scenario.latency_slo_ms=0.001", *SHORT, f"results.dir={tmp_path / 'results'}", f"cache.dir={cache_dir}"]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    line = run.stdout.strip().splitlines()[-1]
    assert line.startswith("xeonsweep: INVALID ") and ": no QPS met the SLO (p90 <= 0.001 ms) down to " in line
    assert run.returncode == 1, run.stdout + run.stderr

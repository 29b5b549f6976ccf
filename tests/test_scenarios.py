"""LoadGen scenarios: real LoadGen runs against the real batching SUT on the small model,
with LoadGen's minimums cut down (and the 90th percentile, whose early stopping needs
fewer queries than the 99th) so that each run takes a few seconds."""

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST
from xeonsweep.config import settings
from xeonsweep.serving import peak

SHORT = [*FAST, "scenario.min_duration_ms=1000", "scenario.min_query_count=200", "scenario.latency_percentile=90"]


def test_offline_fingerprints_are_those_of_before_scenarios(compose_run):
    # Computed on ef1ff36, before the scenario group existed: stored rows still count.
    assert settings.config_hash(compose_run()) == "9121d7d0656c2a35"
    assert settings.config_hash(compose_run("model=tiny")) == "1ecf4d161678f3d4"
    assert settings.config_hash(compose_run("backend=openvino")) == "cfbc9c0b3f74dd0b"
    assert settings.config_hash(compose_run("model=tiny", "scenario.max_wait_ms=7")) == "1ecf4d161678f3d4"


def test_scenario_settings_that_change_what_is_measured_change_the_fingerprint(compose_run):
    server = compose_run("model=tiny", "scenario=server")
    assert settings.config_hash(server) != settings.config_hash(compose_run("model=tiny"))
    assert (settings.config_hash(compose_run("model=tiny", "scenario=server", "scenario.latency_slo_ms=50"))
            != settings.config_hash(server))
    # how long LoadGen runs is not part of it
    assert (settings.config_hash(compose_run("model=tiny", "scenario=server", "scenario.min_query_count=7"))
            == settings.config_hash(server))


def test_search_brackets_then_bisects_to_the_highest_valid_qps():
    tried = []

    def run_at(qps):  # a system that serves up to 230 QPS
        tried.append(qps)
        return {"target_qps": qps, "valid": qps <= 230}

    runs = peak.search(50, run_at)
    best = peak.best_valid(runs)["target_qps"]
    assert tried[:4] == [50, 100, 200, 400]
    assert 230 / peak.RESOLUTION <= best <= 230
    assert peak.best_valid(peak.search(1000, run_at))["target_qps"] <= 230


def test_confirm_steps_down_until_valid():
    runs = peak.confirm(400, lambda q: {"target_qps": q, "valid": q <= 150})
    assert [r["valid"] for r in runs][-1] and all(not r["valid"] for r in runs[:-1])
    assert runs[1]["target_qps"] == pytest.approx(360)


@pytest.mark.slow
def test_single_stream(sweep):
    result = sweep("scenario=single_stream", "batch_size=1", *SHORT)
    assert result.returncode == 0, result.stdout + result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "ok" and row["scenario"] == "single_stream" and row["batch_size"] == 1
    assert row["loadgen_queries"] >= 200 and row["mean_batch"] == 1.0
    assert 0 < row["latency_ms_p50"] <= row["latency_ms_p90"] <= row["latency_ms_p99"] <= row["latency_ms_p99_9"]
    assert row["sps"] == pytest.approx(1000 / row["latency_ms_mean"], rel=0.05)  # one query at a time
    folder = Path(row["loadgen_logs"])
    summary = (folder / "mlperf_log_summary.txt").read_text()
    assert "Scenario : SingleStream" in summary and (folder / "mlperf_log_detail.txt").exists()
    assert folder.is_relative_to(sweep.tmp / "run")  # kept in the run's folder


@pytest.mark.slow
def test_server_valid_under_a_generous_slo_and_invalid_under_an_impossible_one(sweep):
    result = sweep("-m", "scenario=server", "scenario.target_qps=100", "scenario.latency_slo_ms=0.001,5000", *SHORT)
    assert result.returncode == 0, result.stdout + result.stderr
    frame = sweep.rows().set_index("latency_slo_ms")
    generous, impossible = frame.loc[5000.0], frame.loc[0.001]
    assert generous["loadgen_valid"] and pd.isna(generous["loadgen_reason"])
    assert generous["sps"] > 0 and generous["target_qps"] == 100 and generous["mean_batch"] >= 1
    assert not impossible["loadgen_valid"]
    assert "performance constraints not satisfied" in impossible["loadgen_reason"]
    summary = (Path(impossible["loadgen_logs"]) / "mlperf_log_summary.txt").read_text()
    assert "Result is : INVALID" in summary and "Performance constraints satisfied : NO" in summary
    assert impossible["status"] == "ok"  # measured: the config just cannot meet that SLO
    # ... and the progress line says INVALID and why, not ok (issue 17, item 11)
    line = next(line for line in result.stderr.splitlines() if "latency_slo_ms=0.001" in line)
    assert "INVALID" in line and " ok " not in line
    assert "LoadGen at 100 QPS: performance constraints not satisfied" in " ".join(result.stderr.split())


@pytest.mark.slow
def test_find_peak_gives_a_valid_qps_whose_double_is_invalid(sweep):
    slo = ["scenario=server", "scenario.latency_slo_ms=200", *SHORT]
    result = sweep("scenario.find_peak=true", "scenario.target_qps=50", *slo)
    assert result.returncode == 0, result.stdout + result.stderr
    row = sweep.rows().iloc[0]
    top = row["peak_qps"]
    assert top > 0 and row["loadgen_valid"] and row["target_qps"] == top
    runs = json.loads(row["find_peak_runs"])[0]
    assert any(r["how"].startswith("LoadGen FindPeakPerformance") for r in runs)
    at_peak = [r for r in runs if r["how"] == "LoadGen PerformanceOnly run" and r["target_qps"] == top]
    assert at_peak and at_peak[-1]["valid"]  # a real LoadGen server run at the peak said VALID
    double = sweep(f"scenario.target_qps={2 * top}", *slo)
    # a single run short of its SLO: INVALID, LoadGen's reason, exit 1 (issue 17, item 11)
    assert double.returncode == 1 and "xeonsweep: INVALID " in double.stdout, double.stdout + double.stderr
    rows = sweep.rows()
    assert not rows[rows["peak_qps"].isna()].iloc[0]["loadgen_valid"]


@pytest.mark.slow
@pytest.mark.parametrize("find_peak", ["false", "true"])
def test_a_batch_that_raises_while_serving_fails_the_run_with_its_error_long_before_the_timeout(sweep, find_peak):
    # The model's 20th forward pass raises: set-up and warm-up succeed, then a batch behind LoadGen fails.
    result = sweep("model=fails_when_served", "scenario=server", "scenario.target_qps=50",
                   "scenario.latency_slo_ms=1000", f"scenario.find_peak={find_peak}", "benchmark.timeout_s=300",
                   *SHORT[1:], faults=True)
    assert result.returncode == 1, result.stdout + result.stderr
    row = sweep.rows().iloc[0]
    assert row["status"] == "failed", row["reason"]
    assert row["reason"].startswith("ValueError: forward pass 20 fails on purpose")
    # LoadGen was answered and finished (a few seconds of queries), not left waiting until timeout_s.
    assert (row["finished_at"] - row["started_at"]).total_seconds() < 100


@pytest.mark.slow
def test_openvino_throughput_hint_keeps_several_requests_in_flight(sweep):
    result = sweep("-m", "backend=openvino", "backend.options.performance_hint=throughput",
                   "scenario=offline,server", "scenario.target_qps=1000", "scenario.latency_slo_ms=5000", *SHORT)
    assert result.returncode == 0, result.stdout + result.stderr
    frame = sweep.rows().set_index("scenario")
    for scenario in ("offline", "server"):
        row = frame.loc[scenario]
        assert row["status"] == "ok", row["reason"]
        assert row["ov_requests"] > 1 and row["ov_streams"] > 1
        assert row["ov_max_requests_in_flight"] > 1  # behind LoadGen: counted by the server, overloaded on purpose
        assert row["top1_agreement"] == 1.0


def test_report_ranks_configs_by_peak_qps_under_the_slo_and_plots_latency_against_load(tmp_path):
    from datetime import datetime, timezone

    from xeonsweep.report import serving as report_serving
    from xeonsweep.store import results

    def add(n, batch, scenario, **cols):
        results.write_row({"run_key": f"r{n}", "config_hash": f"c{batch}-{scenario}", "status": "ok", "machine": "m",
                           "model": "tiny", "batch_size": batch, "scenario": scenario,
                           "started_at": datetime.now(timezone.utc), **cols}, tmp_path / "store", "s")

    slo = {"latency_slo_ms": 100.0, "latency_percentile": 99.0}
    add(1, 1, "server", target_qps=50.0, loadgen_valid=True, latency_ms_p99=40.0, **slo)
    add(2, 1, "server", target_qps=80.0, loadgen_valid=False, latency_ms_p99=400.0, **slo)
    runs = [[{"target_qps": q, "valid": q <= 120, "latency_ms": {"p99": 30.0 if q <= 120 else 300.0}}
             for q in (60, 120, 240)]]
    add(3, 8, "server", target_qps=120.0, peak_qps=120.0, loadgen_valid=True, latency_ms_p99=90.0,
        find_peak_runs=json.dumps(runs), **slo)
    add(4, 8, "offline", sps=300.0)
    frame = results.load(tmp_path / "store")
    table = report_serving.peak_table(frame)
    assert list(table["config"]) == ["batch_size=8", "batch_size=1"] and list(table["rank"]) == [1, 2]
    assert list(table["peak_qps"]) == [120.0, 50.0]
    assert table.iloc[0]["offline_sps"] == 300.0 and table.iloc[0]["offline_over_peak"] == pytest.approx(2.5)
    paths = report_serving.write(frame, tmp_path / "report")
    charts = [p for p in paths if p.name.startswith("latency-vs-load-")]
    assert len(charts) == 2 and all(p.stat().st_size > 0 for p in charts)
    assert "| 1 | batch_size=8 | p99 <= 100 ms | 120.0 |" in (tmp_path / "report" / "serving.md").read_text()


def test_search_down_gives_up_after_a_few_halvings():
    runs = peak.search(100, lambda q: {"target_qps": q, "valid": False})
    assert len(runs) == peak.MAX_HALVINGS + 1 and peak.best_valid(runs) is None
    assert runs[-1]["target_qps"] == 100 / 2 ** peak.MAX_HALVINGS
    halved = peak.search(100, lambda q: {"target_qps": q, "valid": False}, max_halvings=2)
    assert [r["target_qps"] for r in halved] == [100, 50, 25]
    runs = peak.confirm(100, lambda q: {"target_qps": q, "valid": False})
    assert len(runs) == peak.CONFIRM_TRIES + peak.MAX_HALVINGS


def test_a_single_instance_search_after_loadgen_failed_its_start_goes_down_to_a_sixteenth_of_it():
    from xeonsweep.serving.serve import Instance

    instance = Instance.__new__(Instance)  # no SUT, no LoadGen: only the order of QPS steps is under test
    instance.instances, instance.scenario = 1, {"target_qps": 32.0, "latency_slo_ms": 100.0}
    tried = []

    def test(qps, find_peak=False):
        tried.append(qps)
        return {"target_qps": qps, "valid": False, "peak_qps": None}

    instance.test = test
    best, runs = instance.find_peak()
    assert best is None and tried == [32.0, 16.0, 8.0, 4.0, 2.0]  # LoadGen's own search at 32, then halving


def loadgen_like(qps, mean_ms, p50_ms, p99_ms, slo_ms=100):
    """A server run as Instance.test returns it, at `qps` with these latencies (completed = offered)."""
    return {"target_qps": qps, "valid": p99_ms <= slo_ms, "completed_sps": qps, "reason": "INVALID",
            "latency_ms": {"mean": mean_ms, "p50": p50_ms, "p99": p99_ms}}


def test_a_search_stops_going_down_once_the_slo_is_out_of_reach():
    """A query alone takes 130 ms against a 100 ms SLO: once the server is mostly idle (QPS x mean
    latency < 0.5) and even its median query misses, lower QPS cannot help; the search says so and stops."""
    seen = []

    def run_at(qps):
        seen.append(qps)
        latency = 130 + 200 * min(qps / 8, 1)
        return loadgen_like(qps, mean_ms=latency, p50_ms=latency, p99_ms=250)

    hopeless = lambda run: peak.out_of_reach(run, 100)  # noqa: E731
    runs = peak.search(6, run_at, hopeless)
    assert seen == [6, 3, 1.5]  # 3 QPS x 205 ms = 0.6 in the system: still queueing; 1.5 x 167 ms = 0.25: not
    assert peak.best_valid(runs) is None
    assert "out of reach" in runs[-1]["reason"] and "0.25 queries" in runs[-1]["reason"]
    assert "out of reach" not in runs[0]["reason"]
    confirmed = peak.confirm(6, run_at, hopeless)
    assert len(confirmed) < peak.CONFIRM_TRIES + peak.MAX_HALVINGS and "out of reach" in confirmed[-1]["reason"]


def test_a_search_goes_on_down_while_the_median_query_meets_the_slo():
    """Mostly idle, p99 over the SLO but the median under it: a lower QPS may still be VALID."""
    def run_at(qps):
        return loadgen_like(qps, mean_ms=50 + 10 * qps, p50_ms=50 + 10 * qps, p99_ms=60 + 30 * qps)

    best = peak.best_valid(peak.search(8, run_at, lambda run: peak.out_of_reach(run, 100)))["target_qps"]
    assert (100 - 60) / 30 / peak.RESOLUTION <= best <= (100 - 60) / 30


def test_an_instance_whose_test_failed_stops_the_others_at_that_step(tmp_path):
    failing, waiting = (peak.Exchange(tmp_path, 2, rank) for rank in (0, 1))
    failing.failed(3)
    with pytest.raises(RuntimeError, match="step 3: another instance failed"):
        waiting.all_valid(3, True)

"""LoadGen's settings for a run, one LoadGen test, and what its logs say.

LoadGen writes mlperf_log_summary.txt, mlperf_log_detail.txt (one JSON record
per line after `:::MLLOG `) and mlperf_log_trace.json (one event per sample)
into the folder it is given: the run's folder. The verdict, its reason and the
percentiles are read from the detail log; each sample's latency, as LoadGen
measured it, from the trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERCENTILES = {"p50": "50.00", "p90": "90.00", "p99": "99.00", "p99_9": "99.90"}
QSL_SAMPLES = 1024  # every sample is the same seeded input: the count only feeds LoadGen's sample choice


@dataclass
class Result:
    """One LoadGen test as its logs tell it."""

    scenario: str
    mode: str
    target_qps: float | None
    valid: bool
    reason: str | None
    completed_sps: float
    latency_ms: dict                    # p50, p90, p99, p99_9, mean: LoadGen's figures
    query_count: int
    latencies_ms: list[float] = field(default_factory=list)
    peak_qps: float | None = None       # FindPeakPerformance's answer
    searched: list[dict] = field(default_factory=list)  # FindPeakPerformance's steps: qps, passed

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def test_settings(scenario: dict, qps: float | None, expected_latency_ns: int, seed: int,
                  find_peak: bool = False) -> Any:
    import mlperf_loadgen as lg

    ts = lg.TestSettings()
    ts.min_duration_ms = int(scenario["min_duration_ms"])
    ts.min_query_count = int(scenario["min_query_count"])
    ts.schedule_rng_seed = ts.sample_index_rng_seed = ts.qsl_rng_seed = seed
    fraction = float(scenario["latency_percentile"]) / 100.0
    if scenario["name"] == "single_stream":
        ts.scenario = lg.TestScenario.SingleStream
        ts.single_stream_expected_latency_ns = max(int(expected_latency_ns), 1)
        ts.single_stream_target_latency_percentile = fraction
    else:
        ts.scenario = lg.TestScenario.Server
        ts.server_target_qps = float(qps)
        ts.server_target_latency_ns = int(float(scenario["latency_slo_ms"]) * 1e6)
        ts.server_target_latency_percentile = fraction
        # A 1-QPS resolution is plenty for a CPU and halves FindPeakPerformance's steps.
        ts.server_find_peak_qps_decimals_of_precision = 0
    ts.mode = lg.TestMode.FindPeakPerformance if find_peak else lg.TestMode.PerformanceOnly
    return ts


def run_test(sut: Any, settings: Any, log_dir: Path) -> None:
    """One LoadGen test against `sut` (a started BatchingSUT); its logs go to `log_dir`."""
    import mlperf_loadgen as lg

    log_dir.mkdir(parents=True, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    handle = lg.ConstructSUT(sut.issue, sut.flush)
    qsl = lg.ConstructQSL(QSL_SAMPLES, QSL_SAMPLES, lambda indices: None, lambda indices: None)
    try:
        lg.StartTestWithLogSettings(handle, qsl, settings, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(handle)


def detail_records(log_dir: Path) -> list[dict]:
    records = []
    for line in (log_dir / "mlperf_log_detail.txt").read_text(errors="replace").splitlines():
        if line.startswith(":::MLLOG "):
            records.append(json.loads(line[len(":::MLLOG "):]))
    return records


def invalid_reason(values: dict, messages: list[str]) -> str | None:
    """LoadGen's own words for an INVALID result: the constraints it found unmet."""
    if values.get("result_validity") == "VALID":
        return None
    reasons = []
    if values.get("result_perf_constraints_met") is False:
        reasons.append("performance constraints not satisfied (the latency percentile is over the SLO)")
    if values.get("result_min_duration_met") is False:
        reasons.append("min duration not satisfied")
    if values.get("result_min_queries_met") is False:
        reasons.append("min queries not satisfied")
    if values.get("early_stopping_met") is False:
        detail = " ".join(str(values.get("early_stopping_result", "")).split())
        reasons.append(f"early stopping not satisfied: {detail}" if detail else "early stopping not satisfied")
    if values.get("result_invalid_reason"):
        reasons.append(str(values["result_invalid_reason"]))
    errors = [m for m in messages if m]
    return "; ".join(reasons + errors) or "LoadGen reported INVALID"


def parse_logs(log_dir: Path, scenario: str, target_qps: float | None) -> Result:
    records = detail_records(log_dir)
    values = {r["key"]: r["value"] for r in records}
    errors = [str(r["value"]) for r in records if r.get("metadata", {}).get("is_error")]
    latency_ms = {name: values.get(f"result_{pct}_percentile_latency_ns", float("nan")) / 1e6
                  for name, pct in PERCENTILES.items()}
    latency_ms["mean"] = values.get("result_mean_latency_ns", float("nan")) / 1e6
    if scenario == "single_stream":
        sps = 1e9 / values["result_mean_latency_ns"] if values.get("result_mean_latency_ns") else 0.0
    else:
        sps = float(values.get("result_completed_samples_per_sec", 0.0))
    messages = [str(r["value"]) for r in records if r["key"] == "generic_message"]
    peak, searched = find_peak_steps(messages)
    return Result(
        scenario=scenario, mode=str(values.get("effective_test_mode", "")), target_qps=target_qps,
        valid=values.get("result_validity") == "VALID", reason=invalid_reason(values, errors),
        completed_sps=sps, latency_ms=latency_ms, query_count=int(values.get("result_query_count", 0)),
        latencies_ms=sample_latencies_ms(log_dir), peak_qps=peak, searched=searched,
    )


_FIELD = r"([0-9.]+)"


def find_peak_steps(messages: list[str]) -> tuple[float | None, list[dict]]:
    """FindPeakPerformance's answer and the QPS it tried, in order.

    LoadGen logs the value it tests (base, each boundary, each binary-search
    midpoint) and the peak it found; a binary search's tested value passed
    exactly when it is not above the peak it ends on.
    """
    tested: list[float] = []
    peak = None
    for text in messages:
        if m := re.search(r"Check validity of the base settings field: " + _FIELD, text):
            tested.append(float(m.group(1)))
        elif m := re.search(r"FindBoundaries: Checking fields \[" + _FIELD + ", " + _FIELD, text):
            tested.append(float(m.group(2)))
        elif m := re.search(r"Testing the mid value of bounds .*: " + _FIELD, text):
            tested.append(float(m.group(1)))
        elif m := re.search(r"Found peak performance field: " + _FIELD, text):
            peak = float(m.group(1))
    if peak is None:  # the base QPS already failed: LoadGen stops there
        return None, [{"qps": q, "passed": False} for q in tested]
    return peak, [{"qps": q, "passed": q <= peak} for q in tested]


def sample_latencies_ms(log_dir: Path) -> list[float]:
    """Every sample's latency from LoadGen's trace (scheduled start to completion)."""
    path = log_dir / "mlperf_log_trace.json"
    if not path.exists():
        return []
    pattern = re.compile(r'"name":"Sample".*"ph":"b".*"complete_ns":(\d+)')
    return [int(m.group(1)) / 1e6 for line in path.read_text(errors="replace").splitlines()
            if (m := pattern.search(line))]

"""What one instance does for a single_stream or server run: LoadGen against the batching SUT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xeonsweep.serving import loadgen, peak
from xeonsweep.serving.sut import BatchingSUT, padded_batches


class Instance:
    def __init__(self, prepared: Any, example: Any, run: dict, log_root: Path, rank: int, instances: int,
                 expected_latency_ns: int) -> None:
        self.scenario = run["scenario"]
        self.run = run
        self.rank, self.instances = rank, instances
        self.log_root = log_root / f"instance-{rank}"
        self.expected_latency_ns = expected_latency_ns
        # single_stream runs have batch_size=1 (settings refuse others): one query, one batch, no padding.
        self.sut = BatchingSUT(prepared, padded_batches(prepared, example, run["batch_size"]), run["batch_size"],
                               float(self.scenario["max_wait_ms"]) / 1e3)
        self.tests = 0
        self.exchange = peak.Exchange(log_root / "verdicts", instances, rank)

    def test(self, total_qps: float | None, find_peak: bool = False) -> dict:
        """One LoadGen test; its logs in their own folder; the result with the total QPS it was run at."""
        self.tests += 1
        qps = total_qps / self.instances if total_qps else None
        settings = loadgen.test_settings(self.scenario, qps, self.expected_latency_ns,
                                         seed=self.run["seed"] * 1000 + self.rank, find_peak=find_peak)
        folder = self.log_root / f"{self.tests:02d}-{'peak' if find_peak else 'qps'}-{total_qps or 0:g}"
        self.sut.batch_sizes, self.sut.max_in_flight = [], 0
        # After a failure LoadGen's own peak search must see the SLO missed, or it raises the load for minutes.
        self.sut.late_s = 1.1 * float(self.scenario["latency_slo_ms"]) / 1e3 if find_peak else 0.0
        loadgen.run_test(self.sut, settings, folder)
        self.sut.raise_error()  # a batch that raised fails the run with its own error
        result = loadgen.parse_logs(folder, self.scenario["name"], total_qps).to_dict()
        result["log_dir"] = str(folder)
        result["mean_batch"] = sum(self.sut.batch_sizes) / max(len(self.sut.batch_sizes), 1)
        result["max_in_flight"] = self.sut.max_in_flight
        return result

    def agreed(self, total_qps: float) -> dict:
        """A test on every instance at once; VALID only if every instance's is."""
        try:
            result = self.test(total_qps)
        except Exception:
            self.exchange.failed(self.tests)  # the other instances stop at this step instead of waiting
            raise
        result["instance_valid"] = result["valid"]
        result["valid"] = self.exchange.all_valid(self.tests, result["valid"])
        return result

    def find_peak(self) -> tuple[dict | None, list[dict]]:
        start = float(self.scenario["target_qps"])
        if self.instances == 1:
            slo_ms = float(self.scenario["latency_slo_ms"])
            hopeless = lambda run: peak.out_of_reach(run, slo_ms)  # noqa: E731
            found = self.test(start, find_peak=True)
            if found["peak_qps"] is not None:
                confirmed = peak.confirm(found["peak_qps"], self.test, hopeless)
            else:  # LoadGen stops when its starting QPS fails: search downwards with LoadGen runs,
                # down to the same 1/16 of the start as a search of its own (that failure was the first halving)
                confirmed = peak.search(start / 2, self.test, hopeless, max_halvings=peak.MAX_HALVINGS - 1)
            return peak.best_valid(confirmed), [found, *confirmed]
        # Several instances take every step together (their verdicts exchanged): no early stop here,
        # since one instance's judgement could leave the others waiting for a step it never takes.
        runs = peak.search(start, self.agreed)
        return peak.best_valid(runs), runs


def serve(prepared: Any, example: Any, run: dict, log_root: Path, rank: int, instances: int,
          expected_latency_ns: int) -> dict:
    """The instance's result: the run that counts, plus the find-peak runs when asked."""
    import time

    instance = Instance(prepared, example, run, log_root, rank, instances, expected_latency_ns)
    instance.sut.start()
    start_ns = time.monotonic_ns()
    try:
        if run["scenario"]["find_peak"]:
            best, runs = instance.find_peak()
            chosen = best or runs[-1]
            chosen = {**chosen, "peak_qps": best["target_qps"] if best else None}
        else:
            runs = []
            chosen = instance.test(run["scenario"].get("target_qps"))
    finally:
        instance.sut.stop()
    end_ns = time.monotonic_ns()
    chosen["searched"] = [step for r in runs for step in steps(r)]
    return {"serving": chosen, "start_ns": start_ns, "end_ns": end_ns,
            "latencies_ns": [int(ms * 1e6) for ms in chosen["latencies_ms"]]}


def steps(result: dict) -> list[dict]:
    """A find-peak run as the row keeps it; LoadGen's FindPeakPerformance run as the steps it took."""
    if result["mode"] == "FindPeakPerformance":
        return [{"target_qps": s["qps"], "valid": s["passed"],
                 "how": "LoadGen FindPeakPerformance step (percentile only)"}
                for s in result["searched"]]
    return [{"target_qps": result["target_qps"], "valid": result["valid"], "completed_sps": result["completed_sps"],
             "p99_ms": result["latency_ms"]["p99"], "latency_ms": result["latency_ms"],
             "mean_batch": result["mean_batch"], "reason": result["reason"], "how": "LoadGen PerformanceOnly run"}]

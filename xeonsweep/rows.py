"""One results row from a run's settings and what its child reported."""

from __future__ import annotations

import json
from datetime import datetime

from xeonsweep import __version__
from xeonsweep.launch import Outcome
from xeonsweep.machine import host_facts
from xeonsweep.measure import combined_sps, latency_stats, percentile


def config_columns(run: dict) -> dict:
    backend, quantization, runtime = run["backend"], run["quantization"], run["runtime"]
    ladder = run.get("ladder") or {}
    return {
        "ladder_step": ladder.get("step"),
        "ladder_position": ladder.get("position"),
        "model": run["model"]["name"],
        "input_shape": "x".join(str(d) for d in run["model"]["input_shape"]),
        "batch_size": run["batch_size"],
        "channels_last": run["channels_last"],
        "precision": run["precision"]["name"],
        "allocator": run["allocator"]["name"],
        "thp": run["thp"],
        "backend": backend["name"],
        "backend_options": json.dumps(backend.get("options") or {}, sort_keys=True),
        "quantization": quantization["name"],
        "quantization_options": json.dumps(quantization.get("options") or {}, sort_keys=True),
        "workers": run["workers"],
        "runtime": runtime["name"],
        "runtime_options": json.dumps({k: v for k, v in runtime.items() if k != "name"}, sort_keys=True),
        "warmup": run["benchmark"]["warmup"],
        "iterations": run["benchmark"]["iterations"],
        "min_duration_s": float(run["benchmark"]["min_duration_s"]),
        "timeout_s": float(run["benchmark"]["timeout_s"]),
        "seed": run["seed"],
        "repeat": run["repeat"],
        "config_json": json.dumps(run, sort_keys=True, default=str),
        **scenario_columns(run),
    }


def scenario_columns(run: dict) -> dict:
    scenario = run.get("scenario") or {"name": "offline"}
    if scenario["name"] == "offline":
        return {"scenario": "offline"}
    return {
        "scenario": scenario["name"],
        "target_qps": scenario.get("target_qps"),
        "latency_slo_ms": scenario.get("latency_slo_ms"),
        "latency_percentile": scenario.get("latency_percentile"),
        "max_wait_ms": scenario.get("max_wait_ms"),
    }


def openvino_columns(details: dict) -> dict:
    return {"ov_streams": details.get("ov_streams"), "ov_requests": details.get("ov_requests"),
            "ov_max_requests_in_flight": details.get("ov_max_requests_in_flight")}


def serving_columns(instances: list[dict]) -> dict:
    """A LoadGen row: samples/s summed over instances, VALID only if every instance is,
    latencies as LoadGen measured them (its own percentiles for one instance, else from
    every query of every instance)."""
    served = [i["serving"] for i in instances]
    latencies_ms = [ms for s in served for ms in s["latencies_ms"]]
    if len(served) == 1:
        figures = served[0]["latency_ms"]
        stats = {**latency_stats(latencies_ms), **{f"latency_ms_{k}": figures[k] for k in ("p50", "p90", "p99")},
                 "latency_ms_p99_9": figures["p99_9"]}
    else:
        stats = {**latency_stats(latencies_ms), "latency_ms_p99_9": percentile(sorted(latencies_ms), 99.9)}
    reasons = [f"instance {n}: {s['reason']}" if len(served) > 1 else s["reason"]
               for n, s in enumerate(served) if s.get("reason")]
    peaks = [s.get("peak_qps") for s in served]
    return {
        **stats,
        "sps": sum(s["completed_sps"] for s in served),
        "instance_sps": [s["completed_sps"] for s in served],
        "latencies_ms": latencies_ms,
        "iterations_measured": sum(s["query_count"] for s in served),
        "loadgen_queries": sum(s["query_count"] for s in served),
        "loadgen_valid": all(s["valid"] for s in served),
        "loadgen_reason": "; ".join(reasons) or None,
        # Each instance ran at its share of the total, so the first one's total QPS is the row's.
        "target_qps": served[0]["target_qps"],
        "peak_qps": peaks[0] if all(p is not None for p in peaks) else None,
        "find_peak_runs": json.dumps([s["searched"] for s in served]) if served[0]["searched"] else None,
        "mean_batch": sum(s["mean_batch"] for s in served) / len(served),
        "loadgen_logs": ";".join(s["log_dir"] for s in served),
    }


def closed_loop_columns(instances: list[dict], batch_size: int) -> dict:
    sps, per_instance = combined_sps(instances, batch_size)
    latencies_ms = [ns / 1e6 for inst in instances for ns in inst["latencies_ns"]]
    return {
        "sps": sps,
        "instance_sps": per_instance,
        **latency_stats(latencies_ms),
        "latencies_ms": latencies_ms,
        "iterations_measured": sum(len(i["latencies_ns"]) for i in instances),
    }


def measurement_columns(instances: list[dict], batch_size: int) -> dict:
    first = instances[0]
    served = "serving" in first
    return {
        **(serving_columns(instances) if served else closed_loop_columns(instances, batch_size)),
        "measured_s": (min(i["end_ns"] for i in instances) - max(i["start_ns"] for i in instances)) / 1e9,
        "setup_s": max(i["setup_s"] for i in instances),
        "first_call_s": max(i["first_call_s"] for i in instances),
        "warmup_s": max(i["warmup_s"] for i in instances),
        "top1_agreement": first.get("top1_agreement"),
        "max_rel_error": max(i["max_rel_error"] for i in instances),
        "artifact_cached": first["details"].get("artifact_cached"),
        "applied_precision": first["details"].get("applied_precision"),
        "backend_details": json.dumps(first["details"], sort_keys=True, default=str),
        **first["applied"],
        "peak_rss_mb": max(i["applied"]["peak_rss_mb"] for i in instances),
        "cpu_affinity": ";".join(i["applied"]["cpu_affinity"] for i in instances),
        **openvino_columns(first["details"]),
        # Behind LoadGen: the most batches the server itself had in flight, not those of the warm-up.
        **({"ov_max_requests_in_flight": max(i["serving"]["max_in_flight"] for i in instances)}
           if served and first["details"].get("ov_requests") else {}),
    }


def build_row(run: dict, keys: dict, outcome: Outcome, started: datetime, finished: datetime) -> dict:
    row = {
        **keys,
        "started_at": started,
        "finished_at": finished,
        "status": outcome.status,
        "reason": outcome.reason,
        **config_columns(run),
        # An ok run's child reported these itself (with the rest of what it had); read them here
        # only for a run that never reported, so its row still says where it ran.
        **(host_facts() if outcome.status != "ok" else {}),
        "child_env": json.dumps(outcome.child_env, sort_keys=True),
        "interpreter": outcome.interpreter or None,
        "parent_cpu_s": outcome.parent_cpu_s,
        "child_cpu_s": outcome.child_cpu_s,
        "xeonsweep_version": __version__,
    }
    if outcome.status == "ok":
        row.update(measurement_columns(outcome.instances, run["batch_size"]))
    return row

"""One results row from a run's settings and what its child reported."""

from __future__ import annotations

import json
import statistics
from datetime import datetime

from xeonsweep import __version__
from xeonsweep.config import model_inputs as inputs
from xeonsweep.config.run import Run
from xeonsweep.machine.facts import host_facts
from xeonsweep.stats.confidence import estimate
from xeonsweep.stats.measure import combined_sps, latency_stats, percentile
from xeonsweep.store import feasible
from xeonsweep.store.outcome import Outcome


def config_columns(planned: Run) -> dict:
    run = planned.settings
    backend, quantization, runtime = run["backend"], run["quantization"], run["runtime"]
    ladder = run.get("ladder") or {}
    ignored = planned.not_applicable
    return {
        "ladder_step": ladder.get("step"),
        "ladder_position": ladder.get("position"),
        "model": run["model"]["name"],
        "input_shape": None if inputs.declared(run["model"]) else "x".join(str(d) for d in run["model"]["input_shape"]),
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
        # Settings the run ignores (its backend's or its model's): null in their column, and why.
        **{name: None for name in ignored},
        "not_applicable": json.dumps(ignored, sort_keys=True) if ignored else None,
        "input_spec": inputs.describe(run["model"]),
        "seq_len": run["model"].get("seq_len"),
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


def setup_columns(instances: list[dict]) -> dict:
    """What the instances reported besides their timing: fidelity, backend details, what was applied."""
    first = instances[0]
    served = "serving" in first
    return {
        "setup_s": max(i["setup_s"] for i in instances),
        "first_call_s": max(i["first_call_s"] for i in instances),
        "top1_agreement": first.get("top1_agreement"),
        "max_rel_error": max(i["max_rel_error"] for i in instances),
        "cosine_similarity": min(i["cosine_similarity"] for i in instances),
        "artifact_cached": first["details"].get("artifact_cached"),
        "artifact_path": first.get("artifact_path"),
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
    served = "serving" in instances[0]
    return {
        **setup_columns(instances),
        **(serving_columns(instances) if served else closed_loop_columns(instances, batch_size)),
        "measured_s": (min(i["end_ns"] for i in instances) - max(i["start_ns"] for i in instances)) / 1e9,
        "warmup_s": max(i["warmup_s"] for i in instances),
    }


def block_columns(ready: list[dict], blocks: list[dict], schedule: dict, probes: list[dict]) -> dict:
    """A live worker's row: SPS is the median over its blocks, with the bootstrap interval around it."""
    sps = [b["sps"] for b in blocks]
    est = estimate(sps)
    timed = [inst for b in blocks for inst in b["instances"]]
    latencies_ms = [ns / 1e6 for inst in timed for ns in inst["latencies_ns"]]
    return {
        **setup_columns(ready),
        "sps": est.median,
        "instance_sps": [statistics.median(b["instance_sps"][i] for b in blocks) for i in range(len(ready))],
        **latency_stats(latencies_ms),
        "latencies_ms": latencies_ms,
        "iterations_measured": sum(len(inst["latencies_ns"]) for inst in timed),
        "measured_s": sum(b["measured_s"] for b in blocks),
        "warmup_s": sum(b["warm_s"] for b in blocks),  # the re-warm-ups before the blocks, all told
        "setup_peak_rss_mb": sum(r["applied"]["peak_rss_mb"] for r in ready),
        "sps_ci_low": est.low,
        "sps_ci_high": est.high,
        "ci_half_width_pct": est.half_width_pct if est.blocks > 1 else None,
        "target_ci_pct": schedule["target_ci_pct"],
        "target_met": schedule["target_met"],
        "blocks": len(blocks),
        "rounds": schedule["rounds"],
        "block_sps": sps,
        "block_start_unix_s": [b["started_at"] for b in blocks],
        "block_end_unix_s": [b["ended_at"] for b in blocks],
        "probe_unix_s": [p["probe_unix_s"] for p in probes],
        "probe_fp32_gflops": [p["fp32_gflops"] for p in probes],
        "probe_bf16_gflops": [p["bf16_gflops"] for p in probes],
        "probe_mem_gbps": [p.get("mem_gbps") for p in probes],
        "block_round": [b["round"] for b in blocks],
        **{key: schedule.get(key) for key in ("goal", "equivalence_pct", "stopped_by", "speedup", "speedup_low",
                                             "speedup_high", "speedup_reference")},
        "measure_reference": schedule["reference"],
        "idle_cpu_s": schedule["idle_cpu_s"],
        "idle_s": schedule["idle_s"],
    }


def build_row(run: Run, keys: dict, outcome: Outcome, started: datetime, finished: datetime) -> dict:
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
        # "fresh": one fresh process, one timed loop; "blocks": a live worker measured in interleaved blocks
        "measurement": outcome.method,
        "measure_group": outcome.schedule.get("group"),
        # A live config that did not reach its confidence target says so (its row is still ok).
        **({"reason": outcome.schedule["verdict"]} if outcome.schedule.get("verdict") else {}),
        "instances_started": outcome.instances_started,
        "memory_limit_mb": run.memory_limit_mb,
    }
    if outcome.planned_instances is not None:  # runtime.mode: the instances xeonsweep computed for it
        row["workers"] = outcome.planned_instances
    if outcome.status == "ok" and outcome.method == "blocks":
        row.update(block_columns(outcome.instances, outcome.blocks, outcome.schedule, outcome.probes))
    elif outcome.status == "ok":
        row.update(measurement_columns(outcome.instances, run.batch_size))
    row.update(feasible.columns(run.settings, row))  # a search's row: its trial, and whether it met the limits
    return row

"""One results row from a run's settings and what its child reported."""

from __future__ import annotations

import json
from datetime import datetime

from xeonsweep import __version__, inputs, models
from xeonsweep.launch import Outcome
from xeonsweep.machine import host_facts
from xeonsweep.measure import combined_sps, latency_stats


def config_columns(run: dict) -> dict:
    backend, quantization, runtime = run["backend"], run["quantization"], run["runtime"]
    ladder = run.get("ladder") or {}
    ignored = models.not_applicable(run["model"])
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
        # issue 11
        "input_spec": inputs.describe(run["model"]),
        "seq_len": run["model"].get("seq_len"),
        "not_applicable": json.dumps(ignored, sort_keys=True) if ignored else None,
    }


def measurement_columns(instances: list[dict], batch_size: int) -> dict:
    sps, per_instance = combined_sps(instances, batch_size)
    latencies_ms = [ns / 1e6 for inst in instances for ns in inst["latencies_ns"]]
    first = instances[0]
    return {
        "sps": sps,
        "instance_sps": per_instance,
        **latency_stats(latencies_ms),
        "latencies_ms": latencies_ms,
        "iterations_measured": sum(len(i["latencies_ns"]) for i in instances),
        "measured_s": (min(i["end_ns"] for i in instances) - max(i["start_ns"] for i in instances)) / 1e9,
        "setup_s": max(i["setup_s"] for i in instances),
        "first_call_s": max(i["first_call_s"] for i in instances),
        "warmup_s": max(i["warmup_s"] for i in instances),
        "top1_agreement": first.get("top1_agreement"),
        "max_rel_error": max(i["max_rel_error"] for i in instances),
        "cosine_similarity": min(i["cosine_similarity"] for i in instances),
        "artifact_cached": first["details"].get("artifact_cached"),
        "applied_precision": first["details"].get("applied_precision"),
        "backend_details": json.dumps(first["details"], sort_keys=True, default=str),
        **first["applied"],
        "peak_rss_mb": max(i["applied"]["peak_rss_mb"] for i in instances),
        "cpu_affinity": ";".join(i["applied"]["cpu_affinity"] for i in instances),
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

"""A store with what the report draws, built from rows written directly (no run): two machines,
a sweep in blocks with machine-speed probes and ties, fresh repeats, a failed and a skipped
config, and server rows (one a find_peak). Used by the page and machine-table tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from xeonsweep.store import results

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
EPYC = "AMD EPYC (2 cores)"
XEON = "Intel(R) Xeon(R) Platinum 8488C (4 cores)"


def blocks_row(machine, sweep_id, step, position, sps, low, high, p99, model="resnet50"):
    start = T0.timestamp() + position * 10
    probes = [T0.timestamp() + 60 * m for m in (0, 4, 8)]
    return {
        "run_key": f"{machine[:4]}-{sweep_id}-{step}-{model}", "config_hash": f"{step}-{model}", "sweep_id": sweep_id,
        "status": "ok", "machine": machine, "hostname": machine[:4].lower(), "model": model, "ladder_step": step,
        "ladder_position": position, "batch_size": 8, "started_at": T0, "finished_at": T0 + timedelta(minutes=9),
        "measurement": "blocks", "sps": sps, "sps_ci_low": low, "sps_ci_high": high,
        "ci_half_width_pct": 100 * (high - low) / 2 / sps, "target_ci_pct": 3.0, "target_met": True, "blocks": 3,
        "rounds": 3, "measure_group": 0, "latency_ms_p50": 0.8 * p99, "latency_ms_p99": p99,
        "top1_agreement": 1.0, "max_rel_error": 1e-3, "block_sps": [low, sps, high],
        "block_start_unix_s": [start, start + 180, start + 360],
        "block_end_unix_s": [start + 5, start + 185, start + 365],
        "probe_unix_s": probes, "probe_fp32_gflops": [100.0, 130.0, 101.0], "probe_bf16_gflops": [300.0, 600.0, 310.0],
    }


def fresh_row(machine, n, step, position, sps, status="ok", reason=None, model="resnet50"):
    return {
        "run_key": f"{machine[:4]}-{step}-{n}-{model}", "config_hash": f"{step}-{model}", "sweep_id": "fresh",
        "status": status, "reason": reason, "machine": machine, "hostname": machine[:4].lower(), "model": model,
        "ladder_step": step, "ladder_position": position, "batch_size": 8, "repeat": n, "sps": sps,
        "latency_ms_p50": 8000 / sps if sps else None, "latency_ms_p99": 9500 / sps if sps else None,
        "top1_agreement": 1.0 if sps else None, "started_at": T0 + timedelta(minutes=n),
        "finished_at": T0 + timedelta(minutes=n, seconds=30), "measurement": "fresh" if sps else None,
    }


def server_rows(machine):
    slo = {"latency_slo_ms": 100.0, "latency_percentile": 99.0}
    runs = [[{"target_qps": q, "valid": q <= 120, "latency_ms": {"p99": 30.0 if q <= 120 else 300.0}}
             for q in (60, 120, 240)]]
    common = {"status": "ok", "machine": machine, "hostname": machine[:4].lower(), "model": "resnet50",
              "batch_size": 8, "started_at": T0 + timedelta(hours=1), "sweep_id": "serving"}
    return [
        {**common, "run_key": f"{machine[:4]}-serve-peak", "config_hash": "serve", "scenario": "server",
         "target_qps": 120.0, "peak_qps": 120.0, "loadgen_valid": True, "latency_ms_p99": 90.0,
         "find_peak_runs": json.dumps(runs), **slo},
        {**common, "run_key": f"{machine[:4]}-serve-50", "config_hash": "serve50", "scenario": "server",
         "batch_size": 1, "target_qps": 50.0, "loadgen_valid": True, "latency_ms_p99": 40.0, **slo},
    ]


def rows_of(machine: str) -> list[dict]:
    """One machine's rows: EPYC measured in blocks (two ties), the Xeon in fresh repeats."""
    if machine == EPYC:
        rows = [blocks_row(EPYC, "s1", *figures) for figures in (
            ("baseline", 1, 100.0, 98.0, 102.0, 12.0), ("batch8", 2, 101.0, 99.0, 103.0, 90.0),
            ("compile", 3, 150.0, 147.0, 153.0, 8.0), ("openvino", 4, 152.0, 149.0, 155.0, 60.0),
            ("ipex", 5, 200.0, 180.0, 220.0, 45.0))]  # Pareto front: compile, ipex
        rows.append(fresh_row(EPYC, 9, "onnxruntime", 6, None, status="failed", reason="killed by SIGSEGV"))
        return rows + server_rows(EPYC)
    rows = [fresh_row(XEON, n, step, position, sps * wobble) for n, (step, position, sps, wobble) in enumerate((
        ("baseline", 1, 180.0, 1.0), ("baseline", 1, 180.0, 1.02),
        ("compile", 3, 300.0, 1.0), ("compile", 3, 300.0, 0.97),
        ("openvino", 4, 420.0, 1.0), ("openvino", 4, 420.0, 1.01)))]
    rows.append(fresh_row(XEON, 7, "ipex", 5, None, status="skipped", reason="IPEX bf16 needs AVX-512 here"))
    return rows + server_rows(XEON)


def write_store(path, machines=(EPYC, XEON)):
    for machine in machines:
        for row in rows_of(machine):
            results.write_row(row, path, row["sweep_id"])
    return path


def paired_row(sweep_id, step, position, block_sps, stopped_by="settled", goal="rank", group=0, model="resnet50",
               machine=EPYC, rounds=None):
    """A row as a block sweep writes it since schema 6: each block with its round (blocks of the same round pair
    up), the goal, why measuring stopped; round r's block starts at T0 + 10 r s (plus the config's position)."""
    rounds = list(rounds or range(1, len(block_sps) + 1))
    starts = [T0.timestamp() + 10 * r + position for r in rounds]
    median = sorted(block_sps)[len(block_sps) // 2]
    return {
        "run_key": f"{sweep_id}-{step}-{group}-{model}", "config_hash": f"{step}-{model}", "sweep_id": sweep_id,
        "status": "ok", "machine": machine, "model": model, "ladder_step": step, "ladder_position": position,
        "batch_size": 8, "started_at": T0, "finished_at": T0 + timedelta(minutes=2), "measurement": "blocks",
        "sps": median, "sps_ci_low": min(block_sps), "sps_ci_high": max(block_sps), "target_ci_pct": 3.0,
        "target_met": stopped_by != "budget", "blocks": len(block_sps), "rounds": max(rounds), "measure_group": group,
        "block_sps": list(block_sps), "block_round": rounds, "block_start_unix_s": starts,
        "block_end_unix_s": [s + 1 for s in starts], "goal": goal, "equivalence_pct": 2.0, "stopped_by": stopped_by,
    }

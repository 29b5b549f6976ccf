"""A recipe's README.md: what the row measured, where and when, and what to expect from run.sh."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def number(value, pattern: str = "{:.1f}", empty: str = "not recorded") -> str:
    return empty if value is None or value != value else pattern.format(value)


def has_interval(row: pd.Series) -> bool:
    return row.get("sps_ci_low") == row.get("sps_ci_low") and row.get("sps_ci_low") is not None


def interval_text(row: pd.Series) -> str:
    if has_interval(row):
        return (f"95% interval {row['sps_ci_low']:.1f} to {row['sps_ci_high']:.1f} (median of {int(row['blocks'])} "
                f"blocks over {int(row['rounds'])} rounds in a live worker)")
    return (f"one fresh process, one timed loop ({number(row['measured_s'], '{:.1f}')} s, "
            f"{number(row['iterations_measured'], '{:.0f}')} calls): no interval")


def fidelity_text(row: pd.Series) -> str:
    return (f"outputs against fp32 eager on the same weights and input: top-1 agreement "
            f"{number(row['top1_agreement'], '{:.0%}')}, max relative error {number(row['max_rel_error'], '{:.1e}')}, "
            f"cosine similarity {number(row['cosine_similarity'], '{:.5f}')}; precision that ran: "
            f"{row['applied_precision'] or 'not recorded'}")


def settings_text(row: pd.Series) -> str:
    run = json.loads(row["config_json"])
    parts = [f"batch_size={row['batch_size']}", f"precision={run['precision']['name']}",
             f"channels_last={run['channels_last']}", f"allocator={run['allocator']['name']}", f"thp={run['thp']}",
             f"backend={run['backend']['name']} {json.dumps(run['backend'].get('options') or {})}",
             f"quantization={run['quantization']['name']}", f"runtime={run['runtime']['name']}",
             f"workers={row['workers']}"]
    return ", ".join(parts)


def readme(row: pd.Series, artifact_files: list[Path], store: str) -> str:
    instances = int(row["instances_started"]) if row.get("instances_started") == row.get("instances_started") else 1
    lines = [
        f"# Recipe for xeonsweep run `{row['run_key']}`: {row['model']} on {row['backend']}",
        "",
        "Reproduces one row of a xeonsweep store without xeonsweep: the same exported model, the same",
        "backend options, the environment its child had (allocator, THP, OpenMP threads, run_cpu pinning).",
        "",
        "```",
        "pip install -r requirements.txt",
        "sh run.sh                     # PYTHON=/path/to/python sh run.sh for another interpreter",
        "sh run.sh --seconds 30        # time longer (also --warmup N, --iterations N)",
        "```",
        "",
        'It prints one line: `RESULT {"sps": ..., "p50_ms": ..., "p99_ms": ..., "instances": ..., "batch_size": ...}`',
        "(samples per second summed over the instances, latency percentiles of one call, in ms).",
        "",
        "## What was measured",
        "",
        f"- **SPS: {row['sps']:.1f}** samples/s, {interval_text(row)}",
        f"- **latency of one call** (batch {row['batch_size']}): p50 {number(row['latency_ms_p50'], '{:.2f}')} ms, "
        f"p99 {number(row['latency_ms_p99'], '{:.2f}')} ms",
        f"- **fidelity**: {fidelity_text(row)}",
        f"- **settings**: {settings_text(row)}",
        f"- **machine**: {row['machine']}, host {row['hostname']}, ISA {row['isa']}, kernel {row['kernel']}, "
        f"THP mode {row['thp_mode']}",
        f"- **what the child had**: allocator {row['applied_allocator']}, OpenMP {row['applied_openmp']}, "
        f"{number(row['torch_threads'], '{:.0f}')} threads per instance, {instances} instance(s) on CPUs "
        f"{str(row['cpu_affinity']).replace(';', ' | ')}, under {row['interpreter']} (run.sh's PYTHON=)",
        f"- **date**: {row['started_at']} (sweep `{row['sweep_id']}`, store `{store}`), xeonsweep "
        f"{row['xeonsweep_version']}, Python {row['python_version']}",
        f"- **artifact**: {', '.join(f'`artifact/{path.name}`' for path in artifact_files)}, copied from "
        f"`{artifact_files[0].parent}`",
        "",
        "## What to expect",
        "",
        "- On the same machine, quiet, with the same library versions: SPS within a few percent of the row",
        "  (benchmarks/recipe_parity.py measures recipe / xeonsweep for resnet50 on ONNX Runtime, OpenVINO",
        "  int8 and torch.compile; its goal is 0.95 to 1.05). A fresh process varies from run to run: "
        + ("compare\n  with the interval above, not with the median alone." if has_interval(row) else
           "this\n  row has no interval, so a few runs of run.sh tell more than one."),
        "- The recipe times the loop alone: no fidelity check, inputs drawn with numpy (the same shapes and",
        "  dtypes; values do not change the speed). With several instances its SPS is the sum of each",
        "  instance's own SPS, where xeonsweep counts their common window: equal when they run together.",
        "- On another machine the figure is that machine's. run.sh keeps the row's thread count and pinning;",
        "  edit OMP_NUM_THREADS (runtime=python) or run_cpu's --ninstances/--ncores-per-instance there to",
        "  use its cores.",
    ]
    return "\n".join(lines) + "\n"

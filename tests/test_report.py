"""The report: on a synthetic store with failed, skipped and multi-host rows,
and on a store built by a real small sweep."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from tests.conftest import FAST, ROOT
from xeonsweep import report, results

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def add(store, n, machine, step, position, status="ok", sps=None, reason=None, repeat=0, model="resnet50"):
    results.write_row({
        "run_key": f"{machine}-{step}-{repeat}-{model}", "config_hash": f"{step}-{model}", "status": status,
        "reason": reason, "machine": machine, "model": model, "ladder_step": step, "ladder_position": position,
        "sps": sps, "latency_ms_p50": 10.0, "latency_ms_p99": 12.0, "top1_agreement": 1.0, "max_rel_error": 0.0,
        "started_at": T0 + timedelta(minutes=n), "finished_at": T0 + timedelta(minutes=n, seconds=30),
        "repeat": repeat, "batch_size": 8,
    }, store, "synthetic")


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store"
    n = 0
    for machine, factor in (("Xeon 8488C (4 cores)", 4.0), ("AMD EPYC (2 cores)", 1.0)):
        for repeat, wobble in enumerate((1.0, 1.02, 0.98)):
            add(path, n := n + 1, machine, "baseline", 1, sps=20 * factor * wobble, repeat=repeat)
            add(path, n := n + 1, machine, "batch8", 2, sps=(30 if repeat != 1 else 40) * factor, repeat=repeat)
        add(path, n := n + 1, machine, "ipex", 7, status="skipped", reason="IPEX bf16 weight prepack needs AVX-512")
        add(path, n := n + 1, machine, "onnxruntime", 13, status="failed", reason="killed by SIGSEGV\nmore lines")
    add(path, n := n + 1, "AMD EPYC (2 cores)", "baseline", 1, sps=5.0, model="vit")
    return path


def test_summary_orders_medians_speedups_and_keeps_failures(store):
    summary = report.summarize(results.load(store))
    epyc = summary[(summary["machine"] == "AMD EPYC (2 cores)") & (summary["model"] == "resnet50")]
    assert list(epyc["config"]) == ["baseline", "batch8", "ipex", "onnxruntime"]
    base = epyc.iloc[0]
    assert base["sps_median"] == pytest.approx(20.0) and base["speedup"] == pytest.approx(1.0)
    assert base["spread_pct"] == pytest.approx(100 * (20.4 - 19.6) / 20) and not base["noisy"]
    batch8 = epyc.iloc[1]
    assert batch8["sps_median"] == pytest.approx(30.0) and batch8["speedup"] == pytest.approx(1.5)
    assert batch8["noisy"]  # 30, 40, 30: spread 33% of the median
    assert epyc.iloc[2]["status"] == "skipped" and "AVX-512" in epyc.iloc[2]["reason"]
    assert epyc.iloc[3]["status"] == "failed" and epyc.iloc[3]["reason"] == "killed by SIGSEGV"
    xeon = summary[summary["machine"].str.startswith("Xeon") & (summary["model"] == "resnet50")]
    assert xeon.iloc[0]["sps_median"] == pytest.approx(80.0)  # each host against its own baseline
    assert xeon.iloc[1]["speedup"] == pytest.approx(1.5)
    assert len(summary[summary["model"] == "vit"]) == 1


def test_baseline_choice(store):
    summary = report.summarize(results.load(store), baseline="batch8")
    epyc = summary[(summary["machine"] == "AMD EPYC (2 cores)") & (summary["model"] == "resnet50")]
    assert epyc.iloc[0]["speedup"] == pytest.approx(20 / 30)


def test_command_writes_markdown_csv_and_png(store, tmp_path):
    out = tmp_path / "report"
    cli = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(store), "--where", "model=resnet50", "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "resnet50 on AMD EPYC (2 cores)" in cli.stdout and "resnet50 on Xeon 8488C (4 cores)" in cli.stdout
    assert "warning:" in cli.stdout and "batch8" in cli.stdout
    markdown = (out / "report.md").read_text()
    assert "| batch8 | 30.0 |" in markdown and "skipped: IPEX bf16 weight prepack needs AVX-512" in markdown
    assert "vit" not in markdown
    csv = pd.read_csv(out / "report.csv")
    assert set(csv["machine"]) == {"AMD EPYC (2 cores)", "Xeon 8488C (4 cores)"}
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--where", "model=bert"], "no rows in"),
    (["--where", "flavour=x"], "--where flavour=x is not valid"),
    (["--baseline", "nosuch"], "--baseline nosuch is not a config here; valid: baseline, batch8"),
])
def test_bad_report_arguments(store, tmp_path, args, message):
    cli = subprocess.run([sys.executable, "-m", "xeonsweep.report", str(store), *args, "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and message in cli.stderr


@pytest.mark.slow
def test_report_on_a_real_sweep_with_interleaved_repeats(sweep, tmp_path):
    run = sweep("-m", "batch_size=1,2", "benchmark.repeats=2", *FAST)
    assert run.returncode == 0, run.stderr
    rows = sweep.rows().sort_values("started_at")
    # interleaved: every config once, then every config again
    assert list(zip(rows["batch_size"], rows["repeat"])) == [(1, 0), (2, 0), (1, 1), (2, 1)]
    assert rows["config_hash"].nunique() == 2 and rows["run_key"].nunique() == 4
    summary = report.summarize(rows)
    assert list(summary["config"]) == ["batch_size=1", "batch_size=2"]
    assert (summary["runs"] == 2).all() and (summary["ok"] == 2).all()
    assert summary.iloc[0]["speedup"] == pytest.approx(1.0)
    assert (summary["spread_pct"] >= 0).all()
    cli = subprocess.run([sys.executable, "-m", "xeonsweep.report", str(sweep.store), "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 0 and "batch_size=2" in cli.stdout


def test_runs_of_one_step_that_differ_in_a_setting_are_not_pooled(tmp_path):
    """A ladder step run with another seed or env is another config, shown with what differs."""
    store = tmp_path / "store"
    n = 0
    for seed, env, sps in ((0, {}, 10.0), (0, {}, 11.0), (1, {}, 30.0), (0, {"OMP_WAIT_POLICY": "PASSIVE"}, 50.0)):
        n += 1
        results.write_row({
            "run_key": f"k{n}", "status": "ok", "machine": "m", "model": "tiny", "ladder_step": "baseline",
            "ladder_position": 1, "sps": sps, "seed": seed, "batch_size": 1, "repeat": n,
            "child_env": json.dumps({"PYTHONUNBUFFERED": "1", **env}),
            "started_at": T0 + timedelta(minutes=n), "finished_at": T0 + timedelta(minutes=n, seconds=1),
        }, store, "s")
    summary = report.summarize(report.load(store)).set_index("config")
    assert summary.loc["baseline seed=0 env=", "sps_median"] == pytest.approx(10.5)
    assert summary.loc["baseline seed=1 env=", "sps_median"] == pytest.approx(30.0)
    assert summary.loc["baseline seed=0 env=OMP_WAIT_POLICY=PASSIVE", "sps_median"] == pytest.approx(50.0)

"""The report: on a synthetic store with failed, skipped and multi-host rows,
and on a store built by a real small sweep."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from tests.conftest import FAST, ROOT
from xeonsweep.report import tables as report
from xeonsweep.store import results

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


@pytest.mark.slow
def test_command_writes_markdown_csv_and_png(store, tmp_path):
    out = tmp_path / "report"
    cli = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(store), "--where", "model=resnet50",
                          "--out", str(out)],
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
@pytest.mark.slow
def test_bad_report_arguments(store, tmp_path, args, message):
    cli = subprocess.run([sys.executable, "-m", "xeonsweep.report.tables", str(store), *args,
                          "--out", str(tmp_path / "r")],
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
    for batch, spread_pct in zip((1, 2), summary["spread_pct"]):  # over both repeats: (max - min) / median
        low, high = sorted(rows[rows["batch_size"] == batch]["sps"])
        assert spread_pct == pytest.approx(100 * (high - low) / ((low + high) / 2))
    cli = subprocess.run([sys.executable, "-m", "xeonsweep.report.tables", str(sweep.store),
                          "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 0 and "batch_size=2" in cli.stdout


# -- rows measured in interleaved blocks (issue 8) ------------------------------------------------
EPYC = "AMD EPYC (2 cores)"
PROBE_TIMES = [T0.timestamp() + 60 * m for m in (0, 4, 8)]


def add_blocks(store, sweep_id, step, position, sps, low, high, group=0, target_met=True, fp32=(100.0, 130.0, 101.0),
               bf16=(300.0, 600.0, 310.0)):
    start = T0.timestamp() + position * 10
    results.write_row({
        "run_key": f"{sweep_id}-{step}-{group}", "config_hash": step, "sweep_id": sweep_id, "status": "ok",
        "machine": EPYC, "model": "resnet50", "ladder_step": step, "ladder_position": position, "batch_size": 8,
        "started_at": T0, "finished_at": T0 + timedelta(minutes=9), "measurement": "blocks",
        "sps": sps, "sps_ci_low": low, "sps_ci_high": high, "ci_half_width_pct": 100 * (high - low) / 2 / sps,
        "target_ci_pct": 3.0, "target_met": target_met, "blocks": 3, "rounds": 3, "measure_group": group,
        "block_sps": [low, sps, high], "block_start_unix_s": [start, start + 180, start + 360],
        "block_end_unix_s": [start + 5, start + 185, start + 365],
        "probe_unix_s": PROBE_TIMES, "probe_fp32_gflops": list(fp32), "probe_bf16_gflops": list(bf16),
    }, store, sweep_id)


@pytest.fixture
def block_store(tmp_path):
    path = tmp_path / "blocks"
    add_blocks(path, "s1", "baseline", 1, 100.0, 98.0, 102.0)
    add_blocks(path, "s1", "batch8", 2, 101.0, 99.0, 103.0)        # overlaps baseline
    add_blocks(path, "s1", "compile", 3, 150.0, 147.0, 153.0)
    add_blocks(path, "s1", "openvino", 4, 152.0, 149.0, 155.0)     # overlaps compile
    add_blocks(path, "s1", "ipex", 5, 200.0, 180.0, 220.0, target_met=False)
    return path


def test_intervals_speedup_intervals_and_ties(block_store):
    summary = report.summarize(results.load(block_store)).set_index("config")
    assert list(summary.index) == ["baseline", "batch8", "compile", "openvino", "ipex"]
    compile_ = summary.loc["compile"]
    assert (compile_["sps_ci_low"], compile_["sps_ci_high"]) == (147.0, 153.0)
    assert compile_["speedup"] == pytest.approx(1.5)
    assert compile_["speedup_low"] == pytest.approx(147 / 102) and compile_["speedup_high"] == pytest.approx(153 / 98)
    assert summary.loc["baseline", "tie"] == summary.loc["batch8", "tie"] == "A"
    assert summary.loc["compile", "tie"] == summary.loc["openvino", "tie"] == "B"
    assert summary.loc["ipex", "tie"] == ""
    assert summary.loc["ipex", "target_met"] == False  # noqa: E712
    assert (summary["measurement"] == "blocks").all() and summary["spread_pct"].isna().all()


@pytest.mark.slow
def test_report_marks_ties_probe_moves_and_draws_timelines(block_store, tmp_path):
    out = tmp_path / "report"
    cli = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(block_store), "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert cli.returncode == 0, cli.stderr
    markdown = (out / "report.md").read_text()
    assert "| compile | 150.0 | 147.0-153.0 (±2.0%) | 145.8-154.2 | - | 1.50x | 1.44-1.56 | B |" in markdown
    assert "| baseline | 100.0 | 98.0-102.0 (±2.0%) | 97.2-102.8 | - | 1.00x | - | A |" in markdown
    assert "a repeat's SPS is where a second run of the same sweep should find the median" in markdown
    assert "| ipex | 200.0 | 180.0-220.0 (±10.0% !) |" in markdown
    # Rows without rounds: ties from overlapping unpaired intervals, open (not told apart), never "equivalent".
    assert "baseline, batch8 are not told apart (tie A: their 95% intervals include equal speed)" in markdown
    assert "compile, openvino are not told apart (tie B" in markdown
    assert "ipex on" not in markdown.split("not told apart")[0]
    assert "the machine's own speed moved during the sweep" in markdown
    assert "fp32 probe 100 to 130 GFLOP/s, a range of 30% of its median" in markdown
    assert "bf16 probe 300 to 600 GFLOP/s" in markdown
    assert "its 95% interval is ±10.0% of the median after 3 blocks, above the target of 3%" in markdown
    assert "not told apart" in cli.stdout and "moved during the sweep" in cli.stdout
    csv = pd.read_csv(out / "report.csv").set_index("config")
    assert list(csv["tie"].fillna("")) == ["A", "A", "B", "B", ""]
    assert csv.loc["openvino", "sps_ci_high"] == 155.0
    assert csv.loc["openvino", "sps_repeat_high"] == pytest.approx(152 + 3 * 2 ** 0.5)
    timeline_png = out / "timeline-s1.png"
    assert "![timeline-s1](timeline-s1.png)" in markdown
    for png in (out / "report.png", timeline_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        from PIL import Image

        with Image.open(png) as image:
            image.verify()


def test_steady_machine_and_memory_groups_in_words(tmp_path):
    path = tmp_path / "groups"
    steady = dict(fp32=(100.0, 101.0, 100.5), bf16=(None, None, None))
    add_blocks(path, "s2", "baseline", 1, 100.0, 98.0, 102.0, group=0, **steady)
    add_blocks(path, "s2", "compile", 3, 150.0, 147.0, 153.0, group=0, **steady)
    add_blocks(path, "s2", "baseline", 1, 80.0, 78.0, 82.0, group=1, **steady)   # the machine slowed in group 1
    add_blocks(path, "s2", "openvino", 4, 124.0, 121.0, 127.0, group=1, **steady)
    frame = results.load(path)
    summary = report.summarize(frame).set_index("config")
    # openvino against the baseline measured in its own group: 124/80, not 124/90
    assert summary.loc["openvino", "speedup"] == pytest.approx(124 / 80)
    assert summary.loc["openvino", "speedup_low"] == pytest.approx(121 / 82)
    assert summary.loc["compile", "speedup"] == pytest.approx(1.5)
    words = report.notes(summary.reset_index(), frame)
    assert any("held steady during the sweep" in w and "fp32 probe 100 to 101 GFLOP/s" in w for w in words)
    assert not any("bf16 probe" in w for w in words)
    group_line = next(w for w in words if "memory groups" in w)
    assert "measured in 2 memory groups one after another" in group_line
    assert "baseline was measured in every group as the common reference (its SPS per group: 100.0, 80.0)" in group_line
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
    # An env variable a config does not set is not named in its label (issue 17, item 13: short labels).
    assert summary.loc["baseline seed=0", "sps_median"] == pytest.approx(10.5)
    assert summary.loc["baseline seed=1", "sps_median"] == pytest.approx(30.0)
    assert summary.loc["baseline seed=0 env.OMP_WAIT_POLICY=PASSIVE", "sps_median"] == pytest.approx(50.0)


def test_runs_with_and_without_a_memory_limit_are_not_pooled(tmp_path):
    """benchmark.memory_limit_mb changes what is measured; rows from before it existed have it null."""
    from tests.test_store import write_v1_row

    store = tmp_path / "store"
    common = {"status": "ok", "machine": "m", "model": "tiny", "ladder_step": "baseline", "ladder_position": 1,
              "batch_size": 1, "started_at": T0, "finished_at": T0 + timedelta(seconds=1)}
    write_v1_row(store, "old", run_key="old", sps=10.0, **common)  # before memory_limit_mb was a column
    assert "memory_limit_mb" not in results.COLUMNS[: results.COLUMNS.index("sps_ci_low")]
    for n, (limit, sps) in enumerate(((None, 12.0), (2048, 30.0), (2048, 32.0))):
        results.write_row({**common, "run_key": f"k{n}", "sps": sps, "repeat": n, "memory_limit_mb": limit,
                           "started_at": T0 + timedelta(minutes=n + 1)}, store, "s")
    frame = results.load(store)
    assert frame["memory_limit_mb"].isna().sum() == 2
    summary = report.summarize(frame).set_index("config")
    assert list(summary.index) == ["baseline memory_limit_mb=null", "baseline memory_limit_mb=2048"]
    assert summary.loc["baseline memory_limit_mb=null", "sps_median"] == pytest.approx(11.0)
    assert summary.loc["baseline memory_limit_mb=2048", "sps_median"] == pytest.approx(31.0)


def test_serving_labels_tell_null_from_a_set_value():
    from xeonsweep.report import serving as report_serving

    frame = pd.DataFrame({"machine": "m", "model": "tiny", "backend": ["eager", "eager"],
                          "memory_limit_mb": [None, 2048.0]})
    labels = list(report_serving.with_labels(frame)["config"])
    assert labels == ["memory_limit_mb=null", "memory_limit_mb=2048"]

"""The report's configs (issue 17, items 11-13): every fingerprinted setting keeps configs apart,
labels name only what differs (JSON columns as their sub-keys, never bookkeeping), --where reads
values as the command line spells them, charts show their labels whole, and LoadGen rows get
tables of their own (no speedup across scenarios)."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from tests.conftest import FAST
from xeonsweep.config import settings
from xeonsweep.report import tables as report
from xeonsweep.store import results

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def compose(*overrides) -> dict:
    from hydra import compose as hydra_compose, initialize_config_dir

    from xeonsweep.config.paths import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return settings.to_settings(hydra_compose(config_name="config", overrides=["model=tiny", *overrides]))


def add(store, n, run, status="ok", sps=10.0, reason=None, machine="m", **columns):
    """A row as a run of these settings writes it (the columns the report reads, and config_json)."""
    scenario = run["scenario"]
    results.write_row({
        "run_key": f"k{n}", "config_hash": settings.config_hash(run), "sweep_id": "s", "machine": machine,
        "status": status, "reason": reason, "sps": sps if status == "ok" else None,
        "started_at": T0 + timedelta(minutes=n), "finished_at": T0 + timedelta(minutes=n, seconds=30),
        "model": run["model"]["name"], "batch_size": run["batch_size"], "thp": run["thp"], "seed": run["seed"],
        "channels_last": run["channels_last"], "precision": run["precision"]["name"], "workers": run["workers"],
        "allocator": run["allocator"]["name"], "backend": run["backend"]["name"],
        "backend_options": json.dumps(run["backend"].get("options") or {}, sort_keys=True),
        "quantization": run["quantization"]["name"], "quantization_options": "{}", "runtime": run["runtime"]["name"],
        "runtime_options": json.dumps({k: v for k, v in run["runtime"].items() if k != "name"}, sort_keys=True),
        "warmup": run["benchmark"]["warmup"], "iterations": run["benchmark"]["iterations"],
        "min_duration_s": float(run["benchmark"]["min_duration_s"]), "repeat": run["repeat"],
        "child_env": json.dumps({"PYTHONUNBUFFERED": "1", **run["env"]}),
        "scenario": scenario["name"], "config_json": json.dumps(run, sort_keys=True),
        **({} if scenario["name"] == "offline" else {
            "target_qps": scenario["target_qps"], "latency_slo_ms": scenario["latency_slo_ms"],
            "latency_percentile": scenario["latency_percentile"], "max_wait_ms": scenario["max_wait_ms"]}),
        **columns,
    }, store, "s")


def report_in(tmp_path, store, *args):
    """`xeonsweep report` as a user runs it, from a folder of their own."""
    out = tmp_path / "out"
    cli = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(store), "--out", str(out), *args],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    return cli, out


# -- item 12: every fingerprinted setting keeps configs apart ---------------------------------------

@pytest.mark.slow
def test_configs_that_differ_only_in_model_keyword_arguments_are_not_pooled(tmp_path):
    store = tmp_path / "store"
    add(store, 1, compose())
    add(store, 2, compose("model.factory.num_classes=-3"), status="failed", reason="RuntimeError: bad num_classes")
    cli, out = report_in(tmp_path, store)
    assert cli.returncode == 0, cli.stderr
    markdown = (out / "report.md").read_text()
    assert "| model.factory.num_classes=10 | 10.0 |" in markdown
    assert "| model.factory.num_classes=-3 | - |" in markdown and "failed: RuntimeError: bad num_classes" in markdown
    assert "(1 ok)" not in markdown
    # Without config_json (the index's columns alone) they still stay apart, told by their config_hash.
    summary = report.summarize(results.load(store, results.SUMMARY_COLUMNS))
    assert list(summary["status"]) == ["ok", "failed"]
    assert all("config_hash=" in c for c in summary["config"])


# -- item 13: --where, short labels, bookkeeping, charts --------------------------------------------

@pytest.fixture
def mixed(tmp_path):
    """Rows of one model differing in THP, backend and OpenVINO's hint, with their results in other folders."""
    store = tmp_path / "store"
    add(store, 1, compose("results.dir=/r1", "cache.dir=/c1"))
    add(store, 2, compose("thp=true", "results.dir=/r2"), sps=11.0)
    add(store, 3, compose("backend=openvino"), sps=20.0)
    add(store, 4, compose("backend=openvino", "backend.options.performance_hint=throughput"), sps=30.0)
    return store


@pytest.mark.parametrize("where, count", [
    ("thp=true", 1), ("thp=True", 1), ("thp=false", 3), ("batch_size=8", 4), ("memory_limit_mb=null", 4),
    ("backend=openvino", 2), ("min_duration_s=5", 4),
])
def test_where_reads_values_as_the_command_line_spells_them(mixed, where, count):
    assert len(report.apply_filters(results.load(mixed), [where])) == count


@pytest.mark.slow
def test_labels_name_only_what_differs(mixed, tmp_path):
    summary = report.summarize(results.load(mixed))
    assert list(summary["config"]) == [
        "thp=false backend=eager", "thp=true backend=eager",
        "thp=false backend=openvino backend.options.performance_hint=latency",
        "thp=false backend=openvino backend.options.performance_hint=throughput",
    ]
    cli, out = report_in(tmp_path, mixed, "--where", "thp=true")
    assert cli.returncode == 0, cli.stderr
    assert "| (one config) | 11.0 |" in (out / "report.md").read_text()


def test_nothing_swept_names_no_bookkeeping():
    from xeonsweep.sweep.planning import Job, describe, varying_keys

    one = [Job(["model=tiny", "results.dir=/tmp/r", "cache.dir=/tmp/c", "+lock.wait=false", "repeat=0",
                "sweep_id=s"], {})]
    assert describe(one[0].overrides, varying_keys(one)) == "model=tiny"
    two = [Job([f"batch_size={b}", "results.dir=/tmp/r", f"repeat={r}", "sweep_id=s"], {})
           for b in (1, 2) for r in (0, 1)]
    # which repeat, while repeats differ
    assert describe(two[3].overrides, varying_keys(two)) == "batch_size=2 repeat=1"


LONG_ENV = {f"XEONSWEEP_A_RATHER_LONG_VARIABLE_NAME_{i}": "a-value-of-some-length" for i in range(4)}


def ink_at_edges(png) -> list[str]:
    """Edges of a chart with anything but white on them: text cut by the edge of the image."""
    from PIL import Image

    with Image.open(png) as image:
        gray = image.convert("L")
        width, height = gray.size
        columns = {"left": 1, "right": width - 2}
        return [edge for edge, x in columns.items() if any(gray.getpixel((x, y)) < 200 for y in range(height))]


@pytest.mark.slow
def test_chart_labels_wrap_instead_of_being_cut(tmp_path):
    store = tmp_path / "store"
    for n in range(4):  # four configs whose env differs in four long variables: labels of ~250 characters
        env = ",".join(f"+env.{k}={v}{n}" for k, v in LONG_ENV.items())
        add(store, n, compose(*env.split(","), f"batch_size={n + 1}"), sps=10.0 + n)
    cli, out = report_in(tmp_path, store)
    assert cli.returncode == 0, cli.stderr
    assert ink_at_edges(out / "report.png") == []


@pytest.mark.slow
def test_serving_charts_keep_their_titles_and_names_whole(tmp_path):
    store = tmp_path / "store"
    server = ["scenario=server", "scenario.target_qps=50", "scenario.latency_slo_ms=100"]
    for n in range(2):  # names of ~280 characters that differ only at their ends
        env = [f"+env.{k}={v}{n}" for k, v in LONG_ENV.items()]
        add(store, n, compose(*server, *env), loadgen_valid=True, latency_ms_p99=40.0 + n)
    cli, out = report_in(tmp_path, store)
    assert cli.returncode == 0, cli.stderr
    charts = sorted(out.glob("latency-vs-load-*.png"))
    assert len(charts) == 2 and all(len(p.name) < 160 for p in charts)  # cut, and told apart by a hash
    assert all(ink_at_edges(p) == [] for p in charts)


# -- item 11: LoadGen rows in the report ------------------------------------------------------------

@pytest.mark.slow
def test_server_rows_get_a_table_of_their_own_without_speedup_and_say_invalid(tmp_path):
    store = tmp_path / "store"
    add(store, 1, compose(), sps=100.0)
    slo = ["scenario=server", "scenario.latency_slo_ms=100"]
    add(store, 2, compose(*slo, "scenario.target_qps=20"), sps=19.0, loadgen_valid=True, latency_ms_p99=50.0)
    add(store, 3, compose(*slo, "scenario.target_qps=500"), sps=446.22, loadgen_valid=False, latency_ms_p99=900.0,
        loadgen_reason="performance constraints not satisfied (the latency percentile is over the SLO)")
    summary = report.summarize(results.load(store))
    offline = summary[summary["scenario"] == "offline"]
    server = summary[summary["scenario"] == "server"]
    assert len(offline) == 1 and offline.iloc[0]["speedup"] == pytest.approx(1.0)
    assert server["speedup"].isna().all()  # completed samples/s at an offered load: no speedup, and none vs offline
    invalid = server.set_index("config").loc["target_qps=500"]
    assert (invalid["status"] == "INVALID"
            and invalid["reason"].startswith("LoadGen at 500 QPS: performance constraints"))
    cli, out = report_in(tmp_path, store)
    markdown = (out / "report.md").read_text()
    assert "### tiny on m, scenario=server" in markdown and "0.19x" not in markdown and "4.46x" not in markdown
    serving = pd.read_csv(out / "serving.csv")
    assert list(serving["peak_qps"]) == [20.0] and list(serving["offline_sps"]) == [100.0]


@pytest.mark.slow
@pytest.mark.slow
def test_a_real_sweep_over_a_model_keyword_argument_reports_each_config(tmp_path, cache_dir):
    """Two real runs, one failing at set-up, reported from a folder of the user's own."""
    argv = [sys.executable, "-m", "xeonsweep", "-m", "model.factory.num_classes=10,-3", *FAST,
            f"results.dir={tmp_path / 'store'}", f"cache.dir={cache_dir}"]
    sweep = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert "model.factory.num_classes=-3" in sweep.stderr, sweep.stderr
    cli, out = report_in(tmp_path, tmp_path / "store")
    assert cli.returncode == 0, cli.stderr
    markdown = (out / "report.md").read_text()
    lines = [line for line in markdown.splitlines() if line.startswith("| model.")]
    assert [line.split(" | ")[0] for line in lines] == ["| model.factory.num_classes=10",
                                                        "| model.factory.num_classes=-3"]
    assert " | ok |" in lines[0] + " |" or lines[0].endswith("| ok |")
    assert "failed" in lines[1] and "(1 ok)" not in markdown
    assert ink_at_edges(out / "report.png") == []

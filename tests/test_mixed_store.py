"""A store that mixes this schema (6: blocks with their rounds, goals, paired speedups) with rows older
versions wrote (5: blocks without rounds; 1: a fresh run) reads with every column, reports (paired where
two configs share rounds, unpaired otherwise) and resumes. Rows written directly, no process."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.report_store import EPYC, T0, blocks_row, paired_row
from tests.test_store import write_v1_row
from xeonsweep.report import tables
from xeonsweep.store import results

# What schema 6 added (issue 18 confidence, issue 20 deploy): a version 5 file has none of them.
NEW_IN_6 = ("artifact_path", "block_round", "goal", "equivalence_pct", "stopped_by", "speedup", "speedup_low",
            "speedup_high", "speedup_reference", "probe_mem_gbps")
ROUNDS = 8


def write_version_5(store, sweep_id, row):
    """A row as xeonsweep wrote it at schema version 5: every column but those of version 6."""
    schema = pa.schema([f for f in results.SCHEMA if f.name not in NEW_IN_6])
    record = {k: v for k, v in row.items() if k not in NEW_IN_6} | {"schema_version": 5}
    (store / sweep_id).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([record], schema=schema), store / sweep_id / f"{row['run_key']}.parquet")


def ratio_blocks(factor):
    wobble = [1.0, 1.01, 0.99, 1.0, 1.01, 0.99, 1.0, 1.0]
    return [100.0 * factor * w for w in wobble[:ROUNDS]]


@pytest.fixture
def mixed(tmp_path):
    store = tmp_path / "store"
    # Version 5: a block sweep without rounds (baseline, compile, openvino), and a config that failed.
    for step, position, sps in (("baseline", 1, 100.0), ("compile", 3, 150.0), ("openvino", 4, 160.0)):
        write_version_5(store, "0-old", blocks_row(EPYC, "0-old", step, position, sps, 0.98 * sps, 1.02 * sps, 10.0))
    failed = {**blocks_row(EPYC, "0-old", "pt2e", 12, 1.0, 1.0, 1.0, 10.0), "status": "failed", "sps": None,
              "reason": "killed by SIGKILL"}
    write_version_5(store, "0-old", failed)
    # Version 1: a fresh run of ipex.
    write_v1_row(store, "0-fresh", run_key="fresh-ipex", config_hash="ipex-resnet50", status="ok",
                 machine=EPYC, model="resnet50", ladder_step="ipex", ladder_position=7, batch_size=8, sps=300.0,
                 started_at=T0, finished_at=T0)
    # Version 6: a rank sweep with rounds (baseline, compile again, onnxruntime).
    for step, position, factor in (("baseline", 1, 1.0), ("compile", 3, 1.5), ("onnxruntime", 13, 1.8)):
        results.write_row(paired_row("new", step, position, ratio_blocks(factor)), store, "new")
    return store


def test_every_column_reads_with_pandas_and_load(mixed):
    for frame in (pd.read_parquet(mixed), results.load(mixed)):
        assert list(frame.columns) == results.COLUMNS
        by_key = frame.set_index("run_key")
        assert sorted(frame["schema_version"].unique()) == [1, 5, results.SCHEMA_VERSION]
        old, new = by_key.loc["AMD -0-old-openvino-resnet50"], by_key.loc["new-compile-0-resnet50"]
        assert old["block_round"] is None and pd.isna(old["stopped_by"]) and len(old["block_sps"]) == 3
        assert list(new["block_round"]) == list(range(1, ROUNDS + 1)) and new["stopped_by"] == "settled"
        assert pd.isna(by_key.loc["fresh-ipex", "sps_ci_low"]) and by_key.loc["fresh-ipex", "sps"] == 300.0


def test_resume_finds_the_old_ok_rows(mixed):
    assert results.finished_keys(mixed) == {
        "AMD -0-old-baseline-resnet50", "AMD -0-old-compile-resnet50", "AMD -0-old-openvino-resnet50", "fresh-ipex",
        "new-baseline-0-resnet50", "new-compile-0-resnet50", "new-onnxruntime-0-resnet50"}


def test_the_report_pairs_what_shares_rounds_and_takes_the_rest_unpaired(mixed, tmp_path, capsys):
    out = tmp_path / "report"
    assert tables.main([str(mixed), "--out", str(out)]) in (0, None)
    csv = pd.read_csv(out / "report.csv").set_index("config")
    kinds = csv["speedup_kind"].fillna("").drop("pt2e").to_dict()
    # compile has old rows and new: its new rows share rounds with the baseline's; openvino's rows are all old.
    assert kinds == {"baseline": "", "compile": "paired", "openvino": "unpaired", "ipex": "unpaired",
                     "onnxruntime": "paired"}
    assert csv.loc["onnxruntime", "speedup"] == pytest.approx(1.8)
    assert csv.loc["compile", "speedup"] == pytest.approx(1.5)
    assert csv.loc["openvino", "speedup"] == pytest.approx(160 / 100)  # against the baseline of its own sweep's group
    assert csv.loc["ipex", "measurement"] == "fresh" and csv.loc["ipex", "speedup"] == pytest.approx(3.0)
    assert csv.loc["pt2e", "status"] == "failed" and pd.isna(csv.loc["pt2e", "speedup"])
    markdown = (out / "report.md").read_text()
    assert "sweep new, resnet50 on AMD EPYC (2 cores): benchmark.goal=rank (margin 2%): of 3 configs, 3 settled" \
        in markdown
    # no goal there
    assert not [line for line in markdown.splitlines() if "benchmark.goal=" in line and "0-old" in line]
    assert (out / "timeline-0-old.png").exists() and (out / "timeline-new.png").exists()
    assert "killed by SIGKILL" in capsys.readouterr().out

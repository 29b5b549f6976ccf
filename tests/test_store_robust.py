"""The store survives what lands in it: foreign files, killed writers, older schema
versions, compaction while a sweep writes; resume and the report read an index."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from xeonsweep.store import compaction, files as store_files, index as store_index, results


def row(key, status="ok", **extra):
    now = datetime.now(timezone.utc)
    return {"run_key": key, "status": status, "started_at": now, "finished_at": now, "machine": "m", "model": "tiny",
            "sps": 1.0, "latencies_ms": [1.0, 2.0], **extra}


def warnings_in(text):
    return [line for line in text.splitlines() if line.startswith("xeonsweep: warning: skipped")]


def test_truncated_and_foreign_files_are_skipped_with_one_line_each(tmp_path, capsys):
    results.write_row(row("a"), tmp_path, "s1")
    (tmp_path / "s1" / "broken.parquet").write_bytes(b"x" * 100)
    pd.DataFrame({"run_key": ["p"], "status": ["ok"], "sps": ["fast"]}).to_parquet(tmp_path / "pandas.parquet")
    pd.DataFrame({"name": ["x"], "value": [1]}).to_parquet(tmp_path / "other.parquet")

    assert list(results.load(tmp_path)["run_key"]) == ["a"]
    lines = warnings_in(capsys.readouterr().err)
    assert len(lines) == 3
    assert any("broken.parquet" in line and "not a readable Parquet file" in line for line in lines)
    assert any("pandas.parquet" in line and "column sps is" in line and "cannot be cast to double" in line
               for line in lines)
    assert any("other.parquet" in line and "no run_key column" in line for line in lines)

    assert results.finished_keys(tmp_path) == {"a"}
    assert len(warnings_in(capsys.readouterr().err)) == 3
    assert list(results.load(tmp_path, results.SUMMARY_COLUMNS)["run_key"]) == ["a"]


@pytest.mark.slow
def test_report_and_resume_go_on_past_a_broken_file(tmp_path):
    results.write_row(row("a", ladder_step="baseline"), tmp_path, "s1")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1" + b"\0" * 96)
    done = subprocess.run([sys.executable, "-m", "xeonsweep", "report", str(tmp_path), "--out", str(tmp_path / "r")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(warnings_in(done.stderr)) == 1 and "broken.parquet" in done.stderr


def test_a_pandas_file_whose_columns_cast_is_not_foreign(tmp_path, capsys):
    mine = pd.DataFrame({"run_key": ["p"], "status": ["ok"], "sps": [3], "batch_size": [8]})
    mine.to_parquet(tmp_path / "mine.parquet")
    frame = results.load(tmp_path)
    assert frame["sps"].tolist() == [3.0] and frame["model"].isna().all()
    assert not warnings_in(capsys.readouterr().err)


def test_temp_files_are_ignored_and_cleaned_only_when_old(tmp_path):
    results.write_row(row("a"), tmp_path, "s1")
    fresh = tmp_path / "s1" / ".tmp-live-writer.parquet"
    old = tmp_path / "s1" / ".tmp-killed-writer.parquet"
    for path in (fresh, old):
        path.write_bytes(b"PAR1 half")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert list(results.load(tmp_path)["run_key"]) == ["a"]
    compaction.compact(tmp_path)
    assert fresh.exists() and not old.exists()
    assert list(results.load(tmp_path)["run_key"]) == ["a"]


def old_version_file(folder, key):
    """A row as xeonsweep wrote it before this schema version: fewer columns, version 1."""
    v1 = pa.schema([f for f in results.SCHEMA if f.name != "not_applicable"])
    folder.mkdir(parents=True, exist_ok=True)
    record = {**row(key), "schema_version": 1}
    pq.write_table(pa.Table.from_pylist([record], schema=v1), folder / f"{key}.parquet")


def test_a_store_that_mixes_versions_reads_every_column(tmp_path):
    old_version_file(tmp_path / "0-old-sweep", "old")  # sorts before the new sweep's folder
    results.write_row(row("new", not_applicable="thp: ignored"), tmp_path, "9-new-sweep")
    for frame in (pd.read_parquet(tmp_path), results.load(tmp_path)):
        assert list(frame.columns) == results.COLUMNS
        by_key = frame.set_index("run_key")
        assert by_key.loc["new", "not_applicable"] == "thp: ignored"
        assert pd.isna(by_key.loc["old", "not_applicable"])
        assert (by_key.loc["old", "schema_version"] == 1
                and by_key.loc["new", "schema_version"] == results.SCHEMA_VERSION)
    assert results.finished_keys(tmp_path) == {"old", "new"}
    compaction.compact(tmp_path)
    frame = pd.read_parquet(tmp_path)
    assert list(frame.columns) == results.COLUMNS and sorted(frame["run_key"]) == ["new", "old"]
    assert sorted(results.load(tmp_path)["schema_version"]) == [1, results.SCHEMA_VERSION]


def test_summary_columns_come_from_the_index(tmp_path):
    for key in "abc":
        results.write_row(row(key, status="ok" if key != "b" else "failed"), tmp_path, "s1")
    journal = (tmp_path / store_index.INDEX / store_index.JOURNAL).read_text().splitlines()
    assert len(journal) == 3 and json.loads(journal[0])[store_index.FILE].startswith("s1/a-")
    # The index answers without opening the row files: make them unreadable to prove it.
    for path in (tmp_path / "s1").glob("*.parquet"):
        path.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anyway: check the path taken instead
            assert results.finished_keys(tmp_path) == {"a", "c"}
    finally:
        for path in (tmp_path / "s1").glob("*.parquet"):
            path.chmod(0o644)
    opened = []
    real = store_files.read_file
    store_files.read_file = lambda *a: opened.append(a[1]) or real(*a)
    try:
        assert results.finished_keys(tmp_path) == {"a", "c"}
        summary = results.load(tmp_path, results.SUMMARY_COLUMNS)
    finally:
        store_files.read_file = real
    assert opened == []
    full = results.load(tmp_path)
    pd.testing.assert_frame_equal(summary.sort_values("run_key").reset_index(drop=True),
                                  full[results.SUMMARY_COLUMNS].sort_values("run_key").reset_index(drop=True))
    # A deleted file's row is gone; a file the index never saw (an older writer) is read.
    next((tmp_path / "s1").glob("a-*.parquet")).unlink()
    old_version_file(tmp_path / "s0", "z")
    assert results.finished_keys(tmp_path) == {"c", "z"}


def test_a_torn_journal_line_loses_nothing(tmp_path, capsys):
    results.write_row(row("a"), tmp_path, "s1")
    with open(tmp_path / store_index.INDEX / store_index.JOURNAL, "ab") as journal:
        journal.write(b'{"run_key": "half')
    results.write_row(row("b"), tmp_path, "s1")
    assert results.finished_keys(tmp_path) == {"a", "b"}


def test_compaction_keeps_every_row_and_the_index(tmp_path):
    for i in range(20):
        results.write_row(row(f"k{i:02d}", latencies_ms=[float(i)] * 3), tmp_path, f"s{i % 3}")
    before = results.load(tmp_path).sort_values("run_key").reset_index(drop=True)
    done = compaction.compact(tmp_path)
    assert done["merged_files"] == 20 and done["rows"] == 20
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")
                   if not p.relative_to(tmp_path).as_posix().startswith(store_index.INDEX))
    assert files[0] == store_files.SCHEMA_FILE and len(files) == 2 and files[1].startswith("compacted/part-")
    after = results.load(tmp_path).sort_values("run_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    assert (tmp_path / store_index.INDEX / store_index.JOURNAL).read_bytes() == b""
    assert len(results.load(tmp_path, results.SUMMARY_COLUMNS)) == 20
    assert len(pd.read_parquet(tmp_path)) == 20


def test_compaction_while_a_sweep_writes_loses_and_doubles_nothing(tmp_path):
    for i in range(30):
        results.write_row(row(f"before{i}"), tmp_path, "s1")
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set() or i < 5:
            results.write_row(row(f"during{i}"), tmp_path, "s2")
            written.append(f"during{i}")
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(3):
            compaction.compact(tmp_path)
    finally:
        stop.set()
        thread.join()
    expected = sorted([f"before{i}" for i in range(30)] + written)
    assert sorted(results.load(tmp_path)["run_key"]) == expected
    assert sorted(results.load(tmp_path, results.SUMMARY_COLUMNS)["run_key"]) == expected
    compaction.compact(tmp_path)
    assert sorted(pd.read_parquet(tmp_path)["run_key"]) == expected


def test_compaction_cut_short_before_deleting_counts_nothing_twice(tmp_path):
    for i in range(4):
        results.write_row(row(f"k{i}"), tmp_path, "s1")
    originals = {p: p.read_bytes() for p in (tmp_path / "s1").glob("*.parquet")}
    compaction.compact(tmp_path)
    for path, data in originals.items():  # as if the process died before its deletes
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert sorted(results.load(tmp_path)["run_key"]) == ["k0", "k1", "k2", "k3"]
    assert sorted(results.load(tmp_path, results.SUMMARY_COLUMNS)["run_key"]) == ["k0", "k1", "k2", "k3"]
    compaction.compact(tmp_path)
    assert not any((tmp_path / "s1").glob("*.parquet"))
    assert sorted(pd.read_parquet(tmp_path)["run_key"]) == ["k0", "k1", "k2", "k3"]


@pytest.mark.slow
def test_store_compact_command_and_a_uri_store(tmp_path):
    uri = f"file://{tmp_path}/shared"
    for key in "ab":
        results.write_row(row(key), uri, "node-1")
    done = subprocess.run([sys.executable, "-m", "xeonsweep", "store", "compact", uri], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "merged 2 files (2 rows)" in done.stdout
    assert sorted(results.load(uri)["run_key"]) == ["a", "b"] and results.finished_keys(uri) == {"a", "b"}


def test_sweep_id_cannot_leave_the_store(tmp_path):
    with pytest.raises(ValueError, match="cannot name a folder"):
        results.write_row(row("a"), tmp_path, "../elsewhere")


@pytest.mark.slow
def test_a_sweep_into_a_store_with_a_broken_file_runs(sweep):
    from tests.conftest import FAST

    sweep.store.mkdir(parents=True)
    (sweep.store / "broken.parquet").write_bytes(b"x" * 100)
    result = sweep("-m", *FAST)
    assert result.returncode == 0, result.stderr
    assert f"xeonsweep: warning: skipped {sweep.store}/broken.parquet: not a readable Parquet file" in result.stderr
    assert list(sweep.rows()["status"]) == ["ok"]


def test_writers_fold_a_long_journal_into_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(store_index, "FOLD_BYTES", 4000)  # a few rows' worth
    for i in range(12):
        results.write_row(row(f"k{i:02d}"), tmp_path, "s1")
    index = tmp_path / store_index.INDEX
    assert (index / store_index.SNAPSHOT).exists()
    assert (index / store_index.JOURNAL).stat().st_size <= 4000 + 3000
    expected = {f"k{i:02d}" for i in range(12)}
    assert results.finished_keys(tmp_path) == expected
    assert set(results.load(tmp_path, results.SUMMARY_COLUMNS)["run_key"]) == expected


def test_compaction_indexes_a_compacted_file_the_index_lost(tmp_path):
    import shutil

    for i in range(3):
        results.write_row(row(f"k{i}"), tmp_path, "s1")
    compaction.compact(tmp_path)
    shutil.rmtree(tmp_path / store_index.INDEX)  # as if cut short before the swap
    assert results.finished_keys(tmp_path) == {"k0", "k1", "k2"}  # read from the file itself
    compaction.compact(tmp_path)
    entries = store_index.read(str(tmp_path), pa.schema([]))[store_index.FILE].to_pylist()
    assert len(entries) == 3 and all(e.startswith("compacted/") for e in entries)
    assert results.finished_keys(tmp_path) == {"k0", "k1", "k2"}


PAUSED_COMPACTION = """
import sys, time
from pathlib import Path
from xeonsweep.store import compaction
from xeonsweep.store import files as store_files

store, paused, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
write = store_files.write_atomic

def write_when_told(*args, **kwargs):
    paused.touch()  # the per-run files are listed and read: the merged file is next
    while not go.exists():
        time.sleep(0.05)
    return write(*args, **kwargs)

store_files.write_atomic = write_when_told
print(compaction.compact(store)["rows"], flush=True)
"""


@pytest.mark.slow
def test_two_compactions_at_once_take_turns_and_double_nothing(tmp_path):
    store = tmp_path / "store"
    for i in range(6):
        results.write_row(row(f"k{i}"), store, "s1")
    paused, go = tmp_path / "paused", tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", PAUSED_COMPACTION, str(store), str(paused), str(go)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not paused.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = subprocess.Popen([sys.executable, "-m", "xeonsweep", "store", "compact", str(store)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = second.stderr.readline()  # the first compaction is paused mid-way: the second must wait for it
        assert line == f"xeonsweep: another compaction of {store} is running; waiting for it to finish\n", line
        assert second.poll() is None
    finally:
        go.touch()
    first_out, first_err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, first_err + second_err
    assert first_out.strip() == "6" and "nothing to merge" in second_out
    assert sorted(results.load(store)["run_key"]) == [f"k{i}" for i in range(6)]
    assert sorted(pd.read_parquet(store)["run_key"]) == [f"k{i}" for i in range(6)]

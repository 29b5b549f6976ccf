"""The Parquet store: atomic files, one schema, pandas reads it directly."""

from datetime import datetime, timezone

import pandas as pd

from xeonsweep.store import results


def row(key, status, **extra):
    now = datetime.now(timezone.utc)
    return {"run_key": key, "status": status, "started_at": now, "finished_at": now, **extra}


def test_ok_and_failed_rows_from_several_sweeps_load_with_pandas(tmp_path):
    results.write_row(row("a", "ok", sps=10.0, latencies_ms=[1.0, 2.0], model="tiny"), tmp_path, "sweep-1")
    results.write_row(row("b", "failed", reason="killed by SIGKILL"), tmp_path, "sweep-1")
    results.write_row(row("c", "skipped", reason="needs AVX-512"), tmp_path, "sweep-2")
    frame = pd.read_parquet(tmp_path)
    assert sorted(frame["run_key"]) == ["a", "b", "c"]
    assert list(frame.columns) == results.COLUMNS
    assert frame.set_index("run_key").loc["b", "reason"] == "killed by SIGKILL"
    assert (frame["schema_version"] == results.SCHEMA_VERSION).all()
    pd.testing.assert_frame_equal(
        results.load(tmp_path).sort_values("run_key").reset_index(drop=True),
        frame.sort_values("run_key").reset_index(drop=True),
    )


def test_finished_keys_are_the_ok_rows(tmp_path):
    results.write_row(row("a", "ok"), tmp_path, "s")
    results.write_row(row("b", "failed"), tmp_path, "s")
    assert results.finished_keys(tmp_path) == {"a"}


def test_partial_temp_files_are_invisible(tmp_path):
    results.write_row(row("a", "ok"), tmp_path, "s")
    (tmp_path / "s" / ".tmp-half-written.parquet").write_bytes(b"PAR1 not finished")
    assert list(pd.read_parquet(tmp_path)["run_key"]) == ["a"]
    (tmp_path / "s" / "notes.txt").write_text("not a row")  # load() reads only .parquet files
    assert list(results.load(tmp_path)["run_key"]) == ["a"]


def test_empty_store_has_the_columns(tmp_path):
    frame = results.load(tmp_path / "missing")
    assert frame.empty and list(frame.columns) == results.COLUMNS


def test_unknown_column_is_refused(tmp_path):
    import pytest

    with pytest.raises(KeyError, match="not in the results schema"):
        results.write_row(row("a", "ok", speed=1.0), tmp_path, "s")
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_uri_store_works_through_pyarrow_filesystems(tmp_path):
    uri = f"file://{tmp_path}/shared"
    results.write_row(row("a", "ok", sps=1.0), uri, "node-1")
    results.write_row(row("b", "failed"), uri, "node-2")
    assert sorted(results.load(uri)["run_key"]) == ["a", "b"]
    assert results.finished_keys(uri) == {"a"}
    assert sorted(pd.read_parquet(tmp_path / "shared")["run_key"]) == ["a", "b"]


def write_v1_row(directory, sweep_id, **values):
    """A row as schema version 1 wrote it: the columns before issue 8's block."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    v1 = pa.schema([results.SCHEMA.field(name) for name in results.COLUMNS[: results.COLUMNS.index("sps_ci_low")]])
    folder = directory / sweep_id
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([{**values, "schema_version": 1}], schema=v1),
                   folder / f"{values['run_key']}.parquet")


def test_version_1_rows_load_and_resume_with_nulls_for_new_columns(tmp_path):
    write_v1_row(tmp_path, "old", **row("a", "ok", sps=10.0))
    results.write_row(row("b", "ok", sps=11.0, sps_ci_low=10.5, sps_ci_high=11.5, block_sps=[11.0, 10.9],
                          target_met=True, measurement="blocks"), tmp_path, "new")
    frame = results.load(tmp_path).set_index("run_key")
    assert list(frame.columns) == [c for c in results.COLUMNS if c != "run_key"]
    assert frame.loc["a", "schema_version"] == 1 and frame.loc["b", "schema_version"] == results.SCHEMA_VERSION
    assert pd.isna(frame.loc["a", "sps_ci_low"]) and frame.loc["a", "block_sps"] is None
    assert pd.isna(frame.loc["a", "target_met"]) and frame.loc["b", "target_met"] == True  # noqa: E712
    assert list(frame.loc["b", "block_sps"]) == [11.0, 10.9]
    assert results.finished_keys(tmp_path) == {"a", "b"}

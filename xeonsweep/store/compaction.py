"""`xeonsweep store compact DIR`: merge the per-run files of a store into one larger file.

Safe while a sweep writes: only the files listed at the start are merged; the merged
file names them in its metadata (readers skip a named file from then on), is renamed
in whole, then the index is swapped and the per-run files deleted. Cut short at any
point, no row is lost or counted twice. Foreign files are left where they are.

Two compactions of one store would both merge the same per-run files (every row twice):
a compaction holds an exclusive flock on `_compact.lock` in the store from start to end,
and a second one says so and waits, then merges only what was written since. Local
stores only: an object store (a URI) has no locks, so compact it from one place at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from xeonsweep.errors import UserError
from xeonsweep.store import files as store_files, index as store_index, results

LOCK = "_compact.lock"  # '_': readers and pyarrow's discovery skip it


def compact(directory: str | os.PathLike) -> dict:
    """Merge every per-run file; returns what was done (files merged, rows, new file)."""
    fs, root = results.filesystem(directory)
    check_store(fs, root, str(directory))
    with _one_at_a_time(fs, root):
        return _compact(fs, root)


def check_store(fs, root: str, given: str) -> None:
    """A store is a folder holding its schema file or rows: compacting anything else (a typo, the home
    folder) would say "nothing to merge" and clean up temp files where it has no business."""
    import pyarrow.fs as pafs

    kind = fs.get_file_info(root).type
    if kind == pafs.FileType.NotFound:
        raise UserError(f"{given} does not exist; valid: a results store (the results.dir of a sweep)")
    if kind != pafs.FileType.Directory:
        raise UserError(f"{given} is a file; valid: a results store (the results.dir of a sweep)")
    has_schema = fs.get_file_info(f"{root}/{store_files.SCHEMA_FILE}").type == pafs.FileType.File
    if not has_schema and not store_files.data_files(fs, root):
        raise UserError(f"{given} is not a results store (no {store_files.SCHEMA_FILE}, no rows); "
                        "valid: a results store (the results.dir of a sweep)")


@contextmanager
def _one_at_a_time(fs, root: str) -> Iterator[None]:
    """Hold the store's compaction lock; another compaction holding it: say so on one line, and wait."""
    if not results.indexed(fs) or not Path(root).is_dir():
        yield
        return
    with open(Path(root) / LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"xeonsweep: another compaction of {root} is running; waiting for it to finish",
                  file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)  # blocks in the kernel; released when its holder ends or dies
        yield


def _compact(fs, root: str) -> dict:
    removed = store_files.clean_temp_files(fs, root)
    files = store_files.data_files(fs, root)
    replaced = store_files.replaced_files(fs, root, files)
    small = sorted(f for f in files if not f.startswith(store_files.COMPACTED + "/") and f not in replaced)
    read = store_files.read_files(fs, root, small, results.SCHEMA)  # foreign files stay where they are
    merged, tables = [relative for relative, _ in read], [table for _, table in read]
    done = {"merged_files": len(merged), "rows": 0, "file": None, "removed_temp_files": len(removed)}
    if merged:
        table = pa.concat_tables(tables).combine_chunks()  # one chunk per column: row groups, not 100,000 slivers
        relative = f"{store_files.COMPACTED}/part-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
        fs.create_dir(f"{root}/{store_files.COMPACTED}", recursive=True)
        store_files.ensure_schema_file(fs, root, results.SCHEMA, results.SCHEMA_VERSION)
        metadata = {store_files.REPLACES_KEY: json.dumps(merged).encode()}
        store_files.write_atomic(fs, f"{root}/{relative}", table.replace_schema_metadata(metadata))
        if results.indexed(fs):
            summary = table.select(results.SUMMARY_COLUMNS)
            entries = summary.append_column(store_index.FILE, pa.array([relative] * table.num_rows, pa.string()))
            store_index.replace(root, results.SUMMARY_SCHEMA, set(merged) | replaced, entries)
        done.update(rows=table.num_rows, file=f"{root}/{relative}")
    if results.indexed(fs):
        _index_compacted_files(fs, root, files, set(merged) | replaced)
    for relative in sorted(set(merged) | replaced):
        try:
            fs.delete_file(f"{root}/{relative}")
        except OSError:
            pass
        _remove_if_empty(fs, f"{root}/{relative}".rpartition("/")[0], root)
    return done


def _remove_if_empty(fs, folder: str, root: str) -> None:
    if results.indexed(fs) and folder != root:
        try:
            os.rmdir(folder)
        except OSError:
            pass


def _index_compacted_files(fs, root: str, files: list[str], replaced: set[str]) -> None:
    """Compacted files the index does not know (a compaction cut short before its swap)."""
    known = set(store_index.read(root, pa.schema([])).column(store_index.FILE).to_pylist())
    missing = [f for f in files if f.startswith(store_files.COMPACTED + "/") and f not in known]
    if not missing:
        return
    parts = []
    for relative in missing:
        table = store_files.read_file(fs, f"{root}/{relative}", results.SUMMARY_SCHEMA)
        if table is not None:
            parts.append(table.append_column(store_index.FILE, pa.array([relative] * table.num_rows, pa.string())))
    if parts:
        store_index.replace(root, results.SUMMARY_SCHEMA, replaced, pa.concat_tables(parts))

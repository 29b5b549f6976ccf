"""`xeonsweep store merge SRC... DEST`: the rows of several stores (one per machine, say) in one.

Each source's data files are read (a foreign one is left out with its warning line), copied
into DEST under the same relative path (a hidden temp name, then one rename: a sweep writing
into DEST meanwhile is safe) and taken into DEST's index, so that the report and resume read
them from the index from the first load on. A file already in DEST (merged before) is
skipped: merging twice counts nothing twice. Copying files in by hand works too: the first
load adopts them (xeonsweep.store.index).
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs

from xeonsweep.errors import UserError
from xeonsweep.store import files as store_files, index as store_index, results


def merge(sources: list[str], destination: str) -> dict:
    """Copy every source's readable data files into `destination`; returns counts."""
    dest_fs, dest_root = results.filesystem(destination)
    found = [_source(source, dest_root) for source in sources]
    done = {"files": 0, "rows": 0, "already": 0, "sources": len(sources)}
    dest_fs.create_dir(dest_root, recursive=True)
    store_files.ensure_schema_file(dest_fs, dest_root, results.SCHEMA, results.SCHEMA_VERSION)
    for fs, root, relatives in found:
        fresh = [r for r in relatives if dest_fs.get_file_info(f"{dest_root}/{r}").type != pafs.FileType.File]
        done["already"] += len(relatives) - len(fresh)
        tables = store_files.read_files(fs, root, fresh, results.SCHEMA)
        for relative, _ in tables:
            _copy(fs, f"{root}/{relative}", dest_fs, f"{dest_root}/{relative}")
        done["files"] += len(tables)
        done["rows"] += sum(table.num_rows for _, table in tables)
        if tables and results.indexed(dest_fs):
            entries = [(relative, table.select(results.SUMMARY_COLUMNS)) for relative, table in tables]
            store_index.adopt(dest_root, results.index_entries(entries), results.SUMMARY_SCHEMA)
    return done


def _source(source: str, dest_root: str) -> tuple[pafs.FileSystem, str, list[str]]:
    """A source store's filesystem, root and live data files; UserError for one that is not a store."""
    fs, root = results.filesystem(source)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        raise UserError(f"store merge: {source} is not a results store (no such folder); valid: folders written by "
                        "xeonsweep (results.dir)")
    if isinstance(fs, pafs.LocalFileSystem) and os.path.realpath(root) == os.path.realpath(dest_root):
        raise UserError(f"store merge: {source} is the destination itself; valid: stores other than {dest_root}")
    files = store_files.data_files(fs, root)
    live = sorted(set(files) - store_files.replaced_files(fs, root, files))
    if not live:
        raise UserError(f"store merge: {source} holds no row files; valid: folders written by xeonsweep (results.dir)")
    return fs, root, live


def _copy(fs: pafs.FileSystem, path: str, dest_fs: pafs.FileSystem, target: str) -> None:
    folder, _, name = target.rpartition("/")
    dest_fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.tmp-{uuid.uuid4().hex[:8]}-{name}"
    try:
        with fs.open_input_stream(path) as source, dest_fs.open_output_stream(tmp) as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        dest_fs.move(tmp, target)
    except BaseException:
        try:
            dest_fs.delete_file(tmp)
        except (OSError, pa.ArrowException):
            pass
        raise

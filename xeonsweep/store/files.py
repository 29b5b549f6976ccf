"""The files of a results store: listing them, reading one leniently, and the
small bookkeeping files beside them.

A store holds one Parquet file per run (`<sweep_id>/<run_key>-<id>.parquet`),
larger files made by compaction (`compacted/part-*.parquet`), a zero-row file of
the current schema that sorts first (`+schema.parquet`), the index (`_index/`)
and the journal of blocks measured but not yet in a row (`_blocks/`, xeonsweep.blocks.journal).
A file that is not Parquet, or whose columns cannot be cast to the schema, is
foreign: it is skipped with one warning line naming it and why.
"""

from __future__ import annotations

import json
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# pyarrow's dataset discovery (and so pandas.read_parquet(dir)) takes the schema of the
# first file in path order. This zero-row file of the current schema sorts before any
# sweep folder ('+' is below the digits and letters a sweep_id starts with), so a store
# that mixes schema versions still reads with every column.
SCHEMA_FILE = "+schema.parquet"
COMPACTED = "compacted"
VERSION_KEY = b"xeonsweep_schema_version"
REPLACES_KEY = b"xeonsweep_replaces"  # a compacted file names the per-run files it holds
# A hidden temp file this old belongs to no live writer (a row is written in well under a
# second; a cluster node's clock may be off by minutes): cleaning it up is safe.
TEMP_MAX_AGE_S = 24 * 3600
REQUIRED = ("run_key", "status")


def warn(path: str, why: str) -> None:
    print(f"xeonsweep: warning: skipped {path}: {why}", file=sys.stderr)


def data_files(fs: pafs.FileSystem, root: str) -> list[str]:
    """Relative paths of every visible Parquet file (not hidden, not bookkeeping)."""
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return []
    if isinstance(fs, pafs.LocalFileSystem):
        found = _walk_local(root, "")  # far faster than a FileSelector on 100,000 files
    else:
        prefix = root.rstrip("/") + "/"
        found = [info.path[len(prefix):] for info in fs.get_file_info(pafs.FileSelector(root, recursive=True))
                 if info.type == pafs.FileType.File
                 and not any(part.startswith((".", "_")) for part in info.path[len(prefix):].split("/"))]
    return [f for f in found if f.endswith(".parquet") and f != SCHEMA_FILE]


def _walk_local(folder: str, prefix: str) -> list[str]:
    """Files under `folder`, skipping hidden and bookkeeping names ('.', '_') at every level."""
    import os

    found, folders = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name[0] in "._":
                continue
            if entry.is_dir():
                folders.append(entry)
            else:
                found.append(prefix + name)
    for entry in folders:
        found += _walk_local(entry.path, f"{prefix}{entry.name}/")
    return found


def replaced_files(fs: pafs.FileSystem, root: str, files: list[str]) -> set[str]:
    """Per-run files already merged into a compacted file (left over if compaction was cut short)."""
    replaced: set[str] = set()
    for relative in files:
        if relative.startswith(COMPACTED + "/"):
            try:
                meta = pq.read_metadata(f"{root}/{relative}", filesystem=fs).metadata or {}
            except (OSError, pa.ArrowException):
                continue
            replaced.update(json.loads(meta.get(REPLACES_KEY, b"[]")))
    return replaced


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table in `schema`: missing columns (older versions) as nulls, unknown ones dropped.

    Raises ValueError naming a column that cannot be cast.
    """
    names = set(table.column_names)
    if table.schema.remove_metadata().equals(schema.remove_metadata()):
        return table.replace_schema_metadata(schema.metadata)
    missing = [name for name in REQUIRED if name in schema.names and name not in names]
    if missing:
        raise ValueError(f"no {missing[0]} column: not a xeonsweep results file")
    columns = []
    for field in schema:
        if field.name not in names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table[field.name]
        try:
            columns.append(column if column.type == field.type else pc.cast(column, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"column {field.name} is {column.type}, which cannot be cast to {field.type} "
                             f"({str(exc).splitlines()[0]})") from None
    return pa.Table.from_arrays(columns, schema=schema)


def read_file(fs: pafs.FileSystem, path: str, schema: pa.Schema) -> pa.Table | None:
    """One file's rows in `schema`, or None (with a warning line) for a foreign file."""
    try:
        with fs.open_input_file(path) as source:
            parquet = pq.ParquetFile(source)
            names = set(parquet.schema_arrow.names)
            table = parquet.read(columns=[n for n in schema.names if n in names], use_threads=False)
    except (OSError, pa.ArrowException) as exc:
        warn(path, f"not a readable Parquet file ({str(exc).splitlines()[0]})")
        return None
    try:
        return conform(table.replace_schema_metadata(None), schema)
    except ValueError as exc:
        warn(path, str(exc))
        return None


def read_files(fs: pafs.FileSystem, root: str, relatives: list[str], schema: pa.Schema) -> list[tuple[str, pa.Table]]:
    """Each readable file's rows (foreign ones warned about and left out), read on a few threads:
    decoding a small file is mostly per-column work done without the GIL."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        tables = pool.map(lambda relative: read_file(fs, f"{root}/{relative}", schema), relatives)
        return [(relative, table) for relative, table in zip(relatives, tables) if table is not None]


def ensure_schema_file(fs: pafs.FileSystem, root: str, schema: pa.Schema, version: int) -> None:
    """Write the zero-row schema file unless one of this version or newer is there."""
    path = f"{root}/{SCHEMA_FILE}"
    if fs.get_file_info(path).type == pafs.FileType.File:
        try:
            meta = pq.read_metadata(path, filesystem=fs).metadata or {}
            if int(meta.get(VERSION_KEY, b"0")) >= version:
                return
        except (OSError, pa.ArrowException, ValueError):
            pass
    write_atomic(fs, path, schema.empty_table().replace_schema_metadata({VERSION_KEY: str(version).encode()}))


def write_atomic(fs: pafs.FileSystem, path: str, table: pa.Table, unique: str = "") -> None:
    """A temp file beside `path` (hidden: readers skip it), then one rename."""
    folder, _, name = path.rpartition("/")
    tmp = f"{folder}/.tmp-{unique or time.monotonic_ns()}-{name}"
    try:
        with fs.open_output_stream(tmp) as sink:
            pq.write_table(table, sink)
        if isinstance(fs, pafs.LocalFileSystem):
            import os

            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())
        fs.move(tmp, path)
    except BaseException:
        try:
            fs.delete_file(tmp)
        except OSError:
            pass
        raise


def clean_temp_files(fs: pafs.FileSystem, root: str, max_age_s: float = TEMP_MAX_AGE_S) -> list[str]:
    """Delete hidden temp files left by killed writers, only those older than `max_age_s`."""
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return []
    now = time.time()
    removed = []
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if info.type == pafs.FileType.File and info.base_name.startswith(".tmp-") and info.mtime is not None:
            if now - info.mtime.timestamp() > max_age_s:
                try:
                    fs.delete_file(info.path)
                    removed.append(info.path)
                except OSError:
                    pass
    return removed

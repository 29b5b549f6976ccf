"""The store's index: the summary columns of every row with the file that holds it,
kept current as rows are written, so resume and the report read one or two files
instead of one file per run.

`_index/journal.jsonl` gets one JSON line per row written (an O_APPEND write under an
exclusive lock); `_index/snapshot.parquet` holds what was folded in: by the writer whose
line takes the journal past FOLD_BYTES, and by compaction. So a reader parses at most a
few thousand JSON lines, and reads the rest as Parquet, only the columns it needs. A reader
takes a shared lock, reads both, and keeps only entries whose file still exists; files
the index does not know (copied in from another store or machine, written by an older
xeonsweep, or by a writer killed between its rename and its journal line) are read
directly once, then adopted: their entries are folded into the snapshot, marked ADOPTED,
so the next reader finds them there. A writer that was only slow between its rename and
its journal line then indexes its file a second time: its own entry wins, the adopted one
is dropped (`without_doubles`), so no row counts twice. The index is only a cache of the
files: deleting `_index/` loses nothing. Local filesystems only (fcntl locks); a URI
store is read file by file.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

INDEX = "_index"
JOURNAL = "journal.jsonl"
SNAPSHOT = "snapshot.parquet"
FOLD_BYTES = 8 << 20  # ~4,000 rows: parsing them stays well under a second
FILE = "_file"  # the data file (relative to the store) that holds the row
ADOPTED = "_adopted"  # true: a reader added the entry for a file no writer had indexed


def index_schema(summary: pa.Schema) -> pa.Schema:
    return summary.append(pa.field(FILE, pa.string())).append(pa.field(ADOPTED, pa.bool_()))


@contextmanager
def locked(root: str, exclusive: bool) -> Iterator[Path]:
    folder = Path(root) / INDEX
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield folder
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def journal_line(row: dict, columns: list[str], relative: str) -> bytes:
    entry = {name: _plain(row.get(name)) for name in columns}
    entry[FILE] = relative
    return (json.dumps(entry, default=str) + "\n").encode()


def append(root: str, lines: bytes, summary: pa.Schema) -> None:
    """Add rows' entries; one write() with O_APPEND, so lines never interleave."""
    with locked(root, exclusive=True) as folder:
        fd = os.open(folder / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > FOLD_BYTES:
            _swap(folder, index_schema(summary), set(), None)


def _read_journal(path: Path, schema: pa.Schema) -> pa.Table:
    """The journal's entries, only the columns of `schema` (the JSON reader skips the rest)."""
    if not path.exists() or path.stat().st_size == 0:
        return schema.empty_table()
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        return pajson.read_json(path, parse_options=options).select(schema.names)
    except pa.ArrowException:
        return _read_journal_leniently(path, schema)


def _read_journal_leniently(path: Path, schema: pa.Schema) -> pa.Table:
    """A torn last line (a writer killed mid-write): keep every whole line."""
    good, bad = [], 0
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            good.append(pa.Table.from_pylist([{k: entry.get(k) for k in schema.names}], schema=schema))
        except (ValueError, pa.ArrowException):
            bad += 1
    if bad:
        print(f"xeonsweep: warning: skipped {bad} unreadable line(s) of {path}; their files are read directly",
              file=sys.stderr)
    return pa.concat_tables([schema.empty_table(), *good])


def read(root: str, columns: pa.Schema) -> pa.Table:
    """Every index entry, with `columns` (a subset of the summary columns) and FILE;
    files may since have gone."""
    schema = index_schema(columns)
    if not (Path(root) / INDEX).is_dir():
        return schema.empty_table()
    try:
        with locked(root, exclusive=False) as folder:
            parts = [_read_snapshot(folder, schema), _read_journal(folder / JOURNAL, schema)]
    except OSError:  # a store we may only read (no lock file to open): its files are read directly
        return schema.empty_table()
    return without_doubles(pa.concat_tables(parts))


def without_doubles(table: pa.Table) -> pa.Table:
    """Adopted entries of files that a writer indexed too (it was between its rename and its
    journal line when a reader adopted the file): the writer's entry is the one kept."""
    adopted = pc.fill_null(table[ADOPTED], False)
    if not pc.any(adopted).as_py():
        return table
    written = pc.unique(table[FILE].filter(pc.invert(adopted)))
    return table.filter(pc.invert(pc.and_(adopted, pc.is_in(table[FILE], value_set=written))))


def adopt(root: str, entries: pa.Table, summary: pa.Schema) -> int:
    """Fold entries (summary columns and FILE) of files the index did not know into the snapshot,
    those still unknown under the lock (another reader may have adopted them meanwhile).
    Returns how many were added; a store we may not write keeps being read file by file."""
    from xeonsweep.store.files import conform

    schema = index_schema(summary)
    entries = conform(entries.append_column(ADOPTED, pa.array([True] * entries.num_rows, pa.bool_())), schema)
    try:
        with locked(root, exclusive=True) as folder:
            current = _current(folder, schema)
            new = entries.filter(pc.invert(pc.is_in(entries[FILE], value_set=pc.unique(current[FILE]))))
            if new.num_rows:
                _write_snapshot(folder, pa.concat_tables([current, new]))
            return new.num_rows
    except OSError:
        return 0


def _read_snapshot(folder: Path, schema: pa.Schema) -> pa.Table:
    from xeonsweep.store.files import conform

    path = folder / SNAPSHOT
    if not path.exists():
        return schema.empty_table()
    snapshot = pq.ParquetFile(path)  # not pq.read_table: its dataset machinery imports pandas
    present = set(snapshot.schema_arrow.names)
    return conform(snapshot.read(columns=[n for n in schema.names if n in present]), schema)


def replace(root: str, summary: pa.Schema, drop_files: set[str], add: pa.Table) -> None:
    """Compaction's swap: one snapshot of today's entries minus `drop_files`, plus `add`."""
    with locked(root, exclusive=True) as folder:
        _swap(folder, index_schema(summary), drop_files, add)


def _swap(folder: Path, schema: pa.Schema, drop_files: set[str], add: pa.Table | None) -> None:
    """Fold the journal (and `add`) into a new snapshot, under the caller's exclusive lock.

    The journal is emptied before the new snapshot is renamed in: cut short in between,
    entries are missing (their files are then read directly), never counted twice.
    """
    from xeonsweep.store.files import conform

    current = _current(folder, schema)
    if add is not None:
        current = pa.concat_tables([current, conform(add, schema)])
    if drop_files:
        keep = [f not in drop_files for f in current[FILE].to_pylist()]
        current = current.filter(pa.array(keep, pa.bool_()))
    _write_snapshot(folder, current)


def _current(folder: Path, schema: pa.Schema) -> pa.Table:
    """Snapshot and journal together, each file's entries once (under the caller's lock)."""
    return without_doubles(pa.concat_tables([_read_snapshot(folder, schema), _read_journal(folder / JOURNAL, schema)]))


def _write_snapshot(folder: Path, entries: pa.Table) -> None:
    """The new snapshot holds every entry: the journal is emptied, then the snapshot renamed in."""
    tmp = folder / f".tmp-{uuid.uuid4().hex}-{SNAPSHOT}"
    pq.write_table(entries, tmp)
    (folder / JOURNAL).write_bytes(b"")
    os.replace(tmp, folder / SNAPSHOT)

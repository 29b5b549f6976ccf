"""The results store: one Parquet file per run under `results.dir`, one fixed schema.

`pandas.read_parquet(dir)` loads the whole store, every schema version with every
column (store_files.SCHEMA_FILE); `load(dir)` does the same, skipping foreign files
with a warning line each, and returns an empty frame with the right columns for an
empty or missing store. `load(dir, SUMMARY_COLUMNS)` and `finished_keys` read the
index (store_index) instead of every file. `dir` may also be a URI of any filesystem
pyarrow writes (s3://, gs://, hdfs://), so the nodes of a cluster can share one
store (a URI store has no index: it is read file by file).

Schema history (bump SCHEMA_VERSION on any change, note it here):
  1: first version.
  2: issue 8: `sps` is the median over timed blocks of live workers; its 95%
     confidence interval, blocks, rounds, per-block SPS and times, the machine
     speed probes around the config's blocks, how it was measured (blocks or
     fresh) and in which memory group, and the peak RSS during setup;
     whether the row is a group's common reference, and a live worker's CPU
     time while it waited.
  3: issue 9 (store): not_applicable (settings the backend ignores; their columns are null).
     issue 9 (runs): instances_started, memory_limit_mb; `workers` is the instances the run asked
     for (runtime.mode's computed count too).
  4: issue 10 (serving): scenario, target_qps, latency_slo_ms, latency_percentile, max_wait_ms,
     loadgen_valid, loadgen_reason, loadgen_queries, latency_ms_p99_9, peak_qps, find_peak_runs,
     mean_batch, loadgen_logs, ov_streams, ov_requests, ov_max_requests_in_flight.
  5: issue 11 (models): input_spec, seq_len, cosine_similarity; input_shape is null for a
     model with declared inputs, channels_last null where it does not apply to the model (listed in
     not_applicable, which is JSON {setting: why} since this version).
  6: issue 18 (confidence): block_round (the round of each block: blocks of two configs in the same
     round pair), goal and equivalence_pct (benchmark.goal, benchmark.equivalence_pct), stopped_by
     (why measuring ended: settled, dropped, budget), speedup, speedup_low, speedup_high (paired, over
     speedup_reference, the run_key of the group's common config), probe_mem_gbps (the probe's
     memory-bandwidth kernel). issue 19 (search): search_id, trial (the Optuna trial a row measured),
     feasible and constraint (whether the row met the search's limits, and which it broke; null outside
     a search). issue 20 (deploy): artifact_path (what the model was loaded from).
"""


from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from xeonsweep.machine.facts import ISA_FLAGS
from xeonsweep.store import files as store_files, index as store_index

SCHEMA_VERSION = 6

_str, _int, _float, _bool = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_time = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        # identity
        ("schema_version", _int),
        ("run_key", _str),
        ("config_hash", _str),
        ("sweep_id", _str),
        ("started_at", _time),
        ("finished_at", _time),
        ("status", _str),
        ("reason", _str),
        # the config, one column per dimension
        ("ladder_step", _str),
        ("ladder_position", _int),
        ("model", _str),
        ("input_shape", _str),
        ("batch_size", _int),
        ("channels_last", _bool),
        ("precision", _str),
        ("allocator", _str),
        ("thp", _bool),
        ("backend", _str),
        ("backend_options", _str),
        ("quantization", _str),
        ("quantization_options", _str),
        ("workers", _int),
        ("runtime", _str),
        ("runtime_options", _str),
        ("warmup", _int),
        ("iterations", _int),
        ("min_duration_s", _float),
        ("timeout_s", _float),
        ("seed", _int),
        ("repeat", _int),
        ("overrides", _str),
        ("config_json", _str),
        # measurements
        ("sps", _float),
        ("instance_sps", pa.list_(_float)),
        ("latency_ms_mean", _float),
        ("latency_ms_std", _float),
        ("latency_ms_p50", _float),
        ("latency_ms_p90", _float),
        ("latency_ms_p99", _float),
        ("latencies_ms", pa.list_(_float)),
        ("iterations_measured", _int),
        ("measured_s", _float),
        ("setup_s", _float),
        ("first_call_s", _float),
        ("warmup_s", _float),
        ("peak_rss_mb", _float),
        ("parent_cpu_s", _float),
        ("child_cpu_s", _float),
        # fidelity against fp32 eager on the same weights and input
        ("top1_agreement", _float),
        ("max_rel_error", _float),
        ("artifact_cached", _bool),
        ("applied_precision", _str),
        ("backend_details", _str),
        # what the run really had
        ("machine", _str),
        ("hostname", _str),
        ("cpu_model", _str),
        ("cpu_physical_cores", _int),
        ("cpu_logical", _int),
        ("cpu_sockets", _int),
        ("numa_nodes", _int),
        ("isa", _str),
        *[(f"isa_{flag}", _bool) for flag in ISA_FLAGS],
        ("kernel", _str),
        ("thp_mode", _str),
        ("thp_anon_huge_kb", _int),
        ("applied_allocator", _str),
        ("applied_openmp", _str),
        ("ld_preload", _str),
        ("child_env", _str),
        ("torch_threads", _int),
        ("cpu_affinity", _str),
        ("torch_cpu_capability", _str),
        ("python_version", _str),
        ("interpreter", _str),
        ("torch_version", _str),
        ("versions", _str),
        ("xeonsweep_version", _str),
        # issue 8: median over interleaved blocks, its confidence, the machine speed probe
        ("sps_ci_low", _float),
        ("sps_ci_high", _float),
        ("ci_half_width_pct", _float),
        ("target_ci_pct", _float),
        ("target_met", _bool),
        ("blocks", _int),
        ("rounds", _int),
        ("block_sps", pa.list_(_float)),
        ("block_start_unix_s", pa.list_(_float)),
        ("block_end_unix_s", pa.list_(_float)),
        ("probe_unix_s", pa.list_(_float)),
        ("probe_fp32_gflops", pa.list_(_float)),
        ("probe_bf16_gflops", pa.list_(_float)),
        ("measurement", _str),
        ("measure_group", _int),
        ("setup_peak_rss_mb", _float),
        ("measure_reference", _bool),   # the sweep's first config, measured again in a later memory group
        ("idle_cpu_s", _float),         # CPU time a live worker used while it waited between its blocks
        ("idle_s", _float),             # ... and how long it waited
        # issue 9 (store)
        ("not_applicable", _str),  # JSON {setting: why}: settings this run ignores (backend or model)
        # issue 9 (runs)
        ("instances_started", _int),     # worker processes that really started
        ("memory_limit_mb", _int),       # benchmark.memory_limit_mb (cgroup memory limit), null: none
        # issue 10 (serving): LoadGen scenarios and OpenVINO's requests in flight
        ("scenario", _str),                 # offline (closed loop), single_stream, server
        ("target_qps", _float),             # server: total over all instances
        ("latency_slo_ms", _float),
        ("latency_percentile", _float),     # the percentile the SLO applies to (LoadGen's)
        ("max_wait_ms", _float),            # dynamic batching: longest wait of a batch's first query
        ("loadgen_valid", _bool),           # every instance's LoadGen said VALID
        ("loadgen_reason", _str),           # why not, in LoadGen's terms
        ("loadgen_queries", _int),
        ("latency_ms_p99_9", _float),
        ("peak_qps", _float),               # find_peak: highest total QPS LoadGen called VALID
        ("find_peak_runs", _str),           # JSON: the runs that found it (qps, valid, p99, reason)
        ("mean_batch", _float),             # real samples per batch the server ran
        ("loadgen_logs", _str),             # folders of LoadGen's summary/detail logs
        ("ov_streams", _int),
        ("ov_requests", _int),              # OpenVINO infer requests kept in flight
        ("ov_max_requests_in_flight", _int),
        # issue 11 (models): declared inputs, their sequence length, cosine fidelity, ignored settings
        ("input_spec", _str),
        ("seq_len", _int),
        ("cosine_similarity", _float),
        # issue 20 (deploy): what the run's model was loaded from, for `xeonsweep recipe`
        ("artifact_path", _str),
        # issue 18 (confidence): paired comparisons and what the rounds measured until
        ("block_round", pa.list_(_int)),
        ("goal", _str),
        ("equivalence_pct", _float),
        ("stopped_by", _str),
        ("speedup", _float),
        ("speedup_low", _float),
        ("speedup_high", _float),
        ("speedup_reference", _str),
        ("probe_mem_gbps", pa.list_(_float)),
        # issue 19 (search): which search and trial measured the row, and whether it met its limits
        ("search_id", _str),
        ("trial", _int),
        ("feasible", _bool),
        ("constraint", _str),           # the limits it broke, each with its figure ("; " between them)
    ]
)

COLUMNS = SCHEMA.names
# What the report and resume read: everything but the per-iteration lists and the long
# JSON blobs, so the index stays small.
SUMMARY_COLUMNS = [c for c in COLUMNS if c not in ("latencies_ms", "instance_sps", "config_json", "versions",
                                                   "backend_details")]
SUMMARY_SCHEMA = pa.schema([SCHEMA.field(c) for c in SUMMARY_COLUMNS])


def filesystem(directory: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and path for a store: a local path, or a URI
    (s3://, gs://, hdfs://, file://) so that nodes of a cluster share one store."""
    text = str(directory)
    if "://" in text:
        fs, path = pafs.FileSystem.from_uri(text)
        return fs, path.rstrip("/") or "/"
    return pafs.LocalFileSystem(), os.path.abspath(text)


def indexed(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def is_store(directory: str | os.PathLike) -> bool:
    """A folder holding a store's schema file or row files (a URI store is taken at its word)."""
    fs, root = filesystem(directory)
    if not indexed(fs):
        return True
    return os.path.isfile(os.path.join(root, store_files.SCHEMA_FILE)) or bool(store_files.data_files(fs, root))


_schema_file_written: set[str] = set()  # stores this process has checked
_rows_written: list[str] = []  # files of the rows this process wrote: what an interrupted command reports


def rows_written_here() -> int:
    return len(_rows_written)


def write_row(row: dict, directory: str | os.PathLike, sweep_id: str) -> str:
    """Write one run's row atomically (a hidden temp file, then rename) and index it.

    A reader (or a killed sweep) never sees a partial file: readers skip names
    starting with '.', and the rename is atomic on one filesystem (an object
    store makes each object visible whole in any case).
    """
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"not in the results schema: {sorted(unknown)}")
    if "/" in sweep_id or "\\" in sweep_id or sweep_id in ("", ".", ".."):
        raise ValueError(f"sweep_id={sweep_id!r} cannot name a folder of the store")
    fs, root = filesystem(directory)
    folder = f"{root}/{sweep_id}"
    fs.create_dir(folder, recursive=True)
    if root not in _schema_file_written:
        store_files.ensure_schema_file(fs, root, SCHEMA, SCHEMA_VERSION)
        _schema_file_written.add(root)
    row = {**row, "schema_version": SCHEMA_VERSION}
    table = pa.Table.from_pylist([row], schema=SCHEMA)
    unique = uuid.uuid4().hex[:8]
    relative = f"{sweep_id}/{row['run_key']}-{unique}.parquet"
    store_files.write_atomic(fs, f"{root}/{relative}", table, unique)
    if indexed(fs):
        store_index.append(root, store_index.journal_line(row, SUMMARY_COLUMNS, relative), SUMMARY_SCHEMA)
    _rows_written.append(f"{root}/{relative}")
    return f"{root}/{relative}"


def read_table(directory: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """The store's rows (only `columns`), foreign files skipped with a warning each.

    Summary columns of a local store come from the index; only files it does not
    know are opened, and then adopted into it (copied in from another machine, say),
    so that the next read finds them there.
    """
    columns = list(columns or COLUMNS)
    schema = pa.schema([SCHEMA.field(c) for c in columns])
    fs, root = filesystem(directory)
    files = store_files.data_files(fs, root)
    live = set(files) - store_files.replaced_files(fs, root, files)
    parts = []
    from_index = indexed(fs) and set(columns) <= set(SUMMARY_COLUMNS) and bool(live)
    if from_index:
        index = store_index.read(root, schema)
        index = index.filter(pc.is_in(index[store_index.FILE], value_set=pa.array(list(live), pa.string())))
        live -= set(pc.unique(index[store_index.FILE]).to_pylist())
        parts.append(index.select(columns))
    # Whole files, so that a foreign one is foreign whichever columns are asked for; a compacted
    # file (ours, conformed when it was written) only for the columns asked, or those the index keeps.
    ours = sorted(f for f in live if f.startswith(store_files.COMPACTED + "/"))
    unknown = store_files.read_files(fs, root, ours, SUMMARY_SCHEMA if from_index else schema)
    unknown += [(relative, table.select(SUMMARY_COLUMNS if from_index else columns))
                for relative, table in store_files.read_files(fs, root, sorted(live - set(ours)), SCHEMA)]
    parts += [table.select(columns) for _, table in unknown]
    if from_index and unknown:
        store_index.adopt(root, index_entries(unknown), SUMMARY_SCHEMA)
    return pa.concat_tables([schema.empty_table(), *parts])


def index_entries(tables: list[tuple[str, pa.Table]]) -> pa.Table:
    """Index entries of whole files: their summary columns and the file that holds each row."""
    return pa.concat_tables([table.append_column(store_index.FILE, pa.array([relative] * table.num_rows, pa.string()))
                             for relative, table in tables])


def load(directory: str | os.PathLike = "outputs/results", columns: list[str] | None = None):
    """The store as one pandas DataFrame, one row per run (empty store: no rows).

    `columns=SUMMARY_COLUMNS` reads the index: fast on a store of many runs.
    """
    return read_table(directory, columns).to_pandas()


def finished_keys(directory: str | os.PathLike) -> set[str]:
    """run_keys that already have an `ok` row: what a resumed sweep skips."""
    table = read_table(directory, ["run_key", "status"])
    ok = table.filter(pc.equal(table["status"], "ok"))
    return set(ok["run_key"].to_pylist())


def clean_temp_files(directory: str | os.PathLike) -> list[str]:
    """Remove temp files of killed writers, only those old enough that no live writer owns them."""
    fs, root = filesystem(directory)
    return store_files.clean_temp_files(fs, root)

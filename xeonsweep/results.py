"""The results store: one Parquet file per run under `results.dir`, one fixed schema.

`pandas.read_parquet(dir)` loads the whole store; `load(dir)` does the same and
returns an empty frame with the right columns for an empty or missing store.
`dir` may also be a URI of any filesystem pyarrow writes (s3://, gs://, hdfs://),
so the nodes of a cluster can share one store.

Schema history (bump SCHEMA_VERSION on any change, note it here):
  1: first version.
  5: issue 11 (models): input_spec, seq_len, cosine_similarity, not_applicable; input_shape is null for a
     model with declared inputs, channels_last null where it does not apply to the model.
"""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xeonsweep.machine import ISA_FLAGS

SCHEMA_VERSION = 5
STATUSES = ("ok", "failed", "timeout", "skipped")

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
        # issue 11 (models): declared inputs, their sequence length, cosine fidelity, ignored settings
        ("input_spec", _str),
        ("seq_len", _int),
        ("cosine_similarity", _float),
        ("not_applicable", _str),     # JSON {setting: why it does not apply to the model}; null when all apply
    ]
)

COLUMNS = SCHEMA.names


def filesystem(directory: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and path for a store: a local path, or a URI
    (s3://, gs://, hdfs://, file://) so that nodes of a cluster share one store."""
    text = str(directory)
    if "://" in text:
        return pafs.FileSystem.from_uri(text)
    return pafs.LocalFileSystem(), os.path.abspath(text)


def write_row(row: dict, directory: str | os.PathLike, sweep_id: str) -> str:
    """Write one run's row atomically: a temp file in the same folder, then rename.

    A reader (or a killed sweep) never sees a partial file: pyarrow skips names
    starting with '.', and the rename is atomic on one filesystem (an object
    store makes each object visible whole in any case).
    """
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"not in the results schema: {sorted(unknown)}")
    fs, root = filesystem(directory)
    folder = f"{root.rstrip('/')}/{sweep_id}"
    fs.create_dir(folder, recursive=True)
    table = pa.Table.from_pylist([{**row, "schema_version": SCHEMA_VERSION}], schema=SCHEMA)
    name = f"{row['run_key']}-{uuid.uuid4().hex[:8]}.parquet"
    tmp, final = f"{folder}/.tmp-{name}", f"{folder}/{name}"
    try:
        with fs.open_output_stream(tmp) as sink:
            pq.write_table(table, sink)
        if isinstance(fs, pafs.LocalFileSystem):
            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())
        fs.move(tmp, final)
    except BaseException:
        try:
            fs.delete_file(tmp)
        except OSError:
            pass
        raise
    return final


def _files(directory: str | os.PathLike) -> tuple[pafs.FileSystem, list[str]]:
    fs, root = filesystem(directory)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return fs, []
    found = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    names = [f.path for f in found if f.type == pafs.FileType.File and f.path.endswith(".parquet")
             and not f.base_name.startswith((".", "_"))]
    return fs, sorted(names)


def load(directory: str | os.PathLike = "outputs/results"):
    """The store as one pandas DataFrame, one row per run (empty store: no rows)."""
    fs, files = _files(directory)
    if not files:
        return SCHEMA.empty_table().to_pandas()
    return pq.read_table(files, schema=SCHEMA, filesystem=fs).to_pandas()


def finished_keys(directory: str | os.PathLike) -> set[str]:
    """run_keys that already have an `ok` row: what a resumed sweep skips."""
    fs, files = _files(directory)
    if not files:
        return set()
    table = pq.read_table(files, columns=["run_key", "status"], schema=SCHEMA, filesystem=fs)
    return {key for key, status in zip(table["run_key"].to_pylist(), table["status"].to_pylist()) if status == "ok"}

"""The results store: one Parquet file per run under `results.dir`, one fixed schema.

`pandas.read_parquet(dir)` loads the whole store; `load(dir)` does the same and
returns an empty frame with the right columns for an empty or missing store.

Schema history (bump SCHEMA_VERSION on any change, note it here):
  1: first version.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from xeonsweep.machine import ISA_FLAGS

SCHEMA_VERSION = 1
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
    ]
)

COLUMNS = SCHEMA.names


def write_row(row: dict, directory: str | os.PathLike, sweep_id: str) -> Path:
    """Write one run's row atomically: a temp file in the same folder, then rename.

    A reader (or a killed sweep) never sees a partial file: pyarrow skips names
    starting with '.', and the rename is atomic on one filesystem.
    """
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise KeyError(f"not in the results schema: {sorted(unknown)}")
    folder = Path(directory) / sweep_id
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([{**row, "schema_version": SCHEMA_VERSION}], schema=SCHEMA)
    final = folder / f"{row['run_key']}-{uuid.uuid4().hex[:8]}.parquet"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=folder)
    try:
        with os.fdopen(fd, "wb") as sink:
            pq.write_table(table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def _files(directory: str | os.PathLike) -> list[str]:
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in root.rglob("*.parquet") if not p.name.startswith((".", "_")))


def load(directory: str | os.PathLike = "outputs/results"):
    """The store as one pandas DataFrame, one row per run (empty store: no rows)."""
    files = _files(directory)
    if not files:
        return SCHEMA.empty_table().to_pandas()
    return pq.read_table(files, schema=SCHEMA).to_pandas()


def finished_keys(directory: str | os.PathLike) -> set[str]:
    """run_keys that already have an `ok` row: what a resumed sweep skips."""
    files = _files(directory)
    if not files:
        return set()
    table = pq.read_table(files, columns=["run_key", "status"], schema=SCHEMA)
    return {key for key, status in zip(table["run_key"].to_pylist(), table["status"].to_pylist()) if status == "ok"}

"""A run's settings: the resolved config as a plain dict, its validation and its key.

Validation is pure apart from looking up allocator libraries on disk, and runs
in the parent for every job of a sweep before the first one starts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from xeonsweep import components, inputs, models
from xeonsweep.environments import interpreter_for, venv_dir
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine import CpuInfo, find_library

PRECISIONS = ("fp32", "bf16")
RUNTIMES = ("python", "run_cpu")
RUN_CPU_MODES = (None, "latency", "throughput")

# Keys that do not change what is measured: left out of the fingerprint.
NOT_MEASURED = ("results", "sweep_id", "cache", "repeat")
NOT_MEASURED_BENCHMARK = ("timeout_s", "repeats")


def to_settings(cfg: Any) -> dict:
    """The job's config without Hydra's own node, resolved, as plain containers."""
    from omegaconf import OmegaConf

    own = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(own, resolve=True)


def config_hash(run: dict) -> str:
    """Hash of everything that determines the measurement (same for every repeat)."""
    measured = {k: v for k, v in run.items() if k not in NOT_MEASURED}
    measured["benchmark"] = {
        k: v for k, v in run["benchmark"].items() if k not in NOT_MEASURED_BENCHMARK
    }
    blob = json.dumps(measured, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def machine_label(cpu: CpuInfo) -> str:
    return f"{cpu.model} ({cpu.physical_cores} cores)"


def run_key(run: dict, machine: str) -> str:
    """Identity of one measurement: config, repeat and the kind of machine it ran on."""
    blob = f"{config_hash(run)}|{run['repeat']}|{machine}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def drop_not_applicable(run: dict, sweep: bool) -> dict:
    """Set the settings that do not apply to the run's model to null (in place; returns the run).

    They change nothing that is measured, so configs that differ only in them
    share one fingerprint and run once. A sweep (the ladder too) drops them
    whatever their value; a single run only at their default, so that
    `validate` refuses one that asks for such a setting.
    """
    inputs.check(run["model"])
    for name in models.not_applicable(run["model"]):
        if sweep or not run.get(name):
            run[name] = None
    return run


def validate(run: dict, cpu: CpuInfo) -> None:
    """Raise UserError for a bad value, Incompatible for settings that cannot go together."""
    _check_int(run, "batch_size", 1)
    _check_int(run, "workers", 1)
    _check_int(run, "seed", 0)
    _check_model(run["model"])
    _check_applicable(run)
    bench = run["benchmark"]
    _check_int(bench, "warmup", 0, "benchmark.")
    _check_int(bench, "iterations", 1, "benchmark.")
    _check_int(bench, "repeats", 1, "benchmark.")
    _check_number(bench, "min_duration_s", 0.0, "benchmark.")
    _check_number(bench, "timeout_s", 1.0, "benchmark.")
    if "://" in str(run["cache"]["dir"]):
        raise UserError(f"cache.dir={run['cache']['dir']} must be a filesystem path (shared by the nodes of a "
                        "cluster); a URI such as s3:// is for results.dir only")
    _check_one_of("precision", run["precision"]["name"], PRECISIONS)
    _check_one_of("runtime", run["runtime"]["name"], RUNTIMES)
    allocator_library(run["allocator"])
    _check_workers(run, cpu)
    backend = components.build("backend", run["backend"])
    quantizer = components.build("quantization", run["quantization"])
    for component in (backend, quantizer):
        reason = component.incompatibility(run) if component else None
        if reason:
            raise Incompatible(reason)


def allocator_library(allocator: dict) -> str | None:
    """Absolute path of the allocator library to preload (None for the system one)."""
    names = list(allocator.get("libraries") or [])
    if not names:
        return None
    path = find_library(names)
    if path is None:
        raise UserError(
            f"allocator={allocator['name']}: none of {', '.join(names)} is installed; "
            f"install the Debian package {allocator.get('package')} (make setup) or use allocator=system"
        )
    return path


def _check_workers(run: dict, cpu: CpuInfo) -> None:
    runtime = run["runtime"]
    cores = cpu.logical_cpus if runtime.get("use_logical_core") else cpu.physical_cores
    workers = run["workers"]
    if workers > cores:
        raise UserError(f"workers={workers} exceeds the {cores} cores of this machine; valid: 1..{cores}")
    if runtime["name"] != "run_cpu":
        if workers > 1:
            raise Incompatible(f"workers={workers} needs runtime=run_cpu (runtime=python runs one instance)")
        return
    _check_one_of("runtime.mode", runtime.get("mode"), RUN_CPU_MODES)
    if runtime.get("intel_openmp"):
        _check_intel_openmp(run)
    if runtime.get("mode") and workers > 1:
        raise Incompatible(f"runtime.mode={runtime['mode']} chooses its own instances; use it with workers=1")
    per_instance = runtime.get("ncores_per_instance")
    if per_instance is not None:
        if not isinstance(per_instance, int) or isinstance(per_instance, bool) or per_instance < 1:
            raise UserError(f"runtime.ncores_per_instance={per_instance} is not valid; valid: null or 1..{cores}")
        if per_instance * workers > cores:
            raise UserError(
                f"runtime.ncores_per_instance={per_instance} x workers={workers} exceeds the {cores} cores "
                f"of this machine; valid: at most {cores // workers} per instance"
            )


def _check_intel_openmp(run: dict) -> None:
    """run_cpu only warns when libiomp5 is missing and runs GNU OpenMP: refuse instead."""
    interpreter = interpreter_for(run)
    if not interpreter.exists():  # a missing environment becomes a failed row naming its set-up command
        return
    library = venv_dir(interpreter) / "lib" / "libiomp5.so"
    if not library.exists():
        raise UserError(
            f"runtime.intel_openmp=true: {library} is missing; pip install intel-openmp into that environment "
            f"({run['backend'].get('setup') or 'make setup'}) or set runtime.intel_openmp=false"
        )


def _check_model(model: dict) -> None:
    factory = model.get("factory") or {}
    if "_target_" not in factory:
        raise UserError(f"model={model.get('name')} has no factory._target_; it names the function that builds the model")
    inputs.check(model)


def _check_applicable(run: dict) -> None:
    """A setting that does not apply to the model is null (dropped by a sweep) or false; asked for alone, refused."""
    ignored = models.not_applicable(run["model"])
    for name in ("channels_last", "thp"):
        if name in ignored and run.get(name) is None:
            continue
        if name in ignored and run.get(name) is True:
            raise UserError(f"{name}=true does not apply: {ignored[name]}; valid: {name}=false "
                            "(a sweep runs such a config once, without it)")
        _check_bool(run, name)


def _check_one_of(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        shown = ", ".join("null" if a is None else str(a) for a in allowed)
        raise UserError(f"{name}={value} is not valid; valid: {shown}")


def _check_int(node: dict, key: str, minimum: int, prefix: str = "") -> None:
    value = node.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserError(f"{prefix}{key}={value} is not valid; valid: an integer >= {minimum}")


def _check_number(node: dict, key: str, minimum: float, prefix: str = "") -> None:
    value = node.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < minimum:
        raise UserError(f"{prefix}{key}={value} is not valid; valid: a number >= {minimum:g}")


def _check_bool(node: dict, key: str) -> None:
    if not isinstance(node.get(key), bool):
        raise UserError(f"{key}={node.get(key)} is not valid; valid: true, false")

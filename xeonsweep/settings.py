"""A run's settings: the resolved config as a plain dict, its validation and its key.

Validation is pure apart from looking up allocator libraries on disk, and runs
in the parent for every job of a sweep before the first one starts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from xeonsweep import components
from xeonsweep.environments import interpreter_for, venv_dir
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine import CpuInfo, find_library

PRECISIONS = ("fp32", "bf16")
RUNTIMES = ("python", "run_cpu")
RUN_CPU_MODES = (None, "latency", "throughput")
SCENARIOS = ("offline", "single_stream", "server")

# Keys that do not change what is measured: left out of the fingerprint.
NOT_MEASURED = ("results", "sweep_id", "cache", "repeat")
NOT_MEASURED_BENCHMARK = ("timeout_s", "repeats")
NOT_MEASURED_SCENARIO = ("min_duration_ms", "min_query_count")


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
    scenario = measured.pop("scenario", None) or {"name": "offline"}
    if scenario["name"] != "offline":  # offline ignores the scenario's settings: today's fingerprints stay
        measured["scenario"] = {k: v for k, v in scenario.items() if k not in NOT_MEASURED_SCENARIO}
    backend = run["backend"]
    if backend["name"] == "openvino" and (backend.get("options") or {}).get("performance_hint") != "latency":
        # Since schema 4 the throughput hints keep OpenVINO's optimal number of requests in flight:
        # rows timed with one synchronous request measured something else.
        measured["openvino_requests"] = "optimal"
    blob = json.dumps(measured, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def scenario_name(run: dict) -> str:
    """offline (the closed loop), single_stream or server. Only offline runs may share a live worker
    or interleaved blocks; the LoadGen scenarios run one config at a time in a fresh child."""
    return (run.get("scenario") or {}).get("name", "offline")


def machine_label(cpu: CpuInfo) -> str:
    return f"{cpu.model} ({cpu.physical_cores} cores)"


def run_key(run: dict, machine: str) -> str:
    """Identity of one measurement: config, repeat and the kind of machine it ran on."""
    blob = f"{config_hash(run)}|{run['repeat']}|{machine}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def validate(run: dict, cpu: CpuInfo) -> None:
    """Raise UserError for a bad value, Incompatible for settings that cannot go together."""
    _check_int(run, "batch_size", 1)
    _check_int(run, "workers", 1)
    _check_int(run, "seed", 0)
    _check_bool(run, "channels_last")
    _check_bool(run, "thp")
    bench = run["benchmark"]
    _check_int(bench, "warmup", 0, "benchmark.")
    _check_int(bench, "iterations", 1, "benchmark.")
    _check_int(bench, "repeats", 1, "benchmark.")
    _check_number(bench, "min_duration_s", 0.0, "benchmark.")
    _check_number(bench, "timeout_s", 1.0, "benchmark.")
    _check_model(run["model"])
    if "://" in str(run["cache"]["dir"]):
        raise UserError(f"cache.dir={run['cache']['dir']} must be a filesystem path (shared by the nodes of a "
                        "cluster); a URI such as s3:// is for results.dir only")
    _check_one_of("precision", run["precision"]["name"], PRECISIONS)
    _check_one_of("runtime", run["runtime"]["name"], RUNTIMES)
    allocator_library(run["allocator"])
    _check_workers(run, cpu)
    _check_scenario(run)
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


def _check_scenario(run: dict) -> None:
    name = scenario_name(run)
    _check_one_of("scenario", name, SCENARIOS)
    if name == "offline":
        return
    scenario = run["scenario"]
    for key in ("target_qps", "latency_slo_ms"):
        value = scenario.get(key)
        if value is None and name == "server":
            why = "a server run needs its latency SLO" if key == "latency_slo_ms" else "a server run needs its load"
            raise UserError(f"scenario.{key}=null: {why}; valid: a number > 0, e.g. scenario.{key}=100")
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
            raise UserError(f"scenario.{key}={value} is not valid; valid: a number > 0")
    percentile = scenario.get("latency_percentile")
    if not isinstance(percentile, (int, float)) or isinstance(percentile, bool) or not 0 < percentile < 100:
        raise UserError(f"scenario.latency_percentile={percentile} is not valid; valid: a number between 0 and 100, e.g. 99")
    _check_number(scenario, "max_wait_ms", 0.0, "scenario.")
    _check_int(scenario, "min_duration_ms", 0, "scenario.")
    _check_int(scenario, "min_query_count", 1, "scenario.")
    _check_bool(scenario, "find_peak", "scenario.")
    if scenario["find_peak"] and name != "server":
        raise UserError(f"scenario.find_peak=true needs scenario=server (not {name}); valid: false")


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
    shape = model.get("input_shape")
    if not (isinstance(shape, list) and shape and all(isinstance(d, int) and d > 0 for d in shape)):
        raise UserError(f"model.input_shape={shape} is not valid; valid: a list of positive integers, e.g. [3, 224, 224]")


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


def _check_bool(node: dict, key: str, prefix: str = "") -> None:
    if not isinstance(node.get(key), bool):
        raise UserError(f"{prefix}{key}={node.get(key)} is not valid; valid: true, false")

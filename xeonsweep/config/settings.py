"""A run's settings: the resolved config as a plain dict, its validation and its key.

Validation is pure apart from looking up allocator libraries on disk, and runs
in the parent for every job of a sweep before the first one starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from xeonsweep.config import components, instances, model_inputs as inputs
from xeonsweep.config.environments import interpreter_for, venv_dir
from xeonsweep.config.paths import nearest_existing
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine import memory_limit
from xeonsweep.machine.facts import CpuInfo, find_library

PRECISIONS = ("fp32", "bf16")
RUNTIMES = ("python", "run_cpu")
RUN_CPU_MODES = (None, "latency", "throughput")
SCENARIOS = ("offline", "single_stream", "server")

# Settings a backend (or, later, a model) may ignore, with the value that means "not asked".
IGNORABLE = {"channels_last": False, "thp": False}
# A sweep_id names a folder of the store: no separators, and not hidden (pyarrow skips . and _).
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Keys that do not change what is measured: left out of the fingerprint.
# `search`: how a config was chosen (issue 19), not what it is.
NOT_MEASURED = ("results", "sweep_id", "cache", "repeat", "lock", "cluster", "search")
NOT_MEASURED_BENCHMARK = ("timeout_s", "repeats", "method", "block_s", "block_warmup_s", "target_ci_pct",
                          "min_rounds", "budget_s", "live_memory_mb", "goal", "equivalence_pct")
GOALS = ("precision", "rank", "best")  # benchmark.goal: what a block sweep measures until (stats.goals)
METHODS = ("fresh", "blocks")
# Settings that change what is measured only when set: out of the fingerprint at their default,
# so rows from before they existed still count.
OUT_OF_HASH_AT_DEFAULT_BENCHMARK = {"memory_limit_mb": None}
NOT_MEASURED_SCENARIO = ("min_duration_ms", "min_query_count")


def to_settings(cfg: Any) -> dict:
    """The job's config without Hydra's own node, resolved, as plain containers."""
    from omegaconf import OmegaConf

    own = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(own, resolve=True)


def measured_settings(run: dict) -> dict:
    """The settings that determine the measurement: what config_hash hashes (and the report's
    labels tell apart), without bookkeeping (results, cache, repeat, sweep_id, lock, cluster)."""
    measured = {k: v for k, v in run.items() if k not in NOT_MEASURED}
    measured["benchmark"] = {
        k: v for k, v in run["benchmark"].items()
        if k not in NOT_MEASURED_BENCHMARK and not (k in OUT_OF_HASH_AT_DEFAULT_BENCHMARK
                                                    and v == OUT_OF_HASH_AT_DEFAULT_BENCHMARK[k])
    }
    scenario = measured.pop("scenario", None) or {"name": "offline"}
    if scenario["name"] != "offline":  # offline ignores the scenario's settings: today's fingerprints stay
        measured["scenario"] = {k: v for k, v in scenario.items() if k not in NOT_MEASURED_SCENARIO}
    return measured


def config_hash(run: dict) -> str:
    """Hash of everything that determines the measurement (same for every repeat)."""
    measured = measured_settings(run)
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
    """The kind of machine a row ran on (CpuInfo.label): part of its run_key."""
    return cpu.label


def run_key(run: dict, machine: str) -> str:
    """Identity of one measurement: config, repeat and the kind of machine it ran on."""
    blob = f"{config_hash(run)}|{run['repeat']}|{machine}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def validate(run: dict, cpu: CpuInfo) -> tuple[Any, Any]:
    """Raise UserError for a bad value, Incompatible for settings that cannot go together.

    Returns the run's backend and quantizer, built on the way (config.run.Run keeps them).
    """
    _check_int(run, "batch_size", 1)
    _check_int(run, "workers", 1)
    _check_int(run, "seed", 0)
    _check_bool(run, "channels_last")
    _check_bool(run, "thp")
    _check_bool(run["results"], "rerun", "results.")  # the command line's `yes` is the string 'yes': not true
    if not isinstance((run.get("lock") or {}).get("wait", True), bool):
        raise UserError(f"lock.wait={run['lock']['wait']} is not valid; valid: true, false")
    bench = run["benchmark"]
    _check_int(bench, "warmup", 0, "benchmark.")
    _check_int(bench, "iterations", 1, "benchmark.")
    _check_int(bench, "repeats", 1, "benchmark.")
    _check_number(bench, "min_duration_s", 0.0, "benchmark.")
    _check_number(bench, "timeout_s", 1.0, "benchmark.")
    _check_blocks(bench)
    _check_memory_limit(bench.get("memory_limit_mb"))
    _check_model(run["model"])
    _check_env(run.get("env"))
    _check_sweep_id(run.get("sweep_id"))
    check_cluster(run.get("cluster"))
    _check_folder_setting("results.dir", run["results"]["dir"], "a folder or a URI such as s3://bucket/results")
    _check_folder_setting("cache.dir", run["cache"]["dir"], "a folder")
    if "://" in str(run["cache"]["dir"]):
        raise UserError(f"cache.dir={run['cache']['dir']} must be a filesystem path (shared by the nodes of a "
                        "cluster); a URI such as s3:// is for results.dir only")
    _check_one_of("precision", run["precision"]["name"], PRECISIONS)
    _check_one_of("runtime", run["runtime"]["name"], RUNTIMES)
    allocator_library(run["allocator"])
    _check_workers(run, cpu)
    _check_scenario(run)
    return check_components(run)


def check_components(run: dict) -> tuple[Any, Any]:
    """The run's (backend, quantizer), built from their config; Incompatible when either cannot run it."""
    backend = components.build("backend", run["backend"])
    quantizer = components.build("quantization", run["quantization"])
    for component in (backend, quantizer):
        reason = component.incompatibility(run) if component else None
        if reason:
            raise Incompatible(reason)
    return backend, quantizer


def check_cluster(cluster: Any) -> None:
    """cluster.max_array_size: jobs per submitted array (0 or fewer would submit nothing at all)."""
    if cluster is not None and "max_array_size" in cluster:
        _check_int(cluster, "max_array_size", 1, "cluster.")


def _check_blocks(bench: dict) -> None:
    """The live-worker settings (absent keys keep their defaults: older configs still validate)."""
    _check_one_of("benchmark.method", bench.get("method", "fresh"), METHODS)
    _check_one_of("benchmark.goal", bench.get("goal", "precision"), GOALS)
    for key, minimum in (("block_s", 0.01), ("block_warmup_s", 0.0), ("target_ci_pct", 0.01), ("budget_s", 0.0),
                         ("equivalence_pct", 0.0)):
        if key in bench:
            _check_number(bench, key, minimum, "benchmark.")
    if "min_rounds" in bench:
        _check_int(bench, "min_rounds", 1, "benchmark.")
    memory = bench.get("live_memory_mb")
    if memory is not None and (not isinstance(memory, (int, float)) or isinstance(memory, bool) or memory <= 0):
        raise UserError(f"benchmark.live_memory_mb={memory} is not valid; valid: null or a number of MB > 0")
def not_applicable(run: dict, backend: Any = None) -> dict[str, str]:
    """Settings this run ignores -> why. Asks the backend (Backend.ignores; built here unless
    given) and the model.

    Such settings are refused for a single run; in a sweep they are set to their
    "not asked" value (normalize), so configs that differ only in them run once, and
    the row records them as not applicable (null) rather than a value that did nothing.
    """
    found: dict[str, str] = {}
    backend = backend if backend is not None else components.build("backend", run["backend"])
    for name, why in (getattr(backend, "ignores", None) or {}).items():
        found[name] = f"backend={run['backend']['name']} {why}"
    found.update(_model_not_applicable(run))
    return found


def _model_not_applicable(run: dict) -> dict[str, str]:
    """Settings the model ignores (channels_last on a model whose inputs are not all 4-D images)."""
    return inputs.not_applicable(run["model"])


def refuse_not_applicable(run: dict, ignored: dict[str, str] | None = None) -> None:
    """A single run asked for something its backend ignores: one line, before it starts."""
    for name, why in (not_applicable(run) if ignored is None else ignored).items():
        default = IGNORABLE.get(name)
        if run.get(name) != default:
            shown = json.dumps(run.get(name))
            raise UserError(f"{name}={shown} does not apply: {why}; leave {name}={json.dumps(default)}")


def normalize(run: dict, ignored: dict[str, str] | None = None) -> dict:
    """The run with the settings it ignores at their "not asked" value (same fingerprint as never set)."""
    ignored = not_applicable(run) if ignored is None else ignored
    return {**run, **{name: IGNORABLE.get(name) for name in ignored}}


def _check_env(env: Any) -> None:
    """`env` reaches the child's environment: a mapping of names to plain values."""
    if env is None:
        return
    if not isinstance(env, dict):
        raise UserError(f"env={env} is not valid; valid: a mapping of environment variable names to values, "
                        "set one at a time with +env.NAME=VALUE (e.g. +env.ONEDNN_VERBOSE=1)")
    for name, value in env.items():
        if isinstance(value, (dict, list)):
            raise UserError(f"env.{name}={value} is not valid; valid: a string or a number")


def _check_folder_setting(name: str, value: Any, valid: str) -> None:
    """An empty or null folder would put the store or the cache in whatever folder the command runs in."""
    if not isinstance(value, str) or not value.strip():
        shown = "null" if value is None else json.dumps(value) if isinstance(value, str) else value
        raise UserError(f"{name}={shown} is not valid; valid: {valid}, e.g. {name}=outputs/{name.split('.')[0]}")


def _check_sweep_id(sweep_id: Any) -> None:
    if sweep_id is not None and not SWEEP_ID.match(str(sweep_id)):
        raise UserError(f"sweep_id={sweep_id} is not valid; valid: letters, digits, '.', '_' and '-', starting with "
                        "a letter or digit (it names a folder of the store: no path separators)")


def check_storage(run: dict) -> None:
    """results.dir and cache.dir can be written, and the cache is not writable by other users.

    I/O, unlike validate(): run in the parent before the first run, once per distinct folder.
    """
    results_dir = str(run["results"]["dir"])
    if "://" not in results_dir:
        _check_writable("results.dir", Path(results_dir))
    cache_dir = Path(str(run["cache"]["dir"]))
    _check_writable("cache.dir", cache_dir)
    _check_cache_owner_only(cache_dir)


def _check_writable(name: str, path: Path) -> None:
    """The folder can be made and written in: tried for real, since permission bits do not tell
    (root, /proc, a read-only mount), and a run's measurement is lost if its row cannot be written."""
    existing = nearest_existing(path)
    if not existing.is_dir():
        raise UserError(f"{name}={path} cannot be created: {existing} is a file, not a folder; choose another {name}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{name}={path} is not writable: no write permission on {existing}; "
                        f"choose another {name} or fix its permissions")
    try:
        _write_in(path.absolute())
    except OSError as exc:
        raise UserError(f"{name}={path} cannot be written in: {exc.strerror} ({exc.filename}); "
                        f"choose another {name}") from None


def _write_in(folder: Path) -> None:
    """Make the folder and a file in it, then remove both: a later refusal leaves nothing written."""
    import tempfile

    made = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".xeonsweep-probe-", dir=folder)  # hidden: readers skip it
        os.close(handle)
        os.unlink(probe)
    finally:
        for made_here in made:
            try:
                made_here.rmdir()
            except OSError:  # never made, or someone else's files are in it by now
                pass


def _check_cache_owner_only(cache_dir: Path) -> None:
    """The cached PT2E graph is loaded with torch.export.load, which unpickles: a cache that another
    user can write is a way to run their code. Checks the folder and the folders xeonsweep makes in it:
    each must be ours (or root's), and writable by no other user (a sticky cache.dir, like /tmp, may
    be: others cannot replace what we made in it; pt2e is then checked to be ours)."""
    for folder, sticky_ok in ((cache_dir, True), (cache_dir / "pt2e", False)):
        try:
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid not in (os.geteuid(), 0):
            raise UserError(f"cache.dir={cache_dir}: {folder} belongs to {_user_name(info.st_uid)}, and cached "
                            f"graphs are unpickled from it; fix: choose a cache.dir of your own")
        if _others_can_write(info) and not (sticky_ok and info.st_mode & stat.S_ISVTX):
            raise UserError(f"cache.dir={cache_dir}: {folder} is writable by other users and cached graphs are "
                            f"unpickled from it; fix: chmod go-w {folder} (or choose a cache.dir only you can write)")


def _others_can_write(info: os.stat_result) -> bool:
    """World-writable, or group-writable by a group with members other than us (a user-private
    group, as under umask 002 on Debian, is ours alone)."""
    if info.st_mode & stat.S_IWOTH:
        return True
    return bool(info.st_mode & stat.S_IWGRP) and _group_has_others(info.st_gid)


def _group_has_others(gid: int) -> bool:
    import grp
    import pwd

    try:
        members = set(grp.getgrgid(gid).gr_mem) | {u.pw_name for u in pwd.getpwall() if u.pw_gid == gid}
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a group or user the system cannot name: assume the worst
        return True
    return bool(members - {me})


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def check_before_run(run: dict) -> None:
    """What validate() leaves out because it needs the disk or the run's interpreter."""
    check_storage(run)
    check_target(run)
    check_weights(run["model"])


def check_weights(model: dict) -> None:
    """model.weights names a state_dict file the child loads: a missing one would be a failed row."""
    weights = model.get("weights")
    if weights is None:
        return
    if not isinstance(weights, str) or not Path(weights).expanduser().is_file():
        raise UserError(f"model.weights={weights} is not a file; valid: null (random weights, drawn once per seed) "
                        "or the path of a state_dict saved with torch.save")


def check_target(run: dict) -> None:
    """The model factory's module exists in the run's own interpreter (without importing it here)."""
    from xeonsweep.config.targets import missing_module

    target = str((run["model"].get("factory") or {}).get("_target_"))
    interpreter = interpreter_for(run)
    missing = missing_module(target, str(interpreter))
    if missing:
        raise UserError(f"model.factory._target_={target}: no module named {missing} in {interpreter}; "
                        "install it there or fix the name")


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
    problem = instances.mode_problem(run, cpu)
    if problem:
        raise UserError(problem)
    per_instance = runtime.get("ncores_per_instance")
    if per_instance is not None:
        if not isinstance(per_instance, int) or isinstance(per_instance, bool) or per_instance < 1:
            raise UserError(f"runtime.ncores_per_instance={per_instance} is not valid; valid: null or 1..{cores}")
        if per_instance * workers > cores:
            raise UserError(
                f"runtime.ncores_per_instance={per_instance} x workers={workers} exceeds the {cores} cores "
                f"of this machine; valid: at most {cores // workers} per instance"
            )


def _check_memory_limit(limit_mb: Any) -> None:
    if limit_mb is None:
        return
    if not isinstance(limit_mb, int) or isinstance(limit_mb, bool) or limit_mb < 1:
        raise UserError(f"benchmark.memory_limit_mb={limit_mb} is not valid; valid: null or an integer >= 1 (MiB)")
    refusal = memory_limit.refusal(limit_mb)
    if refusal:
        raise UserError(refusal)


def _check_scenario(run: dict) -> None:
    name = scenario_name(run)
    _check_one_of("scenario", name, SCENARIOS)
    if name == "offline":
        find_peak = (run.get("scenario") or {}).get("find_peak")
        if find_peak not in (None, False):  # offline ignores the scenario's settings: say so, not run
            raise UserError(f"scenario.find_peak={json.dumps(find_peak)} needs scenario=server (not offline); "
                            "valid: false")
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
        raise UserError(f"scenario.latency_percentile={percentile} is not valid; "
                        "valid: a number between 0 and 100, e.g. 99")
    _check_number(scenario, "max_wait_ms", 0.0, "scenario.")
    _check_int(scenario, "min_duration_ms", 0, "scenario.")
    _check_int(scenario, "min_query_count", 1, "scenario.")
    _check_bool(scenario, "find_peak", "scenario.")
    if scenario["find_peak"] and name != "server":
        raise UserError(f"scenario.find_peak=true needs scenario=server (not {name}); valid: false")
    if name == "single_stream" and run["batch_size"] != 1:
        # LoadGen's SingleStream sends one sample at a time: a larger batch would be padded (static
        # backends) or recorded without being measured (dynamic ones).
        raise Incompatible(f"batch_size={run['batch_size']} is not valid with scenario=single_stream "
                           "(one sample per query); use batch_size=1")


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
    name = model.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"model.name={'null' if name is None else json.dumps(name)} is not valid; valid: a name "
                        "for the model's rows, set in its YAML file (e.g. name: mine)")
    factory = model.get("factory") or {}
    if "_target_" not in factory:
        raise UserError(f"model={model.get('name')} has no factory._target_; "
                        "it names the function that builds the model")
    inputs.check(model)


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

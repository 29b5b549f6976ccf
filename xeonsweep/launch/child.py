"""Start one run's child process and wait for it.

The parent builds the child's environment explicitly (LD_PRELOAD, MALLOC_CONF,
THP_MEM_ALLOC_ENABLE, OpenMP) because those only act at process start, and
blocks on the child: no polling. On timeout the child and every process below
it gets SIGTERM, then SIGKILL (`kill_tree`): run_cpu's instances live in
sessions of their own, so a process-group kill would miss them.

The child works in its own run folder and is handed absolute paths only: it
depends neither on where xeonsweep was started nor on a source checkout (a
non-editable install has none).
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from xeonsweep.config import instances as instance_plans
from xeonsweep.config.environments import venv_dir
from xeonsweep.config.run import Run

# KILL_GRACE_S: live workers (xeonsweep.blocks.live) read it here, with kill_tree.
from xeonsweep.launch.process import KILL_GRACE_S, die_with_parent, kill_tree, passed_through_env  # noqa: F401
from xeonsweep.machine import memory_limit
from xeonsweep.stats.measure import window_problem
from xeonsweep.store.outcome import Outcome

WORKER_SCRIPT = Path(__file__).resolve().parents[1] / "worker" / "entry" / "xeonsweep_worker.py"
STDERR_TAIL_LINES = 15


def child_environment(planned: Run) -> dict:
    """The variables this run sets, and so records (without the pass-through ones)."""
    run = planned.settings
    env: dict[str, str] = {"PYTHONUNBUFFERED": "1", "VIRTUAL_ENV": str(venv_dir(planned.interpreter))}
    if planned.allocator_library:
        env["LD_PRELOAD"] = planned.allocator_library
    if run["allocator"].get("malloc_conf"):
        env["MALLOC_CONF"] = run["allocator"]["malloc_conf"]
    if run["thp"]:
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    if run["runtime"].get("omp_num_threads"):
        env["OMP_NUM_THREADS"] = str(run["runtime"]["omp_num_threads"])
    env.update({str(k): str(v) for k, v in (run.get("env") or {}).items()})
    return env


def child_command(run: dict, interpreter: Path, spec: Path, out_dir: Path,
                  plan: instance_plans.InstancePlan) -> list[str]:
    worker = [str(WORKER_SCRIPT), str(spec), str(out_dir)]
    runtime = run["runtime"]
    if runtime["name"] == "python":
        return [str(interpreter), *worker]
    cmd = [str(interpreter), "-m", "torch.backends.xeon.run_cpu", "--use-default-allocator"]
    # The allocator is ours to choose (LD_PRELOAD above); run_cpu would otherwise add its own.
    if not runtime.get("intel_openmp"):
        cmd.append("--disable-iomp")
    # Explicit, also for runtime.mode: run_cpu's own mode rules differ between torch versions.
    cmd += ["--ninstances", str(plan.count)]
    if plan.cores_each:
        cmd += ["--ncores-per-instance", str(plan.cores_each)]
    if runtime.get("use_logical_core"):
        cmd.append("--use-logical-core")
    if not runtime.get("bind_cores", True):
        cmd += ["--disable-numactl", "--disable-taskset"]
    cmd += ["--log-path", str(out_dir / "instances")]
    return cmd + worker


@dataclass
class Child:
    """Everything needed to start one run's child, written to its run folder."""

    argv: list[str]
    env: dict
    env_set: dict  # what this run set (recorded), without the pass-through variables
    interpreter: Path
    out_dir: Path
    stderr_path: Path
    instances: int
    run_dir: Path  # absolute: the child's working folder
    cgroup: memory_limit.MemoryCgroup | None = None  # benchmark.memory_limit_mb: entered before exec


def prepare(run: Run, run_dir: Path, cache_dir: str, live: dict | None = None) -> Child | Outcome:
    """The child's environment, spec and command; an Outcome when it cannot start at all.

    `live` (a socket path and a token) makes the worker a live one: it sets up,
    reports ready on that socket and times blocks when asked.
    """
    interpreter = run.interpreter
    if not interpreter.exists():
        return Outcome("failed", f"interpreter {interpreter} not found; create it with `{run.setup_command}`")
    env_set = child_environment(run)
    env = passed_through_env() | env_set
    run_dir = Path(run_dir).absolute()  # the child's working folder is run_dir itself, not the sweep's
    out_dir = run_dir / "child"
    shutil.rmtree(out_dir, ignore_errors=True)  # a reused run folder must not feed old results back
    out_dir.mkdir(parents=True)
    spec = run_dir / "spec.json"
    instances = run.instances.count
    spec.write_text(json.dumps({"run": with_absolute_paths(run.settings), "instances": instances,
                                "cache_dir": str(Path(cache_dir).absolute()), "live": live}))
    argv = child_command(run.settings, interpreter, spec, out_dir, run.instances)
    (run_dir / "command.txt").write_text(" ".join(argv) + "\n")
    child = Child(argv, env, env_set, interpreter, out_dir, run_dir / "stderr.txt", instances, run_dir)
    limit_mb = run.memory_limit_mb
    if limit_mb:
        controller = memory_limit.writable_controller()
        if controller is None:
            return Outcome("failed", memory_limit.refusal(limit_mb), child_env=env_set, interpreter=str(interpreter))
        try:
            child.cgroup = memory_limit.MemoryCgroup.create(controller, limit_mb * 2**20)
        except OSError as exc:
            return Outcome("failed", f"benchmark.memory_limit_mb={limit_mb}: cannot make a cgroup in "
                           f"{controller.parent}: {exc}", child_env=env_set, interpreter=str(interpreter))
    return child


def with_absolute_paths(run: dict) -> dict:
    """The run as its child reads it: a relative model.weights is the user's, relative to where
    xeonsweep was started (the run itself, and so its fingerprint, keeps what the user wrote)."""
    weights = (run.get("model") or {}).get("weights")
    if not weights or "://" in str(weights):
        return run
    found = Path(weights).expanduser()  # as check_weights found it
    return run if str(found) == weights and found.is_absolute() else {
        **run, "model": {**run["model"], "weights": str(found.absolute())}}


def start(child: Child) -> subprocess.Popen:
    """Start the child in a session of its own; the kernel kills it if this thread's process dies.

    With a memory limit, the child enters its cgroup before exec, so it and all it starts are in it.
    """
    def before_exec() -> None:
        die_with_parent()
        if child.cgroup is not None:
            child.cgroup.enter()

    with open(child.stderr_path.with_name("stdout.txt"), "wb") as out, open(child.stderr_path, "wb") as err:
        return subprocess.Popen(
            child.argv, env=child.env, stdout=out, stderr=err, cwd=child.run_dir,
            start_new_session=True, preexec_fn=before_exec,
        )


def release(child: Child, outcome: Outcome, run: Run) -> Outcome:
    """After the child is gone: its cgroup removed, and an out-of-memory kill named from its counters."""
    outcome.child_env, outcome.interpreter = child.env_set, str(child.interpreter)
    outcome.planned_instances = child.instances
    if child.cgroup is None:
        return outcome
    kills = child.cgroup.oom_kills()
    child.cgroup.remove()
    if kills and outcome.status in ("failed", "timeout"):
        limit_mb = run.memory_limit_mb
        outcome.status = "failed"
        outcome.reason = (f"out of memory: over benchmark.memory_limit_mb={limit_mb}, the cgroup's OOM killer "
                          f"stopped {kills} process(es); {outcome.reason}")
    return outcome


def execute(run: Run, run_dir: Path, cache_dir: str, timeout_s: float) -> Outcome:
    """Run the child for `run`, wait, and read what its instances wrote."""
    child = prepare(run, run_dir, cache_dir)
    if isinstance(child, Outcome):
        return child
    outcome = Outcome("failed", "the child did not start")
    try:
        outcome = _start_and_wait(child, timeout_s)
    finally:
        release(child, outcome, run)
    return outcome


def _start_and_wait(child: Child, timeout_s: float) -> Outcome:
    cpu_before = time.process_time(), _children_cpu()
    proc = start(child)
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        tail = stderr_tail(child.stderr_path)
        return Outcome("timeout", f"exceeded timeout_s={timeout_s:g}; the child and its instances killed" + tail,
                       instances_started=started_count(child.out_dir))
    except BaseException:
        kill_tree(proc)  # Ctrl-C or a stopped sweep: no orphaned child keeps the cores busy
        raise
    outcome = read_outcome(child.out_dir, child.instances, returncode, child.stderr_path, {}, "")
    outcome.parent_cpu_s = time.process_time() - cpu_before[0]
    outcome.child_cpu_s = _children_cpu() - cpu_before[1]
    return outcome


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def started_count(out_dir: Path) -> int:
    """Worker processes that really started (each marks itself in OUT_DIR/started)."""
    started = out_dir / "started"
    return len(list(started.iterdir())) if started.is_dir() else 0


def read_outcome(out_dir: Path, expected: int, returncode: int, stderr_path: Path,
                 env_set: dict, interpreter: str) -> Outcome:
    outcome = _read_outcome(out_dir, expected, returncode, stderr_path, env_set, interpreter)
    outcome.instances_started = started_count(out_dir)
    return outcome


def instance_results(out_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob("instance-*.json"))]


def reported_failure(results: list[dict], stderr_path: Path, env_set: dict, interpreter: str) -> Outcome | None:
    """The instances' own account of why they failed or skipped, if any wrote one."""
    bad = [r for r in results if r["status"] != "ok"]
    if not bad:
        return None
    status = "skipped" if all(r["status"] == "skipped" for r in bad) else "failed"
    reasons = sorted({r["reason"] for r in bad})
    tail = stderr_tail(stderr_path) if status == "failed" else ""
    return Outcome(status, "; ".join(reasons) + tail, results, env_set, interpreter)


def _read_outcome(out_dir: Path, expected: int, returncode: int, stderr_path: Path,
                  env_set: dict, interpreter: str) -> Outcome:
    results = instance_results(out_dir)
    failure = reported_failure(results, stderr_path, env_set, interpreter)
    if failure:
        return failure
    if len(results) != expected or returncode != 0:
        why = exit_description(returncode, stderr_path.read_text(errors="replace"))
        if len(results) != expected:
            why += f"; {len(results)} of {expected} instances reported"
        return Outcome("failed", why + stderr_tail(stderr_path), results, env_set, interpreter)
    # A LoadGen run's instances each report LoadGen's own figures; a closed loop's must share a window.
    problem = None if any("serving" in r for r in results) else window_problem(results)
    if problem:
        return Outcome("failed", problem, results, env_set, interpreter)
    return Outcome("ok", None, results, env_set, interpreter)


def exit_description(returncode: int, stderr: str) -> str:
    """Name the signal that killed the child or an instance (run_cpu reports an instance's as exitcode: -N)."""
    codes = [returncode] + [int(c) for c in re.findall(r"exitcode\s*:\s*(-?\d+)", stderr)]
    for code in codes:
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory, or killed from outside)" if -code == signal.SIGKILL else ""
            return f"killed by {name}{hint}"
    return f"child exited with status {returncode}"


def stderr_tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return ("\n" + "\n".join(lines[-STDERR_TAIL_LINES:])) if lines else ""

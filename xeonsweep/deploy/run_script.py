"""A recipe's run.sh: the environment the measured child had, from what the row says it had.

Not the request: the allocator is the one the child had mapped (`applied_allocator`),
found on the target machine the way xeonsweep finds it (the first of its library
names in machine.facts.LIBRARY_DIRS); the variables are the ones xeonsweep set for
the child (`child_env`: MALLOC_CONF, THP_MEM_ALLOC_ENABLE, OMP_NUM_THREADS, the run's
`env` such as KMP_*), and the launcher's others are unset, as the child never had
them; the thread count is the child's (`torch_threads`); under run_cpu, the instance
count (`instances_started`) and the cores each instance was bound to (`cpu_affinity`).
"""

from __future__ import annotations

import json
import shlex

import pandas as pd

from xeonsweep.machine.facts import LIBRARY_DIRS

# Set by xeonsweep for its own sake (or found again below): not part of what is reproduced.
OWN = ("PYTHONUNBUFFERED", "VIRTUAL_ENV", "LD_PRELOAD")
# What xeonsweep's launcher and run_cpu may set: unset unless the child had it.
CONTROLLED = ("LD_PRELOAD", "MALLOC_CONF", "THP_MEM_ALLOC_ENABLE", "OMP_NUM_THREADS", "KMP_AFFINITY", "KMP_BLOCKTIME")
WHY = {
    "MALLOC_CONF": "the allocator's settings, as xeonsweep ran it",
    "THP_MEM_ALLOC_ENABLE": "torch's allocator asks for transparent huge pages",
    "OMP_NUM_THREADS": "threads per instance",
}

FIND_LIBRARY = """\
# As xeonsweep finds a library (machine/facts.py find_library): the first of the names
# found in these folders, its real path.
find_library() {{
    for name in "$@"; do
        for dir in {dirs}; do
            if [ -e "$dir/$name" ]; then
                realpath "$dir/$name"
                return 0
            fi
        done
    done
    return 1
}}
"""


def allocator_libraries(name: str, run: dict) -> tuple[list[str], str | None]:
    """The library names and Debian package of the allocator the child had mapped."""
    if run["allocator"]["name"] == name:
        return list(run["allocator"].get("libraries") or []), run["allocator"].get("package")
    from omegaconf import OmegaConf

    from xeonsweep.config.paths import CONF

    found = OmegaConf.to_container(OmegaConf.load(CONF / "allocator" / f"{name}.yaml"))
    return list(found.get("libraries") or []), found.get("package")


def preload_lines(row: pd.Series, run: dict) -> list[str]:
    """LD_PRELOAD: the allocator the child had mapped, found here; or none, as the child had none."""
    name = row["applied_allocator"]
    if name in (None, "system") or not isinstance(name, str):
        return ["# The child had the system allocator (glibc malloc): nothing preloaded.", "unset LD_PRELOAD"]
    names, package = allocator_libraries(name, run)
    quoted = " ".join(shlex.quote(n) for n in names)
    return [
        FIND_LIBRARY.format(dirs=" ".join(LIBRARY_DIRS)),
        f"# The child had {name} mapped ({row['ld_preload']} on {row['machine']}).",
        f"if ! LD_PRELOAD=\"$(find_library {quoted})\"; then",
        f"    echo \"run.sh: {name} is not installed here (none of {', '.join(names)}); "
        f"install the Debian package {package}\" >&2",
        "    exit 2",
        "fi",
        "export LD_PRELOAD",
    ]


def variables(row: pd.Series, run: dict) -> dict[str, str]:
    """The variables the child had besides LD_PRELOAD; under runtime=python also its thread count,
    which it had from torch's default (one per physical core of that machine)."""
    child_env = json.loads(row["child_env"]) if isinstance(row.get("child_env"), str) else {}
    found = {k: str(v) for k, v in sorted(child_env.items()) if k not in OWN}
    if (run["runtime"]["name"] == "python" and "OMP_NUM_THREADS" not in found
            and row["torch_threads"] == row["torch_threads"]):
        found["OMP_NUM_THREADS"] = str(int(row["torch_threads"]))
    return found


def variable_lines(row: pd.Series, run: dict) -> list[str]:
    found = variables(row, run)
    lines = ["# The variables the child had (the row's child_env and its thread count)."]
    for name, value in found.items():
        why = WHY.get(name, "the run's env")
        if name == "OMP_NUM_THREADS" and run["runtime"]["name"] == "python":
            why = f"the child's {value} threads (torch_threads)"
        lines.append(f"export {name}={shlex.quote(value)}  # {why}")
    unset = [name for name in CONTROLLED if name not in found and name != "LD_PRELOAD"]
    if unset:
        lines.append(f"unset {' '.join(unset)}  # the child had none of these")
    return lines


def instances(row: pd.Series) -> int:
    started = row.get("instances_started")
    return int(started) if started == started and started is not None else int(row["workers"])


def run_cpu_arguments(row: pd.Series, run: dict) -> list[str]:
    """run_cpu as xeonsweep called it (its allocator left alone: LD_PRELOAD above), with the instance
    count and the cores per instance the row's children had."""
    runtime = run["runtime"]
    bound = runtime.get("bind_cores", True)
    first = str(row["cpu_affinity"]).split(";")[0]
    cores_each = len(first.split(",")) if bound else int(row["torch_threads"])
    # --ncores-per-instance takes several values: an option must follow it, not the program.
    args = ["--ncores-per-instance", str(cores_each), "--ninstances", str(instances(row)), "--use-default-allocator"]
    if not runtime.get("intel_openmp"):
        args.append("--disable-iomp")
    if runtime.get("use_logical_core"):
        args.append("--use-logical-core")
    if not bound:
        args += ["--disable-numactl", "--disable-taskset"]
    return args


def launch_lines(row: pd.Series, run: dict) -> list[str]:
    if run["runtime"]["name"] != "run_cpu":
        return ["# One instance, not pinned (runtime=python), as the child ran.",
                '"$PYTHON" infer.py --results "$RESULTS" "$@"']
    n = instances(row)
    affinity = str(row["cpu_affinity"]).replace(";", " | ")
    return [
        f"# {n} instance(s) through run_cpu, as xeonsweep started them; the row's instances had CPUs {affinity}.",
        "# run_cpu starts infer.py with this Python (its torch provides run_cpu).",
        f'"$PYTHON" -m torch.backends.xeon.run_cpu {" ".join(run_cpu_arguments(row, run))} \\',
        f'    infer.py --results "$RESULTS" --instances {n} "$@"',
    ]


def run_script(row: pd.Series) -> str:
    run = json.loads(row["config_json"])
    head = [
        "#!/bin/sh",
        f"# Reproduces xeonsweep run {row['run_key']}: model={row['model']} backend={row['backend']}, measured on",
        f"# {row['machine']} ({row['hostname']}) at {row['started_at']}. Everything below comes from what the",
        "# measured child had. Usage: sh run.sh [--seconds S] [--warmup N] [--iterations N]; PYTHON=... picks the",
        "# interpreter (default python3). Prints one line: RESULT {\"sps\": ..., \"p50_ms\": ..., \"p99_ms\": ...}.",
        "set -eu",
        'cd "$(dirname "$0")"',
        'PYTHON="${PYTHON:-python3}"',
        # run_cpu looks for Intel OpenMP in $VIRTUAL_ENV/lib, as in the child (its environment's own prefix).
        'VIRTUAL_ENV="$("$PYTHON" -c "import sys; print(sys.prefix)")"',
        "export VIRTUAL_ENV",
        "",
    ]
    tail = [
        "",
        'RESULTS="$(mktemp -d)"',
        "trap 'rm -rf \"$RESULTS\"' EXIT",
        *launch_lines(row, run),
        '"$PYTHON" infer.py --combine "$RESULTS"',
    ]
    return "\n".join(head + preload_lines(row, run) + [""] + variable_lines(row, run) + tail) + "\n"

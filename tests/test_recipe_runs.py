"""Recipes from real runs of the small model on eager, ONNX Runtime and OpenVINO, each run.sh
run as a plain process from a folder outside the repository: the environment it applied, read
as the worker reads it (xeonsweep.worker.applied), is the row's."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST, ROOT, Sweep
from xeonsweep.worker.applied import ALLOCATORS, mapped_libraries, which

pytestmark = pytest.mark.slow

RUNS = {
    "eager": ["backend=eager", "allocator=tcmalloc", "thp=true"],
    "onnxruntime": ["backend=onnxruntime", "allocator=jemalloc"],
    # OpenVINO aborts under a preloaded tcmalloc or jemalloc (the doctor says so): the system allocator,
    # two run_cpu instances of one core each, and requests kept in flight.
    "openvino": ["backend=openvino", "runtime=run_cpu", "workers=2", "backend.options.performance_hint=throughput"],
}


@pytest.fixture(scope="module")
def rows(tmp_path_factory, cache_dir):
    """One real run per backend, into one store."""
    sweep = Sweep(tmp_path_factory.mktemp("runs"), cache_dir)
    for overrides in RUNS.values():
        done = sweep(*FAST, *overrides)
        assert done.returncode == 0, done.stdout + done.stderr
    frame = sweep.rows()
    assert set(frame["status"]) == {"ok"}, frame[["backend", "status", "reason"]]
    return sweep.store, frame.set_index("backend")


def recipe(store, row, out: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "xeonsweep", "recipe", str(store), "--run", row["run_key"],
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr


def run_recipe(out: Path, cwd: Path, applied: Path) -> subprocess.CompletedProcess:
    """`sh run.sh` as someone would run it from elsewhere, with this environment's python3 first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("LD_PRELOAD", "MALLOC_CONF", "THP_MEM_ALLOC_ENABLE", "OMP_NUM_THREADS"):
        env[name] = "set-by-the-caller"  # run.sh decides: what the child had, or nothing
    return subprocess.run(["sh", str(out / "run.sh"), "--seconds", "0.3", "--warmup", "1", "--iterations", "3",
                           "--applied", str(applied)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("backend", list(RUNS))
def test_run_sh_applies_what_the_rows_child_had(rows, tmp_path, backend):
    store, frame = rows
    row = frame.loc[backend]
    out, elsewhere = tmp_path / "recipe", tmp_path / "elsewhere"
    elsewhere.mkdir()
    recipe(store, row, out)
    infer = (out / "infer.py").read_text()
    assert not re.search(r"^\s*(import|from)\s+xeonsweep", infer, re.M)  # the backend's library alone

    done = run_recipe(out, elsewhere, tmp_path / "applied")
    assert done.returncode == 0, done.stdout + done.stderr
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(results) == 1, done.stdout
    figures = json.loads(results[0][len("RESULT "):])
    assert figures["sps"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0
    assert figures["instances"] == row["instances_started"] and figures["batch_size"] == row["batch_size"]

    applied = [json.loads(p.read_text()) for p in sorted((tmp_path / "applied").glob("applied-*.json"))]
    assert len(applied) == row["instances_started"]
    child_env = json.loads(row["child_env"])
    for had in applied:
        assert which(ALLOCATORS, mapped_libraries(had["maps"]), "system") == row["applied_allocator"]
        assert had["ld_preload"] == row["ld_preload"]
        for name in ("MALLOC_CONF", "THP_MEM_ALLOC_ENABLE"):
            assert had["env"].get(name) == child_env.get(name), name
        assert had["threads"] == row["torch_threads"]
        if child_env.get("THP_MEM_ALLOC_ENABLE") and row["thp_anon_huge_kb"] > 0:
            assert had["anon_huge_kb"] > 0  # torch's allocator got huge pages: here too
    assert sorted(had["cpu_affinity"] for had in applied) == sorted(row["cpu_affinity"].split(";"))

"""`xeonsweep recipe`: choosing the row, run.sh from what the child had, bad input in one line.

Rows here are written with the real store writer from a real composed config (no process
started: recipe.main is called here). test_recipe_runs.py makes recipes from real runs
and runs them.
"""

import functools
import json
from datetime import datetime, timezone

import pytest
from hydra import compose, initialize_config_dir

from xeonsweep.config import settings
from xeonsweep.config.paths import CONF
from xeonsweep.deploy import recipe, run_script
from xeonsweep.store.results import load, write_row

MACHINE = "Test CPU (2 cores)"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10"


@functools.cache
def composed_json(*overrides: str) -> str:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return json.dumps(settings.to_settings(compose(config_name="config", overrides=["model=tiny", *overrides])))


def composed(*overrides: str) -> dict:
    return json.loads(composed_json(*overrides))  # a fresh copy: composing takes a while, once per overrides


def row_for(tmp_path, key: str, sps: float, *overrides: str, **columns) -> dict:
    """An ok row as a sweep of `overrides` on a 2-core machine would write it, its artifact a file in tmp_path."""
    run = composed(*overrides)
    artifact = tmp_path / "cache" / "weights" / f"{key:0<16}"[:16] / "state_dict.pt"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(b"weights")
    runtime = run["runtime"]["name"]
    env = {"PYTHONUNBUFFERED": "1", "VIRTUAL_ENV": "/venv"}
    if run["allocator"]["name"] == "tcmalloc":
        env["LD_PRELOAD"] = TCMALLOC
    if run["thp"]:
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    return {
        "run_key": key, "config_hash": settings.config_hash(run), "sweep_id": "s1", "status": "ok",
        "started_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "finished_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "model": "tiny", "backend": run["backend"]["name"], "batch_size": run["batch_size"],
        "allocator": run["allocator"]["name"],
        "thp": run["thp"], "runtime": runtime, "workers": run["workers"], "scenario": "offline", "sps": sps,
        "config_json": json.dumps(run),
        "overrides": " ".join(["model=tiny", *overrides, "results.dir=/x", f"repeat={columns.get('repeat', 0)}",
                               "sweep_id=s1"]),
        "child_env": json.dumps(env), "applied_allocator": run["allocator"]["name"],
        "ld_preload": env.get("LD_PRELOAD", ""),
        "torch_threads": 2 if runtime == "python" else 1, "cpu_affinity": "0,1" if runtime == "python" else "0;1",
        "instances_started": run["workers"], "machine": MACHINE, "hostname": "h", "artifact_path": str(artifact),
        "versions": json.dumps({"torch": "2.14.1", "torchvision": "0.29.1", "numpy": "2.4.6"}), **columns,
    }


@pytest.fixture
def store(tmp_path):
    rows = [
        row_for(tmp_path, "eager1", 100.0, "allocator=tcmalloc", "thp=true"),
        row_for(tmp_path, "eager2", 104.0, "allocator=tcmalloc", "thp=true", repeat=1),
        row_for(tmp_path, "cpu", 150.0, "runtime=run_cpu", "workers=2", sps_ci_low=140.0, sps_ci_high=160.0, blocks=6,
                rounds=6, measurement="blocks"),
        row_for(tmp_path, "bad", 0.0, "batch_size=1", status="failed", reason="boom\nmore"),
    ]
    for row in rows:
        write_row(row, tmp_path / "results", row["sweep_id"])
    return tmp_path / "results"


def run_sh(store, key: str) -> str:
    frame = load(store)
    return run_script.run_script(frame[frame["run_key"] == key].iloc[0])


def test_run_sh_has_the_allocator_thp_and_threads_the_child_had(store):
    text = run_sh(store, "eager1")
    assert 'find_library libtcmalloc.so.4 libtcmalloc_minimal.so.4' in text  # the allocator's names, in order
    assert "for dir in /usr/lib/x86_64-linux-gnu " in text and "export LD_PRELOAD" in text
    assert "export THP_MEM_ALLOC_ENABLE=1" in text
    assert "export OMP_NUM_THREADS=2" in text  # torch's default thread count, made explicit
    assert "unset MALLOC_CONF KMP_AFFINITY KMP_BLOCKTIME" in text
    assert "run_cpu" not in text and '"$PYTHON" infer.py --results "$RESULTS" "$@"' in text


def test_run_sh_starts_run_cpu_with_the_rows_instances_and_cores(store):
    text = run_sh(store, "cpu")
    assert "unset LD_PRELOAD" in text and "export OMP_NUM_THREADS" not in text  # run_cpu sets it per instance
    assert ("-m torch.backends.xeon.run_cpu --ncores-per-instance 1 --ninstances 2 --use-default-allocator "
            "--disable-iomp \\\n    infer.py --results \"$RESULTS\" --instances 2") in text


def test_best_is_the_fastest_config_and_writes_the_folder(store, tmp_path, capsys):
    out = tmp_path / "recipe"
    assert recipe.main([str(store), "--best", "--where", "model=tiny", "--out", str(out)]) == 0
    assert "run cpu " in capsys.readouterr().out  # 150 SPS beats the eager config's median of 102
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "artifact", "infer.py", "requirements.txt", "run.sh"]
    assert (out / "artifact" / "state_dict.pt").read_bytes() == b"weights"
    requirements = (out / "requirements.txt").read_text()
    assert "torch==2.14.1" in requirements and "torchvision==0.29.1" in requirements and "numpy==2.4.6" in requirements
    assert ("**SPS: 150.0** samples/s, 95% interval 140.0 to 160.0 (median of 6 blocks"
            in (out / "README.md").read_text())
    infer = (out / "infer.py").read_text()
    compile(infer, "infer.py", "exec")
    assert "import xeonsweep" not in infer and "from xeonsweep" not in infer
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_run_key_picks_that_run(store, tmp_path, capsys):
    out = tmp_path / "recipe"
    assert recipe.main([str(store), "--run", "eager2", "--out", str(out)]) == 0
    assert "'run_key': 'eager2'" in (out / "infer.py").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--run", "nope"], "--run nope is not a run in {store}; valid: a run_key of its rows, e.g. "),
    (["--run", "bad"], "--run bad has no ok row in {store} (it was failed: boom)"),
    (["--best", "--where", "backend=openvino"],
     "--where backend=openvino matches no ok offline row in {store}; valid backend: eager"),
    (["--best", "--where", "nonsense=1"], "--where nonsense=1 is not valid"),
    (["--run", "eager1", "--out", "{tmp}/file/recipe"],
     "--out {tmp}/file/recipe cannot be created: {tmp}/file is a file"),
    (["--run", "eager1", "--out", "{tmp}"], "--out {tmp} already exists and is not an empty folder"),
])
def test_bad_input_is_one_line_and_writes_nothing(store, tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("a plain file")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "recipe")]
    assert recipe.main([str(store), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xeonsweep: " + message.format(store=store, tmp=tmp_path)), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_not_a_store(tmp_path, capsys):
    assert recipe.main([str(tmp_path), "--run", "x", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"xeonsweep: {tmp_path} is not a results store (no +schema.parquet and no row "
                                       "files in it); valid: a results.dir that xeonsweep wrote\n")


def test_an_artifact_gone_from_the_cache_gets_the_command_that_rebuilds_it(store, tmp_path, capsys):
    for path in (tmp_path / "cache").rglob("state_dict.pt"):
        path.unlink()
    assert recipe.main([str(store), "--run", "eager2", "--out", str(tmp_path / "recipe")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is no longer there; rebuild it with `python -m xeonsweep model=tiny " in err
    # The same run again (repeat kept, so the same run_key), into the same store, its artifact made again.
    assert (f"allocator=tcmalloc thp=true repeat=1 results.dir={store} cache.dir={tmp_path / 'cache'} "
            "results.rerun=true`" in err)
    assert "sweep_id" not in err and "results.dir=/x" not in err
    assert not (tmp_path / "recipe").exists()

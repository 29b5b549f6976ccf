"""Bad values a new user met (issue 17) are refused in one line before any run, exit 2, nothing
written: folders that are empty, null or cannot be written, `env` that is not a mapping, broken
YAML in the user's own config folder, a model YAML without a name, a missing weights file,
find_peak outside server, a preloaded allocator OpenVINO aborts under, a bad model.seq_len, and
a report --out that cannot be a folder. Processes are started from a temporary folder: what an
empty folder setting writes lands in the folder the command runs in."""

import subprocess
import sys

import pytest

from tests.conftest import FAST
from xeonsweep import cli
from xeonsweep.backends import openvino
from xeonsweep.config import settings, yaml_keys
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine import doctor
from xeonsweep.machine.facts import CpuInfo
from xeonsweep.report import tables

CPU = CpuInfo(model="test", logical_cpus=4, physical_cores=4, sockets=1, flags=frozenset({"avx2", "avx512f"}))
BROKEN_YAML = ("name: mine\nfactory:\n  _target_: torchvision.models.resnet18\n  num_classes: [3\n"
               "input_shape: [3, 32, 32]\n")


def run_of(*overrides, searchpath=None):
    from hydra import compose, initialize_config_dir

    args = list(overrides) + ([f"hydra.searchpath=[file://{searchpath}]"] if searchpath else [])
    with initialize_config_dir(config_dir=str(cli.CONF), version_base="1.3"):
        return settings.to_settings(compose(config_name="config", overrides=args, return_hydra_config=True))


@pytest.mark.parametrize("overrides, message", [
    (["results.dir="], 'results.dir="" is not valid; valid: a folder or a URI such as s3://bucket/results, '
                       "e.g. results.dir=outputs/results"),
    (["cache.dir="], 'cache.dir="" is not valid; valid: a folder, e.g. cache.dir=outputs/cache'),
    (["results.dir=null"], "results.dir=null is not valid; valid: a folder or a URI"),
    (["cache.dir=null"], "cache.dir=null is not valid; valid: a folder, e.g. cache.dir=outputs/cache"),
    (["env=5"], "env=5 is not valid; valid: a mapping of environment variable names to values, "
                "set one at a time with +env.NAME=VALUE (e.g. +env.ONEDNN_VERBOSE=1)"),
    (["scenario.find_peak=true"], "scenario.find_peak=true needs scenario=server (not offline); valid: false"),
    (["model=bert", "model.seq_len=-1"],
     "model.seq_len=-1 is not valid; valid: an integer >= 1 (it sizes model.inputs.input_ids.shape=['seq_len'])"),
])
def test_validation_names_the_value_and_the_valid_ones(overrides, message):
    with pytest.raises(UserError) as refused:
        settings.validate(run_of("model=tiny", *overrides), CPU)
    assert str(refused.value).startswith(message)


def test_a_model_yaml_without_a_name_is_refused(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "noname.yaml").write_text("factory:\n  _target_: torchvision.models.resnet18\n"
                                                     "input_shape: [3, 32, 32]\nweights: null\n")
    with pytest.raises(UserError) as refused:
        settings.validate(run_of("model=noname", searchpath=tmp_path), CPU)
    assert str(refused.value) == ("model.name=null is not valid; valid: a name for the model's rows, set in its "
                                  "YAML file (e.g. name: mine)")


@pytest.mark.parametrize("allocator", ["tcmalloc", "jemalloc"])
def test_openvino_under_an_allocator_it_aborts_under_is_incompatible(allocator):
    with pytest.raises(Incompatible) as refused:
        settings.validate(run_of("model=tiny", "backend=openvino", f"allocator={allocator}"), CPU)
    assert str(refused.value) == (f"allocator={allocator} cannot run with backend=openvino: "
                                  f"{openvino.FATAL_ALLOCATOR_WHY}; use allocator=system")
    settings.validate(run_of("model=tiny", "step=openvino"), CPU)  # the ladder's step: glibc malloc
    settings.validate(run_of("model=tiny", "backend=onnxruntime", f"allocator={allocator}"), CPU)
    assert any(note.startswith(openvino.FATAL_ALLOCATOR_WHY) for note in doctor.machine_notes(doctor.examine(CPU)))


def test_a_missing_weights_file_is_refused_before_the_run(tmp_path):
    with pytest.raises(UserError) as refused:
        settings.check_weights(run_of("model=tiny", "model.weights=/nonexistent.pt")["model"])
    assert str(refused.value) == ("model.weights=/nonexistent.pt is not a file; valid: null (random weights, drawn "
                                  "once per seed) or the path of a state_dict saved with torch.save")
    weights = tmp_path / "state_dict.pt"
    weights.write_bytes(b"")
    settings.check_weights(run_of("model=tiny", f"model.weights={weights}")["model"])


@pytest.mark.parametrize("name", ["results.dir", "cache.dir"])
def test_a_folder_the_kernel_will_not_make_is_refused(tmp_path, name):
    """Root passes every permission check: only making the folder and a file in it tells."""
    others = {"results.dir": f"results.dir={tmp_path}/results", "cache.dir": f"cache.dir={tmp_path}/cache"}
    others[name] = f"{name}=/proc/nope"
    with pytest.raises(UserError) as refused:
        settings.check_storage(run_of("model=tiny", *others.values()))
    assert str(refused.value) == (f"{name}=/proc/nope cannot be written in: No such file or directory (/proc/nope); "
                                  f"choose another {name}")


def test_the_folder_check_writes_nothing(tmp_path):
    deep = tmp_path / "a" / "b" / "results"
    settings.check_storage(run_of("model=tiny", f"results.dir={deep}", f"cache.dir={tmp_path}/cache"))
    assert list(tmp_path.iterdir()) == []  # made, written in, and removed again
    (tmp_path / "kept").mkdir()
    settings.check_storage(run_of("model=tiny", f"results.dir={tmp_path}/kept", f"cache.dir={tmp_path}/kept"))
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and list((tmp_path / "kept").iterdir()) == []


def test_broken_yaml_in_the_users_folder_names_file_and_line(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(BROKEN_YAML)
    with pytest.raises(UserError) as refused:
        yaml_keys.check_syntax([tmp_path])
    assert str(refused.value) == (f"{tmp_path}/model/mine.yaml: not valid YAML at line 5, column 12: expected ',' or "
                                  "']', but got ':' (while parsing a flow sequence from line 4); fix the file "
                                  "(valid: YAML like the files in xeonsweep/conf)")
    yaml_keys.check_syntax([cli.CONF])


def test_report_out_that_cannot_be_a_folder_prints_one_line_and_no_table(tmp_path, capsys):
    from tests.test_report import add

    store = tmp_path / "store"
    add(store, 1, "AMD EPYC (2 cores)", "baseline", 1, sps=20.0)
    plain = tmp_path / "plain-file"
    plain.write_text("not a folder")
    assert tables.main([str(store), "--out", f"{plain}/x"]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (f"xeonsweep: --out {plain}/x cannot be made a folder to write in: Not a directory "
                        f"({plain}/x); valid: a folder you can write in (made if missing)\n")


def start(tmp_path, *args):
    """`python -m xeonsweep ARGS` from tmp_path, with Hydra's job folders in tmp_path/jobs."""
    flags = [a for a in args if a.startswith("-")]  # -m before any override, FAST before the test's own
    overrides = [a for a in args if not a.startswith("-")]
    argv = [sys.executable, "-m", "xeonsweep", *flags, *FAST, *overrides, f"hydra.run.dir={tmp_path}/jobs/run",
            f"hydra.sweep.dir={tmp_path}/jobs/sweep"]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def refused_in_one_line(result, message):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stdout + result.stderr
    assert lines[0].startswith(f"xeonsweep: {message}"), lines[0]


@pytest.mark.slow
def test_empty_or_null_folders_write_nothing_where_the_command_runs(tmp_path, cache_dir):
    for args, message in (
        (["results.dir=", f"cache.dir={cache_dir}"], 'results.dir="" is not valid'),
        (["results.dir=results", "cache.dir="], 'cache.dir="" is not valid'),
        (["-m", "seed=0,1", "results.dir=null", f"cache.dir={cache_dir}"], "results.dir=null is not valid"),
    ):
        refused_in_one_line(start(tmp_path, *args), message)
        assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_broken_yaml_in_a_search_path_folder_is_one_line(tmp_path, cache_dir):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "mine.yaml").write_text(BROKEN_YAML)
    for sweep in ([], ["-m"]):  # a sweep's first composition is Hydra's own
        result = start(tmp_path, *sweep, "model=mine", f"hydra.searchpath=[file://{conf}]",
                       f"results.dir={tmp_path}/results", f"cache.dir={cache_dir}")
        refused_in_one_line(result, f"{conf}/model/mine.yaml: not valid YAML at line 5, column 12")
        assert [p.name for p in tmp_path.iterdir()] == ["conf"]


@pytest.mark.slow
def test_a_results_dir_the_kernel_refuses_stops_before_the_run(tmp_path, cache_dir):
    result = start(tmp_path, "results.dir=/proc/nope", f"cache.dir={cache_dir}")
    refused_in_one_line(result, "results.dir=/proc/nope cannot be written in: No such file or directory")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_missing_weights_file_stops_a_sweep_before_its_first_run(tmp_path, cache_dir):
    result = start(tmp_path, "-m", "seed=0,1", "model.weights=/nonexistent.pt", f"results.dir={tmp_path}/results",
                   f"cache.dir={cache_dir}")
    refused_in_one_line(result, "model.weights=/nonexistent.pt is not a file")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_openvino_with_tcmalloc_is_refused_alone_and_a_skipped_row_in_a_sweep(tmp_path, cache_dir):
    store = tmp_path / "results"
    result = start(tmp_path, "backend=openvino", "allocator=tcmalloc", f"results.dir={store}", f"cache.dir={cache_dir}")
    refused_in_one_line(result, "allocator=tcmalloc cannot run with backend=openvino: OpenVINO >= 2024.3 aborts")
    assert not store.exists()
    result = start(tmp_path, "-m", "backend=openvino", "allocator=tcmalloc,jemalloc", f"results.dir={store}",
                   f"cache.dir={cache_dir}")
    assert result.returncode == 0, result.stderr
    from xeonsweep.store.results import load

    rows = load(store).sort_values("allocator")
    assert list(rows["status"]) == ["skipped", "skipped"]
    assert [reason.split(":")[0] for reason in rows["reason"]] == [
        "allocator=jemalloc cannot run with backend=openvino", "allocator=tcmalloc cannot run with backend=openvino"]

"""Everything that can be known before a run is checked before the first one: config
files like the command line, the model's module, the folders, settings a backend
ignores; and a single run's exit status says whether it worked."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import FAST, ROOT, compose
from xeonsweep import cli
from xeonsweep.config import settings
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine.facts import CpuInfo

CPU = CpuInfo(model="test", logical_cpus=4, physical_cores=4, sockets=1, flags=frozenset({"avx2", "avx512f"}))
# config_hash of these configs on ef1ff36 (before this change): rows already in a store still count.
FINGERPRINTS_BEFORE = {(): "9121d7d0656c2a35", ("model=tiny",): "1ecf4d161678f3d4",
                       ("backend=openvino",): "cfbc9c0b3f74dd0b"}


def argv_with(sweep, *args):
    """The fixture's command line, with `args` replacing its own results.dir / cache.dir."""
    mine = {a.split("=")[0] for a in args if "=" in a}
    argv = sweep.argv(*args)
    return [a for a in argv if a in args or a.split("=")[0] not in mine]


def one_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("overrides", list(FINGERPRINTS_BEFORE))
def test_default_fingerprints_are_unchanged(overrides, compose_run):
    run = settings.normalize(compose_run(*overrides))
    assert settings.config_hash(run) == FINGERPRINTS_BEFORE[overrides]


@pytest.fixture
def conf(tmp_path):
    """A search-path folder with a user's own config files."""
    root = tmp_path / "conf"
    for group in ("experiment", "runtime", "model", "backend"):
        (root / group).mkdir(parents=True)
    return root


@pytest.mark.slow
def test_unknown_key_in_a_config_file_is_one_line_naming_file_key_and_valid_keys(sweep, conf):
    (conf / "experiment" / "typo.yaml").write_text("# @package _global_\nbenchmark:\n  iteratons: 5\n")
    (conf / "runtime" / "mine.yaml").write_text("name: run_cpu\nncores_per_instanse: 1\n")
    search = f"hydra.searchpath=[file://{conf}]"
    for args, file, message, right_key in (
        (["experiment=typo"], conf / "experiment" / "typo.yaml",
         "benchmark.iteratons is not a setting; valid: ", "iterations"),
        (["-m", "runtime=mine"], conf / "runtime" / "mine.yaml",
         "runtime.ncores_per_instanse is not a setting; valid: ", "ncores_per_instance"),
    ):
        result = sweep(*args, search, *FAST, timeout=120)
        assert result.returncode == 2, result.stderr
        assert one_line(result).startswith(f"xeonsweep: {file}: {message}")
        assert right_key in one_line(result).split("valid: ", 1)[1].split(", ")
        assert not sweep.store.exists() and not (sweep.tmp / "sweep").exists() and not (sweep.tmp / "run").exists()


def test_a_model_factorys_keyword_arguments_stay_open(conf):
    (conf / "model" / "wide.yaml").write_text(
        "name: wide\nfactory:\n  _target_: torchvision.models.resnet18\n  num_classes: 3\n  width_per_group: 32\n"
        "input_shape: [3, 32, 32]\nweights: null\n")
    from xeonsweep.config.yaml_keys import check_config

    check_config(compose("model=wide", searchpath=conf), [cli.CONF, conf])


@pytest.mark.slow
def test_a_target_whose_module_does_not_exist_is_caught_without_importing_torch():
    script = (
        "import sys\nfrom xeonsweep import cli\nfrom xeonsweep.errors import UserError\n"
        "try:\n    cli.check_single_run(['model=tiny', 'model.factory._target_=torchvision.modelz.resnet18'])\n"
        "except UserError as exc:\n    print(exc)\nprint('torch imported:', 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ("model.factory._target_=torchvision.modelz.resnet18: no module named torchvision.modelz"
            in out.stdout), out.stderr
    assert "torch imported: False" in out.stdout


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".venv-ipex" / "bin" / "python").exists(), reason=".venv-ipex not built")
def test_the_target_is_looked_up_in_the_runs_own_interpreter():
    only_in_ipex = ["model.factory._target_=intel_extension_for_pytorch.nn.utils.something"]
    cli.check_single_run(["model=tiny", "backend=ipex", "precision=bf16", *only_in_ipex])
    with pytest.raises(UserError, match=r"no module named intel_extension_for_pytorch in .*\.venv/bin/python"):
        cli.check_single_run(["model=tiny", *only_in_ipex])


@pytest.mark.slow
def test_unwritable_results_or_cache_dir_is_one_line_before_any_run(sweep, tmp_path):
    plain = tmp_path / "plain-file"
    plain.write_text("not a folder")
    for args, message in (
        ([f"results.dir={plain}/results"], f"results.dir={plain}/results cannot be created: {plain} is a file"),
        (["-m", f"results.dir={plain}/results"], f"results.dir={plain}/results cannot be created: {plain} is a file"),
        ([f"cache.dir={plain}/cache"], f"cache.dir={plain}/cache cannot be created: {plain} is a file"),
        (["-m", "seed=0,1", f"cache.dir={plain}/cache"], f"cache.dir={plain}/cache cannot be created"),
    ):
        result = subprocess.run(argv_with(sweep, *args, *FAST), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert one_line(result).startswith(f"xeonsweep: {message}")
        assert not (sweep.tmp / "sweep").exists() and not (sweep.tmp / "run").exists()


@pytest.mark.slow
def test_a_cache_other_users_can_write_is_refused(sweep, tmp_path):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    shared.chmod(0o777)
    result = subprocess.run(argv_with(sweep, "model=tiny", f"cache.dir={shared}"), cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert one_line(result) == (f"xeonsweep: cache.dir={shared}: {shared} is writable by other users "
                                f"and cached graphs are unpickled from it; fix: chmod go-w {shared} "
                                "(or choose a cache.dir only you can write)")
    shared.chmod(0o755)
    (shared / "pt2e").mkdir(mode=0o775)
    os.chmod(shared / "pt2e", 0o775)
    os.chown(shared / "pt2e", -1, NOBODY.pw_gid)  # group-writable by a group with another member
    with pytest.raises(UserError, match=r"pt2e is writable by other users"):
        check_cache(shared)


NOBODY = __import__("pwd").getpwnam("nobody")


def check_cache(folder):
    settings.check_storage(settings.to_settings(compose("model=tiny", f"cache.dir={folder}")))


def test_whose_cache_folders_are_refused(tmp_path):
    own_group = tmp_path / "own-group"  # group-writable, but the group (root's own) has no other member
    own_group.mkdir()
    own_group.chmod(0o775)
    check_cache(own_group)
    sticky = tmp_path / "sticky"  # like /tmp: others may add entries, not replace ours
    sticky.mkdir()
    sticky.chmod(0o1777)
    check_cache(sticky)
    (sticky / "pt2e").mkdir()
    os.chown(sticky / "pt2e", NOBODY.pw_uid, NOBODY.pw_gid)  # made there by another user
    with pytest.raises(UserError) as refused:
        check_cache(sticky)
    assert str(refused.value) == (f"cache.dir={sticky}: {sticky}/pt2e belongs to user nobody, and cached graphs "
                                  "are unpickled from it; fix: choose a cache.dir of your own")
    os.chown(sticky / "pt2e", 0, 0)
    (sticky / "pt2e").chmod(0o1777)  # where graphs are loaded from, sticky is not enough
    with pytest.raises(UserError, match=r"pt2e is writable by other users"):
        check_cache(sticky)


MAKE_AND_CHECK = """
import sys
from xeonsweep.models import cache
from xeonsweep.config import settings
cache_dir = sys.argv[1]
for kind in ("weights", "pt2e"):
    with cache.atomic_dir(cache.path(cache_dir, kind, "k", "model").parent) as tmp:
        (tmp / "model").write_text("x")
    settings._check_cache_owner_only(__import__("pathlib").Path(cache_dir))
"""


@pytest.mark.slow
def test_folders_xeonsweep_makes_under_umask_002_are_not_refused(tmp_path):
    cache_dir = tmp_path / "outputs" / "cache"
    for _ in range(2):  # two runs: the second checks what the first made
        made = subprocess.run([sys.executable, "-c", MAKE_AND_CHECK, str(cache_dir)], cwd=ROOT, umask=0o002,
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
    for folder in (tmp_path / "outputs", cache_dir, cache_dir / "weights", cache_dir / "pt2e"):
        assert oct(folder.stat().st_mode & 0o7777) == oct(0o755), folder
    assert oct((cache_dir / "pt2e" / "k").stat().st_mode & 0o7777) == oct(0o700)


@pytest.mark.parametrize("args, message", [
    (["backend=onnxruntime", "thp=true"],
     "thp=true does not apply: backend=onnxruntime allocates with its own allocator"),
    (["backend=onnxruntime", "channels_last=true"],
     "channels_last=true does not apply: backend=onnxruntime runs the ONNX graph"),
    (["backend=openvino", "thp=true"], "thp=true does not apply: backend=openvino allocates with its own allocator"),
    (["sweep_id=../elsewhere"], "sweep_id=../elsewhere is not valid; valid: letters, digits"),
])
@pytest.mark.slow
def test_refused_before_a_single_run(sweep, args, message):
    result = sweep(*args, *FAST, timeout=120)
    assert result.returncode == 2
    assert one_line(result).startswith(f"xeonsweep: {message}")
    assert not sweep.store.exists()


@pytest.mark.parametrize("step", ["onnxruntime", "openvino", "openvino_nncf"])
def test_ladder_steps_ask_nothing_their_backend_ignores(step, compose_run):
    settings.refuse_not_applicable(compose_run(f"step={step}"))


def test_not_applicable_asks_the_backend(compose_run):
    run = compose_run("backend=onnxruntime", "thp=true")
    assert set(settings.not_applicable(run)) == {"channels_last", "thp"}
    assert settings.normalize(run)["thp"] is False
    assert settings.not_applicable(compose_run()) == {}


@pytest.mark.slow
def test_a_sweep_runs_configs_that_differ_only_in_ignored_settings_once(sweep):
    result = sweep("-m", "backend=onnxruntime", "thp=false,true", "channels_last=false,true", *FAST)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())  # rich wraps lines to the terminal
    assert "3 config(s) ran once with an equal one: they differ only in settings that do not apply to them" in said
    frame = sweep.rows()
    assert len(frame) == 1 and frame.iloc[0]["status"] == "ok", frame["reason"].tolist()
    row = frame.iloc[0]
    assert row["thp"] is None and row["channels_last"] is None
    ignored = json.loads(row["not_applicable"])
    assert ignored["thp"].startswith("backend=onnxruntime allocates with its own allocator")
    assert ignored["channels_last"].startswith("backend=onnxruntime")
    assert "THP_MEM_ALLOC_ENABLE" not in json.loads(row["child_env"])


def test_quantizers_follow_the_backend_implementation_not_its_file_name(conf, compose_run):
    (conf / "backend" / "openvino_throughput.yaml").write_text(
        "name: openvino_throughput\nimpl: xeonsweep.backends.openvino.OpenVino\nvenv: null\n"
        "options:\n  performance_hint: throughput\n")
    (conf / "backend" / "compile_max.yaml").write_text(
        "name: compile_max\nimpl: xeonsweep.backends.compile.Compile\nvenv: null\noptions:\n  mode: max-autotune\n")
    settings.validate(compose_run("backend=openvino_throughput", "quantization=nncf", searchpath=conf), CPU)
    settings.validate(compose_run("backend=compile_max", "quantization=pt2e", searchpath=conf), CPU)
    with pytest.raises(Incompatible, match="quantization=nncf works with backend impl OpenVino"):
        settings.validate(compose_run("backend=compile_max", "quantization=nncf", searchpath=conf), CPU)


@pytest.mark.slow
def test_a_single_run_that_fails_exits_non_zero_and_ld_library_path_reaches_the_child(sweep):
    env = {**os.environ, "LD_LIBRARY_PATH": "/opt/module-env/lib"}
    result = subprocess.run(sweep.argv("model=show_env", *FAST[1:], faults=True), cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("xeonsweep: failed: ")
    row = sweep.rows().iloc[0]
    assert row["status"] == "failed" and "LD_LIBRARY_PATH=/opt/module-env/lib" in row["reason"]


@pytest.mark.slow
def test_two_invocations_in_the_same_second_get_their_own_job_folders():
    """Started together, two invocations resolve hydra.run.dir with a part of their own after the
    time (which is to the second, so it alone would be shared)."""
    argv = [sys.executable, "-m", "xeonsweep", "model=tiny", "--cfg", "hydra", "--resolve"]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    dirs = [next(line.split("dir: ")[1] for line in out.splitlines() if line.strip().startswith("dir: outputs/runs/"))
            for out in outs]
    stamp = len("outputs/runs/2026-01-01_00-00-00")
    own = [d[stamp:] for d in dirs]
    assert own[0] and own[1] and own[0] != own[1], dirs

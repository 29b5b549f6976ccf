"""Validation of one run's settings: pure, one line naming the value and the valid ones."""

import copy

import pytest

from xeonsweep.config import settings
from xeonsweep.errors import Incompatible, UserError
from xeonsweep.machine.facts import CpuInfo

CPU = CpuInfo(model="test", logical_cpus=4, physical_cores=4, sockets=1, flags=frozenset({"avx2"}))


@pytest.fixture
def run(compose_run):
    return compose_run("model=tiny")


def changed(run, path, value):
    new = copy.deepcopy(run)
    node = new
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return new


def test_defaults_are_valid(run):
    settings.validate(run, CPU)


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("batch_size", 0, "batch_size=0 is not valid; valid: an integer >= 1"),
        ("batch_size", "big", "batch_size=big is not valid"),
        ("workers", 9, "workers=9 exceeds the 4 cores of this machine; valid: 1..4"),
        ("channels_last", "maybe", "channels_last=maybe is not valid; valid: true, false"),
        ("benchmark.iterations", 0, "benchmark.iterations=0 is not valid"),
        ("precision.name", "fp8", "precision=fp8 is not valid; valid: fp32, bf16"),
        ("backend.options", {"turbo": True}, "backend.options.turbo is not an option of backend=eager"),
        ("cache.dir", "s3://bucket/cache", "cache.dir=s3://bucket/cache must be a filesystem path"),
    ],
)
def test_bad_values(run, path, value, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings.validate(changed(run, path, value), CPU)


def test_missing_allocator_library_names_the_package(run):
    bad = changed(run, "allocator", {"name": "tcmalloc", "libraries": ["libnothere.so.9"],
                                     "package": "libtcmalloc-minimal4"})
    with pytest.raises(UserError, match="allocator=tcmalloc: none of libnothere.so.9 is installed; "
                                        "install the Debian package libtcmalloc-minimal4"):
        settings.validate(bad, CPU)


def test_compile_mode_is_checked(run):
    bad = changed(run, "backend", {"name": "compile", "impl": "xeonsweep.backends.compile.Compile",
                                   "options": {"mode": "fastest"}})
    with pytest.raises(UserError, match="backend.options.mode=fastest is not valid; valid: default, reduce-overhead"):
        settings.validate(bad, CPU)


def test_several_workers_need_run_cpu(run):
    with pytest.raises(Incompatible, match="workers=2 needs runtime=run_cpu"):
        settings.validate(changed(run, "workers", 2), CPU)


def test_single_stream_needs_batch_size_1(run):
    single_stream = changed(run, "scenario", {**run["scenario"], "name": "single_stream"})
    with pytest.raises(Incompatible, match=r"batch_size=8 is not valid with scenario=single_stream .*use batch_size=1"):
        settings.validate(single_stream, CPU)
    settings.validate(changed(single_stream, "batch_size", 1), CPU)
    settings.validate(changed(run, "batch_size", 8), CPU)  # offline batches as asked


def test_cores_per_instance_times_workers_must_fit(run):
    bad = changed(changed(run, "runtime", {"name": "run_cpu", "ncores_per_instance": 3}), "workers", 2)
    with pytest.raises(UserError, match=r"ncores_per_instance=3 x workers=2 exceeds the 4 cores"):
        settings.validate(bad, CPU)


def test_intel_openmp_must_be_installed_in_the_runs_environment(run, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib").mkdir()
    (venv / "bin" / "python").touch()
    asked = changed(changed(run, "runtime", {"name": "run_cpu", "intel_openmp": True}), "backend.venv", str(venv))
    with pytest.raises(UserError,
                       match=r"runtime.intel_openmp=true: .*libiomp5.so is missing; pip install intel-openmp"):
        settings.validate(asked, CPU)
    (venv / "lib" / "libiomp5.so").touch()
    settings.validate(asked, CPU)


def test_fingerprint_ignores_bookkeeping_but_not_settings(run):
    same = changed(changed(run, "results.dir", "/elsewhere"), "sweep_id", "x")
    assert settings.config_hash(same) == settings.config_hash(run)
    assert settings.config_hash(changed(run, "batch_size", 2)) != settings.config_hash(run)
    assert settings.run_key(run, "m") != settings.run_key(changed(run, "repeat", 1), "m")
    assert settings.run_key(run, "m") != settings.run_key(run, "other machine")


def test_default_fingerprint_is_unchanged_by_issue_8(run):
    """Rows already in a store still count: hash computed on ef1ff36 (before the host lock setting)."""
    assert settings.config_hash(run) == "1ecf4d161678f3d4"
    assert settings.config_hash(changed(run, "lock.wait", False)) == "1ecf4d161678f3d4"


def test_lock_wait_must_be_a_bool(run):
    with pytest.raises(UserError, match="lock.wait=maybe is not valid; valid: true, false"):
        settings.validate(changed(run, "lock.wait", "maybe"), CPU)


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("benchmark.method", "interleaved", "benchmark.method=interleaved is not valid; valid: fresh, blocks"),
        ("benchmark.block_s", 0, "benchmark.block_s=0 is not valid; valid: a number >= 0.01"),
        ("benchmark.block_warmup_s", -1, "benchmark.block_warmup_s=-1 is not valid; valid: a number >= 0"),
        ("benchmark.target_ci_pct", "tight", "benchmark.target_ci_pct=tight is not valid; valid: a number >= 0.01"),
        ("benchmark.min_rounds", 0, "benchmark.min_rounds=0 is not valid; valid: an integer >= 1"),
        ("benchmark.budget_s", -5, "benchmark.budget_s=-5 is not valid; valid: a number >= 0"),
        ("benchmark.live_memory_mb", 0, "benchmark.live_memory_mb=0 is not valid; valid: null or a number of MB > 0"),
    ],
)
def test_bad_block_settings(run, path, value, message):
    with pytest.raises(UserError, match=message):
        settings.validate(changed(run, path, value), CPU)


def test_how_finely_blocks_measure_stays_out_of_the_fingerprint(run):
    blocks = run
    for path, value in (("benchmark.method", "blocks"), ("benchmark.block_s", 3.0), ("benchmark.target_ci_pct", 1.0),
                        ("benchmark.min_rounds", 9), ("benchmark.budget_s", 60), ("benchmark.live_memory_mb", 500),
                        ("benchmark.block_warmup_s", 1.0)):
        blocks = changed(blocks, path, value)
    settings.validate(blocks, CPU)
    assert settings.config_hash(blocks) == settings.config_hash(run) == "1ecf4d161678f3d4"  # as on ef1ff36


def test_the_ladder_measures_in_blocks_with_its_old_fingerprints(compose_run):
    from xeonsweep.config.run import Run
    from xeonsweep.sweep.planning import in_blocks

    ladder = compose_run("experiment=ladder", "step=baseline")
    plain = compose_run()
    served = compose_run("experiment=ladder", "step=baseline", "scenario=server")
    assert settings.config_hash(ladder) == "1dae896778808dbe"  # as on ef1ff36

    def blocks(run, in_process=True):
        return in_blocks(Run.from_settings(run, CPU), in_process)

    assert blocks(ladder)
    assert not blocks(plain)  # the default stays one fresh process per run
    assert not blocks(ladder, in_process=False)  # a Submitit or cluster job is one run
    assert not blocks(changed(ladder, "benchmark.repeats", 2))  # fresh repeats, as asked
    assert not blocks(served)


@pytest.mark.parametrize("overrides, fingerprint", [
    ([], "9121d7d0656c2a35"),
    (["model=tiny"], "1ecf4d161678f3d4"),
    (["runtime=run_cpu"], "98bef121ad6e6358"),
    (["cluster=slurm"], "9121d7d0656c2a35"),
])
def test_default_fingerprints_are_those_of_ef1ff36(overrides, fingerprint, compose_run):
    """Issue 9 (runs) settings (benchmark.memory_limit_mb, cluster.*) leave today's rows valid."""
    run = compose_run(*overrides)
    assert settings.config_hash(run) == fingerprint

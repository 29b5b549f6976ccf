"""The command line as a new user writes it, from a folder of their own: Hydra's flags anywhere,
their own config folder, a mistyped subcommand, a misspelled key: one line and exit 2 for what
is wrong, and what Hydra accepts is accepted."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST
from xeonsweep import cli
from xeonsweep.errors import UserError

MINE = "# @package _global_\nbenchmark:\n  iterations: 4\n"
TYPO = "# @package _global_\nbenchmark:\n  iteratons: 4\n"
CONFIG_DIR_FORMS = [["--config-dir", "conf"], ["-cd", "conf"], ["--config-dir=conf"]]


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xeonsweep: ")
    return lines[0]


def nothing_written(sweep) -> bool:
    return not sweep.store.exists() and not (sweep.tmp / "sweep").exists() and not (sweep.tmp / "run").exists()


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user's own folder (not the repository) holding conf/experiment/{mine,typo}.yaml."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(MINE)
    (tmp_path / "conf" / "experiment" / "typo.yaml").write_text(TYPO)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# 2: --config-dir is a config folder for xeonsweep's own checks too, as for Hydra.
@pytest.mark.parametrize("form", CONFIG_DIR_FORMS, ids=" ".join)
def test_config_dir_is_searched_like_hydra_does(user, form):
    assert cli.config_dirs([*form, "model=tiny"]) == [cli.CONF, user / "conf"]
    cli.check_overrides([*form, "experiment=mine"])
    cli.check_single_run([*form, "experiment=mine", "model=tiny", f"results.dir={user}/results"])


def test_a_typo_in_a_config_dir_file_names_the_file(user):
    with pytest.raises(UserError, match=f"^{user}/conf/experiment/typo.yaml: benchmark.iteratons is not a setting"):
        cli.check_single_run(["-cd", "conf", "experiment=typo", "model=tiny"])


def test_config_dir_comes_before_hydra_searchpath(user):
    (user / "more").mkdir()
    args = ["model=tiny", f"hydra.searchpath=[file://{user}/more]", "--config-dir", "conf"]
    assert cli.config_dirs(args) == [cli.CONF, user / "conf", user / "more"]


def test_the_file_hydra_uses_is_the_one_checked(user):
    """conf/ comes first in Hydra's search path: a user's model/tiny.yaml is not the one composed."""
    (user / "conf" / "model").mkdir()
    (user / "conf" / "model" / "tiny.yaml").write_text("name: tiny\nnot_a_key: 1\n")
    cli.check_single_run(["model=tiny", f"hydra.searchpath=[file://{user}/conf]", f"results.dir={user}/results"])


def test_a_missing_config_dir_is_one_line(user):
    with pytest.raises(UserError, match="--config-dir .*nowhere is not a folder"):
        cli.check_command_line(["--config-dir", "nowhere", "model=tiny"])


@pytest.mark.slow
@pytest.mark.parametrize("form", CONFIG_DIR_FORMS, ids=" ".join)
def test_config_dir_from_the_users_folder(sweep, user, form):
    result = sweep(*form, "experiment=mine", "model=tiny", "--cfg", "job", cwd=user, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "iterations: 4" in result.stdout


@pytest.mark.slow
def test_a_sweep_checks_the_config_dirs_files(sweep, user):
    result = sweep("-m", "-cd", "conf", "experiment=typo", "batch_size=1,2", *FAST[:1], cwd=user, timeout=120)
    assert result.returncode == 2, result.stderr
    assert one_line(result).startswith(f"xeonsweep: {user}/conf/experiment/typo.yaml: benchmark.iteratons is not")
    assert nothing_written(sweep)


# 10: -m after an override is a sweep, as if written first.
def test_flags_go_first_for_hydra():
    assert cli.hydra_order(["model=tiny", "-m", "batch_size=1,2"]) == ["-m", "model=tiny", "batch_size=1,2"]
    assert cli.hydra_order(["a=1", "-cd", "conf", "b=2"]) == ["-cd", "conf", "a=1", "b=2"]


@pytest.mark.slow
def test_multirun_written_after_an_override_is_a_sweep(sweep, tmp_path):
    """batch_size=0 is refused by the sweeper's planning: the command reached the sweep, and nothing ran."""
    result = sweep("model=tiny", "-m", "batch_size=1,0", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "batch_size=0 is not valid; valid: an integer >= 1" in one_line(result)
    assert nothing_written(sweep)


# 17: a bare word is a mistyped subcommand.
@pytest.mark.parametrize("args", [["reprot", "outputs/results"], ["model=tiny", "doctr"],
                                  ["-m", "-cd", "conf", "stor"]])
def test_a_mistyped_subcommand_names_the_subcommands(user, args):
    word = next(a for a in args if "=" not in a and not a.startswith("-") and a != "conf")
    with pytest.raises(UserError, match=f"^{word} is not a subcommand; valid: {', '.join(cli.SUBCOMMANDS)} "):
        cli.check_command_line(args)


def test_the_subcommands_named_are_the_ones_dispatched(user):
    with pytest.raises(UserError) as refused:
        cli.check_command_line(["reprot"])
    assert str(refused.value).split("valid: ")[1].split(" (")[0] == ", ".join(cli.SUBCOMMANDS)


@pytest.mark.slow
def test_a_mistyped_subcommand_is_one_line(sweep, tmp_path):
    result = sweep("reprot", "outputs/results", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert one_line(result).startswith("xeonsweep: reprot is not a subcommand; valid: report, doctor, store")
    assert nothing_written(sweep)


# 5, 16: a misspelled or unknown key, added with + or not, in a run or a sweep, is one line naming the valid keys.
BENCHMARK_KEYS = ("block_s, block_warmup_s, budget_s, equivalence_pct, goal, iterations, live_memory_mb, "
                  "memory_limit_mb, method, ")


@pytest.mark.parametrize("override", ["benchmark.iteratons=3", "+benchmark.iteratons=3", "++benchmark.iteratons=3"])
def test_a_misspelled_key_names_the_valid_ones(override):
    with pytest.raises(UserError, match=f"^benchmark.iteratons is not a setting; valid: {BENCHMARK_KEYS}"):
        cli.check_overrides(["model=tiny", override])


@pytest.mark.parametrize("override", ["+foo=1", "++foo=1"])
def test_an_added_unknown_setting_is_refused(override):
    with pytest.raises(UserError, match="^foo is not a setting; valid: allocator, backend, batch_size, "):
        cli.check_overrides([override])


@pytest.mark.parametrize("override", ["+model.factory.pretrained=false", "++env.OMP_DISPLAY_ENV=true",
                                      "+backend.options.anything=1", "+quantization.options.x=1",
                                      "+hydra.job.env_set.X=1", "model.inputs.input_ids.dtype=int64"])
def test_sections_open_on_purpose_stay_open(override):
    cli.check_overrides(["model=tiny", override])


def test_a_key_the_chosen_option_lacks_names_the_option_and_its_keys(tmp_path):
    with pytest.raises(UserError, match=r"^model.seq_len is not a setting of model=tiny; "
                                        r"valid: factory, input_shape, name, weights$"):
        cli.check_command_line(["model=tiny", "model.seq_len=64", f"results.dir={tmp_path}/results"])


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "1"])
def test_a_boolean_setting_takes_true_or_false(tmp_path, value):
    with pytest.raises(UserError, match=f"^results.rerun={value} is not valid; valid: true, false$"):
        cli.check_single_run(["model=tiny", f"results.rerun={value}", f"results.dir={tmp_path}/results"])


@pytest.mark.slow
@pytest.mark.parametrize("args", [["+benchmark.iteratons=3"], ["-m", "batch_size=1,2", "benchmark.iteratons=3"],
                                  ["batch_size=1,2", "-m", "+benchmark.iteratons=3"]], ids=" ".join)
def test_a_misspelled_key_is_one_line_in_a_run_and_a_sweep(sweep, tmp_path, args):
    result = sweep(*FAST, *args, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert one_line(result).startswith(f"xeonsweep: benchmark.iteratons is not a setting; valid: {BENCHMARK_KEYS}")
    assert nothing_written(sweep)


@pytest.mark.slow
def test_rerun_yes_is_one_line_in_a_sweep(sweep, tmp_path):
    result = sweep("-m", *FAST, "batch_size=1,2", "results.rerun=yes", cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert one_line(result) == "xeonsweep: results.rerun=yes is not valid; valid: true, false"
    assert nothing_written(sweep)


@pytest.mark.slow
def test_a_swept_key_the_option_lacks_is_one_line(sweep, tmp_path):
    """Each job is composed by the sweeper: its composition error is the single run's line."""
    result = sweep("-m", *FAST, "model.seq_len=32,64", cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr
    assert one_line(result) == ("xeonsweep: model.seq_len is not a setting of model=tiny; "
                                "valid: factory, input_shape, name, weights")
    assert nothing_written(sweep)


# 9: Ctrl-C on a sweep is one line and exit 130; the finished run stays, no child is left.
def processes_naming(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


@pytest.mark.slow
def test_ctrl_c_on_a_sweep_is_one_line(sweep, tmp_path):
    env = {**os.environ, "XEONSWEEP_HOST_LOCK": str(tmp_path / "host.lock")}
    argv = sweep.argv("-m", *FAST[:3], "benchmark.min_duration_s=5", "batch_size=1,2")
    # Ctrl-C's default action, whatever this test inherited: a shell that starts the suite in the background
    # (`make test &`) ignores SIGINT, its children inherit that, and Python then installs no handler.
    sweeping = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 600
        while not list(sweep.store.glob("*/*.parquet")) and time.monotonic() < deadline and sweeping.poll() is None:
            time.sleep(0.5)
        time.sleep(2)  # the second run is under way
        sweeping.send_signal(signal.SIGINT)
        out, err = sweeping.communicate(timeout=120)
    finally:
        if sweeping.poll() is None:
            sweeping.kill()
    assert sweeping.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == ("xeonsweep: interrupted; 1 run(s) written, "
                                            "run the same command again to resume")
    assert len(sweep.rows()) == 1
    assert not processes_naming(str(tmp_path))


# 10: `store compact` on what is not a store says so.
@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nowhere", "does not exist"),
    (lambda tmp: (tmp / "a.txt", (tmp / "a.txt").write_text("x"))[0], "is a file"),
    (lambda tmp: (tmp / "notes", (tmp / "notes").mkdir(), (tmp / "notes" / "a.txt").write_text("x"))[0],
     "is not a results store (no +schema.parquet, no rows)"),
], ids=["missing", "file", "other folder"])
def test_compacting_what_is_not_a_store_is_refused(tmp_path, make, message):
    from xeonsweep.store import compaction

    path = make(tmp_path)
    with pytest.raises(UserError, match=re.escape(f"{path} {message}; valid: a results store")):
        compaction.compact(path)
    assert not (tmp_path / "notes" / compaction.LOCK).exists()


def test_an_empty_store_is_a_store(tmp_path):
    from xeonsweep.store import compaction, files, results

    files.ensure_schema_file(*results.filesystem(tmp_path), results.SCHEMA, results.SCHEMA_VERSION)
    assert compaction.compact(tmp_path)["file"] is None


@pytest.mark.slow
def test_store_compact_of_a_missing_store_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "xeonsweep", "store", "compact", "outputs/results"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert one_line(result) == ("xeonsweep: store compact: outputs/results does not exist; "
                                "valid: a results store (the results.dir of a sweep)")


# 10: cluster=slurm with no Slurm to answer is refused before anything is submitted.
def path_without_slurm() -> str:
    """This PATH, less every folder holding a Slurm command (a local Slurm, if any, keeps running)."""
    commands = ("sbatch", "srun", "scontrol", "sinfo", "squeue")
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if not any((Path(f) / c).exists() for c in commands))


def fake_slurm(folder: Path, ping: str) -> Path:
    """sbatch, srun and scontrol that only answer `scontrol ping` with `ping` (and fail)."""
    folder.mkdir()
    for command in ("sbatch", "srun", "scontrol"):
        (folder / command).write_text(f"#!/bin/sh\necho '{ping}'\nexit 1\n")
        (folder / command).chmod(0o755)
    return folder


def test_missing_slurm_commands_are_named(tmp_path, monkeypatch):
    from hydra_plugins.xeonsweep_launchers.submitit_per_job import slurm_unreachable

    monkeypatch.setenv("PATH", str(tmp_path))
    assert slurm_unreachable() == "no Slurm commands here (sbatch, srun, scontrol not on PATH)"


@pytest.mark.slow
@pytest.mark.parametrize("fake, message", [
    (None, "no Slurm commands here (sbatch, srun, scontrol not on PATH)"),
    ("Slurmctld(primary) at nowhere is DOWN",
     "Slurm's controller is not up (scontrol ping: Slurmctld(primary) at nowhere is DOWN)"),
], ids=["no commands", "controller down"])
def test_a_slurm_sweep_without_slurm_is_one_line(sweep, tmp_path, fake, message):
    path = path_without_slurm()
    if fake:
        path = f"{fake_slurm(tmp_path / 'bin', fake)}{os.pathsep}{path}"
    env = {**os.environ, "PATH": path, "XEONSWEEP_HOST_LOCK": str(tmp_path / "host.lock")}
    result = sweep("-m", "cluster=slurm", *FAST, "batch_size=1,2", cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 2, result.stderr
    assert one_line(result) == (f"xeonsweep: cluster=slurm: {message}; "
                                "valid: a host that submits to a running Slurm, or cluster=local")
    assert nothing_written(sweep)

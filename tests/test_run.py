"""A run planned once (config.run.Run), its row written in one place (store.record), what a
launcher can do (sweep.launchers), and the machine's facts read once."""

import pandas as pd
import pytest

from xeonsweep.config import settings
from xeonsweep.config.run import Run
from xeonsweep.errors import Incompatible
from xeonsweep.machine.facts import CpuInfo, cpu_info
from xeonsweep.store import record

CPU = CpuInfo(model="test", logical_cpus=4, physical_cores=4, sockets=1, flags=frozenset({"avx2"}))


def test_a_run_is_normalised_once_with_what_it_ignores(compose_run):
    asked = compose_run("model=tiny", "backend=onnxruntime", "channels_last=true")
    run = Run.from_settings(asked, CPU)
    assert run.settings["channels_last"] is False and asked["channels_last"] is True
    assert set(run.not_applicable) == {"channels_last", "thp"}
    assert run.config_hash == settings.config_hash(settings.normalize(asked))
    assert type(run.backend).__name__ == "OnnxRuntime" and run.incompatible is None
    assert run.describes(asked) and not run.describes({**asked, "batch_size": 3})


def test_a_repeat_keeps_the_fingerprint_and_changes_the_key(compose_run):
    run = Run.from_settings(compose_run("model=tiny"), CPU)
    again = run.repeated(1, "s")
    assert again.config_hash == run.config_hash == settings.config_hash(again.settings)
    assert again.run_key("m") != run.run_key("m") and again.sweep_id == "s" and run.sweep_id is None


def test_incompatible_settings_are_a_sweeps_skipped_row_and_a_single_runs_refusal(compose_run, tmp_path):
    asked = compose_run("model=tiny", "workers=2", f"results.dir={tmp_path}")
    with pytest.raises(Incompatible, match="workers=2 needs runtime=run_cpu"):
        Run.from_settings(asked, CPU, refuse_incompatible=True)
    run = Run.from_settings(asked, CPU).repeated(0, "skips")
    keys = record.identity(run, "m", "workers=2")
    summary = record.skipped(run, keys, method="blocks")
    row = pd.read_parquet(tmp_path).iloc[0]
    assert summary["status"] == row["status"] == "skipped"
    assert row["reason"] == run.incompatible and row["measurement"] == "blocks"
    assert row["config_hash"] == run.config_hash and row["run_key"] == run.run_key("m")


def test_launchers_say_what_they_can_do():
    from hydra._internal.core_plugins.basic_launcher import BasicLauncher

    from hydra_plugins.xeonsweep_launchers import submitit_per_job
    from xeonsweep.sweep.launchers import Capabilities, of_class, of_target

    assert of_class(BasicLauncher) == Capabilities(runs_here=True, in_process=True)
    assert of_class(submitit_per_job.LocalLauncher) == Capabilities(runs_here=True, in_process=False)
    assert of_class(submitit_per_job.SlurmLauncher) == Capabilities()
    assert of_class(object) == Capabilities()  # a launcher that says nothing runs elsewhere
    assert of_target("hydra._internal.core_plugins.basic_launcher.BasicLauncher").in_process
    assert of_target("no.such.Launcher") == Capabilities()


def test_cpuinfo_is_read_once_per_file(tmp_path):
    recorded = tmp_path / "cpuinfo"
    recorded.write_text("processor\t: 0\nmodel name\t: First\n")
    assert cpu_info(str(recorded)).model == "First"
    recorded.write_text("processor\t: 0\nmodel name\t: Second\n")
    assert cpu_info(str(recorded)).model == "First"

"""Search for real (issue 19): `python -m xeonsweep -m search=tpe ...` on the small model, its rows,
a search killed with kill -9 and run again, and bad input refused before anything runs."""

import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.conftest import FAST, ROOT

pytestmark = pytest.mark.slow

# Short blocks and no rounds beyond the minimum (the search asks for 6: a paired interval).
BLOCKS = ["benchmark.block_s=0.1", "benchmark.block_warmup_s=0.05", "benchmark.budget_s=0"]


@pytest.fixture(autouse=True)
def own_host_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("XEONSWEEP_HOST_LOCK", str(tmp_path / "host.lock"))


def study_of(store, search_id):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = store / "_search" / f"{search_id}.journal"
    return optuna.load_study(study_name=search_id, storage=JournalStorage(JournalFileBackend(str(path))))


def candidate_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that measured a config for the sampler: not a batch's reference, not the answer's check."""
    return frame[~frame["measure_reference"].fillna(False).astype(bool) & ~frame["sweep_id"].str.contains("-confirm")]


def test_a_search_with_a_limit_measures_each_config_once_and_its_rows_say_why_one_broke_it(sweep):
    args = ["-m", "search=tpe", *FAST, *BLOCKS, "batch_size=choice(1,2)", "precision=choice(fp32,bf16)",
            "search.min_cosine=0.999995", "search.n_trials=4", "search.batch=3"]
    result = sweep(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    frame = sweep.rows()
    assert frame["search_id"].nunique() == 1 and frame["trial"].notna().all()
    assert set(frame["status"]) == {"ok"} and set(frame["measurement"]) == {"blocks"}
    assert (frame["rounds"] >= 6).all()  # enough rounds for a paired interval
    bf16, fp32 = frame[frame["precision"] == "bf16"], frame[frame["precision"] == "fp32"]
    assert len(bf16) and not bf16["feasible"].any()
    assert bf16["constraint"].str.match(r"^min_cosine=0\.999995: cosine similarity 0\.99").all()
    assert fp32["feasible"].all() and fp32["constraint"].isna().all()
    # Four configs, each measured once for the sampler; the baseline (batch 1, fp32) leads the first batch.
    assert frame["config_hash"].nunique() == 4
    assert candidate_rows(frame).groupby("config_hash").size().max() == 1
    first = frame[frame["sweep_id"] == frame.sort_values("started_at")["sweep_id"].iloc[0]]
    reference = first[first["measure_reference"].fillna(False).astype(bool)]
    assert list(reference["batch_size"]) == [1] and list(reference["precision"]) == ["fp32"]

    search_id = frame["search_id"].iloc[0]
    assert "best feasible: batch_size=" in result.stdout and "precision=fp32" in result.stdout.split("best feasible")[1]
    assert "x the baseline (paired" in result.stdout or "the baseline itself is the best" in result.stdout
    assert (sweep.tmp / "sweep" / f"search-{search_id}.png").stat().st_size > 10_000
    study = study_of(sweep.store, search_id)
    measured = [t for t in study.trials if t.user_attrs.get("source") == "measured"]
    assert len(measured) == 4 and all(t.state.name == "COMPLETE" for t in measured)
    assert all((t.constraints["min_cosine"] > 0) == (t.params["precision"] == "bf16") for t in measured)

    again = sweep(*args)  # the same search: resumed, and nothing left to measure
    assert again.returncode == 0, again.stderr[-3000:]
    assert "search.n_trials=4 configs measured" in again.stderr
    assert len(sweep.rows()) == len(frame)

    report = subprocess.run([os.sys.executable, "-m", "xeonsweep", "report", str(sweep.store), "--out",
                             str(sweep.tmp / "report")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert f"search {search_id}: 4 configs measured, 2 broke a limit" in report.stdout
    assert "importance: " in report.stdout and (sweep.tmp / "report" / f"search-{search_id}.png").exists()


def test_a_search_killed_with_kill_9_and_run_again_measures_no_config_twice(sweep):
    args = ["-m", "search=tpe", *FAST, *BLOCKS, "batch_size=choice(1,2,4)", "search.n_trials=3", "search.batch=1"]
    proc = subprocess.Popen(sweep.argv(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second_batch = sweep.tmp / "sweep" / "2"  # batch 1: the baseline alone (job 0); batch 2: jobs 1 and 2
    deadline = time.monotonic() + 600
    while not second_batch.exists():
        assert proc.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, "the second batch never started"
        time.sleep(0.2)
    time.sleep(2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = sweep.rows()
    assert before["search_id"].nunique() == 1 and before["config_hash"].nunique() == 1  # batch 1's row only

    result = sweep(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming: 0 trial(s) read from the store, 1 asked again" in result.stderr
    frame = sweep.rows()
    assert frame["config_hash"].nunique() == 3
    assert candidate_rows(frame).groupby("config_hash").size().max() == 1
    study = study_of(sweep.store, frame["search_id"].iloc[0])
    assert [t.state.name for t in study.trials if t.state.name == "RUNNING"] == []
    interrupted = [t for t in study.trials if t.user_attrs.get("source") == "interrupted"]
    assert len(interrupted) == 1
    measured = [t for t in study.trials if t.user_attrs.get("source") == "measured"]
    assert len(measured) == 3 and interrupted[0].params in [t.params for t in measured]


BAD = [
    (["search=tpe", "batch_size=1,2", "search.bogus=1"],
     "search.bogus is not a setting; valid: batch, budget_s, id, max_p99_ms"),
    (["search=annealing", "batch_size=1,2"], "search=annealing is not an option; valid: gp, none, random, tpe"),
    (["search=tpe"], "search: the space has nothing to search"),
    (["search=tpe", "batch_size=1,2", "search.objective=peak_qps"],
     "search.objective=peak_qps needs scenario=server with scenario.find_peak=true"),
    (["search=random", "batch_size=1,2", "search.objective=[sps,p99_ms]",
      "search.sampler._target_=optuna.samplers.CmaEsSampler"], "CmaEsSampler optimises one objective only"),
    (["batch_size=1,2", "search.n_trials=5"], "search.n_trials=5 needs a search: add search=tpe"),
    (["search=tpe", "batch_size=choice(1,0)", "precision=choice(fp32,bf16)"],
     "batch_size=0 is not valid; valid: an integer >= 1"),
    (["search=tpe", "batch_size=1,2", "search.min_cosine=0.99", "search.max_p99_ms=-1"],
     "search.max_p99_ms=-1 is not valid; valid: a number >= 0"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_search_input_is_one_line_and_nothing_is_written(sweep, args, message):
    result = sweep("-m", "model=tiny", *args, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("xeonsweep: ") and message in lines[0], result.stderr
    assert not sweep.store.exists() and not (sweep.tmp / "sweep").exists()


def test_a_single_run_with_a_sampler_asks_for_a_sweep(sweep):
    result = sweep("model=tiny", "search=tpe", timeout=120)
    assert result.returncode == 2 and "search=tpe searches a sweep's space: add -m" in result.stderr

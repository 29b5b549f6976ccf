"""Search (issue 19), without starting a process: the space, folding, warm start, resume, the values
told to Optuna, the limits, and the bad input refused before anything runs. Seeded: exact."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from tests.conftest import compose
from xeonsweep.config import settings
from xeonsweep.config.run import Run
from xeonsweep.errors import UserError
from xeonsweep.search import answer, batch_size, options, space, values
from xeonsweep.search.driver import Search
from xeonsweep.store import feasible, results


# -- the space ----------------------------------------------------------------------------
def test_the_space_is_hydras_sweep_syntax_as_optuna_distributions():
    found = space.parse(["model=tiny", "batch_size=choice(1,2,4,8)", "backend=eager,onnxruntime",
                         "workers=range(1,8,3)", "benchmark.block_s=tag(log, interval(0.1, 10))",
                         "seed=int(interval(0, 9))", "+env.OMP_WAIT=choice(passive,active)"])
    assert found.fixed == ["model=tiny"]
    assert found.distributions == {
        "batch_size": CategoricalDistribution([1, 2, 4, 8]),
        "backend": CategoricalDistribution(["eager", "onnxruntime"]),
        "workers": IntDistribution(1, 7, step=3),            # range's stop is excluded: 1, 4, 7
        "benchmark.block_s": FloatDistribution(0.1, 10.0, log=True),
        "seed": IntDistribution(0, 9),
        "+env.OMP_WAIT": CategoricalDistribution(["passive", "active"]),
    }
    assert math.isinf(found.size)
    assert found.baseline() == {"batch_size": 1, "backend": "eager", "workers": 1, "benchmark.block_s": 0.1,
                                "seed": 0, "+env.OMP_WAIT": "passive"}
    assert found.overrides({**found.baseline(), "batch_size": 8}) == [
        "model=tiny", "batch_size=8", "backend=eager", "workers=1", "benchmark.block_s=0.1", "seed=0",
        "+env.OMP_WAIT=passive"]
    discrete = space.parse(["batch_size=1,2,4", "channels_last=true,false", "workers=range(1,3)"])
    assert discrete.size == 3 * 2 * 2


def test_a_rows_settings_map_back_to_the_space_only_when_inside_it():
    found = space.parse(["batch_size=choice(1,8)", "backend=eager,onnxruntime", "benchmark.block_s=interval(0.1,1)"])
    run = {"batch_size": 8, "backend": {"name": "onnxruntime"}, "benchmark": {"block_s": 0.5}}
    assert space.params_of(run, found) == {"batch_size": 8, "backend": "onnxruntime", "benchmark.block_s": 0.5}
    assert space.params_of({**run, "batch_size": 4}, found) is None
    assert space.params_of({**run, "benchmark": {"block_s": 2.0}}, found) is None
    assert space.params_of({**run, "batch_size": True}, found) is None  # True == 1, but it is not the value 1


@pytest.mark.parametrize("override, message", [
    ("batch_size=glob(*)", "batch_size=glob(*): glob() cannot be searched"),
    ("search=choice(tpe,gp)", "search=choice(tpe,gp): search cannot be searched"),
    ("batch_size=range(8,1)", "batch_size=range(8,1) holds no value"),
    ("benchmark.block_s=tag(log,interval(0,1))", "is not a valid interval; valid: interval(low, high) with low < high "
                                                 "and low > 0 on a log scale"),
    ("batch_size=choice(1,1)", "batch_size=choice(1,1) lists a value twice"),
])
def test_a_space_that_cannot_be_searched_is_one_line(override, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        space.parse([override])


# -- a search's settings and bad input ------------------------------------------------------
def compose_run(overrides: list[str]) -> dict:
    return settings.to_settings(compose(*[o for o in overrides if not o.startswith("hydra.")]))


def make_search(tmp_path, *dims: str, extra: tuple = (), launcher=None) -> Search:
    fixed = ["model=tiny", "search=tpe", f"results.dir={tmp_path}/results", f"cache.dir={tmp_path}/cache",
             f"hydra.sweep.dir={tmp_path}/sweep", *extra]
    config = compose(*fixed)
    return Search(config, compose_run, [*fixed, *dims], launcher)


@pytest.mark.parametrize("dims, extra, message", [
    ((), (), "search: the space has nothing to search; give a setting two or more values"),
    (("batch_size=choice(8)",), (), "search: the space has nothing to search"),
    (("batch_size=1,2",), ("search.objective=peak_qps",),
     "search.objective=peak_qps needs scenario=server with scenario.find_peak=true (scenario=offline measures no peak "
     "QPS); valid here: sps"),
    (("batch_size=1,2",), ("search.objective=[sps,watts]",), "search.objective=['sps', 'watts'] is not valid; valid: "
                                                              "sps, peak_qps, or two"),
    (("batch_size=1,2",), ("search.objective=[sps,p99_ms]", "search.sampler._target_=optuna.samplers.CmaEsSampler",
                           "~search.sampler.multivariate", "~search.sampler.constant_liar",
                           "~search.sampler.n_startup_trials"),
     "search.objective=['sps', 'p99_ms']: CmaEsSampler optimises one objective only; use search=tpe, gp or random"),
    (("batch_size=1,2",), ("+search.sampler.bogus=1",),
     "search.sampler (optuna.samplers.TPESampler): TPESampler.__init__() got an unexpected keyword argument 'bogus'"),
    (("batch_size=choice(0,2)",), (), "batch_size=0 is not valid; valid: an integer >= 1"),
    (("batch_size=1,2",), ("search.min_cosine=2",), "search.min_cosine=2 is not valid; valid: a number from 0 to 1"),
    (("batch_size=1,2",), ("search.batch=0",), "search.batch=0 is not valid; valid: an integer >= 1, or null (as many "
                                               "candidates as fit the memory budget, 2 to 8)"),
    (("batch_size=1,2",), ("search.batch=-3",), "search.batch=-3 is not valid; valid: an integer >= 1, or null"),
    (("batch_size=1,2",), ("search.batch=2.5",), "search.batch=2.5 is not valid; valid: an integer >= 1, or null"),
    (("batch_size=1,2",), ("search.batch=many",), "search.batch=many is not valid; valid: an integer >= 1, or null"),
    (("batch_size=1,2",), ("benchmark.repeats=2",), "benchmark.repeats=2: a search measures each config once"),
    (("batch_size=1,2",), ("scenario=server", "scenario.target_qps=10", "scenario.latency_slo_ms=100"),
     "search.objective=sps is measured in paired rounds, offline only (scenario=server)"),
])
def test_bad_search_input_is_one_line_before_anything_runs(tmp_path, dims, extra, message):
    with pytest.raises(UserError) as caught:
        make_search(tmp_path, *dims, extra=extra)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value), str(caught.value)
    assert not (tmp_path / "results").exists() and not (tmp_path / "sweep").exists()


def test_two_objectives_are_fine_for_tpe_gp_and_random(tmp_path):
    for sampler in ("tpe", "gp", "random"):
        found = make_search(tmp_path, "batch_size=1,2", extra=(f"search={sampler}", "search.objective=[sps,rss_mb]"))
        assert found.options.directions == ["maximize", "minimize"]


def test_search_settings_without_a_sampler_are_refused():
    run = settings.to_settings(compose("search.n_trials=3"))
    with pytest.raises(UserError, match=r"^search.n_trials=3 needs a search: add search=tpe"):
        options.refuse_without_sampler(run, options.defaults())
    options.refuse_without_sampler(settings.to_settings(compose()), options.defaults())  # the grid as it was


def test_search_settings_are_not_part_of_a_configs_fingerprint():
    plain = settings.to_settings(compose("model=tiny"))
    searched = settings.to_settings(compose("model=tiny", "search=gp", "search.trial=3", "search.min_cosine=0.9"))
    assert settings.config_hash(plain) == settings.config_hash(searched)


# -- the batch size ------------------------------------------------------------------------------
def test_a_batch_is_as_many_candidates_as_fit_beside_the_reference_at_their_largest_measured_peak():
    chosen = batch_size.choose(None, 6000.0, "80% of 7500 MB available", [900.0, 1150.0, 1000.0], "tiny")
    assert chosen.size == 4  # 6000 // 1200 = 5 live children, one of them the reference
    assert chosen.why == ("80% of 7500 MB available / 1150 MB per candidate (the largest set-up peak of 3 tiny "
                          "row(s) on this machine), less the reference")


def test_without_a_measured_peak_the_batch_is_a_cautious_guess_and_says_so():
    chosen = batch_size.choose(None, 10_000.0, "benchmark.live_memory_mb=10000", [], "resnet50")
    assert chosen.size == 3 and f"/ {batch_size.GUESS_MB:.0f} MB per candidate (no resnet50 row on this machine " \
        "yet: a cautious guess)" in chosen.why


@pytest.mark.parametrize("budget_mb, size, kept", [(1000.0, 2, True), (2500.0, 2, True), (3000.0, 2, False),
                                                   (9000.0, 8, False), (100_000.0, 8, True)])
def test_a_chosen_batch_is_kept_within_2_and_8(budget_mb, size, kept):
    chosen = batch_size.choose(None, budget_mb, "budget", [1000.0], "tiny")
    assert chosen.size == size and ("kept within 2-8" in chosen.why) == kept


def test_an_explicit_batch_is_kept_and_a_cluster_asks_for_the_most():
    assert batch_size.choose(12, 100.0, "budget", [5000.0], "tiny") == batch_size.Choice(12, "search.batch=12")
    assert batch_size.choose(1, 1e6, "budget", [], "tiny").size == 1
    assert batch_size.choose(None, 100.0, "budget", [5000.0], "tiny", cluster=True).size == 8
    # submitit's local launcher: jobs on this machine, one after another under its lock, no node named
    local = batch_size.choose(None, 100.0, "budget", [5000.0], "tiny", cluster=True, runs_here=True)
    assert local.size == 8 and "node" not in local.why and "host's lock" in local.why


def test_the_memory_budget_is_live_memory_mb_or_a_share_of_what_is_available():
    assert batch_size.budget(4000, 20_000.0, 0.8) == (4000.0, "benchmark.live_memory_mb=4000")
    assert batch_size.budget(None, 10_000.0, 0.8) == (8000.0, "80% of 10000 MB available")


def test_a_candidates_peak_is_a_block_rows_set_up_peak_or_a_fresh_rows_peak_times_its_instances():
    import pandas as pd

    frame = pd.DataFrame([
        {"model": "tiny", "machine": "m", "setup_peak_rss_mb": 700.0, "peak_rss_mb": 350.0, "instances_started": 2,
         "workers": 2},
        {"model": "tiny", "machine": "m", "setup_peak_rss_mb": None, "peak_rss_mb": 400.0, "instances_started": 3,
         "workers": 3},
        {"model": "tiny", "machine": "m", "setup_peak_rss_mb": None, "peak_rss_mb": 500.0, "instances_started": None,
         "workers": None},
        {"model": "tiny", "machine": "m", "setup_peak_rss_mb": None, "peak_rss_mb": None, "instances_started": None,
         "workers": 1},                                                              # failed: no figure
        {"model": "vit", "machine": "m", "setup_peak_rss_mb": 9000.0, "peak_rss_mb": 9000.0, "instances_started": 1,
         "workers": 1},                                                              # another model
        {"model": "tiny", "machine": "other", "setup_peak_rss_mb": 9000.0, "peak_rss_mb": 9000.0,
         "instances_started": 1, "workers": 1},                                      # another machine
    ])
    assert batch_size.peaks_of(frame, "tiny", "m") == [700.0, 1200.0, 500.0]
    assert batch_size.peaks_of(frame.iloc[:0], "tiny", "m") == []


def test_the_search_says_which_batch_it_chose_and_why(tmp_path, capsys):
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)", extra=("benchmark.live_memory_mb=5000",))
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for batch, peak in ((1, 800.0), (2, 1000.0)):
        row = store_row(search, {"batch_size": batch}, 100.0, when)
        results.write_row({**row, "setup_peak_rss_mb": peak}, search.store, "earlier")
    search.open()
    assert search.batch.size == 4 and search._room() == 4
    assert ("; batch 4 (benchmark.live_memory_mb=5000 / 1000 MB per candidate (the largest set-up peak of 2 tiny "
            "row(s) on this machine), less the reference); study in") in capsys.readouterr().err


# -- folding ----------------------------------------------------------------------------------
def test_settings_that_do_not_apply_fold_and_combinations_that_cannot_run_are_refused(tmp_path):
    search = make_search(tmp_path, "backend=eager,onnxruntime", "channels_last=false,true", "precision=fp32,bf16")
    eager = [search.fold({"backend": "eager", "channels_last": cl, "precision": "fp32"}) for cl in (False, True)]
    assert eager[0].config_hash != eager[1].config_hash  # eager honours channels_last
    ort = [search.fold({"backend": "onnxruntime", "channels_last": cl, "precision": "fp32"}) for cl in (False, True)]
    assert ort[0].config_hash == ort[1].config_hash  # onnxruntime ignores it: one config
    refused = search.fold({"backend": "onnxruntime", "channels_last": False, "precision": "bf16"})
    assert refused.config_hash is None and "bf16" in refused.reason and not refused.refused


# -- warm start and resume --------------------------------------------------------------------
def store_row(search: Search, params: dict, sps: float, when: datetime, cosine: float = 1.0) -> dict:
    run = Run.from_settings(search.compose(search.space.overrides(params)), search.cpu).repeated(0, "earlier")
    keys = {"run_key": run.run_key(search.machine), "config_hash": run.config_hash,
            "sweep_id": "earlier", "machine": search.machine, "overrides": " ".join(search.space.overrides(params))}
    return {**keys, "started_at": when, "finished_at": when + timedelta(seconds=5), "status": "ok", "model": "tiny",
            "batch_size": run.batch_size, "sps": sps, "cosine_similarity": cosine,
            "config_json": json.dumps(run.settings, sort_keys=True)}


def test_warm_start_adds_the_stores_configs_and_the_first_asks_avoid_them(tmp_path):
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)", "channels_last=false,true",
                         extra=("search.batch=2", "search.min_cosine=0.999"))
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    known = [({"batch_size": 1, "channels_last": False}, 100.0), ({"batch_size": 2, "channels_last": False}, 150.0),
             ({"batch_size": 4, "channels_last": True}, 220.0), ({"batch_size": 8, "channels_last": False}, 210.0)]
    for params, sps in known:
        results.write_row(store_row(search, params, sps, when), search.store, "earlier")
    elsewhere = store_row(search, {"batch_size": 2, "channels_last": True}, 999.0, when)
    results.write_row({**elsewhere, "machine": "another machine"}, search.store, "earlier")  # not this machine
    results.write_row(store_row(search, {"batch_size": 8, "channels_last": True}, 5.0, when, cosine=0.5),
                      search.store, "earlier")  # inside the space, breaks min_cosine

    search.open()
    warm = [t for t in search.study.trials if t.user_attrs.get("source") == "store"]
    assert sorted((t.params["batch_size"], t.params["channels_last"], t.values[0]) for t in warm) == [
        (1, False, 100.0), (2, False, 150.0), (4, True, 220.0), (8, False, 210.0), (8, True, 5.0)]
    constraints = {(t.params["batch_size"], t.params["channels_last"]): t.constraints for t in warm}
    assert constraints[(8, True)] == {"min_cosine": pytest.approx(0.499)}  # 0.999 - 0.5: broken
    assert constraints[(1, False)] == {"min_cosine": pytest.approx(-0.001)}
    assert not search._waiting()  # the baseline (batch 1, no channels-last) is known: not asked again

    batch = search._ask()
    known_hashes = {t.user_attrs["config_hash"] for t in warm}
    assert set(batch.new).isdisjoint(known_hashes)
    assert sorted((p["batch_size"], p["channels_last"]) for _, p in batch.new.values()) == [(1, True), (4, False)]
    # The first batch's reference is the baseline, already known: measured again beside the new ones.
    assert batch.reference[1] == {"batch_size": 1, "channels_last": False}
    told_known = [t for t in search.study.trials if t.user_attrs.get("source") == "known"]
    assert all(t.state == TrialState.COMPLETE and t.user_attrs["config_hash"] in known_hashes for t in told_known)


def test_a_search_killed_with_trials_asked_asks_them_again_and_no_more(tmp_path):
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)")
    search.open()
    asked = [search.study.ask(search.space.distributions) for _ in range(2)]  # then the session dies
    assert asked[0].params == {"batch_size": 1}  # the baseline, enqueued first

    again = make_search(tmp_path, "batch_size=choice(1,2,4,8)")
    again.open()
    assert again.id == search.id
    states = [(t.number, t.state, t.user_attrs.get("source")) for t in again.study.trials]
    assert states[:2] == [(0, TrialState.FAIL, "interrupted"), (1, TrialState.FAIL, "interrupted")]
    assert [t.state for t in again.study.trials[2:]] == [TrialState.WAITING, TrialState.WAITING]
    batch = again._ask()
    assert [p for _, p in batch.new.values()][:2] == [t.params for t in asked]
    assert again._measured() == 0


# -- the values told, from the rows ------------------------------------------------------------
def row(trial, config_hash, sweep_id, blocks, start, reference=False, status="ok", **extra) -> dict:
    """A search's row; its i-th block ran in round i (rounds 10 s apart, the reference first in each)."""
    began = start.timestamp() // 1000 * 1000
    times = [began + 10 * i + (0 if reference else 1 + trial % 5) for i in range(len(blocks))]
    return {"trial": trial, "config_hash": config_hash, "sweep_id": sweep_id, "block_sps": blocks,
            "block_start_unix_s": times,
            "sps": sorted(blocks)[len(blocks) // 2] if blocks else None, "measure_reference": reference,
            "measure_group": 0, "status": status, "reason": None, "feasible": True, "constraint": None,
            "started_at": start, "finished_at": start + timedelta(seconds=30), "overrides": f"x={trial}", **extra}


def test_a_candidate_is_told_its_references_value_times_its_paired_speedup():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = [row(0, "base", "b1", [100, 100, 100, 100, 100, 100], t0, reference=True),
             row(1, "c1", "b1", [200, 210, 190, 200, 200, 205], t0 + timedelta(seconds=1))]
    # The machine is 10% slower in the second batch: the incumbent (c1) reads 180, its challenger 360.
    second = [row(1, "c1", "b2", [180] * 6, t0 + timedelta(minutes=5), reference=True),
              row(2, "c2", "b2", [360, 370, 350, 360, 360, 365], t0 + timedelta(minutes=5, seconds=1)),
              row(3, "c3", "b2", [], t0 + timedelta(minutes=5, seconds=2), status="failed", reason="crashed")]
    scored = values.score(first + second, ["sps"])
    assert scored[0].values == [100.0]
    assert scored[1].values == [200.0] and scored[1].verdict == "faster" and scored[1].reference_trial == 0
    assert scored[2].values == [400.0]  # 200 x 2.0: on the first batch's scale, not 360
    assert scored[3].values is None and scored[3].status == "failed"

    found = answer.compute(first + second, ("sps",), None, ["x"])
    assert found.baseline.trial == 0 and found.best.trial == 2 and found.chained == 4.0
    assert found.speedup is None  # never side by side with the baseline
    assert [b for _, b in found.history] == [100.0, 200.0, 400.0]


def test_blocks_pair_by_the_round_they_ran_in_not_by_their_place_in_the_list():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    reference = row(0, "base", "b1", [100, 50, 120, 80, 110, 90, 130], t0, reference=True)
    # A killed round left the reference one block ahead: the candidate's blocks ran in rounds 0, 2, 3, ...,
    # each twice the reference's of its round (the machine's speed moved from round to round).
    candidate = row(1, "c1", "b1", [200, 240, 160, 220, 180, 260], t0)
    candidate["block_start_unix_s"] = [reference["block_start_unix_s"][0] + 1,
                                       *[t + 1 for t in reference["block_start_unix_s"][2:]]]
    found = values.paired_speedup(candidate, reference)
    assert (found.median, found.low, found.high, found.blocks) == (2.0, 2.0, 2.0, 6)


def test_blocks_pair_by_their_recorded_round_whatever_order_the_round_timed_them_in():
    # Rounds time their configs in the order of the ranking so far: a candidate faster than the reference may
    # run before it. Each block's recorded round pairs it, not its start time.
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    reference = row(0, "base", "b1", [100, 50, 120, 80, 110, 90], t0, reference=True)
    candidate = row(1, "c1", "b1", [200, 100, 240, 160, 220, 180], t0)
    candidate["block_start_unix_s"] = [t - 2 for t in reference["block_start_unix_s"]]  # each before the reference
    reference["block_round"], candidate["block_round"] = list(range(1, 7)), list(range(1, 7))
    found = values.paired_speedup(candidate, reference)
    assert (found.median, found.low, found.high, found.blocks) == (2.0, 2.0, 2.0, 6)


def test_the_pareto_front_keeps_feasible_configs_nobody_beats_on_both():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [row(0, "a", "b1", [100] * 6, t0, reference=True, latency_ms_p99=10.0),
            row(1, "b", "b1", [200] * 6, t0, latency_ms_p99=30.0),
            row(2, "c", "b1", [150] * 6, t0, latency_ms_p99=40.0),   # slower and later than b
            row(3, "d", "b1", [300] * 6, t0, latency_ms_p99=50.0, feasible=False, constraint="max_p99_ms=45")]
    found = answer.compute(rows, ("sps", "p99_ms"), None, ["x"])
    assert [s.trial for s in found.front] == [1, 0] and found.best.trial == 1
    assert found.speedup.median == 2.0


# -- the limits --------------------------------------------------------------------------------
def test_a_row_says_which_limit_it_broke_and_optuna_gets_the_same_as_constraints():
    limits = {"max_p99_ms": 20.0, "min_cosine": 0.999, "max_rss_mb": None}
    good = {"status": "ok", "latency_ms_p99": 12.0, "cosine_similarity": 0.9999, "peak_rss_mb": 900.0}
    bad = {**good, "latency_ms_p99": 31.5, "cosine_similarity": 0.98}
    run = {"search": {**limits, "id": "s1", "trial": 4}}
    assert feasible.columns(run, good) == {"search_id": "s1", "trial": 4, "feasible": True, "constraint": None}
    assert feasible.columns(run, bad)["constraint"] == ("max_p99_ms=20: p99 latency 31.5 ms; "
                                                         "min_cosine=0.999: cosine similarity 0.98")
    assert feasible.constraint_values(bad, limits) == pytest.approx([11.5, 0.019])
    assert feasible.columns({"search": {"trial": None}}, good) == {}  # not a search's row
    assert feasible.columns(run, {"status": "failed"}) == {"search_id": "s1", "trial": 4}


def test_optuna_treats_an_infeasible_trial_as_infeasible(tmp_path):
    from xeonsweep.search import study as studies

    study = optuna.create_study(direction="maximize")
    trial = study.ask({"x": CategoricalDistribution([1, 2])})
    studies.tell(study, trial, [10.0], {"min_cosine": 0.01}, source="measured")
    trial = study.ask({"x": CategoricalDistribution([1, 2])})
    studies.tell(study, trial, [5.0], {"min_cosine": -0.2}, source="measured")
    assert study.best_trial.values == [5.0]


# -- the loop, with a made-up machine (no process) --------------------------------------------
class Quiet:
    """The sweep's progress, silent."""

    def __init__(self):
        self.console = self
        self.lines = []

    def print(self, text, **_):
        self.lines.append(str(text))

    def finished(self, *args):
        pass

    def status(self, text):
        pass

    def note(self, text):
        self.lines.append(text)


def made_up_measure(speed):
    """measure_batch on a made-up machine: `speed(run)` SPS in every round, rows written to the store."""
    from xeonsweep.search import measure as measuring

    batches = []

    def measure_batch(jobs, sweep_dir, first_index, machine, store, finished, label, status, note, launcher=None):
        batches.append(jobs)  # each batch ten minutes after the last
        began = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=10 * len(batches))
        for k, job in enumerate(jobs):
            run, sps = job.run, speed(job.run)
            times = [began.timestamp() + 10 * r + k for r in range(6)]
            row = {"run_key": run.run_key(machine), "config_hash": run.config_hash,
                   "sweep_id": run["sweep_id"], "machine": machine, "overrides": " ".join(job.overrides),
                   "started_at": began + timedelta(seconds=k), "finished_at": began + timedelta(seconds=60 + k),
                   "status": "ok", "model": "tiny", "batch_size": run["batch_size"], "sps": sps,
                   "block_sps": [sps] * 6, "block_start_unix_s": times, "measure_group": 0,
                   "latency_ms_p99": 1000 * run["batch_size"] / sps, "cosine_similarity": 1.0, "measurement": "blocks"}
            row.update(feasible.columns(run.settings, row))
            results.write_row(row, store, run["sweep_id"])
        return measuring.rows_of(store, jobs[0].run["sweep_id"])

    return measure_batch


def test_the_loop_measures_each_config_once_and_stops_when_patience_runs_out(tmp_path, monkeypatch):
    from xeonsweep.search import measure as measuring

    # Faster with the batch up to 8, slower beyond; batch 32 breaks the latency limit.
    speeds = {1: 100.0, 2: 180.0, 4: 300.0, 8: 330.0, 16: 320.0, 32: 310.0}
    monkeypatch.setattr(measuring, "measure_batch", made_up_measure(lambda run: speeds[run["batch_size"]]))
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8,16,32)",
                         extra=("search.batch=2", "search.patience=1", "search.max_p99_ms=100", "search.n_trials=null"))
    search.progress = Quiet()
    search.open()
    while not search._stop():
        search._one_batch()
    rows = sorted(search._rows(), key=lambda r: (r["started_at"], r["trial"]))
    # Each batch: its reference (the baseline, then the incumbent) first, then the configs new to the study.
    batches = [(r["trial"], r["batch_size"], bool(r["measure_reference"])) for r in rows]
    assert batches == [(0, 1, True), (1, 2, False),
                       (1, 2, True), (2, 4, False), (5, 8, False),
                       (5, 8, True), (8, 16, False), (9, 32, False)]
    told = [(t.number, t.params["batch_size"], t.user_attrs["source"]) for t in search.study.trials]
    assert [t for t in told if t[2] == "known"] == [(3, 2, "known"), (4, 4, "known"), (6, 8, "known"),
                                                    (7, 8, "known")]  # asked again: told, not measured
    assert search.stopped_by == "search.patience=1: no batch beat the incumbent for 1 batches"
    found = answer.compute(rows, ("sps",), search.study, search.dimension_names)
    assert found.labels[found.best.trial] == "batch_size=8" and found.best.values == [pytest.approx(330.0)]
    assert found.chained == pytest.approx(3.3) and found.speedup is None
    assert [(r["batch_size"], r["constraint"]) for r in rows if r["feasible"] is False] == [
        (32, "max_p99_ms=100: p99 latency 103.226 ms")]
    assert found.importances == {"batch_size": 1.0}


class MadeUpCluster:
    """A cluster launcher on a made-up machine: each job a fresh run (no blocks) whose row it writes into the
    store, as a node does; the job of a config in `lose` is lost with its node."""

    runs_here, in_process = True, False  # sweep.launchers: jobs run elsewhere (on this kind of machine)

    def __init__(self, speed, lose=()):
        self.speed, self.lose, self.batches = speed, set(lose), []

    def launch(self, job_overrides, initial_job_idx):
        from hydra.core.utils import JobReturn, JobStatus

        from xeonsweep.errors import JobLost
        from xeonsweep.machine.facts import cpu_info

        self.batches.append([list(o) for o in job_overrides])
        began = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=10 * len(self.batches))
        machine = settings.machine_label(cpu_info())
        returns = []
        for k, overrides in enumerate(job_overrides):
            run = Run.from_settings(compose_run(list(overrides)), cpu_info())
            if run["batch_size"] in self.lose:
                returns.append(JobReturn(overrides=list(overrides), status=JobStatus.FAILED,
                                         _return_value=JobLost("Ray job #9 ended without a result: NodeDiedError")))
                continue
            sps = self.speed(run)
            row = {"run_key": run.run_key(machine), "config_hash": run.config_hash, "sweep_id": run["sweep_id"],
                   "machine": machine, "overrides": " ".join(overrides), "started_at": began + timedelta(seconds=k),
                   "finished_at": began + timedelta(seconds=30 + k), "status": "ok", "model": "tiny",
                   "batch_size": run["batch_size"], "sps": sps, "latency_ms_p99": 1000 * run["batch_size"] / sps,
                   "cosine_similarity": 1.0, "measurement": "fresh"}
            row.update(feasible.columns(run.settings, row))
            results.write_row(row, run.results_dir, run["sweep_id"])
            returns.append(JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED,
                                     _return_value={"status": "ok", "sps": sps, "reason": None}))
        return returns


def test_on_a_cluster_a_batch_is_the_most_and_the_search_holds_no_host_lock(tmp_path, monkeypatch):
    from xeonsweep.sweep import host_lock

    class FarCluster(MadeUpCluster):
        runs_here = False  # jobs on the cluster's nodes

    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)", launcher=FarCluster(lambda run: 1.0))
    assert search.on_cluster and search._measuring_overrides() == ["results.rerun=true"]

    def no_lock_here(*args, **kwargs):
        raise AssertionError("a search on a cluster holds no host lock: each job takes its node's")

    monkeypatch.setattr(host_lock, "host_lock", no_lock_here)
    with search._host_lock():
        pass
    search.progress = Quiet()
    search.open()
    assert search.batch.size == 8  # a node per job: this machine's memory bounds nothing
    assert "; batch 8 (on a cluster each job has a node of its own" in search.progress.lines[0]
    # a launcher whose jobs run here, one after another (submitit's local): no node named
    local = make_search(tmp_path / "local", "batch_size=choice(1,2,4,8)", launcher=MadeUpCluster(lambda run: 1.0))
    local.progress = Quiet()
    local.open()
    assert local.batch.size == 8 and "node" not in local.progress.lines[0]
    assert "one after another under this host's lock" in local.progress.lines[0]


def test_on_a_cluster_a_first_reference_lost_with_its_node_is_not_asked_again(tmp_path):
    speeds = {1: 100.0, 2: 180.0, 4: 300.0, 8: 330.0}
    cluster = MadeUpCluster(lambda run: speeds[run["batch_size"]], lose={1})
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)", launcher=cluster,
                         extra=("search.batch=2", "search.patience=3", "search.n_trials=null"))
    search.progress = Quiet()
    search.open()
    while not search._stop():
        search._one_batch()
    references = [[job for job in batch if "search.reference=true" in job] for batch in cluster.batches]
    assert len(cluster.batches) >= 2 and len(references[0]) == 1 and "batch_size=1" in references[0][0]
    assert all(not later for later in references[1:])  # the baseline is not brought back in every batch


def test_on_a_cluster_each_batch_goes_to_the_launcher_as_fresh_runs_told_their_own_figures(tmp_path):
    speeds = {1: 100.0, 2: 180.0, 4: 300.0, 8: 330.0, 16: 320.0, 32: 310.0}
    cluster = MadeUpCluster(lambda run: speeds[run["batch_size"]], lose={16})
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8,16,32)", launcher=cluster,
                         extra=("search.batch=2", "search.patience=1", "search.max_p99_ms=100", "search.n_trials=null"))
    search.progress = Quiet()
    search.open()
    while not search._stop():
        search._one_batch()

    shown = [[" ".join(o for o in job if o.startswith(("batch_size=", "search.trial=", "search.reference=")))
              for job in batch] for batch in cluster.batches]
    # Only the first batch has a reference, the baseline, for the answer; each config is measured once.
    assert shown == [["batch_size=1 search.trial=0 search.reference=true", "batch_size=2 search.trial=1"],
                     ["batch_size=4 search.trial=2", "batch_size=8 search.trial=5"],
                     ["batch_size=16 search.trial=8", "batch_size=32 search.trial=9"]]
    jobs = [job for batch in cluster.batches for job in batch]
    assert all("results.rerun=true" in job and "benchmark.method=blocks" not in job for job in jobs)
    # Unpaired, a batch beats the incumbent by more than the margin (180 > 1.02 x 100, 330 > 1.02 x 180); the
    # third (16 lost with its node, 32 breaks the latency limit) beats nothing.
    assert search.stopped_by == "search.patience=1: no batch beat the incumbent for 1 batches"
    lost = [t for t in search.study.trials if t.user_attrs.get("source") == "measured"
            and t.user_attrs.get("reason") == "no row was written for it"]
    assert [t.params["batch_size"] for t in lost] == [16] and lost[0].state == TrialState.FAIL
    assert "lost 1 run with its job: batch_size=16: Ray job #9 ended without a result: NodeDiedError" \
        in search.progress.lines
    rows = search._rows()
    found = answer.compute(rows, ("sps",), search.study, search.dimension_names)
    # Fresh runs pair nothing: each value is its row's own SPS; the answer's ratio is of the two rows.
    assert {s.trial: s.values[0] for s in found.scored.values() if s.values} == \
        {int(r["trial"]): r["sps"] for r in rows}
    assert found.labels[found.best.trial] == "batch_size=8" and found.speedup is None
    assert found.chained == pytest.approx(3.3)


def test_an_unknown_memory_figure_bounds_no_batch():
    # available_memory_mb() is infinite when /proc/meminfo has no MemAvailable line.
    assert batch_size.choose(None, float("inf"), "80% of inf MB available", [1000.0], "tiny").size == 8


class Stuck(optuna.samplers.BaseSampler):
    """A sampler that proposes the first value of every dimension, whatever it has been told."""

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, name, distribution):
        return distribution.choices[0]


def test_a_sampler_that_repeats_itself_is_given_an_unexplored_config_not_told_the_space_is_done(tmp_path):
    search = make_search(tmp_path, "batch_size=choice(1,2,4,8)", extra=("search.batch=3",))
    search.progress = Quiet()
    search.open()
    search.study.sampler = Stuck()
    batch = search._ask()
    # batch 1 (the baseline), then twins of it, then two configs drawn at random because the sampler repeats
    assert sorted(p["batch_size"] for _, p in batch.new.values())[0] == 1 and len(batch.new) == 3
    explored = [t for t, _ in batch.new.values() if t.user_attrs.get("explored")]
    assert len(explored) == 2 and not search.stopped_by
    # a space with nothing left to explore ends the search, and says so
    for trial, params in batch.new.values():
        trial.set_user_attr("config_hash", search.fold(params).config_hash)
        trial.set_user_attr("source", "measured")
        search.study.tell(trial, 1.0)
    again = search._ask()
    assert len(again.new) == 1 and not search.stopped_by  # the fourth batch size, drawn at random
    trial, params = next(iter(again.new.values()))
    assert {params["batch_size"]} == {1, 2, 4, 8} - {p["batch_size"] for _, p in batch.new.values()}
    trial.set_user_attr("config_hash", search.fold(params).config_hash)
    trial.set_user_attr("source", "measured")
    search.study.tell(trial, 1.0)
    # nothing left: the draws find no config that can run and is not known, and the search says so
    assert not search._ask().new
    assert search.stopped_by.startswith("the sampler proposes only configs already known, and 200 random draws")

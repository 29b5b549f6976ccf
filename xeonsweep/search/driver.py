"""The search loop: ask a batch, fold it, measure what is new, tell Optuna, until a stop.

Before anything runs: the space and the search settings are checked, the sampler is built,
and every value of every dimension is validated once (a bad value stops with one line).
Then, holding the host lock: trials a killed session left asked are told failed and asked
again, rows already in the store inside the space are added to the study (warm start), and
the baseline (every dimension's first value) is asked first.

Each batch: up to `search.batch` trials are asked. A candidate folds to its config_hash (the
settings it ignores set to their "not asked" value, settings.normalize): a config the study
knows is told its known values without measuring; settings that cannot go together are told
failed (and written once as a skipped row). The new configs are measured together with the
reference (the baseline in the first batch, the incumbent after) by `measure.measure_batch`,
and told what their rows say (values.score; limits as constraints; failed rows as failed).

Under a cluster launcher (one that runs jobs elsewhere: sweep.launchers) the loop is the same,
run on the submitting host (the sampler, the journal beside the shared store), but a batch's
jobs go to the launcher as a grid sweep's do: one fresh run each on a node, under that node's
host lock (the search holds none: this host may be a node too). Fresh runs on different nodes
have no rounds to pair, so each is told its row's own figure; only the first batch has a
reference (the baseline, for the answer).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from xeonsweep.config import settings
from xeonsweep.config.run import Job, Run
from xeonsweep.errors import UserError
from xeonsweep.machine.facts import cpu_info
from xeonsweep.search import (
    answer as answers,
    batch_size,
    measure,
    options as search_options,
    samplers,
    space as spaces,
    study as studies,
    values as scoring,
    warm,
)
from xeonsweep.store import feasible, results
from xeonsweep.sweep import launchers, planning

PAIRED_ROUNDS = 6       # the fewest rounds that give a paired 95% interval (stats.paired)
ASKS_PER_CANDIDATE = 20  # asks per candidate a batch may spend before the search says the space is done
# A sampler that keeps proposing configs already known (TPE settles on its best region, and most of
# a space may fold onto few configs) is given an unexplored config drawn at random after this many
# asks in a row that found nothing new; the search ends only when that many draws find none.
REPEATS_BEFORE_EXPLORING = 8
EXPLORING_DRAWS = 200


@dataclass
class Folded:
    config_hash: str | None
    reason: str | None = None   # why it cannot run
    refused: bool = False       # a bad value for this combination (UserError), not a skipped row


@dataclass
class Batch:
    reference: tuple[Any, dict] | None = None        # (trial, params) in every round, the others against it
    to_beat: float | None = None                     # the incumbent's first value when the batch was asked
    new: dict[str, tuple[Any, dict]] = field(default_factory=dict)  # config_hash -> (trial, params)
    twins: list[tuple[Any, str]] = field(default_factory=list)      # (trial, config_hash) told after measuring
    skipped: list[tuple[Any, dict, str]] = field(default_factory=list)  # (trial, params, why): a skipped row


class Search:
    def __init__(self, config: Any, compose: Callable[[list[str]], dict], overrides: list[str],
                 launcher: Any = None) -> None:
        """`launcher`: the sweep's Hydra launcher, set up by the sweeper; a cluster's measures the batches."""
        self.config, self.compose, self.launcher = config, compose, launcher
        self.cpu = cpu_info()
        self.can = launchers.of_class(type(launcher)) if launcher is not None \
            else launchers.of_target(str(config.hydra.launcher._target_))
        self.on_cluster = not self.can.in_process
        # The machine the rows will name: this one, or the nodes' when the sweep is told (cluster.machine).
        self.machine = settings.machine_label(self.cpu) if self.can.runs_here \
            else (config.get("cluster") or {}).get("machine")
        self.space = spaces.parse(overrides)
        self.base = compose(self.space.fixed)
        self.options = search_options.read(self.base)
        if not self.space.dimensions or self.space.size <= 1:
            raise UserError("search: the space has nothing to search; give a setting two or more values, e.g. "
                            "'batch_size=choice(1,8)' or 'backend=choice(eager,openvino)'")
        self.sampler = samplers.build(self.options, self.space.distributions)
        self.extra = self._measuring_overrides()
        self._folded: dict[tuple, Folded] = {}
        self._check_values()
        self.store = str(settings_store(self.base))
        self.id = self.options.id or studies.search_id(self.space.fixed, self.space.distributions,
                                                       self.options.objectives, self.options.limits,
                                                       self.options.sampler, self.options.seed,
                                                       self.machine or "cluster nodes")
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.index = itertools.count()
        self.stopped_by = ""
        self.started = time.monotonic()
        self.patience_left = self.options.patience
        self.reference_asked = False
        self.progress: Any = None

    # -- before anything runs ------------------------------------------------------------
    def _measuring_overrides(self) -> list[str]:
        """Offline candidates are measured in blocks, with enough rounds for a paired interval, and raced
        (benchmark.goal=best: a candidate wholly behind the batch's leader is dropped and its child released)
        unless the sweep asked for goal=rank. On a cluster each is a fresh run that a node measures even when
        the store has its config already (as a search here does): the search asked for it, with its trial."""
        if self.on_cluster:
            return ["results.rerun=true"]
        if settings.scenario_name(self.base) != "offline":
            return []
        extra = ["benchmark.method=blocks"]
        if self.base["benchmark"].get("goal", "precision") == "precision":
            extra.append("benchmark.goal=best")
        if int(self.base["benchmark"].get("min_rounds", 1)) < PAIRED_ROUNDS:
            extra.append(f"benchmark.min_rounds={PAIRED_ROUNDS}")
        return extra

    def _check_values(self) -> None:
        """Every value of every dimension once, the others at their first value: a bad value is one line now."""
        baseline = self.space.baseline()
        for dimension in self.space.dimensions:
            d = dimension.distribution
            tried = d.choices if hasattr(d, "choices") else (d.low, d.high)
            for value in tried:
                folded = self.fold({**baseline, dimension.name: value})
                if folded.refused:
                    said = folded.reason.startswith(dimension.key)
                    raise UserError(folded.reason if said else f"{dimension.override(value)}: {folded.reason}")
        settings.check_before_run(Run.from_settings(self.base, self.cpu).settings)

    def fold(self, params: dict) -> Folded:
        """The config a candidate is (planned as a sweep plans a job), or why it cannot run."""
        overrides = tuple(self.space.overrides(params))
        if overrides not in self._folded:
            try:
                run = Run.from_settings(self.compose(list(overrides)), self.cpu)
            except UserError as exc:
                self._folded[overrides] = Folded(None, str(exc), refused=True)
            else:
                self._folded[overrides] = Folded(None, run.incompatible) if run.incompatible \
                    else Folded(run.config_hash)
        return self._folded[overrides]

    # -- the search ----------------------------------------------------------------------
    def run(self) -> answers.Answer:
        from xeonsweep.sweep.progress import SweepProgress

        facts = self._prepare_sweep_dir()
        with self._host_lock(), SweepProgress(0, self.id, self.store) as self.progress:
            self.progress.machine(facts)
            self.open()
            while not self._stop():
                self._one_batch()
            self.say(f"stopped: {self.stopped_by}")
            self._confirm()
        found = answers.compute(self._rows(), self.options.objectives, self.study, self.dimension_names)
        for line in answers.text(found, self.id):
            print(line)
        png = answers.plot(found, self.sweep_dir / f"search-{self.id}.png")
        print(f"wrote {png}")
        return found

    def open(self) -> None:
        """The study from its journal (made on the first run), what a killed session left, the warm start."""
        path = studies.journal_path(self.store, self.id)
        self.study = studies.open_study(path, self.id, self.options.directions, self.sampler)
        for key, value in (("dimensions", self.dimension_names), ("objectives", list(self.options.objectives)),
                           ("limits", self.options.limits), ("machine", self.machine)):
            self.study.set_user_attr(key, value)
        self.batch = self._choose_batch()
        self.say(f"search {self.id}: {self.options.sampler_name}, objective {', '.join(self.options.objectives)}"
                 f"{self._limits_text()}; batch {self.batch.size} ({self.batch.why}); study in {path}")
        self._recover()
        self._warm_start()

    def _choose_batch(self) -> batch_size.Choice:
        """search.batch, or as many candidates as fit the live memory budget (search.batch_size)."""
        from xeonsweep.blocks.groups import MEMORY_SHARE
        from xeonsweep.machine.facts import available_memory_mb

        if self.options.batch is not None or self.on_cluster:
            return batch_size.choose(self.options.batch, 0.0, "", [], "", cluster=self.on_cluster,
                                     runs_here=self.can.runs_here)
        budget, budget_text = batch_size.budget(self.base["benchmark"].get("live_memory_mb"), available_memory_mb(),
                                                MEMORY_SHARE)
        frame = results.load(self.store, list(batch_size.COLUMNS))
        model = self.base["model"]["name"]
        return batch_size.choose(None, budget, budget_text, batch_size.peaks_of(frame, model, self.machine), model)

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            print(text, file=sys.stderr)

    def _limits_text(self) -> str:
        return "".join(f", {k}={v:g}" for k, v in self.options.limits.items())

    def _prepare_sweep_dir(self) -> Any:
        from omegaconf import OmegaConf

        from xeonsweep.machine import doctor

        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        facts = doctor.examine()
        doctor.save(facts, self.sweep_dir)
        logging.getLogger("hydra._internal.core_plugins.basic_launcher").setLevel(logging.WARNING)
        return facts

    @contextlib.contextmanager
    def _host_lock(self) -> Iterator[None]:
        """Measuring here: the host lock for the whole search. On a cluster each job takes its node's lock
        and the search holds none (this host may be one of the nodes), as a grid sweep's submitter."""
        from xeonsweep.sweep.host_lock import host_lock

        if self.on_cluster:
            yield
            return
        with host_lock(f"search {self.id}", wait=self.config.lock.wait):
            yield

    # -- what the study knows ------------------------------------------------------------
    def _rows(self) -> list[dict]:
        frame = results.load(self.store, results.SUMMARY_COLUMNS)
        return frame[frame["search_id"] == self.id].to_dict("records")

    def _known(self) -> dict[str, Any]:
        """config_hash -> the finished trial that first told it (measured, or warm-started from a row)."""
        known: dict[str, Any] = {}
        for trial in studies.finished(self.study):
            config_hash = trial.user_attrs.get("config_hash")
            if config_hash and trial.user_attrs.get("source") in ("measured", "store") and config_hash not in known:
                known[config_hash] = trial
        return known

    def _measured(self) -> int:
        return sum(1 for t in studies.finished(self.study) if t.user_attrs.get("source") == "measured")

    def _recover(self) -> None:
        """Trials a killed session asked and never told: told from their row if it was written, else
        told failed (interrupted) and asked again, so the search measures each config once."""
        stale = studies.interrupted(self.study)
        if not stale:
            return
        scored = scoring.score(self._rows(), self.options.columns)
        rows = {int(r["trial"]): r for r in self._rows()}
        again = 0
        for trial in stale:
            if trial.number in scored and trial.number in rows:
                self._tell_scored(trial, scored[trial.number], rows[trial.number])
            else:
                studies.tell(self.study, trial, None, {}, source="interrupted",
                             reason="its session ended before it was measured; asked again")
                self.study.enqueue_trial(trial.params, skip_if_exists=False)
                again += 1
        self.say(f"resuming: {len(stale) - again} trial(s) read from the store, {again} asked again "
                 "(the last session ended before measuring them)")

    def _warm_start(self) -> None:
        known = set(self._known())
        if self.machine is None:
            self.say("warm start: none (the nodes' machine is unknown; give cluster.machine as their rows name it)")
            rows = []
        else:
            rows = warm.rows_of(results.load(self.store), self.base["model"]["name"], self.machine)
        added = warm.trials(rows, self.space, lambda params: self.fold(params).config_hash, known, self.options)
        if added:
            self.study.add_trials(added)
            self.say(f"warm start: {len(added)} config(s) of the store fall inside the space")
        if self._measured() == 0 and not self._waiting():
            baseline = self.fold(self.space.baseline())
            if baseline.config_hash not in self._known():
                self.study.enqueue_trial(self.space.baseline())

    def _waiting(self) -> bool:
        return bool(self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.space.dimensions]

    # -- stopping ------------------------------------------------------------------------
    def _stop(self) -> bool:
        o = self.options
        if o.n_trials is not None and self._measured() >= o.n_trials:
            self.stopped_by = f"search.n_trials={o.n_trials} configs measured"
        elif o.budget_s is not None and time.monotonic() - self.started >= o.budget_s:
            self.stopped_by = f"search.budget_s={o.budget_s:g} spent"
        elif self.patience_left is not None and self.patience_left <= 0:
            self.stopped_by = f"search.patience={o.patience}: no batch beat the incumbent for {o.patience} batches"
        return bool(self.stopped_by)

    # -- one batch -----------------------------------------------------------------------
    def _one_batch(self) -> None:
        batch = self._ask()
        if not batch.new and not batch.skipped:
            self.stopped_by = self.stopped_by or "the sampler proposes only configs already known (space exhausted)"
            return
        rows = self._measure(batch)
        self._tell(batch, rows)

    def _room(self) -> int:
        left = self.batch.size
        if self.options.n_trials is not None:
            left = min(left, self.options.n_trials - self._measured())
        return left

    def _ask(self) -> Batch:
        batch = Batch()
        known = self._known()
        rows = self._rows()
        # The first batch's reference is the baseline; after it, the incumbent (here: paired rounds) or none
        # (on a cluster: fresh runs on different nodes pair nothing).
        # A first batch asked by this process counts even when its reference left no row (a job lost with its
        # node): later batches must not bring the baseline back as a reference.
        first = not self.reference_asked and not any(r.get("measure_reference") for r in rows)
        incumbent = None if first else self._incumbent(rows)
        reference = self._reference(known, first, incumbent)
        batch.to_beat = self._first_value(incumbent, rows) if incumbent is not None else None
        room = self._room()
        repeats, exhausted = 0, False
        for _ in range(room * ASKS_PER_CANDIDATE):
            if len(batch.new) >= room:
                break
            if repeats >= REPEATS_BEFORE_EXPLORING:
                exhausted = not self._enqueue_unexplored(known, batch)
                if exhausted:
                    break
                repeats = 0
            trial = self.study.ask(self.space.distributions)
            folded = self.fold(trial.params)
            repeats += 1
            if folded.config_hash is None:
                self._refuse(batch, trial, folded)
            elif folded.config_hash in known:
                self._tell_known(trial, known[folded.config_hash])
            elif folded.config_hash in batch.new:
                batch.twins.append((trial, folded.config_hash))
            else:
                batch.new[folded.config_hash] = (trial, trial.params)
                repeats = 0
        if batch.new and (first or not self.on_cluster):
            batch.reference = reference or next(iter(batch.new.values()))
            self.reference_asked = True
        elif not batch.new:
            self.stopped_by = ("the sampler proposes only configs already known, and "
                               f"{EXPLORING_DRAWS} random draws found no other that can run (space exhausted)"
                               if exhausted else "the sampler proposes only configs already known (space exhausted)")
        return batch

    def _enqueue_unexplored(self, known: dict[str, Any], batch: Batch) -> bool:
        """The sampler repeats itself: queue a config no trial has measured, drawn at random (seeded),
        for the next ask; False when EXPLORING_DRAWS draws find none that can run."""
        if any(t.state == TrialState.WAITING for t in self.study.get_trials(deepcopy=False)):
            return True  # configs already queued (a resumed search's) are asked first: no draw yet
        scratch = samplers.explorer(seed=self.options.seed * 100_003 + len(self.study.trials))
        for _ in range(EXPLORING_DRAWS):
            params = scratch.ask(self.space.distributions).params
            folded = self.fold(params)
            if folded.config_hash is not None and folded.config_hash not in known \
                    and folded.config_hash not in batch.new:
                self.study.enqueue_trial(params, user_attrs={"explored": "the sampler proposed only known configs"})
                return True
        return False

    def _reference(self, known: dict[str, Any], first: bool, incumbent: Any) -> tuple[Any, dict] | None:
        """The first batch's reference is the baseline; then the incumbent (None: a new baseline leads)."""
        if first:
            trial = known.get(self.fold(self.space.baseline()).config_hash)
            trial = trial if trial is not None and trial.state == TrialState.COMPLETE else None
        else:
            trial = incumbent
        return (trial, trial.params) if trial is not None else None

    def _first_value(self, trial: Any, rows: list[dict]) -> float:
        """A known trial's first objective, from this search's rows when it has one, else as told."""
        scored = {s.config_hash: s for s in scoring.score(rows, self.options.columns).values() if s.values}
        own = scored.get(trial.user_attrs.get("config_hash"))
        return own.values[0] if own is not None else trial.values[0]

    def _incumbent(self, rows: list[dict]):
        """The best feasible trial on the first objective (values from this search's rows, else the warm
        start's); without a feasible one, the best of all."""
        scored = scoring.score(rows, self.options.columns)
        known = self._known()
        best, best_key = None, None
        sign = 1 if self.options.directions[0] == "maximize" else -1
        by_hash = {s.config_hash: s for s in scored.values() if s.values is not None}
        for config_hash, trial in known.items():
            if trial.state != TrialState.COMPLETE:
                continue
            s = by_hash.get(config_hash)
            value = s.values[0] if s else trial.values[0]
            feasible_now = s.feasible if s else all(v <= 0 for v in trial.constraints.values())
            key = (bool(feasible_now), sign * value)
            if best_key is None or key > best_key:
                best, best_key = trial, key
        return best

    def _refuse(self, batch: Batch, trial: Any, folded: Folded) -> None:
        """Settings that cannot go together: failed for the sampler, a skipped row the first time."""
        first = not any(t.user_attrs.get("reason") == folded.reason and t.params == trial.params
                        for t in studies.finished(self.study))
        studies.tell(self.study, trial, None, {}, source="refused", reason=folded.reason)
        if first and not folded.refused:
            batch.skipped.append((trial, trial.params, folded.reason))
        elif first:
            self.say(f"trial {trial.number}: {self.space.describe(trial.params)}: {folded.reason}")

    def _tell_known(self, trial: Any, twin: Any) -> None:
        """A config the study knows: its values again, without measuring."""
        if twin.state == TrialState.COMPLETE:
            studies.tell(self.study, trial, list(twin.values), dict(twin.constraints), source="known",
                         config_hash=twin.user_attrs["config_hash"], same_as=twin.number)
        else:
            studies.tell(self.study, trial, None, {}, source="known", config_hash=twin.user_attrs["config_hash"],
                         same_as=twin.number, reason=twin.user_attrs.get("reason"))

    # -- measuring and telling -----------------------------------------------------------
    def _job_overrides(self, trial: Any, params: dict, reference: bool = False) -> list[str]:
        return [*self.space.overrides(params), *self.extra, f"search.id={self.id}", f"search.trial={trial.number}",
                *(["search.reference=true"] if reference else [])]

    def _measure(self, batch: Batch) -> list[dict]:
        ref_trial, ref_params = batch.reference or (None, None)
        job_overrides = [self._job_overrides(ref_trial, ref_params, reference=True)] if batch.reference else []
        job_overrides += [self._job_overrides(t, p) for t, p in batch.new.values() if t is not ref_trial]
        job_overrides += [self._job_overrides(t, p) for t, p, _ in batch.skipped]
        numbers = [t.number for t, _ in batch.new.values()] + [t.number for t, _, _ in batch.skipped]
        sweep_id = f"{self.id}-t{min(numbers)}"
        plan = planning.plan_sweep(job_overrides, self.compose, self.cpu, sweep_id, None, self.machine)
        first = next(self.index)
        for _ in plan.jobs[1:]:
            next(self.index)
        describe = self._describe
        count = itertools.count(first + 1)
        return measure.measure_batch(
            plan.jobs, self.sweep_dir, first, self.machine, self.store,
            finished=lambda job, summary: self.progress.finished(next(count), describe(job), summary),
            label=describe, status=self.progress.status, note=self.progress.note,
            launcher=self.launcher if self.on_cluster else None)

    def _tell(self, batch: Batch, rows: list[dict]) -> None:
        scored = scoring.score(self._rows(), self.options.columns)
        by_trial = {int(r["trial"]): r for r in rows}
        beaten = False
        told: dict[str, Any] = {}
        for config_hash, (trial, _) in batch.new.items():
            s, row = scored.get(trial.number), by_trial.get(trial.number)
            if s is None or row is None:
                studies.tell(self.study, trial, None, {}, source="measured", config_hash=config_hash,
                             reason="no row was written for it")
            else:
                self._tell_scored(trial, s, row)
                beaten |= self._beats(s, batch, scored)
            told[config_hash] = trial
        for trial, config_hash in batch.twins:
            self._tell_known(trial, self.study.trials[told[config_hash].number])
        if self.patience_left is not None:
            self.patience_left = self.options.patience if beaten else self.patience_left - 1

    def _tell_scored(self, trial: Any, s: scoring.Scored, row: dict) -> None:
        if s.values is None:
            studies.tell(self.study, trial, None, {}, source="measured", config_hash=s.config_hash,
                         reason=f"{s.status}: {s.reason}")
            return
        constraints = dict(zip(self.options.limits, feasible.constraint_values(row, self.options.limits)))
        studies.tell(self.study, trial, s.values, constraints, source="measured", config_hash=s.config_hash)

    def _beats(self, s: scoring.Scored, batch: Batch, scored: dict) -> bool:
        """Beaten: a feasible candidate whose paired interval over the incumbent lies above 1 (one
        objective; unpaired, as fresh runs on a cluster are: its value more than the margin above the
        incumbent's), or that no earlier feasible config dominates (two)."""
        reference = batch.reference[0].number if batch.reference else None
        if not s.feasible or s.values is None or s.trial == reference:
            return False
        if len(self.options.objectives) == 1:
            if s.versus_reference is not None:
                return s.verdict == "faster"
            bar = batch.to_beat if batch.to_beat is not None else \
                next((o.values[0] for o in scored.values() if o.trial == reference and o.values), None)
            return bar is not None and s.values[0] > bar * (1 + scoring.MARGIN_PCT / 100)
        earlier = [o for o in scored.values() if o.values is not None and o.feasible and o.trial < s.trial]
        return not any(answers.dominates(o.values, s.values, self.options.directions) for o in earlier)

    def _describe(self, job: Job) -> str:
        role = " (reference)" if "search.reference=true" in job.overrides else ""
        return planning.describe(job.overrides, set(self.dimension_names)) + role

    # -- the answer's interval -----------------------------------------------------------
    def _confirm(self) -> None:
        """The best and the baseline side by side once, when no batch paired them: the answer's
        speedup is then paired too."""
        if self.on_cluster:
            return  # fresh runs on nodes of their own: nothing to pair, the answer's ratio is of their rows
        rows = self._rows()
        found = answers.compute(rows, self.options.objectives, None, self.dimension_names)
        if found.best is None or found.baseline is None or found.speedup is not None \
                or found.best.trial == found.baseline.trial:
            return
        self.say("measuring the best config beside the baseline, for the answer's paired interval")
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        base, best = trials[found.baseline.trial], trials[found.best.trial]
        job_overrides = [self._job_overrides(base, base.params, reference=True), self._job_overrides(best, best.params)]
        sweep_id = f"{self.id}-confirm{best.number}"
        plan = planning.plan_sweep(job_overrides, self.compose, self.cpu, sweep_id, None, self.machine)
        first = next(self.index)
        next(self.index)
        count = itertools.count(first + 1)
        measure.measure_batch(plan.jobs, self.sweep_dir, first, self.machine, self.store,
                              finished=lambda job, summary: self.progress.finished(next(count), self._describe(job),
                                                                                   summary),
                              label=self._describe, status=self.progress.status, note=self.progress.note)


def settings_store(run: dict) -> str:
    from xeonsweep.config.paths import absolute

    store = str(run["results"]["dir"])
    if "://" in store:
        raise UserError(f"results.dir={store}: a search keeps its study beside the store, on this machine's disk; "
                        "valid: a local folder")
    return absolute(store)


def run_search(config: Any, compose: Callable[[list[str]], dict], overrides: list[str], launcher: Any = None) -> list:
    """The sweeper's hand-over: a search instead of the grid. Bad input: one line, exit 2."""
    try:
        search = Search(config, compose, overrides, launcher)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        search.run()
    except UserError as exc:  # the host lock is busy and lock.wait=false
        print(f"xeonsweep: {exc}", file=sys.stderr)
        sys.exit(2)
    return []

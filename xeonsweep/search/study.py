"""The Optuna study of a search, kept in Optuna's journal storage beside the store.

`<results.dir>/_search/<search_id>.journal`: readers of the store skip `_` folders, and
`optuna-dashboard <that file>` opens it. The store stays the source of truth: every measured
trial is a row (search_id, trial); the journal holds what the sampler was told, so running
the same search again goes on from it.

Each trial carries user attributes: `config_hash` (the config it folded to), `source`
(measured, known: told an earlier trial's values without measuring, store: warm start from a
row, refused: settings that cannot go together) and `reason` for a failed one.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from xeonsweep.errors import UserError

FOLDER = "_search"
# A constraint's value when the row lacks the figure: far outside, but finite (GP fits on it).
MISSING = 1e9


def journal_path(store: str, search_id: str) -> Path:
    return Path(store) / FOLDER / f"{search_id}.journal"


def search_id(fixed: list[str], distributions: dict, objectives: tuple, limits: dict, sampler: dict, seed: int,
              machine: str) -> str:
    """The same search (space, objectives, limits, sampler, seed, machine) has the same id: running it
    again goes on with it. Budgets (n_trials, budget_s, patience, batch) are not part of it."""
    fixed = sorted(o for o in fixed if not o.split("=", 1)[0].lstrip("+~").startswith("search."))
    blob = json.dumps([fixed, {k: repr(v) for k, v in sorted(distributions.items())}, list(objectives),
                       sorted(limits.items()), sorted((k, repr(v)) for k, v in sampler.items()), seed, machine])
    return "search-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


def open_study(path: Path, name: str, directions: list[str], sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(study_name=name, storage=storage, directions=directions, sampler=sampler,
                                load_if_exists=True)
    had = [d.name.lower() for d in study.directions]
    if had != directions:
        raise UserError(f"search.id={name} was a search for {had}, not {directions}; give another search.id")
    return study


def handle(study: optuna.Study, trial: FrozenTrial | optuna.trial.Trial) -> optuna.trial.Trial:
    """A trial asked in an earlier session is a FrozenTrial: the running Trial to set its attributes on."""
    return trial if isinstance(trial, optuna.trial.Trial) else optuna.trial.Trial(study, trial._trial_id)


def finite(value: float) -> float:
    return MISSING if math.isinf(value) or math.isnan(value) else value


def tell(study: optuna.Study, trial: Any, values: list[float] | None, constraints: dict[str, float],
         **attrs: Any) -> None:
    """Tell a finished trial: its values (COMPLETE) or, with None, FAIL; `attrs` as user attributes."""
    running = handle(study, trial)
    for key, value in attrs.items():
        running.set_user_attr(key, value)
    if values is None:
        study.tell(running, state=TrialState.FAIL, skip_if_finished=True)
        return
    for name, value in constraints.items():
        running.set_constraint(name, finite(value))
    study.tell(running, values, skip_if_finished=True)


def warm_trial(params: dict, distributions: dict, values: list[float] | None, constraints: dict[str, float],
               **attrs: Any) -> FrozenTrial:
    """A trial from a row already in the store (study.add_trials)."""
    state = TrialState.COMPLETE if values is not None else TrialState.FAIL
    return optuna.trial.create_trial(
        state=state, params=params, distributions=distributions, values=values, user_attrs=attrs,
        constraints={k: finite(v) for k, v in constraints.items()} if values is not None else None)


def interrupted(study: optuna.Study) -> list[FrozenTrial]:
    """Trials asked by a session that died before telling them (kill -9, a lost node). Enqueued
    trials not yet asked (WAITING) stay: the next ask takes them."""
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def finished(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))

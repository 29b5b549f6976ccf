"""The Optuna sampler a search's YAML names (conf/search/*.yaml: `sampler._target_` and its
options), seeded.

A new sampler is one YAML file: its class and options. The search's limits reach the sampler
as Optuna 5's trial constraints (Trial.set_constraint, read by TPE and GP; Optuna 5
deprecates `constraints_func`); a sampler that ignores them (random) still never makes an
infeasible config the answer.
"""

from __future__ import annotations

import inspect

import optuna

from xeonsweep.errors import UserError
from xeonsweep.search.options import Options


def build(options: Options, distributions: dict) -> optuna.samplers.BaseSampler:
    """The sampler, checked on a throwaway study: bad options or a single-objective sampler for two
    objectives stop the search with one line, before anything runs."""
    from hydra.utils import get_class

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the search says what happens, in its own lines
    target = options.sampler["_target_"]
    try:
        cls = get_class(target)
    except Exception:
        raise UserError(f"search.sampler._target_={target} is not a class; valid: an Optuna sampler, e.g. "
                        "optuna.samplers.TPESampler (search=tpe)") from None
    kwargs = {k: v for k, v in options.sampler.items() if k != "_target_"}
    accepted = inspect.signature(cls).parameters
    if "seed" in accepted:
        kwargs["seed"] = options.seed
    try:
        sampler = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"search.sampler ({target}): {exc}; valid: the options of {cls.__name__}") from None
    _try(sampler, options, distributions, target)
    return cls(**kwargs)  # a fresh one: the try above moved its random state


def _try(sampler: optuna.samplers.BaseSampler, options: Options, distributions: dict, target: str) -> None:
    study = optuna.create_study(directions=options.directions, sampler=sampler)
    try:
        study.ask(distributions)
    except ValueError as exc:
        if len(options.directions) > 1:
            raise UserError(f"search.objective={list(options.objectives)}: {target.rpartition('.')[2]} optimises "
                            "one objective only; use search=tpe, gp or random for two") from None
        raise UserError(f"search.sampler ({target}) cannot sample this space: {exc}") from None


def explorer(seed: int) -> optuna.Study:
    """A scratch in-memory study whose RandomSampler draws uniformly over the space (seeded): where an
    unexplored config comes from when the search's own sampler proposes only configs already known."""
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))

"""The `search` settings, checked before anything runs: one line naming the bad value.

What each objective and limit reads from a row, and which scenario measures it, are here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xeonsweep.errors import UserError
from xeonsweep.store.feasible import LIMITS

# objective -> (the row's column, Optuna's direction)
OBJECTIVES = {
    "sps": ("sps", "maximize"),
    "peak_qps": ("peak_qps", "maximize"),
    "p99_ms": ("latency_ms_p99", "minimize"),
    "rss_mb": ("peak_rss_mb", "minimize"),
}
FIRST = ("sps", "peak_qps")      # what a search maximises ...
SECOND = ("p99_ms", "rss_mb")    # ... and what a two-objective search trades against it
# The row columns each scenario measures (server: peak_qps only when find_peak runs).
MEASURES = {
    "offline": {"sps", "latency_ms_p99", "cosine_similarity", "peak_rss_mb"},
    "single_stream": {"sps", "latency_ms_p99", "cosine_similarity", "peak_rss_mb"},
    "server": {"sps", "latency_ms_p99", "cosine_similarity", "peak_rss_mb"},
}
KEYS = ("sampler", "objective", *LIMITS, "batch", "n_trials", "budget_s", "patience", "seed", "id",
        "trial", "reference")


@dataclass(frozen=True)
class Options:
    sampler: dict
    objectives: tuple[str, ...]
    limits: dict[str, float]
    batch: int | None       # None: as many as fit the memory budget (search.batch_size)
    n_trials: int | None
    budget_s: float | None
    patience: int | None
    seed: int
    id: str | None

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    @property
    def columns(self) -> list[str]:
        return [OBJECTIVES[o][0] for o in self.objectives]

    @property
    def sampler_name(self) -> str:
        return str(self.sampler.get("_target_", "?")).rpartition(".")[2]


def asked(run: dict) -> bool:
    """Does this sweep ask for a search (a sampler), rather than the grid?"""
    return bool((run.get("search") or {}).get("sampler"))


def defaults() -> dict:
    """search=none's settings: what a grid sweep leaves as it is."""
    import yaml

    from xeonsweep.config.paths import CONF

    return yaml.safe_load((CONF / "search" / "none.yaml").read_text())


def refuse_without_sampler(run: dict, defaults: dict) -> None:
    """search.* settings changed while search=none: they would do nothing; say so instead."""
    search = run.get("search") or {}
    changed = [k for k in KEYS if k != "sampler" and search.get(k) != defaults.get(k)]
    if changed:
        key = changed[0]
        raise UserError(f"search.{key}={_shown(search[key])} needs a search: add search=tpe (or gp, random); "
                        "search=none sweeps every combination")


def read(run: dict) -> Options:
    """The search settings of a composed run, checked against its scenario."""
    search = dict(run.get("search") or {})
    unknown = sorted(set(search) - set(KEYS))
    if unknown:
        raise UserError(f"search.{unknown[0]} is not a search setting; valid: {', '.join(KEYS)}")
    sampler = search["sampler"]
    if not isinstance(sampler, dict) or "_target_" not in sampler:
        raise UserError(f"search.sampler={_shown(sampler)} is not valid; valid: a sampler's _target_ and options, "
                        "as in search=tpe, gp or random")
    options = Options(
        sampler=dict(sampler),
        objectives=_objectives(search["objective"]),
        limits={k: _number(search, k, 0.0) for k in LIMITS if search.get(k) is not None},
        batch=_batch(search.get("batch")),
        n_trials=_optional(search, "n_trials", 1, integer=True),
        budget_s=_optional(search, "budget_s", 0.0),
        patience=_optional(search, "patience", 1, integer=True),
        seed=int(_number(search, "seed", 0, integer=True)),
        id=_search_id(search.get("id")),
    )
    if "min_cosine" in options.limits and options.limits["min_cosine"] > 1:
        raise UserError(f"search.min_cosine={options.limits['min_cosine']:g} is not valid; valid: a number "
                        "from 0 to 1 (1: outputs identical to fp32 eager)")
    _check_scenario(run, options)
    return options


def _objectives(value: Any) -> tuple[str, ...]:
    names = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    valid = f"valid: {', '.join(FIRST)}, or two: [sps, p99_ms], [sps, rss_mb] (also with peak_qps)"
    if not 1 <= len(names) <= 2 or names[0] not in FIRST or (len(names) == 2 and names[1] not in SECOND):
        raise UserError(f"search.objective={_shown(value)} is not valid; {valid}")
    return names


def _check_scenario(run: dict, options: Options) -> None:
    scenario = (run.get("scenario") or {}).get("name", "offline")
    measured = set(MEASURES.get(scenario, ()))
    if scenario == "server" and (run.get("scenario") or {}).get("find_peak"):
        measured.add("peak_qps")
    if "peak_qps" in options.objectives and scenario != "server":
        raise UserError(f"search.objective=peak_qps needs scenario=server with scenario.find_peak=true "
                        f"(scenario={scenario} measures no peak QPS); valid here: sps")
    for name, column in zip(options.objectives, options.columns):
        if column not in measured:
            raise UserError(f"search.objective={name}: scenario={scenario} does not measure it"
                            + ("; add scenario.find_peak=true" if name == "peak_qps" else ""))
    for limit in options.limits:
        if LIMITS[limit][0] not in measured:
            raise UserError(f"search.{limit}: scenario={scenario} does not measure the {LIMITS[limit][2]}")
    if options.objectives[0] == "sps" and scenario != "offline":
        raise UserError(f"search.objective=sps is measured in paired rounds, offline only (scenario={scenario}); "
                        "use scenario=offline, or search.objective=peak_qps with scenario=server")
    if run["benchmark"]["repeats"] != 1:
        raise UserError(f"benchmark.repeats={run['benchmark']['repeats']}: a search measures each config once, in "
                        "paired rounds against the incumbent; valid: 1")


def _number(node: dict, key: str, minimum: float, integer: bool = False) -> float:
    value = node.get(key)
    kind = int if integer else (int, float)
    if not isinstance(value, kind) or isinstance(value, bool) or value < minimum or \
            (isinstance(value, float) and not math.isfinite(value)):
        what = "an integer" if integer else "a number"
        raise UserError(f"search.{key}={_shown(value)} is not valid; valid: {what} >= {minimum:g}")
    return value


def _batch(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"search.batch={_shown(value)} is not valid; valid: an integer >= 1, or null (as many "
                        "candidates as fit the memory budget, 2 to 8)")
    return value


def _optional(node: dict, key: str, minimum: float, integer: bool = False):
    return None if node.get(key) is None else _number(node, key, minimum, integer)


def _search_id(value: Any) -> str | None:
    from xeonsweep.config.settings import SWEEP_ID

    if value is not None and not SWEEP_ID.match(str(value)):
        raise UserError(f"search.id={value} is not valid; valid: letters, digits, '.', '_' and '-', starting with "
                        "a letter or digit (it names the search's journal file)")
    return None if value is None else str(value)


def _shown(value: Any) -> str:
    return "null" if value is None else str(list(value) if isinstance(value, (list, tuple)) else value)

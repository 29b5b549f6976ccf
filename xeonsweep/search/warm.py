"""Warm start: rows the store already has inside the space become trials before the first ask.

A row is inside the space when its settings give a value of every dimension and the
candidate made of those values folds to the row's own config_hash (same model and input,
same fixed settings); only `ok` rows of this machine count, the latest one per config. Its
values are the row's own figures (from another run's minutes: the sampler's prior, not a
paired comparison; the first batch measures the baseline again).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd

from xeonsweep.search import space as spaces, study as studies
from xeonsweep.search.options import Options
from xeonsweep.store import feasible


def rows_of(frame: pd.DataFrame, model: str, machine: str) -> list[dict]:
    """This model's ok rows on this machine, the latest per config."""
    if frame.empty:
        return []
    ok = frame[(frame["status"] == "ok") & (frame["model"] == model) & (frame["machine"] == machine)]
    ok = ok.sort_values("finished_at").drop_duplicates("config_hash", keep="last")
    return ok.to_dict("records")


def trials(rows: list[dict], space: spaces.Space, fold: Callable[[dict], str | None], known: set[str],
           options: Options) -> list:
    """Trials for the rows inside the space whose configs the study does not know yet.

    `fold` gives the config_hash a candidate's parameters fold to (None if they cannot run)."""
    found = []
    for row in rows:
        if row["config_hash"] in known or not row.get("config_json"):
            continue
        params = spaces.params_of(json.loads(row["config_json"]), space)
        if params is None or fold(params) != row["config_hash"]:
            continue
        values = [float(row[c]) if row.get(c) is not None and row[c] == row[c] else None for c in options.columns]
        if any(v is None for v in values):
            continue
        constraints = dict(zip(options.limits, feasible.constraint_values(row, options.limits)))
        found.append(studies.warm_trial(params, space.distributions, values, constraints, source="store",
                                        config_hash=row["config_hash"], run_key=row["run_key"]))
        known.add(row["config_hash"])
    return found

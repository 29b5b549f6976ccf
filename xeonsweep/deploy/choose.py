"""Which row a recipe reproduces: one run by its key, or the best `ok` config matching filters.

Only `ok` offline rows: a recipe times the closed loop, so a LoadGen row (single_stream,
server) has nothing in it to reproduce, and a failed row has no figure to expect.
"""

from __future__ import annotations

import pandas as pd

from xeonsweep.errors import UserError
from xeonsweep.report.tables import apply_filters

EXAMPLES = 3


def offline(rows: pd.DataFrame) -> pd.Series:
    return rows["scenario"].fillna("offline") == "offline"


def by_run_key(frame: pd.DataFrame, key: str, store: str) -> pd.Series:
    """The latest ok row of run `key` (a resumed or rerun config has several)."""
    rows = frame[frame["run_key"] == key]
    if rows.empty:
        keys = list(frame.loc[frame["status"] == "ok", "run_key"].drop_duplicates()[:EXAMPLES])
        raise UserError(f"--run {key} is not a run in {store}; valid: a run_key of its rows"
                        + (f", e.g. {', '.join(keys)}" if keys else " (it has no ok row)"))
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        last = rows.sort_values("started_at").iloc[-1]
        why = str(last["reason"]).splitlines()[0] if isinstance(last["reason"], str) else "no reason"
        raise UserError(f"--run {key} has no ok row in {store} (it was {last['status']}: {why}); "
                        "a recipe reproduces a measured run")
    if not offline(ok).all():
        raise UserError(f"--run {key} is a scenario={ok['scenario'].iloc[0]} row; a recipe reproduces an offline "
                        "(closed-loop) row, not a LoadGen one")
    return ok.sort_values("finished_at").iloc[-1]


def filtered(frame: pd.DataFrame, where: list[str], store: str) -> pd.DataFrame:
    """The ok offline rows matching every filter; names the filter that left none and what it could be."""
    rows = frame[(frame["status"] == "ok") & offline(frame)]
    for condition in where:
        kept = apply_filters(rows, [condition])
        if kept.empty:
            column = condition.partition("=")[0]
            values = sorted({str(v) for v in rows[column].dropna()})
            raise UserError(f"--where {condition} matches no ok offline row in {store}"
                            + (" (after " + " and ".join(where[:where.index(condition)]) + ")"
                               if where.index(condition) else "")
                            + f"; valid {column}: {', '.join(values) or 'none'}")
        rows = kept
    if rows.empty:
        raise UserError(f"{store} has no ok offline row; a recipe reproduces a measured run")
    return rows


def best(frame: pd.DataFrame, where: list[str], store: str) -> pd.Series:
    """The row of the config with the highest median SPS among the matching ok rows, on one machine.

    Of that config's rows, the one nearest its median (the latest among equals): the figure to expect.
    """
    rows = filtered(frame, where, store)
    machines = sorted(rows["machine"].dropna().unique())
    if len(machines) > 1:
        raise UserError(f"--best matches rows of {len(machines)} kinds of machine ({'; '.join(machines)}); "
                        "pick one with --where machine=...")
    medians = rows.groupby("config_hash")["sps"].median()
    config = medians.idxmax()
    candidates = rows[rows["config_hash"] == config]
    distance = (candidates["sps"] - medians[config]).abs()
    nearest = candidates[distance == distance.min()]
    return nearest.sort_values("finished_at").iloc[-1]

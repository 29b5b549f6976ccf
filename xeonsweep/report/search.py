"""The report's search section: for each search in the store (rows with a search_id), the answer
the search printed when it ended (xeonsweep.search.answer), from the rows, and `search-ID.png`.

The rows are the source: objectives and limits come from the rows' own settings (config_json);
the importances need the study, read from its journal beside the store when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def sections(frame: pd.DataFrame, store: str, out: Path) -> list[tuple[list[str], Path]]:
    """(the answer's lines, its PNG) per search in `frame`."""
    if "search_id" not in frame.columns:
        return []
    found = []
    for search_id, rows in frame[frame["search_id"].notna()].groupby("search_id", sort=True):
        found.append(section(str(search_id), rows, store, out))
    return found


def section(search_id: str, rows: pd.DataFrame, store: str, out: Path) -> tuple[list[str], Path]:
    from xeonsweep.search import answer

    study = _study(store, search_id)
    objectives = study.user_attrs.get("objectives") if study is not None else None
    objectives = objectives or _settings(store, search_id).get("objective") or "sps"
    objectives = tuple(objectives) if isinstance(objectives, list) else (objectives,)
    dimensions = study.user_attrs.get("dimensions") if study is not None else None
    records = rows.to_dict("records")
    found = answer.compute(records, objectives, study, dimensions or _varying(records))
    return answer.text(found, search_id), answer.plot(found, out / f"search-{search_id}.png")


def _settings(store: str, search_id: str) -> dict:
    """The search settings its rows were measured under (their config_json: every file is read)."""
    from xeonsweep.store import results

    frame = results.load(store, ["search_id", "config_json"])
    for text in frame.loc[frame["search_id"] == search_id, "config_json"].dropna():
        return json.loads(text).get("search") or {}
    return {}


def _study(store: str, search_id: str):
    """The study from its journal, or None (a store copied without its _search folder)."""
    from xeonsweep.search.study import journal_path

    path = journal_path(store, search_id)
    if "://" in store or not path.is_file():
        return None
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=search_id, storage=JournalStorage(JournalFileBackend(str(path))))
    except KeyError:
        return None


def _varying(records: list[dict]) -> list[str]:
    """Without the study: the override keys whose values differ between the rows."""
    values: dict[str, set[str]] = {}
    for row in records:
        for override in str(row.get("overrides") or "").split():
            key, _, value = override.partition("=")
            values.setdefault(key, set()).add(value)
    skip = ("search.", "sweep_id", "repeat", "benchmark.")
    return [k for k, v in values.items() if len(v) > 1 and not k.startswith(skip)]

"""Whether a search's row met the search's limits (search.max_p99_ms, min_cosine, max_rss_mb).

Pure: reads the row's own figures, so the row says it when it is written, and the search
tells Optuna the same thing (as constraint values: at most 0 is feasible).
"""

from __future__ import annotations

import math

# setting -> (the row's column, "max" or "min", the figure's name and unit as a person reads it)
LIMITS = {
    "max_p99_ms": ("latency_ms_p99", "max", "p99 latency", "ms"),
    "min_cosine": ("cosine_similarity", "min", "cosine similarity", ""),
    "max_rss_mb": ("peak_rss_mb", "max", "peak RSS", "MB"),
}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def excess(row: dict, setting: str, limit: float) -> float:
    """How far the row's figure is past `limit` (at most 0: within it); inf when the row lacks the figure."""
    column, kind, _, _ = LIMITS[setting]
    value = row.get(column)
    if _missing(value):
        return math.inf
    return value - limit if kind == "max" else limit - value


def constraint_values(row: dict, search: dict) -> list[float]:
    """One value per limit the search sets, in LIMITS order: what Optuna's constraints_func returns."""
    return [excess(row, name, search[name]) for name in LIMITS if search.get(name) is not None]


def breaches(row: dict, search: dict) -> list[str]:
    """The limits the row breaks, each named with its figure, e.g. "max_p99_ms=5: p99 latency 7.2 ms"."""
    found = []
    for name in LIMITS:
        limit = search.get(name)
        if limit is None or excess(row, name, limit) <= 0:
            continue
        column, _, figure, unit = LIMITS[name]
        value = row.get(column)
        shown = "not measured" if _missing(value) else f"{value:.6g}{(' ' + unit) if unit else ''}"
        found.append(f"{name}={limit:g}: {figure} {shown}")
    return found


def columns(run: dict, row: dict) -> dict:
    """The search columns of a row (`run`: its settings): empty outside a search; feasibility only for a
    measured row."""
    search = run.get("search") or {}
    if search.get("trial") is None:
        return {}
    found = {"search_id": search.get("id"), "trial": int(search["trial"])}
    if search.get("reference"):  # the batch's common reference (the incumbent): the others are paired with it
        found["measure_reference"] = True
    if row.get("status") != "ok":
        return found
    broken = breaches(row, search)
    return {**found, "feasible": not broken, "constraint": "; ".join(broken) or None}

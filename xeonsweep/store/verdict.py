"""What a row says of its run in one word: its status, or INVALID for a LoadGen run that was
measured (status `ok`) but did not meet its SLO, with why in LoadGen's own terms.

A plain server or single_stream run is INVALID when LoadGen judged it so (`loadgen_valid`);
a find_peak run is when no QPS it tried was VALID (no `peak_qps`). The single run's
one-line status, the sweep's progress line and the report all say it this way.
"""

from __future__ import annotations

from collections.abc import Mapping

INVALID = "INVALID"


def _value(row: Mapping, key: str):
    """A row's cell, None when missing or null (rows are dicts or pandas Series)."""
    value = row.get(key)
    try:
        missing = value is None or bool(value != value)  # NaN is not equal to itself
    except TypeError:  # pandas.NA: neither true nor false
        missing = True
    return None if missing else value


def slo_missed(row: Mapping) -> str | None:
    """Why a measured LoadGen run did not meet its SLO, or None (met it, or not a LoadGen run, or not measured)."""
    if row.get("status") != "ok" or _value(row, "loadgen_valid") is None or bool(row["loadgen_valid"]):
        return None
    why = _value(row, "loadgen_reason") or "LoadGen reported INVALID"
    qps = _value(row, "target_qps")
    at = f"LoadGen at {qps:g} QPS: " if qps is not None else "LoadGen: "
    if _value(row, "find_peak_runs") is not None and _value(row, "peak_qps") is None:
        return f"no QPS met the SLO ({slo_text(row)}) down to {lowest_qps(row):g} QPS; {at}{why}"
    return at + why


def lowest_qps(row: Mapping) -> float:
    """The lowest QPS a find_peak search tried (its last run's, when the steps cannot be read)."""
    import json

    try:
        steps = [step["target_qps"] for instance in json.loads(row["find_peak_runs"]) for step in instance]
        return min(float(q) for q in steps if q is not None)
    except (ValueError, TypeError, KeyError):
        return float(row.get("target_qps"))


def slo_text(row: Mapping) -> str:
    percentile, slo = _value(row, "latency_percentile"), _value(row, "latency_slo_ms")
    return f"p{percentile:g} <= {slo:g} ms" if percentile is not None and slo is not None else "its SLO"


def verdict(row: Mapping) -> tuple[str, str | None]:
    """(status word, reason): the row's own, or INVALID and why for a run that missed its SLO."""
    missed = slo_missed(row)
    if missed:
        return INVALID, missed
    return str(row.get("status")), _value(row, "reason")

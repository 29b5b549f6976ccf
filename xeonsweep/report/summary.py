"""One line per config: what the report tables show, computed from a store's rows (pure pandas).

Rows are grouped per machine, model and scenario, named by their ladder step and
the settings that differ (xeonsweep.report.labels), and pooled per config (its
config_hash: configs that differ in any fingerprinted setting stay apart; a LoadGen
run short of its SLO counts as INVALID with LoadGen's reason): rows measured in
interleaved blocks give the median with its 95% confidence interval (and the wider
interval a repeat's median should fall in: confidence.repeat_interval), fresh-process
repeats the median with its spread. Speedup is over a baseline config with an
interval from the two intervals, against the baseline measured in the same
memory group when there is one, within one scenario (none for server rows: their
samples/s is the offered load, and xeonsweep.report.serving ranks them by peak
QPS); configs whose intervals overlap share a tie letter. Rendering is
xeonsweep.report.tables's.
"""

from __future__ import annotations

import pandas as pd

from xeonsweep.report.labels import config_labels
from xeonsweep.stats import paired
from xeonsweep.stats.confidence import repeat_interval
from xeonsweep.store.verdict import verdict

NOISY = 0.10  # spread above this share of the median gets a warning
# One table per machine, model and scenario: a speedup is never taken across scenarios (a server
# row's samples/s is the load LoadGen offered, not a throughput; xeonsweep.report.serving ranks those).
TABLE = ["machine", "model", "scenario"]


def tables(frame: pd.DataFrame):
    """(machine, model, scenario) -> its rows; rows from before scenarios existed are offline."""
    scenario = frame["scenario"].fillna("offline") if "scenario" in frame else "offline"
    return frame.assign(scenario=scenario).groupby(TABLE, sort=False)


def status_and_reason(runs: pd.DataFrame) -> tuple[str, str]:
    """A config's status: ok, or what its other runs were (INVALID: measured, short of the SLO),
    with the first reason."""
    verdicts = [verdict(r) for _, r in runs.iterrows()]
    others = [(word, reason) for word, reason in verdicts if word != "ok"]
    if not others:
        return "ok", ""
    ok = len(verdicts) - len(others)
    reason = next((str(reason).splitlines()[0] for _, reason in others if reason), "")
    return "/".join(sorted({word for word, _ in others})) + (f" ({ok} ok)" if ok else ""), reason


def summarize_group(group: pd.DataFrame, baseline: str | None, with_speedup: bool = True) -> pd.DataFrame:
    group = group.assign(config=config_labels(group))  # one label per config_hash: configs are never pooled
    lines = []
    for config, runs in group.groupby("config", sort=False):
        ok = runs[runs["status"] == "ok"]
        blocks = ok[ok["sps_ci_low"].notna()]
        status, reason = status_and_reason(runs)
        lines.append({
            "config": config,
            "order": runs["ladder_position"].min() if runs["ladder_position"].notna().any() else float("inf"),
            "first_run": runs["started_at"].min(),
            "runs": len(runs),
            "ok": len(ok),
            **(block_figures(blocks) if len(blocks) else repeat_figures(ok)),
            "latency_p50_ms": ok["latency_ms_p50"].median() if len(ok) else float("nan"),
            "latency_p99_ms": ok["latency_ms_p99"].median() if len(ok) else float("nan"),
            "top1_agreement": ok["top1_agreement"].median() if len(ok) else float("nan"),
            "max_rel_error": ok["max_rel_error"].max() if len(ok) else float("nan"),
            "cosine_similarity": ok["cosine_similarity"].min() if len(ok) else float("nan"),
            "precision_used": ok["applied_precision"].dropna().iloc[0] if ok["applied_precision"].notna().any() else "",
            "status": status,
            "reason": reason,
            "_group_sps": group_figures(blocks),
            "_rounds": round_figures(blocks),
            "_margin_pct": blocks["equivalence_pct"].median() if "equivalence_pct" in blocks else float("nan"),
        })
    table = pd.DataFrame(lines).sort_values(["order", "first_run"]).drop(columns=["order", "first_run"])
    base = table[table["config"] == baseline] if baseline else table.head(1)
    base_line = base.iloc[0] if len(base) and with_speedup else None
    speedups = [speedup(line, base_line) for _, line in table.iterrows()]
    at = table.columns.get_loc("sps_median") + 1
    for offset, name in enumerate(("speedup", "speedup_low", "speedup_high", "speedup_kind")):
        table.insert(at + offset, name, [s[offset] for s in speedups])
    table = table.reset_index(drop=True)
    table["tie"], table["tie_kind"] = tie_labels(table)
    return table.drop(columns=["_group_sps", "_rounds", "_margin_pct"])


def repeat_figures(ok: pd.DataFrame) -> dict:
    """Fresh-process repeats: the median over repeats and their spread (no interval)."""
    median = ok["sps"].median() if len(ok) else float("nan")
    spread = (ok["sps"].max() - ok["sps"].min()) / median if len(ok) > 1 else float("nan")
    nan = float("nan")
    return {
        "measurement": "fresh", "sps_median": median, "sps_ci_low": nan, "sps_ci_high": nan, "ci_pct": nan,
        "sps_repeat_low": nan, "sps_repeat_high": nan,
        "target_met": None, "blocks": 0, "rounds": 0,
        "sps_min": ok["sps"].min() if len(ok) else nan, "sps_max": ok["sps"].max() if len(ok) else nan,
        "spread_pct": 100 * spread, "noisy": bool(spread > NOISY) if spread == spread else False,
    }


def block_figures(blocks: pd.DataFrame) -> dict:
    """Rows measured in interleaved blocks: each has the median over its blocks and its 95% interval.

    A config with several such rows (the common reference of memory groups, or
    a config measured by several sweeps) shows the median of its rows, within
    the envelope of their intervals.
    """
    low, high = blocks["sps_ci_low"].min(), blocks["sps_ci_high"].max()
    median = blocks["sps"].median()
    repeat_low, repeat_high = repeat_interval(median, low, high)
    return {
        "measurement": "blocks", "sps_median": median, "sps_ci_low": low, "sps_ci_high": high,
        "sps_repeat_low": repeat_low, "sps_repeat_high": repeat_high,
        "ci_pct": 100 * (high - low) / 2 / median if median else float("nan"),
        "target_met": bool(blocks["target_met"].fillna(False).all()),
        "target_ci_pct": blocks["target_ci_pct"].max(),
        "blocks": int(blocks["blocks"].fillna(0).sum()), "rounds": int(blocks["rounds"].fillna(0).max()),
        "sps_min": low, "sps_max": high, "spread_pct": float("nan"), "noisy": False,
    }


def group_figures(blocks: pd.DataFrame) -> dict:
    """(sweep, memory group) -> (sps, low, high) of a config's block rows: the common reference per group."""
    return {(r.sweep_id, int(r.measure_group)): (r.sps, r.sps_ci_low, r.sps_ci_high)
            for r in blocks.itertuples() if r.measure_group == r.measure_group and r.measure_group is not None}


def round_figures(blocks: pd.DataFrame) -> dict:
    """(sweep, memory group) -> {round: block SPS}: what pairs a config's blocks with another's (schema 6 on)."""
    if "block_round" not in blocks:
        return {}
    found = {}
    for r in blocks.itertuples():
        rounds = r.block_round
        if rounds is None or isinstance(rounds, float) or len(rounds) != len(r.block_sps):  # null: older rows
            continue
        group = int(r.measure_group) if r.measure_group == r.measure_group else 0
        found[(r.sweep_id, group)] = dict(zip((int(x) for x in rounds), r.block_sps))
    return found


def paired_ratios(line: pd.Series, other: pd.Series) -> list[float]:
    """line's blocks over other's, round by round, in every (sweep, group) both were measured in."""
    return [ratio for key in line["_rounds"] if key in other["_rounds"]
            for ratio in paired.ratios(line["_rounds"][key], other["_rounds"][key])]


def speedup(line: pd.Series, base: pd.Series | None) -> tuple[float, float, float, str]:
    """Speedup over the baseline and its 95% interval, and how it was found (`paired` or `unpaired`).

    Paired where both were measured in the same rounds (blocks of one sweep and memory group): the
    median of per-round ratios with its order-statistic interval, which holds from one run to the
    next where absolute SPS shifts. Otherwise (fresh runs, older rows) the interval comes from the two
    intervals, against the baseline measured in the same memory group when there is one.
    """
    nan = float("nan")
    if base is None:
        return nan, nan, nan, ""
    sps, low, high = line["sps_median"], line["sps_ci_low"], line["sps_ci_high"]
    if line["config"] == base["config"]:
        return 1.0, nan, nan, ""  # the reference itself: its own interval is in the SPS columns
    ratios = paired_ratios(line, base)
    if ratios:
        est = paired.median_interval(ratios)
        return est.median, (est.low if est.low > 0 else nan), (est.high if est.high < float("inf") else nan), "paired"
    base_sps, base_low, base_high = base["sps_median"], base["sps_ci_low"], base["sps_ci_high"]
    shared = [g for g in line["_group_sps"] if g in base["_group_sps"]]
    if len(shared) == 1 and len(line["_group_sps"]) == 1:
        base_sps, base_low, base_high = base["_group_sps"][shared[0]]
    if low == low and base_low == base_low and base_low > 0:
        return sps / base_sps, low / base_high, high / base_low, "unpaired"
    return sps / base_sps, nan, nan, "unpaired"


def tied(a: pd.Series, b: pd.Series) -> str:
    """"equivalent" (paired, the same speed within the margin), "open" (not told apart), or "" (told apart).

    Paired where both have blocks of the same rounds, else from overlapping unpaired intervals (open)."""
    ratios = paired_ratios(a, b)
    if ratios:
        margin = a["_margin_pct"] if a["_margin_pct"] == a["_margin_pct"] else 2.0
        word = paired.judge(ratios, margin).verdict
        return word if word in ("equivalent", "open") else ""
    return "open" if overlaps(a, b) else ""


def tie_labels(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Configs not told apart, directly or through a chain, share a letter: their order is noise. Beside each
    letter its kind: `equivalent` when every pair in it is the same speed within the margin, else `open`."""
    measured = [i for i, r in table.iterrows() if r["sps_ci_low"] == r["sps_ci_low"]]
    parent = {i: i for i in measured}

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    kinds = {}
    for a in measured:
        for b in measured:
            if a < b and (kind := tied(table.loc[a], table.loc[b])):
                kinds[(a, b)] = kind
                parent[root(b)] = root(a)
    members: dict[int, list[int]] = {}
    for i in measured:
        members.setdefault(root(i), []).append(i)
    labels, words = [""] * len(table), [""] * len(table)
    ties = sorted((m for m in members.values() if len(m) > 1), key=min)
    for letter, group in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", ties):
        pairs = [kind for (a, b), kind in kinds.items() if a in group and b in group]
        word = "equivalent" if pairs and all(kind == "equivalent" for kind in pairs) else "open"
        for i in group:
            labels[i], words[i] = letter, word
    return labels, words


def overlaps(a: pd.Series, b: pd.Series) -> bool:
    return a["sps_ci_low"] <= b["sps_ci_high"] and b["sps_ci_low"] <= a["sps_ci_high"]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with their config's label (per machine, model and scenario, as in the tables)."""
    parts = [group.assign(config=config_labels(group)) for _, group in tables(frame)]
    return pd.concat(parts) if parts else frame.assign(config=[])


def summarize(frame: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One line per (machine, model, scenario, config); empty store -> empty frame."""
    if frame.empty:
        return pd.DataFrame()
    parts = []
    for (machine, model, scenario), group in tables(frame):
        table = summarize_group(group, baseline, with_speedup=scenario != "server")
        table.insert(0, "scenario", scenario)
        table.insert(0, "model", model)
        table.insert(0, "machine", machine)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)

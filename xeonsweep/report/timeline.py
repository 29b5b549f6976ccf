"""A sweep over time: its configs' blocks and the machine speed probes around them.

From the rows of sweeps measured in interleaved blocks: plain words on whether
the machine's own speed (the probe's fixed matmul) moved during each sweep and
by how much, plain words on memory groups and their common reference, plain
words on what the sweep's goal settled, dropped or left open, and one PNG per
sweep drawing block SPS and probe speed on one time axis, with a mark at each
config's last block saying why its measuring stopped (its row's `stopped_by`).
Rows need a `config` column (the report's labels).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from xeonsweep.report import figures

MOVED = 0.05  # a probe range above this share of its median: the machine's own speed moved
PROBES = (("fp32", "probe_fp32_gflops"), ("bf16", "probe_bf16_gflops"))
# Why a config's measuring stopped (a row's stopped_by), as the timeline marks it: word, marker, colour.
STOPS = {"settled": ("settled", "D", "#2e8b57"), "dropped": ("dropped", "X", "#c44e52")}
OPEN = ("left open", "o", "#dd8452")  # anything else: the budget ran out before the goal was met


def probes(rows: pd.DataFrame) -> pd.DataFrame:
    """The sweep's probes, once each (every row carries those around its own blocks), in time order."""
    seen = {}
    for r in rows.itertuples():
        times = _values(r.probe_unix_s)
        for i, when in enumerate(times):
            seen[when] = {"unix_s": when, **{kind: _at(getattr(r, column), i) for kind, column in PROBES}}
    frame = pd.DataFrame(list(seen.values()), columns=["unix_s", "fp32", "bf16"])
    return frame.sort_values("unix_s").reset_index(drop=True)


def blocks(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per timed block: config, start, end and SPS."""
    lines = []
    for r in rows[rows["status"] == "ok"].itertuples():
        for sps, start, end in zip(_values(r.block_sps), _values(r.block_start_unix_s), _values(r.block_end_unix_s)):
            lines.append({"config": r.config, "start": start, "end": end, "sps": sps})
    return pd.DataFrame(lines, columns=["config", "start", "end", "sps"])


def stops(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per block row with a `stopped_by` (schema 6 on): its config, its last block's end, SPS and round,
    and why measuring it stopped there. A config measured in several memory groups has one per group."""
    lines = []
    if "stopped_by" not in rows:
        return pd.DataFrame(lines, columns=["config", "end", "sps", "round", "stopped_by"])
    for r in rows[(rows["status"] == "ok") & rows["stopped_by"].notna()].itertuples():
        ends, sps = _values(r.block_end_unix_s), _values(r.block_sps)
        if not ends or len(ends) != len(sps):
            continue
        last = max(range(len(ends)), key=ends.__getitem__)
        rounds = _values(getattr(r, "block_round", None))
        lines.append({"config": r.config, "end": ends[last], "sps": sps[last],
                      "round": int(rounds[last]) if len(rounds) == len(ends) else None, "stopped_by": r.stopped_by})
    return pd.DataFrame(lines, columns=["config", "end", "sps", "round", "stopped_by"])


def stop_style(stopped_by: str) -> tuple[str, str, str]:
    """(word, marker, colour) of a stop: settled, dropped, or left open (the budget ran out)."""
    return STOPS.get(stopped_by, OPEN)


def _values(cell) -> list:
    return [] if cell is None or (isinstance(cell, float) and cell != cell) else list(cell)


def _at(cell, i: int):
    values = _values(cell)
    value = values[i] if i < len(values) else None
    return None if value is None or value != value else float(value)


def mark_stops(ax, stopped: pd.DataFrame, t0: float, legend_ax=None) -> None:
    """At each config's last block: a marker and a short label saying why its measuring stopped there
    (settled, dropped, or left open by the budget, with its round), and a legend of the kinds on `legend_ax`."""
    from matplotlib.lines import Line2D

    kinds = {}
    for r in stopped.itertuples():
        word, marker, colour = stop_style(r.stopped_by)
        x = (r.end - t0) / 60
        ax.plot([x], [r.sps], marker=marker, markersize=9, markerfacecolor="none", markeredgecolor=colour,
                markeredgewidth=1.6, linestyle="none", zorder=5)
        label = word if r.round is None or r.round != r.round else f"{word} r{int(r.round)}"
        ax.annotate(label, (x, r.sps), xytext=(5, 4), textcoords="offset points", fontsize=7, color=colour)
        kinds[word] = Line2D([], [], marker=marker, markerfacecolor="none", markeredgecolor=colour, linestyle="none",
                             label=f"{word}: last block")
    if kinds:
        (legend_ax or ax).legend(handles=list(kinds.values()), loc="upper right", fontsize=7,
                                 title="measuring stopped", title_fontsize=7)


def clock(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, timezone.utc).strftime("%H:%M:%S UTC")


def machine_speed_words(frame: pd.DataFrame) -> list[str]:
    """Per sweep with probes: did the machine's own speed move during it, and by how much."""
    lines = []
    for (sweep, machine), rows in frame.groupby(["sweep_id", "machine"], sort=False):
        found = probes(rows)
        if len(found) < 2:
            continue
        moved, parts = False, []
        for kind in ("fp32", "bf16"):
            series = found.dropna(subset=[kind])
            if len(series) < 2:
                continue
            low, high = series.loc[series[kind].idxmin()], series.loc[series[kind].idxmax()]
            share = (high[kind] - low[kind]) / series[kind].median()
            moved |= share > MOVED
            parts.append(f"{kind} probe {low[kind]:.0f} to {high[kind]:.0f} GFLOP/s, a range of {100 * share:.0f}% "
                         f"of its median (lowest at {clock(low['unix_s'])}, highest at {clock(high['unix_s'])})")
        if not parts:
            continue
        span = f"{len(found)} probes from {clock(found['unix_s'].iloc[0])} to {clock(found['unix_s'].iloc[-1])}"
        if moved:
            lines.append(f"sweep {sweep} on {machine}: the machine's own speed moved during the sweep ({span}): "
                         + "; ".join(parts) + ". Blocks measured at different moments saw a different machine; "
                         "the interleaved rounds spread that over every config, and the intervals include it.")
        else:
            lines.append(f"sweep {sweep} on {machine}: the machine's own speed held steady during the sweep ({span}): "
                         + "; ".join(parts) + ".")
    return lines


def memory_group_words(frame: pd.DataFrame) -> list[str]:
    """Per sweep measured in several memory groups: which config was the common reference, and how it moved."""
    lines = []
    for (sweep, machine, model), rows in frame.groupby(["sweep_id", "machine", "model"], sort=False):
        measured = rows[rows["measure_group"].notna()]
        groups = sorted(measured["measure_group"].astype(int).unique())
        if len(groups) < 2:
            continue
        in_all = [c for c, r in measured.groupby("config", sort=False)
                  if set(r["measure_group"].astype(int)) == set(groups)]
        text = (f"sweep {sweep}, {model} on {machine}: not every config fitted in memory at once, so the configs were "
                f"measured in {len(groups)} memory groups one after another")
        if in_all:
            reference = in_all[0]
            ref = measured[measured["config"] == reference].sort_values("measure_group")
            figures = ", ".join(f"{s:.1f}" for s in ref["sps"])
            text += (f"; {reference} was measured in every group as the common reference (its SPS per group: "
                     f"{figures}), and speedups are taken against it within each group")
        else:
            text += "; no config was measured in every group, so configs of different groups compare less surely"
        lines.append(text + ".")
    return lines


GOAL_WORDS = {
    "precision": "settled: its 95% interval within benchmark.target_ci_pct",
    "rank": "settled: its place told apart from both neighbours, or the same speed within the margin",
    "best": "settled: the leader, or the same speed as it within the margin; dropped: wholly behind it",
}


def config_stops(rows: pd.DataFrame) -> dict[str, str]:
    """config -> settled, dropped or open: a config measured in several memory groups is open if any of its rows
    is, else dropped if any is."""
    found = {}
    for config, own in rows.groupby("config", sort=False):
        words = {stop_style(s)[0] for s in own["stopped_by"]}
        found[config] = "left open" if OPEN[0] in words else ("dropped" if "dropped" in words else "settled")
    return found


def goal_words(frame: pd.DataFrame) -> list[str]:
    """Per block sweep with a goal (schema 6 on): how many configs it settled, dropped, or left open, and which."""
    if "stopped_by" not in frame:
        return []
    lines = []
    measured = frame[(frame["status"] == "ok") & frame["stopped_by"].notna()]
    for (sweep, machine, model), rows in measured.groupby(["sweep_id", "machine", "model"], sort=False):
        goal = rows["goal"].dropna().iloc[0] if rows["goal"].notna().any() else "precision"
        margin = rows["equivalence_pct"].dropna()
        found = config_stops(rows)
        parts = []
        for word in ("settled", "dropped", "left open"):
            names = [c for c, w in found.items() if w == word]
            if names:
                named = "" if word == "settled" else f" ({', '.join(names)})"
                parts.append(f"{len(names)} {word}{named}")
        budget = "; the budget (benchmark.budget_s) ran out before the goal was met" \
            if "left open" in found.values() else ""
        gloss = GOAL_WORDS.get(goal, "")
        lines.append(f"sweep {sweep}, {model} on {machine}: benchmark.goal={goal}"
                     + (f" (margin {margin.iloc[0]:g}%)" if goal != "precision" and len(margin) else "")
                     + f": of {len(found)} configs, " + ", ".join(parts) + budget
                     + (f" ({gloss})" if gloss else "") + ".")
    return lines


def plot(frame: pd.DataFrame, out: Path) -> list[Path]:
    """One PNG per sweep with blocks or probes: block SPS per config (and relative to its median), probe speed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for sweep, rows in frame.groupby("sweep_id", sort=False):
        timed, found = blocks(rows), probes(rows)
        if timed.empty and found.empty:
            continue
        t0 = min([*timed["start"], *found["unix_s"]])
        fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
        for config, own in timed.groupby("config", sort=False):
            middle = ((own["start"] + own["end"]) / 2 - t0) / 60
            axes[0].plot(middle, own["sps"], marker="o", markersize=3, linewidth=0.8, label=config)
            axes[1].plot(middle, 100 * own["sps"] / own["sps"].median(), marker="o", markersize=3, linewidth=0.8)
        axes[0].set_ylabel("block SPS")
        if not timed.empty and timed["sps"].min() > 0:
            axes[0].set_yscale("log")
        if timed["config"].nunique() <= 20:
            longest = max(len(str(c)) for c in timed["config"].unique())
            # As many columns as fit the panel's width (long labels in three columns push the plot aside).
            axes[0].legend(fontsize=7, ncol=max(1, min(3, 120 // max(longest, 1))))
        mark_stops(axes[0], stops(rows), t0, legend_ax=axes[1])
        axes[1].set_ylabel("block SPS, % of its config's median")
        axes[1].axhline(100, color="grey", linewidth=0.6)
        for kind, color in (("fp32", "#4878a8"), ("bf16", "#c44e52")):
            series = found.dropna(subset=[kind])
            if len(series):
                axes[2].plot((series["unix_s"] - t0) / 60, series[kind], marker="s", color=color,
                             label=f"{kind} matmul")
        axes[2].set_ylabel("probe GFLOP/s")
        axes[2].set_xlabel(f"minutes since {clock(t0)}")
        if len(found):
            axes[2].legend(fontsize=8)
        axes[0].set_title(f"sweep {sweep}: blocks and machine speed over time", fontsize=10)
        paths.append(figures.save(fig, out / f"timeline-{sweep}.png"))
    return paths

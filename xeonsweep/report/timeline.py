"""A sweep over time: its configs' blocks and the machine speed probes around them.

From the rows of sweeps measured in interleaved blocks: plain words on whether
the machine's own speed (the probe's fixed matmul) moved during each sweep and
by how much, plain words on memory groups and their common reference, and one
PNG per sweep drawing block SPS and probe speed on one time axis. Rows need a
`config` column (the report's labels).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

MOVED = 0.05  # a probe range above this share of its median: the machine's own speed moved
PROBES = (("fp32", "probe_fp32_gflops"), ("bf16", "probe_bf16_gflops"))


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


def _values(cell) -> list:
    return [] if cell is None or (isinstance(cell, float) and cell != cell) else list(cell)


def _at(cell, i: int):
    values = _values(cell)
    value = values[i] if i < len(values) else None
    return None if value is None or value != value else float(value)


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
            axes[0].legend(fontsize=7, ncol=3)
        axes[1].set_ylabel("block SPS, % of its config's median")
        axes[1].axhline(100, color="grey", linewidth=0.6)
        for kind, color in (("fp32", "#4878a8"), ("bf16", "#c44e52")):
            series = found.dropna(subset=[kind])
            if len(series):
                axes[2].plot((series["unix_s"] - t0) / 60, series[kind], marker="s", color=color, label=f"{kind} matmul")
        axes[2].set_ylabel("probe GFLOP/s")
        axes[2].set_xlabel(f"minutes since {clock(t0)}")
        if len(found):
            axes[2].legend(fontsize=8)
        axes[0].set_title(f"sweep {sweep}: blocks and machine speed over time", fontsize=10)
        fig.tight_layout()
        path = out / f"timeline-{sweep}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths

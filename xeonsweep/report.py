"""`python -m xeonsweep.report [STORE] [--where k=v] [--baseline NAME] [--out DIR]`

The table a performance engineer reads: one line per config, in ladder order
(or the order configs were first run), per machine and model. SPS measured in
interleaved blocks is the median over blocks with its 95% confidence
interval; SPS from fresh-process repeats is the median over repeats with its
spread. Speedup is over the baseline config (the first one unless --baseline
names another), with an interval from the two configs' intervals, and taken
against the baseline measured in the same memory group when there is one.
Configs whose intervals overlap are marked as not distinguishable (a tie
column and a line in words), so nobody reads a ranking into noise. Failed and
skipped configs stay in the table with their reason. Notes say in plain words
when the machine's own speed (the probe) moved during a sweep, and when
configs were measured in memory groups. Written to the terminal, and to DIR as
report.md, report.csv, report.png (bars of SPS labelled with the speedup) and
one timeline-SWEEP.png per sweep measured in blocks (block SPS and probe
speed over time); for server rows also serving.md/.csv (configs ranked by
peak QPS under the SLO) and a latency-versus-load PNG per config
(xeonsweep.report_serving).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from xeonsweep import timeline
from xeonsweep.errors import UserError

# Settings that tell configs apart: rows that differ in any of them are never pooled
# (a ladder step run with another seed, env, batch or benchmark setting is another config).
DIMENSIONS = (
    "seq_len", "batch_size", "channels_last", "precision", "allocator", "thp", "backend", "backend_options",
    "quantization", "quantization_options", "workers", "runtime", "runtime_options",
    "input_shape", "seed", "env", "warmup", "iterations", "min_duration_s",
    "scenario", "target_qps", "latency_slo_ms", "latency_percentile", "max_wait_ms",
)
# Variables the launcher sets from other settings: what is left of child_env is the run's `env`.
LAUNCHER_VARIABLES = ("PYTHONUNBUFFERED", "VIRTUAL_ENV", "LD_PRELOAD", "MALLOC_CONF", "THP_MEM_ALLOC_ENABLE",
                      "OMP_NUM_THREADS")
NOISY = 0.10  # spread above this share of the median gets a warning


def apply_filters(frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    for condition in where:
        column, sep, value = condition.partition("=")
        if not sep or column not in frame.columns:
            raise UserError(f"--where {condition} is not valid; use column=value with a column of the store, e.g. model=vit")
        frame = frame[frame[column].astype(str) == value]
    return frame


def env_settings(child_env) -> str:
    """The `env` a run asked for, read back from the environment its child had."""
    import json

    if not isinstance(child_env, str):
        return ""
    env = {k: v for k, v in json.loads(child_env).items() if k not in LAUNCHER_VARIABLES}
    return ",".join(f"{k}={v}" for k, v in sorted(env.items()))


def config_labels(group: pd.DataFrame) -> pd.Series:
    """A name per row: its ladder step (if any), then the settings that differ between rows of that step
    (between rows without a step, for those)."""
    group = group.assign(env=group["child_env"].map(env_settings) if "child_env" in group else "")
    steps = group["ladder_step"].where(group["ladder_step"].map(lambda s: isinstance(s, str)), "")
    labels = pd.Series("", index=group.index, dtype=object)
    for step, rows in group.groupby(steps, sort=False):
        varying = [d for d in DIMENSIONS if d in rows and rows[d].astype(str).nunique() > 1]
        label = pd.Series(step, index=rows.index, dtype=object)
        for d in varying:
            label = label + f" {d}=" + rows[d].astype(str)
        labels[rows.index] = label.str.strip().replace("", "(one config)")
    return labels


def summarize_group(group: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    group = group.assign(config=config_labels(group))
    lines = []
    for config, runs in group.groupby("config", sort=False):
        ok = runs[runs["status"] == "ok"]
        blocks = ok[ok["sps_ci_low"].notna()]
        not_ok = runs[runs["status"] != "ok"]
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
            "status": "ok" if len(ok) == len(runs) else ("/".join(sorted(set(not_ok["status"])))
                                                        + (f" ({len(ok)} ok)" if len(ok) else "")),
            "reason": str(not_ok["reason"].dropna().iloc[0]).splitlines()[0] if not_ok["reason"].notna().any() else "",
            "_group_sps": group_figures(blocks),
        })
    table = pd.DataFrame(lines).sort_values(["order", "first_run"]).drop(columns=["order", "first_run"])
    base = table[table["config"] == baseline] if baseline else table.head(1)
    speedups = [speedup(line, base.iloc[0] if len(base) else None) for _, line in table.iterrows()]
    at = table.columns.get_loc("sps_median") + 1
    for offset, name in enumerate(("speedup", "speedup_low", "speedup_high")):
        table.insert(at + offset, name, [s[offset] for s in speedups])
    table = table.drop(columns=["_group_sps"]).reset_index(drop=True)
    table["tie"] = tie_labels(table)
    return table


def repeat_figures(ok: pd.DataFrame) -> dict:
    """Fresh-process repeats: the median over repeats and their spread (no interval)."""
    median = ok["sps"].median() if len(ok) else float("nan")
    spread = (ok["sps"].max() - ok["sps"].min()) / median if len(ok) > 1 else float("nan")
    nan = float("nan")
    return {
        "measurement": "fresh", "sps_median": median, "sps_ci_low": nan, "sps_ci_high": nan, "ci_pct": nan,
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
    return {
        "measurement": "blocks", "sps_median": median, "sps_ci_low": low, "sps_ci_high": high,
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


def speedup(line: pd.Series, base: pd.Series | None) -> tuple[float, float, float]:
    """Speedup over the baseline, with an interval from the two intervals (nan where either has none).

    A config measured in a memory group is compared with the baseline measured
    in that same group, when the baseline was (it is the common reference).
    """
    nan = float("nan")
    if base is None:
        return nan, nan, nan
    sps, low, high = line["sps_median"], line["sps_ci_low"], line["sps_ci_high"]
    if line["config"] == base["config"]:
        return 1.0, nan, nan  # the reference itself: its own interval is in the SPS columns
    base_sps, base_low, base_high = base["sps_median"], base["sps_ci_low"], base["sps_ci_high"]
    shared = [g for g in line["_group_sps"] if g in base["_group_sps"]]
    if len(shared) == 1 and len(line["_group_sps"]) == 1:
        base_sps, base_low, base_high = base["_group_sps"][shared[0]]
    if low == low and base_low == base_low and base_low > 0:
        return sps / base_sps, low / base_high, high / base_low
    return sps / base_sps, nan, nan


def tie_labels(table: pd.DataFrame) -> list[str]:
    """Configs whose 95% intervals overlap, directly or through a chain, share a letter: their order is noise."""
    measured = [i for i, r in table.iterrows() if r["sps_ci_low"] == r["sps_ci_low"]]
    parent = {i: i for i in measured}

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a in measured:
        for b in measured:
            if a < b and overlaps(table.loc[a], table.loc[b]):
                parent[root(b)] = root(a)
    members: dict[int, list[int]] = {}
    for i in measured:
        members.setdefault(root(i), []).append(i)
    labels = [""] * len(table)
    ties = sorted((m for m in members.values() if len(m) > 1), key=min)
    for letter, group in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", ties):
        for i in group:
            labels[i] = letter
    return labels


def overlaps(a: pd.Series, b: pd.Series) -> bool:
    return a["sps_ci_low"] <= b["sps_ci_high"] and b["sps_ci_low"] <= a["sps_ci_high"]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with their config's label (per machine and model, as in the tables)."""
    parts = [group.assign(config=config_labels(group)) for _, group in frame.groupby(["machine", "model"], sort=False)]
    return pd.concat(parts) if parts else frame.assign(config=[])


def summarize(frame: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One line per (machine, model, config); empty store -> empty frame."""
    if frame.empty:
        return pd.DataFrame()
    parts = []
    for (machine, model), group in frame.groupby(["machine", "model"], sort=False):
        table = summarize_group(group, baseline)
        table.insert(0, "model", model)
        table.insert(0, "machine", machine)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def fmt(value, pattern: str, empty: str = "-") -> str:
    return empty if value != value or value is None else pattern.format(value)


def interval(low, high, pattern: str) -> str:
    return "-" if low != low or low is None else f"{pattern.format(low)}-{pattern.format(high)}"


def display_rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for _, r in table.iterrows():
        ci = interval(r["sps_ci_low"], r["sps_ci_high"], "{:.1f}")
        if ci != "-":
            ci += f" (±{r['ci_pct']:.1f}%" + (")" if r["target_met"] else " !)")
        rows.append([
            r["config"], fmt(r["sps_median"], "{:.1f}"), ci,
            fmt(r["spread_pct"], "{:.0f}%") + (" !" if r["noisy"] else ""),
            fmt(r["speedup"], "{:.2f}x"), interval(r["speedup_low"], r["speedup_high"], "{:.2f}"), r["tie"] or "-",
            fmt(r["latency_p50_ms"], "{:.1f}"), fmt(r["latency_p99_ms"], "{:.1f}"),
            fmt(r["top1_agreement"], "{:.0%}"), fmt(r["max_rel_error"], "{:.1e}"), fmt(r["cosine_similarity"], "{:.5f}"),
            r["precision_used"] or "-",
            r["status"] + (f": {r['reason']}" if r["reason"] else ""),
        ])
    return rows


HEADERS = ["config", "SPS", "SPS 95% CI", "spread", "speedup", "speedup 95% CI", "tie", "p50 ms", "p99 ms",
           "top-1", "max rel err", "cosine", "precision", "status"]
LEFT = ("config", "status", "precision", "tie")


def to_markdown(summary: pd.DataFrame) -> str:
    out = []
    for (machine, model), table in summary.groupby(["machine", "model"], sort=False):
        out += [f"### {model} on {machine}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in display_rows(table)]
        out.append("")
    return "\n".join(out)


def warnings(summary: pd.DataFrame) -> list[str]:
    noisy = [
        f"{r['model']} {r['config']} on {r['machine']}: spread {r['spread_pct']:.0f}% of the median over {r['ok']} "
        "repeats; the machine was noisy: rerun with more benchmark.repeats or a longer benchmark.min_duration_s"
        for _, r in summary[summary["noisy"]].iterrows()
    ]
    unsure = [
        f"{r['model']} {r['config']} on {r['machine']}: its 95% interval is ±{r['ci_pct']:.1f}% of the median after "
        f"{r['blocks']} blocks, above the target of {r['target_ci_pct']:g}%: its place in the ranking is less sure"
        for _, r in summary[(summary["measurement"] == "blocks") & (summary["target_met"] == False)].iterrows()  # noqa: E712
    ]
    return noisy + unsure


def tie_words(summary: pd.DataFrame) -> list[str]:
    """Configs that cannot be told apart, in words."""
    lines = []
    for (machine, model), table in summary.groupby(["machine", "model"], sort=False):
        for tie, members in table[table["tie"] != ""].groupby("tie", sort=True):
            lines.append(f"{model} on {machine}: {', '.join(members['config'])} are not distinguishable from each "
                         f"other (tie {tie}: their 95% intervals overlap), so their order here is noise")
    return lines


def notes(summary: pd.DataFrame, frame: pd.DataFrame | None) -> list[str]:
    """Everything the tables need said in words: ties, the machine's speed, memory groups."""
    lines = tie_words(summary)
    if frame is not None and not frame.empty:
        rows = labelled(frame)
        lines += timeline.machine_speed_words(rows) + timeline.memory_group_words(rows)
    return lines


def print_terminal(summary: pd.DataFrame, frame: pd.DataFrame | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    for (machine, model), table in summary.groupby(["machine", "model"], sort=False):
        view = Table(title=f"{model} on {machine}")
        for header in HEADERS:
            view.add_column(header, justify="left" if header in LEFT else "right")
        for row in display_rows(table):
            view.add_row(*row)
        console.print(view)
    for line in notes(summary, frame):
        console.print(f"note: {line}", highlight=False)
    for line in warnings(summary):
        console.print(f"[yellow]warning:[/] {line}")


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(summary.groupby(["machine", "model"], sort=False))
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 0.45 * len(summary) + 1.6 * len(groups)), squeeze=False)
    for ax, ((machine, model), table) in zip(axes[:, 0], groups):
        sps = table["sps_median"].fillna(0)
        bars = ax.barh(table["config"], sps, color=["#4878a8" if s == "ok" else "#bbbbbb" for s in table["status"]])
        ax.errorbar(sps, range(len(table)), xerr=[sps - table["sps_min"].fillna(sps), table["sps_max"].fillna(sps) - sps],
                    fmt="none", ecolor="black", capsize=2, linewidth=0.8)
        for bar, (_, r) in zip(bars, table.iterrows()):
            text = fmt(r["speedup"], "{:.2f}x") if r["status"] == "ok" else r["status"]
            right = max(bar.get_width(), r["sps_max"] if r["sps_max"] == r["sps_max"] else 0)  # past the whisker
            ax.text(right, bar.get_y() + bar.get_height() / 2, f" {text}", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("samples per second (median; whiskers: 95% interval over blocks, or min-max over repeats)")
        ax.set_title(f"{model} on {machine}", fontsize=10)
        ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(summary: pd.DataFrame, out: Path, frame: pd.DataFrame | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.md", out / "report.csv", out / "report.png"]
    timelines = timeline.plot(labelled(frame), out) if frame is not None and not frame.empty else []
    text = to_markdown(summary) + "\n" + "".join(f"- {n}\n" for n in notes(summary, frame))
    text += "".join(f"- warning: {w}\n" for w in warnings(summary))
    text += "".join(f"\n![{p.stem}]({p.name})\n" for p in timelines)
    paths[0].write_text(text)
    summary.to_csv(paths[1], index=False)
    plot(summary, paths[2])
    return paths + timelines


def load(store: str):
    """The summary columns of the store, from its index (fast on a store of many runs)."""
    from xeonsweep import results

    return results.load(store, results.SUMMARY_COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xeonsweep report", description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="outputs/results")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE", help="keep rows where the column has this value (repeatable)")
    parser.add_argument("--baseline", help="config (ladder step or label) to compute speedups against; default: the first")
    parser.add_argument("--out", default="outputs/report", help="folder for report.md, report.csv, report.png, timeline-SWEEP.png")
    args = parser.parse_args(argv)
    try:
        frame = apply_filters(load(args.store), args.where)
        if frame.empty:
            raise UserError(f"no rows in {args.store}" + (f" where {' and '.join(args.where)}" if args.where else ""))
        summary = summarize(frame, args.baseline)
        if args.baseline and not (summary["config"] == args.baseline).any():
            raise UserError(f"--baseline {args.baseline} is not a config here; valid: {', '.join(summary['config'].unique())}")
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    from xeonsweep import report_serving

    print_terminal(summary, frame)
    serving = report_serving.write(frame, Path(args.out))
    if serving:
        print(serving[0].read_text())
    for path in write(summary, Path(args.out), frame) + serving:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m xeonsweep.report [STORE] [--where k=v] [--baseline NAME] [--out DIR]`

The table a performance engineer reads: one line per config, in ladder order
(or the order configs were first run), per machine and model. SPS is the
median over repeats, with its spread; speedup is over the baseline config
(the first one unless --baseline names another); failed and skipped configs
stay in the table with their reason. Written to the terminal, and to DIR as
report.md, report.csv and report.png (bars of SPS labelled with the speedup).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from xeonsweep.errors import UserError

# Settings that tell configs apart when a run has no ladder step name.
DIMENSIONS = (
    "seq_len", "batch_size", "channels_last", "precision", "allocator", "thp", "backend", "backend_options",
    "quantization", "quantization_options", "workers", "runtime", "runtime_options",
)
NOISY = 0.10  # spread above this share of the median gets a warning


def apply_filters(frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    for condition in where:
        column, sep, value = condition.partition("=")
        if not sep or column not in frame.columns:
            raise UserError(f"--where {condition} is not valid; use column=value with a column of the store, e.g. model=vit")
        frame = frame[frame[column].astype(str) == value]
    return frame


def config_labels(group: pd.DataFrame) -> pd.Series:
    """A name per row: its ladder step, or the settings that differ within the group."""
    varying = [d for d in DIMENSIONS if group[d].astype(str).nunique() > 1]

    def label(row) -> str:
        if isinstance(row["ladder_step"], str):
            return row["ladder_step"]
        return " ".join(f"{d}={row[d]}" for d in varying) or "(one config)"

    return group.apply(label, axis=1)


def summarize_group(group: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    group = group.assign(config=config_labels(group))
    lines = []
    for config, runs in group.groupby("config", sort=False):
        ok = runs[runs["status"] == "ok"]
        median = ok["sps"].median() if len(ok) else float("nan")
        spread = (ok["sps"].max() - ok["sps"].min()) / median if len(ok) > 1 else float("nan")
        not_ok = runs[runs["status"] != "ok"]
        lines.append({
            "config": config,
            "order": runs["ladder_position"].min() if runs["ladder_position"].notna().any() else float("inf"),
            "first_run": runs["started_at"].min(),
            "runs": len(runs),
            "ok": len(ok),
            "sps_median": median,
            "sps_min": ok["sps"].min() if len(ok) else float("nan"),
            "sps_max": ok["sps"].max() if len(ok) else float("nan"),
            "spread_pct": 100 * spread,
            "noisy": bool(spread > NOISY) if spread == spread else False,
            "latency_p50_ms": ok["latency_ms_p50"].median() if len(ok) else float("nan"),
            "latency_p99_ms": ok["latency_ms_p99"].median() if len(ok) else float("nan"),
            "top1_agreement": ok["top1_agreement"].median() if len(ok) else float("nan"),
            "max_rel_error": ok["max_rel_error"].max() if len(ok) else float("nan"),
            "cosine_similarity": ok["cosine_similarity"].min() if len(ok) else float("nan"),
            "precision_used": ok["applied_precision"].dropna().iloc[0] if ok["applied_precision"].notna().any() else "",
            "status": "ok" if len(ok) == len(runs) else ("/".join(sorted(set(not_ok["status"])))
                                                        + (f" ({len(ok)} ok)" if len(ok) else "")),
            "reason": str(not_ok["reason"].dropna().iloc[0]).splitlines()[0] if not_ok["reason"].notna().any() else "",
        })
    table = pd.DataFrame(lines).sort_values(["order", "first_run"]).drop(columns=["order", "first_run"])
    base = table[table["config"] == baseline] if baseline else table.head(1)
    base_sps = base["sps_median"].iloc[0] if len(base) else float("nan")
    table.insert(table.columns.get_loc("sps_median") + 1, "speedup", table["sps_median"] / base_sps)
    return table.reset_index(drop=True)


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


def display_rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for _, r in table.iterrows():
        rows.append([
            r["config"], fmt(r["sps_median"], "{:.1f}"),
            fmt(r["spread_pct"], "{:.0f}%") + (" !" if r["noisy"] else ""),
            fmt(r["speedup"], "{:.2f}x"), fmt(r["latency_p50_ms"], "{:.1f}"), fmt(r["latency_p99_ms"], "{:.1f}"),
            fmt(r["top1_agreement"], "{:.0%}"), fmt(r["max_rel_error"], "{:.1e}"), fmt(r["cosine_similarity"], "{:.5f}"),
            r["precision_used"] or "-",
            r["status"] + (f": {r['reason']}" if r["reason"] else ""),
        ])
    return rows


HEADERS = ["config", "SPS", "spread", "speedup", "p50 ms", "p99 ms", "top-1", "max rel err", "cosine", "precision", "status"]


def to_markdown(summary: pd.DataFrame) -> str:
    out = []
    for (machine, model), table in summary.groupby(["machine", "model"], sort=False):
        out += [f"### {model} on {machine}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in display_rows(table)]
        out.append("")
    return "\n".join(out)


def warnings(summary: pd.DataFrame) -> list[str]:
    return [
        f"{r['model']} {r['config']} on {r['machine']}: spread {r['spread_pct']:.0f}% of the median over {r['ok']} "
        "repeats; the machine was noisy: rerun with more benchmark.repeats or a longer benchmark.min_duration_s"
        for _, r in summary[summary["noisy"]].iterrows()
    ]


def print_terminal(summary: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    for (machine, model), table in summary.groupby(["machine", "model"], sort=False):
        view = Table(title=f"{model} on {machine}")
        for header in HEADERS:
            view.add_column(header, justify="left" if header in ("config", "status", "precision") else "right")
        for row in display_rows(table):
            view.add_row(*row)
        console.print(view)
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
        ax.set_xlabel("samples per second (median over repeats; whiskers: min-max)")
        ax.set_title(f"{model} on {machine}", fontsize=10)
        ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(summary: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.md", out / "report.csv", out / "report.png"]
    paths[0].write_text(to_markdown(summary) + "\n" + "".join(f"- warning: {w}\n" for w in warnings(summary)))
    summary.to_csv(paths[1], index=False)
    plot(summary, paths[2])
    return paths


def main(argv: list[str] | None = None) -> int:
    from xeonsweep.results import load

    parser = argparse.ArgumentParser(prog="xeonsweep report", description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="outputs/results")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE", help="keep rows where the column has this value (repeatable)")
    parser.add_argument("--baseline", help="config (ladder step or label) to compute speedups against; default: the first")
    parser.add_argument("--out", default="outputs/report", help="folder for report.md, report.csv, report.png")
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
    print_terminal(summary)
    for path in write(summary, Path(args.out)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m xeonsweep.report.tables [STORE] [--where k=v] [--baseline NAME] [--out DIR]`

The table a performance engineer reads: one line per config, in ladder order
(or the order configs were first run), per machine and model. SPS measured in
interleaved blocks is the median over blocks with its 95% confidence interval,
and beside it where a repeat of the sweep should find the median (the interval
widened by sqrt(2): xeonsweep.stats.confidence); SPS from fresh-process repeats is
the median over repeats with its spread. Speedup is over the baseline config
(the first one unless --baseline names another), with an interval from the two
configs' intervals, and taken against the baseline measured in the same memory
group when there is one. Configs whose intervals overlap are marked as not
distinguishable (a tie column and a line in words), so nobody reads a ranking
into noise. Failed and skipped configs stay in the table with their reason.
Notes say in plain words how many configs a block sweep's goal settled, dropped
or left open, when the machine's own speed (the probe) moved during a sweep, and
when configs were measured in memory groups. Written to the
terminal, and to DIR as report.md, report.csv, report.png (bars of SPS labelled
with the speedup) and one timeline-SWEEP.png per sweep measured in blocks
(block SPS and probe speed over time); for server rows also serving.md/.csv
(configs ranked by peak QPS under the SLO) and a latency-versus-load PNG per
config (xeonsweep.report.serving).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from xeonsweep.errors import UserError
from xeonsweep.report import figures, timeline
from xeonsweep.report.labels import setting_text
from xeonsweep.report.summary import TABLE, labelled, summarize


def where_value(text: str):
    """A --where value as Hydra reads an override's: true/false (any case), null, numbers; else the text."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        value = OverridesParser.create().parse_override(f"where={text}").value()
    except Exception:  # not a value Hydra's grammar takes (spaces, brackets...): the text as it is
        return text
    return value if isinstance(value, (bool, int, float, type(None))) else text


def matches(cells: pd.Series, text: str) -> pd.Series:
    """Cells equal to the value, compared as labels show values (setting_text), or to the very text."""
    wanted = setting_text(where_value(text))
    return cells.map(lambda cell: setting_text(cell) == wanted or str(cell) == text)


def apply_filters(frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    for condition in where:
        column, sep, value = condition.partition("=")
        if not sep or column not in frame.columns:
            raise UserError(f"--where {condition} is not valid; "
                            "use column=value with a column of the store, e.g. model=vit")
        frame = frame[matches(frame[column], value)]
    return frame


def title(machine: str, model: str, scenario: str) -> str:
    return f"{model} on {machine}" + ("" if scenario == "offline" else f", scenario={scenario}")


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
            interval(r["sps_repeat_low"], r["sps_repeat_high"], "{:.1f}"),
            fmt(r["spread_pct"], "{:.0f}%") + (" !" if r["noisy"] else ""),
            fmt(r["speedup"], "{:.2f}x"), interval(r["speedup_low"], r["speedup_high"], "{:.2f}"), r["tie"] or "-",
            fmt(r["latency_p50_ms"], "{:.1f}"), fmt(r["latency_p99_ms"], "{:.1f}"),
            fmt(r["top1_agreement"], "{:.0%}"), fmt(r["max_rel_error"], "{:.1e}"),
            fmt(r["cosine_similarity"], "{:.5f}"),
            r["precision_used"] or "-",
            r["status"] + (f": {r['reason']}" if r["reason"] else ""),
        ])
    return rows


HEADERS = ["config", "SPS", "SPS 95% CI", "a repeat's SPS", "spread", "speedup", "speedup 95% CI", "tie", "p50 ms",
           "p99 ms", "top-1", "max rel err", "cosine", "precision", "status"]
LEFT = ("config", "status", "precision", "tie")


def to_markdown(summary: pd.DataFrame) -> str:
    out = []
    for key, table in summary.groupby(TABLE, sort=False):
        out += [f"### {title(*key)}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
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
    for key, table in summary.groupby(TABLE, sort=False):
        for tie, members in table[table["tie"] != ""].groupby("tie", sort=True):
            if members["tie_kind"].iloc[0] == "equivalent":
                lines.append(f"{title(*key)}: {', '.join(members['config'])} are the same speed (tie {tie}: every "
                             "paired interval says neither is more than benchmark.equivalence_pct faster), so their "
                             "order is noise")
            else:
                lines.append(f"{title(*key)}: {', '.join(members['config'])} are not told apart (tie {tie}: their "
                             "95% intervals include equal speed), so their order here is noise")
    return lines


def notes(summary: pd.DataFrame, frame: pd.DataFrame | None) -> list[str]:
    """Everything the tables need said in words: ties, what each sweep's goal settled, the machine's speed, memory
    groups."""
    lines = tie_words(summary)
    if (summary["measurement"] == "blocks").any():
        lines.append("a repeat's SPS is where a second run of the same sweep should find the median 95% of the "
                     "time if the machine's noise stays as it was (the 95% CI widened by sqrt(2)): a confidence "
                     "interval catches a repeat's median only about 83% of the time")
    if frame is not None and not frame.empty:
        rows = labelled(frame)
        lines += timeline.goal_words(rows) + timeline.machine_speed_words(rows) + timeline.memory_group_words(rows)
    return lines


def sps_cell(r: pd.Series) -> tuple[str, str]:
    """SPS and how sure: its 95% CI (blocks; `!` when it missed its target), or the spread of fresh repeats."""
    if r["measurement"] == "blocks":
        return fmt(r["sps_median"], "{:.1f}"), interval(r["sps_ci_low"], r["sps_ci_high"], "{:.1f}") + (
            "" if r["target_met"] else " !")
    spread = fmt(r["spread_pct"], "spread {:.0f}%", "") + (" !" if r["noisy"] else "")
    return fmt(r["sps_median"], "{:.1f}"), spread


def fidelity(r: pd.Series) -> str:
    """Top-1 agreement with fp32 eager, or the cosine similarity of outputs for a model without classes."""
    if r["top1_agreement"] == r["top1_agreement"] and r["top1_agreement"] is not None:
        return f"{r['top1_agreement']:.0%}"
    return fmt(r["cosine_similarity"], "{:.5f}")


TERMINAL = ["config", "SPS (95% CI)", "speedup (95% CI)", "tie", "p99 ms", "top-1 / cos", "status"]


def terminal_rows(table: pd.DataFrame) -> list[list]:
    """The columns that answer the question, as report.terminal cells (a figure with its interval)."""
    return [[r["config"], sps_cell(r), speedup_cell(r), r["tie"] or "-", fmt(r["latency_p99_ms"], "{:.1f}"),
             fidelity(r), r["status"]] for _, r in table.iterrows()]


def speedup_cell(r: pd.Series) -> tuple[str, str]:
    return fmt(r["speedup"], "{:.2f}x"), interval(r["speedup_low"], r["speedup_high"], "{:.2f}")


def print_terminal(summary: pd.DataFrame, frame: pd.DataFrame | None = None, wide: bool = False,
                   width: int | None = None) -> None:
    """Per table: the few columns that answer the question, laid out to fit the terminal (all fifteen with
    `wide`); failure reasons under it; then notes and warnings."""
    from xeonsweep.report import terminal

    console = terminal.console(width)
    for key, table in summary.groupby(TABLE, sort=False):
        if wide:
            console.print(wide_table(title(*key), table))
            continue
        columns = [terminal.Column(h, text=h in ("config", "status")) for h in TERMINAL]
        console.print(terminal.fitted(title(*key), columns, terminal_rows(table), console.width))
        for _, r in table[table["reason"] != ""].iterrows():
            console.print(f"  {r['config']}: {r['status']}: {r['reason']}", highlight=False)
    if not wide and len(summary):
        console.print("more columns (a repeat's SPS, spread, p50, max rel err, cosine, precision): --wide, report.md, "
                      "report.csv, the page (--html)", highlight=False, style="dim")
    for line in notes(summary, frame):
        console.print(f"note: {line}", highlight=False)
    for line in warnings(summary):
        console.print(f"[yellow]warning:[/] {line}")


def wide_table(name: str, table: pd.DataFrame):
    """Every column, as report.md has them (`--wide`)."""
    from rich.table import Table

    view = Table(title=name)
    for header in HEADERS:
        view.add_column(header, justify="left" if header in LEFT else "right")
    for row in display_rows(table):
        view.add_row(*row)
    return view


LABEL_WIDTH = 44  # characters per line of a bar's label: longer labels wrap rather than being cut


def wrapped(label: str) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(label, LABEL_WIDTH, break_on_hyphens=False)) or label


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(summary.groupby(TABLE, sort=False))
    # Each bar as tall as its wrapped label, each chart as tall as its bars.
    heights = [sum(0.22 * wrapped(c).count("\n") + 0.45 for c in table["config"]) + 1.4 for _, table in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (key, table) in zip(axes[:, 0], groups):
        sps = table["sps_median"].fillna(0)
        bars = ax.barh([wrapped(c) for c in table["config"]], sps,
                       color=["#4878a8" if s == "ok" else "#bbbbbb" for s in table["status"]])
        spread = [sps - table["sps_min"].fillna(sps), table["sps_max"].fillna(sps) - sps]
        ax.errorbar(sps, range(len(table)), xerr=spread,
                    fmt="none", ecolor="black", capsize=2, linewidth=0.8)
        for bar, (_, r) in zip(bars, table.iterrows()):
            text = fmt(r["speedup"], "{:.2f}x", "") if r["status"] == "ok" else r["status"]
            right = max(bar.get_width(), r["sps_max"] if r["sps_max"] == r["sps_max"] else 0)  # past the whisker
            ax.text(right, bar.get_y() + bar.get_height() / 2, f" {text}", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("samples per second (median; whiskers: 95% interval over blocks, or min-max over repeats)")
        ax.set_title(title(*key), fontsize=10)
        ax.margins(x=0.15)
    figures.save(fig, path, dpi=110)


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


def make_out(out: Path) -> None:
    """The output folder, made before anything is printed: a path that cannot be one stops here."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(out))
    except OSError as exc:
        raise UserError(f"--out {out} cannot be made a folder to write in: {exc.strerror} ({exc.filename}); "
                        "valid: a folder you can write in (made if missing)") from None


def check_html(path: Path) -> None:
    """The page's file, checked before anything is printed: its folder is made, and must be writable."""
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None or path.is_dir():
        what = f"{blocker} is a file, not a folder" if blocker else f"{path} is a folder"
        raise UserError(f"--html {path} cannot be written: {what}; valid: a file path in a folder you can write in "
                        "(made if missing)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise PermissionError(13, "Permission denied", str(path.parent))
    except OSError as exc:
        raise UserError(f"--html {path} cannot be written: {exc.strerror} ({exc.filename}); "
                        "valid: a file path in a folder you can write in (made if missing)") from None


def price_list(path: Path | None, stored: pd.DataFrame):
    """--prices FILE checked against every machine of the store (None without it)."""
    if path is None:
        return None
    from xeonsweep.report import prices

    return prices.load(path, sorted(stored["machine"].dropna().unique()))


def load(store: str):
    """The summary columns of the store, from its index (fast on a store of many runs), and the rows'
    config_json (from every file: slower) only when configs that differ read the same in those
    columns (model keyword arguments, say), so that their labels can say how they differ."""
    from xeonsweep.report.labels import clashes
    from xeonsweep.report.summary import tables
    from xeonsweep.store import results

    frame = results.load(store, results.SUMMARY_COLUMNS)
    if frame.empty or not clashes(tables(frame)):
        return frame
    configs = results.load(store, ["run_key", "config_json"]).drop_duplicates("run_key")
    return frame.merge(configs, on="run_key", how="left")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xeonsweep report", description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", default="outputs/results")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                        help="keep rows where the column has this value (repeatable)")
    parser.add_argument("--baseline",
                        help="config (ladder step or label) to compute speedups against; default: the first")
    parser.add_argument("--out", default="outputs/report",
                        help="folder for report.md, report.csv, report.png, timeline-SWEEP.png")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="also write the report as one self-contained HTML page of interactive charts (no network)")
    parser.add_argument("--wide", action="store_true", help="print every column (as report.md has them), not only "
                        "those that fit the terminal")
    parser.add_argument("--by", choices=("config", "machine"), default="config",
                        help="machine: each machine's best config per model side by side (also machines.md/.csv)")
    parser.add_argument("--prices", type=Path, metavar="FILE",
                        help="YAML: a price per hour per machine label or cloud instance name "
                        "(docs/prices-example.yaml); adds the cost per million inferences (implies --by machine)")
    args = parser.parse_args(argv)
    try:
        stored = load(args.store)
        prices = price_list(args.prices, stored)
        frame = apply_filters(stored, args.where)
        if frame.empty:
            raise UserError(f"no rows in {args.store}" + (f" where {' and '.join(args.where)}" if args.where else ""))
        summary = summarize(frame, args.baseline)
        if args.baseline and not (summary["config"] == args.baseline).any():
            valid = ", ".join(summary["config"].unique())
            raise UserError(f"--baseline {args.baseline} is not a config here; valid: {valid}")
        make_out(Path(args.out))
        if args.html:
            check_html(args.html)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    from xeonsweep.report import machines, search as report_search, serving as report_serving

    side_by_side = machines.by_machine(summary, frame, prices)
    machine_note = machines.cost_note(str(args.prices)) if prices is not None else machines.NO_PRICES_NOTE
    if args.by == "machine" or prices is not None:
        machines.print_terminal(side_by_side, machine_note)
    else:
        print_terminal(summary, frame, wide=args.wide)
    serving = report_serving.write(frame, Path(args.out))
    if serving and args.by == "config" and prices is None:
        print(serving[0].read_text())
    written = write(summary, Path(args.out), frame) + serving
    for lines, png in report_search.sections(frame, args.store, Path(args.out)):
        print("\n".join(lines))
        with open(written[0], "a") as markdown:  # report.md: the answer too
            markdown.write("\n```\n" + "\n".join(lines) + f"\n```\n\n![{png.stem}]({png.name})\n")
        written.append(png)
    written += machines.write(side_by_side, Path(args.out), machine_note)
    if args.html:
        from xeonsweep.report import page

        written.append(page.write(args.html, summary, frame, args.store, notes(summary, frame), side_by_side,
                                  machine_note))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

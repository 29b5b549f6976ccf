"""`xeonsweep compare A [B] [--where ...] [--where-a ...] [--where-b ...] [--fail-on-slower PCT]`

Did B get faster or slower than A? Two stores (before and after a dependency
upgrade, say), or two sweeps of one store (`--where-a sweep_id=X --where-b
sweep_id=Y`, B defaulting to A's store). Configs are matched by `config_hash`,
each side pooled as the report pools it (xeonsweep.report.summary: the median of
block rows within the envelope of their 95% intervals, or the median of fresh
repeats, which has no interval). B/A's interval comes from the two intervals
apart, B's low / A's high to B's high / A's low (the report's speedup rule): the
sides ran at different times, so there are no shared rounds to pair, and a
change of the machine between them is not in the interval. A change whose
interval excludes 1 is flagged faster or slower; configs in one side only are
listed; each model gets a one-line verdict. `--fail-on-slower PCT` exits 1
when a config is slower by more than PCT percent (its interval below 1, or no
interval), to guard an upgrade in CI. Rows of different kinds of machine are
refused unless `--allow-other-machines`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import pandas as pd

from xeonsweep.errors import UserError
from xeonsweep.report.summary import block_figures, config_labels, repeat_figures
from xeonsweep.report.tables import apply_filters, fmt, interval

UNPAIRED_NOTE = ("B/A is unpaired: A and B ran at different times, so its interval is built from the two sides' "
                 "95% intervals apart (B's low / A's high to B's high / A's low), not from rounds timed together; "
                 "a change of the machine between the two is not in it")


@dataclass(frozen=True)
class Side:
    name: str       # "A" or "B"
    store: str
    where: list[str]
    rows: pd.DataFrame


def load_side(name: str, store: str, where: list[str]) -> Side:
    from xeonsweep.store import results

    if not results.is_store(store):
        raise UserError(f"{name}={store} is not a results store (no +schema.parquet and no row files in it); "
                        "valid: a results.dir that xeonsweep wrote")
    rows = apply_filters(results.load(store, results.SUMMARY_COLUMNS), where)
    if rows.empty:
        raise UserError(f"{name}={store} has no rows" + (f" where {' and '.join(where)}" if where else ""))
    return Side(name, store, where, rows)


def machines(side: Side) -> list[str]:
    return sorted(side.rows["machine"].dropna().unique())


def check_machines(a: Side, b: Side, allow: bool) -> bool:
    """True when configs are matched across machines (each side one machine, told to)."""
    ma, mb = machines(a), machines(b)
    if ma == mb:
        return False
    if not allow:
        raise UserError(f"A ran on {' + '.join(ma) or 'an unknown machine'} "
                        f"and B on {' + '.join(mb) or 'an unknown machine'}: "
                        "different kinds of machine are not compared; add --allow-other-machines to compare them "
                        "anyway, or pick one with --where machine=...")
    if len(ma) != 1 or len(mb) != 1:
        raise UserError("--allow-other-machines compares one machine with another: pick one per side with "
                        "--where-a machine=... and --where-b machine=...")
    return True


def figures(rows: pd.DataFrame) -> dict:
    """One side's figures for one config, pooled as the report pools them."""
    ok = rows[rows["status"] == "ok"]
    blocks = ok[ok["sps_ci_low"].notna()]
    found = block_figures(blocks) if len(blocks) else repeat_figures(ok)
    return {"ok": len(ok), "runs": len(rows), "sps": found["sps_median"], "low": found["sps_ci_low"],
            "high": found["sps_ci_high"], "status": "/".join(sorted(set(rows["status"])))}


def change(a: dict, b: dict) -> dict:
    """B over A, its interval from the two intervals (nan without both), and the verdict."""
    nan = float("nan")
    ratio = b["sps"] / a["sps"] if a["sps"] and a["sps"] == a["sps"] else nan
    has_interval = a["low"] == a["low"] and b["low"] == b["low"] and a["low"] > 0
    low, high = (b["low"] / a["high"], b["high"] / a["low"]) if has_interval else (nan, nan)
    if not has_interval:
        verdict = "no interval"
    elif low > 1:
        verdict = "faster"
    elif high < 1:
        verdict = "slower"
    else:
        verdict = "same"  # within the intervals: no change this comparison can tell
    return {"ratio": ratio, "ratio_low": low, "ratio_high": high, "change": verdict}


def labels(a: Side, b: Side) -> dict[str, str]:
    """config_hash -> a name, from the settings that differ between the configs of one model (both sides)."""
    both = pd.concat([a.rows, b.rows], ignore_index=True).drop_duplicates("config_hash")
    names: dict[str, str] = {}
    for _, group in both.groupby("model", sort=False):
        named = config_labels(group)
        for index, row in group.iterrows():
            names[row["config_hash"]] = named[index]
    taken = pd.Series(names).value_counts()
    # Configs that differ only in what the labels do not show are told apart by their hash.
    return {h: (n if taken[n] == 1 else f"{n} #{h[:6]}") for h, n in names.items()}


def compare(a: Side, b: Side, across_machines: bool) -> pd.DataFrame:
    """One line per config of either side: both sides' figures, B/A and the change."""
    keys = ["config_hash"] if across_machines else ["machine", "config_hash"]
    names = labels(a, b)
    groups_a = dict(list(a.rows.groupby(keys, sort=False)))
    groups_b = dict(list(b.rows.groupby(keys, sort=False)))
    lines = []
    for key in list(groups_a) + [k for k in groups_b if k not in groups_a]:
        rows = groups_a.get(key, groups_b.get(key))
        first = rows.iloc[0]
        line = {"machine": first["machine"], "model": first["model"], "config": names[first["config_hash"]],
                "config_hash": first["config_hash"], "in": "A and B" if key in groups_a and key in groups_b
                else ("A only" if key in groups_a else "B only")}
        fa = figures(groups_a[key]) if key in groups_a else None
        fb = figures(groups_b[key]) if key in groups_b else None
        for side, found in (("a", fa), ("b", fb)):
            for name, value in (found or {}).items():
                line[f"{side}_{name}"] = value
        nan = float("nan")
        line.update(ratio=nan, ratio_low=nan, ratio_high=nan, change=line["in"])
        if fa and fb:
            line.update(change(fa, fb) if fa["ok"] and fb["ok"]
                        else {"change": "not ok in " + ("A" if not fa["ok"] else "B")})
        lines.append(line)
    return pd.DataFrame(lines)


def slower_than(table: pd.DataFrame, pct: float) -> pd.DataFrame:
    """Configs slower by more than pct: B/A below 1 - pct/100, and not within the intervals."""
    below = table["ratio"] < 1 - pct / 100
    return table[below & table["change"].isin(["slower", "no interval"])]


def verdict(model: str, lines: pd.DataFrame) -> str:
    """One line for a model: what changed between A and B."""
    both = lines[lines["in"] == "A and B"]
    measured = both[both["ratio"].notna()]
    counts = measured["change"].value_counts()
    lead = []
    for word in ("slower", "faster"):
        if counts.get(word):
            most = measured[measured["change"] == word].sort_values("ratio", ascending=word == "slower").iloc[0]
            lead.append(f"{word} in {counts[word]} config(s) (most: {most['config']} {most['ratio']:.3f}x "
                        f"[{most['ratio_low']:.3f}-{most['ratio_high']:.3f}])")
    if lead:
        lead[0] = "B is " + lead[0]
    elif counts.get("same"):
        lead = ["no config changed beyond its interval"]
    elif len(measured):
        lead = ["nothing told apart (no intervals)"]
    else:
        lead = ["no config measured on both sides"]
    rest = [text.format(n) for text, n in (
        ("the same within the intervals in {}", counts.get("same", 0) if lead[0].startswith("B is") else 0),
        ("{} without an interval", counts.get("no interval", 0)),
        ("{} not ok on a side", len(both) - len(measured)),
        ("{} in A only", int((lines["in"] == "A only").sum())),
        ("{} in B only", int((lines["in"] == "B only").sum())),
    ) if n]
    return f"{model}: " + "; ".join(lead + rest)


def side_text(line: pd.Series, side: str) -> str:
    if line.get(f"{side}_ok") != line.get(f"{side}_ok"):  # not on this side
        return "-"
    if not line[f"{side}_ok"]:
        return line[f"{side}_status"]
    ci = interval(line[f"{side}_low"], line[f"{side}_high"], "{:.1f}")
    return fmt(line[f"{side}_sps"], "{:.1f}") + ("" if ci == "-" else f" [{ci}]")


def display_rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for _, line in table.iterrows():
        ci = interval(line["ratio_low"], line["ratio_high"], "{:.3f}")
        rows.append([line["model"], line["config"], side_text(line, "a"), side_text(line, "b"),
                     fmt(line["ratio"], "{:.3f}x") + ("" if ci == "-" else f" [{ci}]"), line["change"]])
    return rows


HEADERS = ["model", "config", "A SPS [95% CI]", "B SPS [95% CI]", "B/A [interval]", "change"]


def print_report(table: pd.DataFrame, a: Side, b: Side, across_machines: bool) -> list[str]:
    """The table, the unmatched configs, the verdicts and the note; returns the verdict lines."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    for side in (a, b):
        where = f" where {' and '.join(side.where)}" if side.where else ""
        console.print(f"{side.name}: {side.store}{where}: {len(side.rows)} rows on {' + '.join(machines(side))}",
                      highlight=False, markup=False, soft_wrap=True)
    view = Table()
    for header in HEADERS:
        view.add_column(escape(header), justify="left" if header in ("model", "config", "change") else "right")
    for row in display_rows(table):
        view.add_row(*map(escape, row))
    console.print(view)
    verdicts = [verdict(model, lines) for model, lines in table.groupby("model", sort=False)]
    for line in verdicts:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"note: {UNPAIRED_NOTE}"
                  + ("; the two sides ran on different kinds of machine (--allow-other-machines)"
                     if across_machines else ""), highlight=False, markup=False, soft_wrap=True)
    return verdicts


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xeonsweep compare", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("a", metavar="A", help="the store before (a results.dir)")
    parser.add_argument("b", metavar="B", nargs="?", help="the store after (default: A, for two sweeps of one store)")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                        help="keep rows of both sides where the column has this value (repeatable)")
    parser.add_argument("--where-a", action="append", default=[], metavar="COLUMN=VALUE",
                        help="the same for A only, e.g. sweep_id=...")
    parser.add_argument("--where-b", action="append", default=[], metavar="COLUMN=VALUE", help="the same for B only")
    parser.add_argument("--fail-on-slower", type=float, metavar="PCT",
                        help="exit 1 when a config is slower by more than PCT percent")
    parser.add_argument("--allow-other-machines", action="store_true",
                        help="compare rows of different kinds of machine")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    if args.fail_on_slower is not None and not 0 <= args.fail_on_slower < 100:
        raise UserError(f"--fail-on-slower {args.fail_on_slower:g} is not valid; "
                        "valid: a percentage from 0 to below 100")
    if args.b is None and not (args.where_a or args.where_b):
        raise UserError("compare needs two sides: a store B, or --where-a/--where-b to pick two sweeps of A "
                        "(e.g. --where-a sweep_id=X --where-b sweep_id=Y)")
    a = load_side("A", args.a, args.where + args.where_a)
    b = load_side("B", args.b or args.a, args.where + args.where_b)
    across = check_machines(a, b, args.allow_other_machines)
    table = compare(a, b, across)
    print_report(table, a, b, across)
    if args.fail_on_slower is None:
        return 0
    failing = slower_than(table, args.fail_on_slower)
    for _, line in failing.iterrows():
        print(f"xeonsweep: {line['model']} {line['config']} is slower by more than {args.fail_on_slower:g}%: "
              f"B/A {line['ratio']:.3f}", file=sys.stderr)
    return 1 if len(failing) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

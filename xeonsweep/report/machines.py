"""`report --by machine`: each machine's best config per model, side by side, and with
`--prices` what a million inferences cost on each.

Best is the config with the highest median SPS on that machine (configs it is tied with
are named: their order is noise). Cost per million inferences (samples) is
price per hour / (SPS x 3600) x 10^6; its interval comes from the SPS interval (the low
cost from the high SPS). For server rows, each machine's config with the highest QPS
served under the SLO, and the cost per million at that peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from xeonsweep.report import serving as report_serving
from xeonsweep.report.prices import Price

NO_PRICES_NOTE = ("each machine's best config per model (highest median SPS); give --prices FILE for the cost "
                  "per million inferences")


def cost_note(prices_file: str) -> str:
    return (f"cost per million inferences = price per hour / (SPS x 3600) x 10^6, with prices from {prices_file}: "
            "list prices as that file states them, not measured; check them before deciding. The cost interval "
            "comes from the SPS interval (the low cost from the high SPS).")


@dataclass
class MachineTables:
    offline: pd.DataFrame   # one line per (model, machine)
    serving: pd.DataFrame   # one line per (model, SLO, machine); empty without server rows
    priced: bool


def per_million(per_hour: float, per_second: float) -> float:
    return per_hour / (per_second * 3600) * 1e6 if per_second and per_second == per_second else float("nan")


def best_line(table: pd.DataFrame) -> dict:
    """A machine's best config for one model (NaN figures when nothing was measured)."""
    ok = table[table["sps_median"].notna()]
    if ok.empty:
        return {"config": "-", "sps": float("nan"), "sps_low": float("nan"), "sps_high": float("nan"),
                "p99_ms": float("nan"), "tied_with": "", "status": "nothing measured"}
    best = ok.loc[ok["sps_median"].idxmax()]
    tied = ok[(ok["tie"] == best["tie"]) & (ok["config"] != best["config"])]["config"] if best["tie"] else []
    return {"config": best["config"], "sps": best["sps_median"], "sps_low": best["sps_ci_low"],
            "sps_high": best["sps_ci_high"], "p99_ms": best["latency_p99_ms"], "tied_with": ", ".join(tied),
            "status": "ok"}


def offline_table(summary: pd.DataFrame, prices: dict[str, Price] | None) -> pd.DataFrame:
    """Per model and machine, the best offline (closed-loop) config: the throughput a machine gives."""
    if "scenario" in summary:
        summary = summary[summary["scenario"].fillna("offline") == "offline"]
    lines = []
    for (model, machine), table in summary.groupby(["model", "machine"], sort=False):
        line = {"model": model, "machine": machine, **best_line(table), "configs": len(table)}
        if prices is not None:
            price = prices.get(machine)
            per_hour = price.per_hour if price else float("nan")
            line.update(priced_as=price.name if price else "", per_hour=per_hour,
                        cost_per_million=per_million(per_hour, line["sps"]),
                        cost_low=per_million(per_hour, line["sps_high"]),
                        cost_high=per_million(per_hour, line["sps_low"]))
        lines.append(line)
    if not lines:  # only server rows: no offline figure to put side by side
        return pd.DataFrame(columns=["model", "machine", "config", "sps", "sps_low", "sps_high", "p99_ms", "tied_with"])
    table = pd.DataFrame(lines)
    order = ["model", "cost_per_million"] if prices is not None else ["model", "sps"]
    return table.sort_values(order, ascending=[True, prices is not None], na_position="last").reset_index(drop=True)


def serving_table(frame: pd.DataFrame, prices: dict[str, Price] | None) -> pd.DataFrame:
    peaks = report_serving.peak_table(frame) if "scenario" in frame else pd.DataFrame()
    if peaks.empty:
        return pd.DataFrame()
    best = peaks[peaks["rank"] == 1].drop(columns=["rank"])
    lines = []
    for _, r in best.iterrows():
        line = {"model": r["model"], "slo_ms": r["slo_ms"], "percentile": r["percentile"], "machine": r["machine"],
                "config": r["config"], "peak_qps": r["peak_qps"], "p99_ms_at_peak": r["p99_ms_at_peak"]}
        if prices is not None:
            price = prices.get(r["machine"])
            per_hour = price.per_hour if price else float("nan")
            line.update(priced_as=price.name if price else "", per_hour=per_hour,
                        cost_per_million_at_peak=per_million(per_hour, r["peak_qps"]))
        lines.append(line)
    order = "cost_per_million_at_peak" if prices is not None else "peak_qps"
    return (pd.DataFrame(lines).sort_values(["model", "slo_ms", order], ascending=[True, True, prices is not None])
            .reset_index(drop=True))


def by_machine(summary: pd.DataFrame, frame: pd.DataFrame, prices: dict[str, Price] | None = None) -> MachineTables:
    return MachineTables(offline_table(summary, prices), serving_table(frame, prices), prices is not None)


def _num(value, pattern: str) -> str:
    return "-" if value is None or value != value else pattern.format(value)


def _range(low, high, pattern: str) -> str:
    return "-" if low is None or low != low or high != high else f"{pattern.format(low)}-{pattern.format(high)}"


def _machine_name(r: pd.Series) -> str:
    named = r.get("priced_as")
    return f"{r['machine']} ({named})" if isinstance(named, str) and named and named != r["machine"] else r["machine"]


def offline_display(tables: MachineTables) -> pd.DataFrame:
    """The offline table as text cells, for the terminal, Markdown and the page."""
    rows = []
    for _, r in tables.offline.iterrows():
        row = {"model": r["model"], "machine": _machine_name(r), "best config": r["config"],
               "SPS": _num(r["sps"], "{:.1f}"), "SPS 95% CI": _range(r["sps_low"], r["sps_high"], "{:.1f}"),
               "p99 ms": _num(r["p99_ms"], "{:.1f}"), "tied with": r["tied_with"] or "-"}
        if tables.priced:
            row.update({"price/h": _num(r["per_hour"], "{:g}"), "cost per 1M": _num(r["cost_per_million"], "{:.3g}"),
                        "cost 95% CI": _range(r["cost_low"], r["cost_high"], "{:.3g}")})
        rows.append(row)
    return pd.DataFrame(rows)


def serving_display(tables: MachineTables) -> pd.DataFrame:
    rows = []
    for _, r in tables.serving.iterrows():
        row = {"model": r["model"], "SLO": f"p{r['percentile']:g} <= {r['slo_ms']:g} ms", "machine": _machine_name(r),
               "best config": r["config"], "peak QPS": _num(r["peak_qps"], "{:.1f}"),
               "p99 ms at peak": _num(r["p99_ms_at_peak"], "{:.1f}")}
        if tables.priced:
            row.update({"price/h": _num(r["per_hour"], "{:g}"),
                        "cost per 1M at peak": _num(r["cost_per_million_at_peak"], "{:.3g}")})
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(display: pd.DataFrame, title: str) -> str:
    if display.empty:
        return ""
    out = []
    for model, part in display.groupby("model", sort=False):
        part = part.drop(columns=["model"])
        out += [f"### {title}: {model}", "", "| " + " | ".join(part.columns) + " |", "|" + "---|" * len(part.columns)]
        out += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in part.itertuples(index=False)]
        out.append("")
    return "\n".join(out)


def terminal_rows(tables: MachineTables) -> list[tuple[str, list, list]]:
    """Per model, the offline and the serving table as (title, columns, rows) for report.terminal."""
    from xeonsweep.report.terminal import Column

    out = []
    for model, part in tables.offline.groupby("model", sort=False):
        columns = [Column("machine", text=True), Column("best config", text=True), Column("SPS (95% CI)"),
                   Column("p99 ms")]
        if tables.priced:
            columns += [Column("price/h"), Column("cost per 1M (95% CI)")]
        rows = []
        for _, r in part.iterrows():
            row = [r["machine"], r["config"], (_num(r["sps"], "{:.1f}"), _range(r["sps_low"], r["sps_high"], "{:.1f}")),
                   _num(r["p99_ms"], "{:.1f}")]
            if tables.priced:
                named = r["priced_as"] if r["priced_as"] != r["machine"] else ""
                row += [(_num(r["per_hour"], "{:g}"), named),
                        (_num(r["cost_per_million"], "{:.3g}"), _range(r["cost_low"], r["cost_high"], "{:.3g}"))]
            rows.append(row)
        out.append((f"{model}: each machine's best config", columns, rows))
    serving = serving_display(tables)
    for model, part in serving.groupby("model", sort=False) if len(serving) else []:
        part = part.drop(columns=["model"])
        columns = [Column(c, text=c in ("SLO", "machine", "best config")) for c in part.columns]
        out.append((f"{model}: serving, each machine's peak under the SLO", columns,
                    [list(row) for row in part.itertuples(index=False)]))
    return out


def tie_words(tables: MachineTables) -> list[str]:
    return [f"{r['model']} on {r['machine']}: {r['config']} is tied with {r['tied_with']} (their 95% intervals "
            "overlap): any of them is the best there" for _, r in tables.offline.iterrows() if r["tied_with"]]


def print_terminal(tables: MachineTables, note: str, width: int | None = None) -> None:
    from xeonsweep.report import terminal

    console = terminal.console(width)
    for title, columns, rows in terminal_rows(tables):
        console.print(terminal.fitted(title, columns, rows, console.width))
    for line in [*tie_words(tables), note]:
        console.print(f"note: {line}", highlight=False)


def write(tables: MachineTables, out: Path, note: str) -> list[Path]:
    """machines.md and machines.csv (and serving-machines.csv with server rows) in `out`."""
    paths = [out / "machines.md", out / "machines.csv"]
    text = to_markdown(offline_display(tables), "Machines")
    if len(tables.serving):
        text += "\n" + to_markdown(serving_display(tables), "Serving by machine")
        paths.append(out / "serving-machines.csv")
        tables.serving.to_csv(paths[2], index=False)
    paths[0].write_text(text + f"\n- {note}\n")
    tables.offline.to_csv(paths[1], index=False)
    return paths

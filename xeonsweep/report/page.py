"""`xeonsweep report STORE --html FILE`: the report as one self-contained HTML page.

Every chart is a Plotly figure; plotly.js is inlined once in the page's head and each
figure's div only calls it, so the file opens with no network (nothing is fetched: no
CDN, no MathJax, no fonts). The page holds, per machine and model: SPS per config with
its interval, sorted, ties marked; the speedup over the baseline with its interval;
p99 latency against throughput with the Pareto front; then the timeline of each sweep
measured in blocks (block SPS, where each config stopped being measured and why, and
the machine-speed probe); latency against load of
server rows; the per-machine table (best config per model, with cost when prices are
given); and the rows in a table with a small inline filter.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from xeonsweep.report import serving as report_serving, timeline
from xeonsweep.report.summary import labelled

# Plotly's default palette: a tie letter keeps its colour across a group's charts.
TIE_COLOURS = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"]
ALONE, NOT_OK = "#4878a8", "#bbbbbb"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
ROW_COLUMNS = ["sweep_id", "machine", "model", "config", "status", "sps", "sps_ci_low", "sps_ci_high",
               "latency_ms_p50", "latency_ms_p99", "batch_size", "precision", "allocator", "backend",
               "quantization", "workers", "scenario", "target_qps", "peak_qps", "measurement", "started_at",
               "run_key", "reason"]


def figure_html(fig, div_id: str) -> str:
    """One figure's div and the script that draws it (plotly.js itself is in the page's head)."""
    import plotly.io as pio

    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config=PLOT_CONFIG, div_id=div_id,
                       default_height=f"{fig.layout.height or 450}px", validate=True)


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["sps_median"].notna()]


def _hover(r: pd.Series) -> str:
    low, high = r["sps_min"], r["sps_max"]
    how = "95% CI" if r["measurement"] == "blocks" else "min-max over repeats"
    text = f"{html.escape(r['config'])}<br>SPS {r['sps_median']:.1f}"
    if low == low:
        text += f" ({how} {low:.1f}-{high:.1f})"
    return text + f"<br>p99 {r['latency_p99_ms']:.1f} ms" if r["latency_p99_ms"] == r["latency_p99_ms"] else text


def tie_colour(tie: str) -> str:
    return TIE_COLOURS[(ord(tie) - ord("A")) % len(TIE_COLOURS)] if tie else ALONE


def not_measured(status: str, reason: str) -> str:
    if status == "ok":  # a LoadGen server row: its figure is a peak QPS
        return "ok, no samples/s figure (a LoadGen scenario: see Serving)"
    return status + (f": {reason}" if reason else "")


def sps_figure(table: pd.DataFrame, title: str):
    """SPS per config, fastest on top, whiskers its interval (or min-max of repeats), a tie's members one colour."""
    import plotly.graph_objects as go

    ok = _ok(table).sort_values("sps_median")
    failed = table[table["sps_median"].isna()]
    fig = go.Figure(go.Bar(
        x=ok["sps_median"], y=ok["config"], orientation="h",
        marker_color=[tie_colour(t) for t in ok["tie"]],
        error_x={"type": "data", "array": (ok["sps_max"] - ok["sps_median"]).fillna(0),
                 "arrayminus": (ok["sps_median"] - ok["sps_min"]).fillna(0), "color": "black", "thickness": 1},
        text=[f"tie {t}" if t else "" for t in ok["tie"]], textposition="inside", insidetextanchor="start",
        hovertext=[_hover(r) for _, r in ok.iterrows()], hoverinfo="text", name="SPS"))
    if len(failed):
        fig.add_trace(go.Bar(x=[0] * len(failed), y=failed["config"], orientation="h", marker_color=NOT_OK,
                             text=[not_measured(s, r) for s, r in zip(failed["status"], failed["reason"])],
                             textposition="outside", name="not measured", hoverinfo="text"))
    fig.update_layout(title=title, xaxis_title="samples per second (median; whiskers: 95% interval, or min-max "
                      "of fresh repeats); one colour per tie", showlegend=False,
                      height=160 + 28 * len(table), margin={"l": 10})
    fig.update_yaxes(automargin=True, categoryorder="array", categoryarray=[*failed["config"], *ok["config"]])
    return fig


def speedup_figure(table: pd.DataFrame, title: str):
    """Each config's speedup over the baseline with its interval (paired when the summary's is)."""
    import plotly.graph_objects as go

    ok = _ok(table).sort_values("sps_median")
    fig = go.Figure(go.Bar(
        x=ok["speedup"], y=ok["config"], orientation="h", marker_color=[tie_colour(t) for t in ok["tie"]],
        error_x={"type": "data", "array": (ok["speedup_high"] - ok["speedup"]).fillna(0),
                 "arrayminus": (ok["speedup"] - ok["speedup_low"]).fillna(0), "color": "black", "thickness": 1},
        text=[f"{s:.2f}x" for s in ok["speedup"]], textposition="inside", insidetextanchor="start", name="speedup",
        hovertext=[f"{html.escape(c)}: {s:.2f}x" + (f" (95% interval {lo:.2f}-{hi:.2f})" if lo == lo else "")
                   for c, s, lo, hi in zip(ok["config"], ok["speedup"], ok["speedup_low"], ok["speedup_high"])],
        hoverinfo="text"))
    fig.add_vline(x=1, line_dash="dash", line_color="grey")
    fig.update_layout(title=title, xaxis_title="speedup over the baseline (whiskers: its 95% interval)",
                      showlegend=False, height=160 + 28 * len(ok), margin={"l": 10})
    fig.update_yaxes(automargin=True)
    return fig


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """The configs no other beats on both throughput (higher) and p99 latency (lower), by throughput."""
    front, best_latency = [], float("inf")
    for i, r in points.sort_values(["sps_median", "latency_p99_ms"], ascending=[False, True]).iterrows():
        if r["latency_p99_ms"] < best_latency:
            front.append(i)
            best_latency = r["latency_p99_ms"]
    return points.loc[front].sort_values("sps_median")


def pareto_figure(table: pd.DataFrame, title: str):
    import plotly.graph_objects as go

    points = _ok(table)
    points = points[points["latency_p99_ms"].notna()]
    front = pareto_front(points)
    fig = go.Figure(go.Scatter(
        x=points["sps_median"], y=points["latency_p99_ms"], mode="markers+text", text=points["config"],
        textposition="top center", textfont={"size": 9}, name="configs",
        marker={"color": [tie_colour(t) for t in points["tie"]], "size": 9},
        error_x={"type": "data", "array": (points["sps_max"] - points["sps_median"]).fillna(0),
                 "arrayminus": (points["sps_median"] - points["sps_min"]).fillna(0), "thickness": 1},
        hovertext=[_hover(r) for _, r in points.iterrows()], hoverinfo="text"))
    fig.add_trace(go.Scatter(x=front["sps_median"], y=front["latency_p99_ms"], mode="lines", name="Pareto front",
                             line={"dash": "dot", "color": "black"}, hoverinfo="skip"))
    fig.update_layout(title=title, xaxis_title="samples per second (median)", yaxis_title="p99 latency, ms",
                      height=460)
    return fig


PLOTLY_MARKERS = {"D": "diamond-open", "X": "x", "o": "circle-open"}  # timeline.STOPS' markers in Plotly


def timeline_figure(rows: pd.DataFrame, sweep: str):
    """Block SPS per config and the machine-speed probe on one time axis, each config's last block marked with
    why its measuring stopped (None without blocks or probes)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    timed, found, stops = timeline.blocks(rows), timeline.probes(rows), timeline.stops(rows)
    if timed.empty and found.empty:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("block SPS per config", "machine-speed probe (fixed matmul)"))
    for config, own in timed.groupby("config", sort=False):
        middle = pd.to_datetime((own["start"] + own["end"]) / 2, unit="s", utc=True)
        fig.add_trace(go.Scatter(x=middle, y=own["sps"], mode="lines+markers", name=config, legendgroup="blocks"),
                      row=1, col=1)
    for word, own in stops.groupby(stops["stopped_by"].map(lambda why: timeline.stop_style(why)[0]), sort=False):
        _, marker, colour = timeline.stop_style(own["stopped_by"].iloc[0])
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(own["end"], unit="s", utc=True), y=own["sps"], mode="markers+text",
            name=f"{word} (last block)",
            text=[word] * len(own), textposition="top right", textfont={"size": 9, "color": colour},
            marker={"symbol": PLOTLY_MARKERS.get(marker, "circle-open"), "size": 11, "color": colour},
            hovertext=[f"{c}: {word} after round {r}" for c, r in zip(own["config"], own["round"])], hoverinfo="text"),
            row=1, col=1)
    for kind in ("fp32", "bf16"):
        series = found.dropna(subset=[kind])
        if len(series):
            fig.add_trace(go.Scatter(x=pd.to_datetime(series["unix_s"], unit="s", utc=True), y=series[kind],
                                     mode="lines+markers", marker_symbol="square", name=f"{kind} probe"), row=2, col=1)
    fig.update_yaxes(title_text="block SPS", row=1, col=1)
    fig.update_yaxes(title_text="GFLOP/s", row=2, col=1)
    fig.update_layout(title=f"sweep {sweep}: blocks and machine speed over time", height=620)
    return fig


def serving_figure(points: pd.DataFrame, title: str):
    """Latency at the SLO's percentile against offered QPS, per config: VALID runs dots, INVALID crosses."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for n, (config, part) in enumerate(points.groupby("config", sort=False)):
        colour = TIE_COLOURS[n % len(TIE_COLOURS)]
        for valid, symbol in ((True, "circle"), (False, "x")):
            sel = part[part["valid"] == valid].sort_values("qps")
            if len(sel):
                fig.add_trace(go.Scatter(x=sel["qps"], y=sel["latency_ms"], mode="markers", marker_symbol=symbol,
                                         marker={"size": 9, "color": colour}, legendgroup=config,
                                         name=f"{config} ({'VALID' if valid else 'INVALID'})"))
    # The SLO as a line trace, not add_hline: a shape on a log axis takes its y as a power of ten.
    span = [points["qps"].min(), points["qps"].max()]
    for slo in points["latency_slo_ms"].dropna().unique():
        fig.add_trace(go.Scatter(x=span, y=[slo, slo], mode="lines", name=f"SLO {slo:g} ms",
                                 line={"dash": "dash", "color": "black"}))
    fig.update_layout(title=title, xaxis_title="target QPS (LoadGen server scenario)",
                      yaxis_title="latency at the SLO's percentile, ms", yaxis_type="log", height=440)
    return fig


def cost_figure(offline: pd.DataFrame, model: str):
    """Cost per million inferences of each machine's best config, whiskers from the SPS interval."""
    import plotly.graph_objects as go

    part = offline[(offline["model"] == model) & offline["cost_per_million"].notna()]
    if part.empty:
        return None
    part = part.sort_values("cost_per_million", ascending=False)
    names = [f"{m} ({n})" if n and n != m else m for m, n in zip(part["machine"], part["priced_as"])]
    fig = go.Figure(go.Bar(
        x=part["cost_per_million"], y=names, orientation="h", marker_color=ALONE,
        error_x={"type": "data", "array": (part["cost_high"] - part["cost_per_million"]).fillna(0),
                 "arrayminus": (part["cost_per_million"] - part["cost_low"]).fillna(0), "color": "black"},
        text=part["config"], textposition="inside", insidetextanchor="start", hoverinfo="x+y+text"))
    fig.update_layout(title=f"{model}: cost per million inferences, each machine's best config",
                      xaxis_title="price per hour / (SPS x 3600) x 10^6 (whiskers: from the SPS interval)",
                      height=160 + 40 * len(part), showlegend=False, margin={"l": 10})
    fig.update_yaxes(automargin=True)
    return fig


def html_table(frame: pd.DataFrame, table_id: str, filterable: bool = False) -> str:
    """A plain HTML table (escaped); with a text box that hides rows not containing every word typed."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    box = (f'<input type="search" class="filter" data-table="{table_id}" placeholder="filter rows: words that '
           'must all appear, e.g. resnet50 ok">' if filterable else "")
    table = f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'{box}<div class="scroll">{table}</div>'


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


FILTER_SCRIPT = """
document.querySelectorAll("input.filter").forEach(function (box) {
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    document.querySelectorAll("#" + box.dataset.table + " tbody tr").forEach(function (row) {
      var text = row.textContent.toLowerCase();
      row.style.display = words.every(function (w) { return text.indexOf(w) >= 0; }) ? "" : "none";
    });
  });
});
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
.scroll { max-height: 40em; overflow: auto; }
input.filter { width: 30em; margin: 0.5em 0; }
.note { color: #444; font-size: 13px; }
"""


class Page:
    """Sections of HTML, each figure with a unique div id."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.figures = 0

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, css: str = "note") -> None:
        self.parts.append(f'<p class="{css}">{html.escape(text)}</p>')

    def figure(self, fig) -> None:
        if fig is not None:
            self.figures += 1
            self.parts.append(figure_html(fig, f"chart-{self.figures}"))

    def raw(self, markup: str) -> None:
        self.parts.append(markup)


def performance_sections(page: Page, summary: pd.DataFrame) -> None:
    """Per machine, model and scenario (server tables are drawn under Serving: their figure is a peak QPS)."""
    from xeonsweep.report.tables import title

    scenario = summary["scenario"] if "scenario" in summary else pd.Series("offline", index=summary.index)
    for (machine, model, kind), table in summary.groupby([summary["machine"], summary["model"], scenario], sort=False):
        if kind == "server":
            continue
        name = title(machine, model, kind)
        page.heading(name)
        if _ok(table).empty:
            reasons = zip(table["config"], table["status"], table["reason"])
            page.text("no config of this model was measured here: "
                      + "; ".join(f"{c}: {s}" + (f" ({r})" if r else "") for c, s, r in reasons))
            continue
        page.figure(sps_figure(table, f"{name}: samples per second per config"))
        base = table[(table["speedup"] == 1.0) & table["speedup_low"].isna()]["config"]
        over = base.iloc[0] if len(base) else "the baseline"
        page.figure(speedup_figure(table, f"{name}: speedup over {over}"))
        page.figure(pareto_figure(table, f"{name}: p99 latency against throughput"))


def timeline_sections(page: Page, rows: pd.DataFrame) -> None:
    figures = [timeline_figure(part, sweep) for sweep, part in rows.groupby("sweep_id", sort=False)]
    figures = [f for f in figures if f is not None]
    if figures:
        page.heading("Sweeps over time")
        for line in timeline.goal_words(rows) + timeline.machine_speed_words(rows):
            page.text(line)
        for fig in figures:
            page.figure(fig)


def serving_sections(page: Page, frame: pd.DataFrame) -> None:
    if "scenario" not in frame or not (frame["scenario"] == "server").any():
        return
    page.heading("Serving: latency against load")
    named = report_serving.with_labels(frame[frame["status"] == "ok"])
    points = report_serving.load_points(named[named["scenario"] == "server"])
    for (machine, model), part in points.groupby(["machine", "model"], sort=False):
        page.figure(serving_figure(part, f"{model} on {machine}: latency against load"))
    table = report_serving.peak_table(frame)
    if len(table):
        page.raw(html_table(table, "serving-table"))


def machine_sections(page: Page, tables, note: str) -> None:
    """The machines side by side (report.machines), with cost charts when prices were given."""
    if tables is None or (tables.offline.empty and tables.serving.empty):
        return
    from xeonsweep.report import machines

    page.heading("Machines side by side")
    page.text(note)
    if len(tables.offline):
        page.raw(html_table(machines.offline_display(tables), "machines-table"))
    if len(tables.serving):
        page.heading("Serving by machine: each machine's peak under the SLO", 3)
        page.raw(html_table(machines.serving_display(tables), "serving-machines-table"))
    if tables.priced:
        for model in tables.offline["model"].unique():
            page.figure(cost_figure(tables.offline, model))


def rows_section(page: Page, rows: pd.DataFrame) -> None:
    page.heading("Rows")
    columns = [c for c in ROW_COLUMNS if c in rows]
    page.raw(html_table(rows[columns].sort_values("started_at") if "started_at" in rows else rows[columns],
                        "rows-table", filterable=True))


def render(summary: pd.DataFrame, frame: pd.DataFrame, store: str, notes: list[str],
           machine_tables=None, machine_note: str = "") -> str:
    """The whole page as one string."""
    from plotly.offline import get_plotlyjs

    page = Page()
    rows = labelled(frame)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page.raw(f"<h1>xeonsweep report: {html.escape(store)}</h1>")
    page.text(f"{len(frame)} rows, {frame['machine'].nunique()} machine(s), {frame['model'].nunique()} model(s); "
              f"made {made}. Charts are interactive (hover, zoom, click a legend entry to hide it).")
    for line in notes:
        page.text(f"note: {line}")
    performance_sections(page, summary)
    timeline_sections(page, rows)
    serving_sections(page, frame)
    machine_sections(page, machine_tables, machine_note)
    rows_section(page, rows)
    # plotly.js holds the text "</script" in strings: escaped, it cannot end its own element early.
    script = get_plotlyjs().replace("</script", "<\\/script")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>xeonsweep report</title>"
            f"<style>{STYLE}</style><script type=\"text/javascript\">{script}</script></head><body>"
            + "\n".join(page.parts) + f"<script>{FILTER_SCRIPT}</script></body></html>\n")


def write(path: Path, summary: pd.DataFrame, frame: pd.DataFrame, store: str, notes: list[str],
          machine_tables=None, machine_note: str = "") -> Path:
    path.write_text(render(summary, frame, store, notes, machine_tables, machine_note), encoding="utf-8")
    return path


"""The serving part of the report, for server rows: latency against load per config
(PNG, with the SLO line) and the configs ranked by the highest QPS they serve under
their SLO, next to their offline samples/s when the store has it.

A config's peak under an SLO is the highest QPS LoadGen called VALID for it: a
find_peak row's answer, or a plain server row that was VALID at its target QPS.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pandas as pd

from xeonsweep.report import figures
from xeonsweep.report.labels import config_labels, excluded, row_settings

# The load and the SLO: columns of the serving table of their own, so not in a config's name.
SERVING_KEYS = ("scenario", "target_qps", "latency_slo_ms", "latency_percentile")
# What only a LoadGen row has: left out when looking for the offline rows of the same config.
SCENARIO_ONLY = (*SERVING_KEYS, "max_wait_ms")
PERCENTILE_NAMES = {50.0: "p50", 90.0: "p90", 99.0: "p99", 99.9: "p99_9"}  # those LoadGen reports
SLUG_CHARS = 120  # a longer file name ends in a hash of the whole name instead


def at_percentile(percentile: float) -> str:
    """The LoadGen figure to plot against an SLO at this percentile (p99 when LoadGen has no such figure)."""
    return PERCENTILE_NAMES.get(float(percentile), "p99")


def with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A config name per row, per machine and model: the settings that differ, but the load and the SLO."""
    parts = [group.assign(config=config_labels(group, exclude=SERVING_KEYS))
             for _, group in frame.groupby(["machine", "model"], sort=False)]
    return pd.concat(parts) if parts else frame.assign(config=pd.Series(dtype=str))


def offline_twin(row: pd.Series) -> str:
    """What a server config shares with the offline rows of the same config: its settings but the scenario's."""
    return json.dumps({k: v for k, v in row_settings(row).items() if not excluded(k, SCENARIO_ONLY)}, sort_keys=True)


def load_points(server: pd.DataFrame) -> pd.DataFrame:
    """Every LoadGen run at a QPS: server rows, and the runs inside find_peak rows."""
    points = []
    for _, row in server.iterrows():
        base = {"machine": row["machine"], "model": row["model"], "config": row["config"],
                "latency_slo_ms": row["latency_slo_ms"], "latency_percentile": row["latency_percentile"]}
        if isinstance(row.get("find_peak_runs"), str):
            for instance_runs in json.loads(row["find_peak_runs"])[:1]:
                for run in instance_runs:
                    if "latency_ms" in run:
                        points.append({**base, "qps": run["target_qps"], "valid": run["valid"],
                                       "latency_ms": run["latency_ms"][at_percentile(row["latency_percentile"])]})
        else:
            points.append({**base, "qps": row["target_qps"], "valid": bool(row["loadgen_valid"]),
                           "latency_ms": row[f"latency_ms_{at_percentile(row['latency_percentile'])}"]})
    return pd.DataFrame(points)


def peak_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Configs ranked by the highest QPS served under each SLO, per machine and model."""
    frame = frame[frame["status"] == "ok"]
    server = with_labels(frame[frame["scenario"] == "server"])
    if server.empty:
        return pd.DataFrame()
    server = server.assign(twin=server.apply(offline_twin, axis=1))
    offline = frame[frame["scenario"].fillna("offline") == "offline"]
    offline = offline.assign(twin=offline.apply(offline_twin, axis=1) if len(offline) else pd.Series(dtype=str))
    lines = []
    keys = ["machine", "model", "config", "latency_slo_ms", "latency_percentile"]
    for (machine, model, config, slo, pct), runs in server.groupby(keys, sort=False, dropna=False):
        valid_qps = list(runs["peak_qps"].dropna()) + list(runs.loc[runs["loadgen_valid"] == True, "target_qps"])  # noqa: E712
        peak = max(valid_qps) if valid_qps else float("nan")
        at_peak = runs[(runs["target_qps"] == peak) & (runs["loadgen_valid"] == True)]  # noqa: E712
        same = offline[(offline["machine"] == machine) & (offline["model"] == model)
                       & (offline["twin"] == runs["twin"].iloc[0])]
        offline_sps = same["sps"].median() if len(same) else float("nan")
        lines.append({
            "machine": machine, "model": model, "config": config, "slo_ms": slo, "percentile": pct,
            "peak_qps": peak, "p99_ms_at_peak": at_peak["latency_ms_p99"].min() if len(at_peak) else float("nan"),
            "offline_sps": offline_sps,
            "offline_over_peak": offline_sps / peak if peak == peak and peak else float("nan"),
            "server_runs": len(runs),
        })
    table = pd.DataFrame(lines).sort_values(["machine", "model", "slo_ms", "peak_qps"],
                                            ascending=[True, True, True, False])
    table.insert(3, "rank", table.groupby(["machine", "model", "slo_ms"]).cumcount() + 1)
    return table.reset_index(drop=True)


def to_markdown(table: pd.DataFrame) -> str:
    headers = ["rank", "config", "SLO", "peak QPS", "p99 ms at peak", "offline SPS", "offline / peak"]
    out = []
    for (machine, model), part in table.groupby(["machine", "model"], sort=False):
        out += [f"### Serving: {model} on {machine}", "", "| " + " | ".join(headers) + " |",
                "|" + "---|" * len(headers)]
        for _, r in part.iterrows():
            cells = [str(r["rank"]), r["config"], f"p{r['percentile']:g} <= {r['slo_ms']:g} ms",
                     _num(r["peak_qps"], "{:.1f}"), _num(r["p99_ms_at_peak"], "{:.1f}"),
                     _num(r["offline_sps"], "{:.1f}"), _num(r["offline_over_peak"], "{:.2f}x")]
            out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def _num(value, pattern: str) -> str:
    return "-" if value is None or value != value else pattern.format(value)


def plot_latency_vs_load(frame: pd.DataFrame, out: Path) -> list[Path]:
    """One PNG per (machine, model, config): the latency at the SLO's percentile of each LoadGen run
    against its QPS, VALID and INVALID runs apart, with the SLO line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = frame[frame["status"] == "ok"]
    points = load_points(with_labels(ok[ok["scenario"] == "server"]))
    paths = []
    if points.empty:
        return paths
    for (machine, model, config), part in points.groupby(["machine", "model", "config"], sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for valid, marker in ((True, "o"), (False, "x")):
            sel = part[part["valid"] == valid].sort_values("qps")
            ax.plot(sel["qps"], sel["latency_ms"], marker, label="VALID" if valid else "INVALID",
                    color="#4878a8" if valid else "#c44e52")
        for slo in part["latency_slo_ms"].dropna().unique():
            ax.axhline(slo, color="black", linestyle="--", linewidth=0.9, label=f"SLO {slo:g} ms")
        ax.set_yscale("log")
        ax.set_xlabel("target QPS (LoadGen server scenario)")
        names = sorted({at_percentile(p) for p in part["latency_percentile"].dropna()}) or ["p99"]
        ax.set_ylabel(f"{'/'.join(names)} latency, ms (LoadGen)")
        ax.set_title(f"{model} on {machine}\n" + "\n".join(textwrap.wrap(config, 80)), fontsize=9)
        ax.legend(fontsize=8)
        paths.append(figures.save(fig, out / f"latency-vs-load-{slug(f'{model}-{machine}-{config}')}.png", dpi=110))
    return paths


def slug(name: str) -> str:
    """A file name from a config's name: whole when short, else cut and told apart by a hash of the whole."""
    import hashlib

    text = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    if len(text) <= SLUG_CHARS:
        return text
    return text[: SLUG_CHARS - 9].rstrip("-") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def write(frame: pd.DataFrame, out: Path) -> list[Path]:
    """serving.md, serving.csv and the charts; nothing when the store has no server rows."""
    if "scenario" not in frame or not (frame["scenario"] == "server").any():
        return []
    out.mkdir(parents=True, exist_ok=True)
    table = peak_table(frame)
    paths = [out / "serving.md", out / "serving.csv"]
    paths[0].write_text(to_markdown(table) + "\n")
    table.to_csv(paths[1], index=False)
    return paths + plot_latency_vs_load(frame, out)

"""What rank_stability.py and racing.py read from block sweeps: one sweep run as a user runs it,
the time its rounds took with set-up apart, and paired comparisons of its configs from the
blocks of the same rounds (block_round, block_sps). Pure but for `run_sweep`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xeonsweep.report import summary as report_summary  # noqa: E402
from xeonsweep.stats import paired  # noqa: E402

DEFAULT_MARGIN_PCT = 2.0  # benchmark.equivalence_pct's default, for rows that do not say


def run_sweep(arguments: list[str], folder: Path, cache: Path) -> float:
    """One `python -m xeonsweep -m ...` invocation into folder/results with this cache; its wall time in seconds
    (from the command's start to its exit: interpreter, set-up, rounds, rows)."""
    argv = [sys.executable, "-m", "xeonsweep", "-m", *arguments, f"results.dir={folder / 'results'}",
            f"cache.dir={cache}", f"hydra.sweep.dir={folder / 'sweep'}"]
    print("$", " ".join(argv[1:]), flush=True)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(f"(the sweep exited with status {done.returncode}; its rows are still read)", flush=True)
    return wall


def cache_is_warm(cache: Path) -> bool:
    """The cache holds artifacts already: a run into it finds what an earlier run exported."""
    return cache.is_dir() and any(cache.iterdir())


def labelled_rows(store: Path) -> pd.DataFrame:
    """Every row of the store with its config's label (as the report names it)."""
    from xeonsweep.store.results import load

    return report_summary.labelled(load(store))


def rounds_s(rows: pd.DataFrame) -> float:
    """Time spent in rounds: per sweep and memory group, from its first block's start to its last block's end
    (the probes between rounds included), summed. Set-up, the rows and the interpreter are the rest."""
    spans = {}
    for r in rows[rows["status"] == "ok"].itertuples():
        starts, ends = _values(r.block_start_unix_s), _values(r.block_end_unix_s)
        if not starts:
            continue
        group = int(r.measure_group) if r.measure_group == r.measure_group and r.measure_group is not None else 0
        low, high = spans.get((r.sweep_id, group), (min(starts), max(ends)))
        spans[(r.sweep_id, group)] = (min(low, *starts), max(high, *ends))
    return sum(high - low for low, high in spans.values())


def _values(cell) -> list:
    return [] if cell is None or (isinstance(cell, float) and cell != cell) else list(cell)


def config_rounds(rows: pd.DataFrame) -> dict[str, dict]:
    """config -> {(sweep, memory group): {round: block SPS}}, from its ok rows with block_round (schema 6 on)."""
    ok = rows[(rows["status"] == "ok") & rows["sps_ci_low"].notna()]
    return {config: report_summary.round_figures(own) for config, own in ok.groupby("config", sort=False)}


def compare(a: dict, b: dict, margin_pct: float) -> paired.Comparison | None:
    """a against b from the blocks of every round both were measured in (any sweep and memory group they share);
    None when they share no round (different memory groups, or rows without rounds): they are not paired."""
    ratios = [ratio for key in a if key in b for ratio in paired.ratios(a[key], b[key])]
    return paired.judge(ratios, margin_pct) if ratios else None


def margin_pct(rows: pd.DataFrame) -> float:
    """The sweep's benchmark.equivalence_pct as its rows recorded it."""
    if "equivalence_pct" in rows and rows["equivalence_pct"].notna().any():
        return float(rows["equivalence_pct"].dropna().iloc[0])
    return DEFAULT_MARGIN_PCT


def verdict_word(comparison: paired.Comparison | None) -> str:
    """resolved (faster or slower), equivalent, open, or unpaired (no shared round)."""
    if comparison is None:
        return "unpaired"
    return "resolved" if comparison.verdict in ("faster", "slower") else comparison.verdict


def adjacent_pairs(order: list[str], rounds: dict[str, dict], margin: float) -> list[tuple[str, str, str]]:
    """Each config against the next one in the ranking: (faster, slower, verdict word)."""
    return [(a, b, verdict_word(compare(rounds.get(a, {}), rounds.get(b, {}), margin)))
            for a, b in zip(order, order[1:])]


def stops(rows: pd.DataFrame) -> dict[str, str]:
    """config -> why its measuring stopped: settled, dropped or left open (timeline.config_stops); rows without
    a stopped_by (before schema 6) count as settled."""
    from xeonsweep.report import timeline

    measured = rows[(rows["status"] == "ok") & rows["stopped_by"].notna()]
    return timeline.config_stops(measured) if len(measured) else {}


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds / 60:.1f} min"


def machine_line() -> str:
    """The machine as the store labels it, with its ISA: what a figure was measured on."""
    from xeonsweep.machine.facts import cpu_info

    cpu = cpu_info()
    return f"CPU: {cpu.label}; {', '.join(cpu.isa) or 'no ISA flag xeonsweep tracks'}"

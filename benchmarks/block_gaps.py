"""Does the noise of a paired ratio grow with the seconds between its two blocks? Reads block sweeps' stores
(nothing is run): for every pair of configs of a sweep and group with at least 5 shared rounds, the log of
their per-round ratio about the pair's own mean, binned by the seconds between the two blocks of the
round; prints each bin's root mean square (in %) and how many blocks it holds. Why it matters: a round
that times neighbours in the ranking one after the other (stats.goals) compares them across the
smallest gap. Nothing is asserted.

    .venv/bin/python benchmarks/block_gaps.py STORE [STORE ...] [--bin 5]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xeonsweep.store import results  # noqa: E402

MIN_SHARED = 5


def blocks_by_round(store: Path) -> dict[tuple, dict[str, dict[int, tuple[float, float]]]]:
    """{(sweep_id, group): {run_key: {round: (start, log sps)}}} for the store's ok block rows."""
    frame = results.load(store)
    frame = frame[(frame["status"] == "ok") & frame["block_round"].notna()]
    sweeps: dict[tuple, dict] = defaultdict(dict)
    for _, row in frame.iterrows():
        sweeps[(row["sweep_id"], row.get("measure_group", 0))][row["run_key"]] = {
            int(r): (float(t), math.log(float(s)))
            for r, t, s in zip(row["block_round"], row["block_start_unix_s"], row["block_sps"])}
    return sweeps


def residuals_by_gap(stores: list[Path], bin_s: float) -> dict[int, list[float]]:
    """Bin start (s) -> squared residuals of log ratios about their pair's mean (n/(n-1) corrected)."""
    bins: dict[int, list[float]] = defaultdict(list)
    for store in stores:
        for configs in blocks_by_round(store).values():
            keys = list(configs)
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    shared = sorted(set(configs[a]) & set(configs[b]))
                    if len(shared) < MIN_SHARED:
                        continue
                    gaps = [abs(configs[a][r][0] - configs[b][r][0]) for r in shared]
                    logs = [configs[a][r][1] - configs[b][r][1] for r in shared]
                    mean, n = sum(logs) / len(logs), len(logs)
                    for gap, value in zip(gaps, logs):
                        bins[int(gap // bin_s * bin_s)].append((value - mean) ** 2 * n / (n - 1))
    return bins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", type=Path)
    parser.add_argument("--bin", type=float, default=5.0, help="seconds per bin (default 5)")
    args = parser.parse_args()
    bins = residuals_by_gap(args.stores, args.bin)
    if not bins:
        sys.exit("no pair of configs with 5 shared rounds in these stores")
    print(f"{'seconds between the blocks':>27} {'blocks':>7} {'spread of the log ratio (rms)':>30}")
    for start in sorted(bins):
        values = bins[start]
        rms = math.sqrt(sum(values) / len(values)) * 100
        print(f"{f'{start:g} to {start + args.bin:g}':>27} {len(values):>7} {rms:>29.2f}%")


if __name__ == "__main__":
    main()

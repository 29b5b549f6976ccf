"""What the side-by-side parity benchmarks share: one model at one batch size, each figure measured
for a few seconds, the two sides alternated for a number of rounds."""

from __future__ import annotations

import argparse


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15, help="each measurement lasts at least this long")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of the two sides")
    return parser.parse_args()

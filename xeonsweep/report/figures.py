"""A matplotlib figure written as a PNG: laid out, saved and closed (a report may draw hundreds)."""

from __future__ import annotations

from pathlib import Path


def save(fig, path: Path, dpi: int = 100) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path

"""Helpers to run xeonsweep as a user would: a real `python -m xeonsweep` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Small and quick, but real: a ResNet-18 on 64x64 inputs, a few timed iterations.
FAST = ["model=tiny", "benchmark.warmup=1", "benchmark.iterations=3", "benchmark.min_duration_s=0.2"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One artifact cache for the session: weights and references are made once."""
    return tmp_path_factory.mktemp("cache")


class Sweep:
    def __init__(self, tmp_path: Path, cache_dir: Path) -> None:
        self.tmp = tmp_path
        self.store = tmp_path / "results"
        self.cache_dir = cache_dir

    def argv(self, *args: str, faults: bool = False) -> list[str]:
        """`faults` adds tests/conf, whose models crash, hang or raise on purpose."""
        return [
            sys.executable, "-m", "xeonsweep", *args,
            f"results.dir={self.store}",
            f"cache.dir={self.cache_dir}",
            f"hydra.run.dir={self.tmp}/run",
            f"hydra.sweep.dir={self.tmp}/sweep",
            *([f"hydra.searchpath=[file://{ROOT}/tests/conf]"] if faults else []),
        ]

    def __call__(self, *args: str, timeout: float = 900, faults: bool = False, cwd: Path = ROOT,
                 env: dict | None = None) -> subprocess.CompletedProcess:
        """`cwd`: where the user stands (tmp for "not in the repository"); `env`: the process's whole environment."""
        argv = self.argv(*args, faults=faults)
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def rows(self):
        from xeonsweep.store.results import load

        return load(self.store)


@pytest.fixture
def sweep(tmp_path, cache_dir) -> Sweep:
    return Sweep(tmp_path, cache_dir)

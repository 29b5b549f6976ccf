"""Helpers to compose a run as the sweeper does, and to run xeonsweep as a user would: a
real `python -m xeonsweep` process. Tests that start a process are marked slow."""

from __future__ import annotations

import _posixsubprocess
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ROOT / "tests" / "conf"  # models that crash, hang or raise on purpose
# Small and quick, but real: a ResNet-18 on 64x64 inputs, a few timed iterations.
FAST = ["model=tiny", "benchmark.warmup=1", "benchmark.iterations=3", "benchmark.min_duration_s=0.2"]


def compose(*overrides: str, searchpath: Path | None = None):
    """The config `python -m xeonsweep <overrides>` composes, with its `hydra` node (launcher,
    sweeper); `searchpath` adds a config folder as `hydra.searchpath` does."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from xeonsweep.config.paths import CONF

    searched = [f"hydra.searchpath=[file://{searchpath}]"] if searchpath else []
    GlobalHydra.instance().clear()  # a test before may have left Hydra initialised
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=[*overrides, *searched], return_hydra_config=True)


@pytest.fixture
def compose_run():
    """`compose_run(*overrides, searchpath=None)`: a run's settings as the sweeper composes them."""
    from xeonsweep.config import settings

    def compose_run(*overrides: str, searchpath: Path | None = None) -> dict:
        return settings.to_settings(compose(*overrides, searchpath=searchpath))

    return compose_run


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
            *([f"hydra.searchpath=[file://{FAULTS}]"] if faults else []),
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


# Every way a test can start a process: subprocess's own copy of fork_exec (or posix_spawn),
# multiprocessing's spawn (fork_exec) and fork, and libraries that call os.fork directly.
PROCESS_STARTERS = [(subprocess, "_fork_exec"), (_posixsubprocess, "fork_exec"), (os, "fork"), (os, "forkpty"),
                    (os, "posix_spawn"), (os, "posix_spawnp")]
# ctypes.util.find_library runs ldconfig (importing torch does), and matplotlib runs fc-list once
# to build its font cache on a machine that has none (the first figure of a fresh machine): lookups,
# not processes the test starts.
LOOKUPS = (os.path.join("ctypes", "util.py"), os.path.join("matplotlib", "font_manager.py"))


@pytest.fixture(autouse=True)
def fast_tests_start_no_process(request, monkeypatch):
    """The fast layer (`-m "not slow"`) stays fast: a test that starts a process must say so."""
    if request.node.get_closest_marker("slow"):
        return

    def refusing(start):
        def refuse(*args, **kwargs):
            if any(frame.filename.endswith(LOOKUPS) for frame in traceback.extract_stack()):
                return start(*args, **kwargs)
            raise RuntimeError(f"{request.node.nodeid} starts a process: mark it @pytest.mark.slow")
        return refuse

    for module, name in PROCESS_STARTERS:
        monkeypatch.setattr(module, name, refusing(getattr(module, name)))

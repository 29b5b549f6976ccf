"""Does a model factory's `_target_` name a module that exists in the run's interpreter?

Found on the import path without importing anything (the parent never imports torch):
the top-level package with importlib's finders, each submodule inside its parent's
folders. An interpreter other than xeonsweep's (e.g. .venv-ipex) is asked the same
question in a quick subprocess, since it has other packages.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from xeonsweep.config.environments import ROOT, venv_dir

# Runs in the run's own interpreter too: standard library only.
FIND = r'''
import importlib.machinery, importlib.util, sys
def missing(module, extra):
    parts = module.split(".")
    spec = importlib.machinery.PathFinder.find_spec(parts[0], sys.path + extra) or importlib.util.find_spec(parts[0])
    if spec is None:
        return parts[0]
    for depth in range(1, len(parts)):
        if not spec.submodule_search_locations:
            return None  # a plain module: the rest are attributes, known only by importing it
        name = ".".join(parts[:depth + 1])
        spec = importlib.machinery.PathFinder.find_spec(name, list(spec.submodule_search_locations))
        if spec is None:
            return name
    return None
'''
_scope: dict = {}
exec(FIND, _scope)


def target_module(target: str) -> str:
    return target.rpartition(".")[0] or target


@functools.lru_cache(maxsize=256)
def missing_module(target: str, interpreter: str) -> str | None:
    """The first part of the target's module path that cannot be found, or None."""
    module = target_module(target)
    extra = [str(ROOT)]  # the folder that holds xeonsweep: a checkout's tests/ and benchmarks/ in an editable install
    # Compare environments, not binaries: every venv's python links to the same base interpreter.
    if not Path(interpreter).exists():
        return None  # a missing environment fails its run with the command that creates it
    if venv_dir(Path(interpreter)).resolve() == Path(sys.prefix).resolve():
        return _scope["missing"](module, extra)
    script = FIND + f"\nprint(missing({module!r}, {extra!r}) or '')"
    done = subprocess.run([interpreter, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    if done.returncode != 0:
        return None  # an interpreter that cannot even start fails its run with its own reason
    return done.stdout.strip() or None

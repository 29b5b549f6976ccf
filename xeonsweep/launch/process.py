"""Process helpers both sides use: the parent to start and stop children, the child to die
with its parent. Light on purpose (the worker imports it first): psutil only inside kill_tree."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess

# Inherited as they are; everything else a child gets is set by whoever starts it.
# LD_LIBRARY_PATH: module environments on clusters (`module load ...`) put libraries there.
PASS_THROUGH = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM", "TZ", "PYTHONPATH",
                "LD_LIBRARY_PATH")
KILL_GRACE_S = 5.0


def passed_through_env() -> dict[str, str]:
    """The variables of this process a child inherits as they are (PASS_THROUGH)."""
    return {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}


def die_with_parent() -> None:
    """Ask the kernel to kill this process if its parent dies (a killed sweep leaves no orphans)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def kill_tree(proc: subprocess.Popen | int, grace_s: float = KILL_GRACE_S) -> None:
    """Stop a process and all its descendants, whatever session or group they are in.

    The descendants are collected before any signal, since a killed parent's
    children are re-parented away from it; then SIGTERM, `grace_s` to exit,
    SIGKILL to whatever is left (and to anything started in the meantime).
    Reaps `proc` when it is a Popen.
    """
    import psutil

    pid = proc if isinstance(proc, int) else proc.pid
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for target in tree:
        try:
            target.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for target in list(alive):
        try:
            alive += [c for c in target.children(recursive=True) if c not in alive]
        except psutil.NoSuchProcess:
            pass
    for target in alive:
        try:
            target.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
    if not isinstance(proc, int):
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass

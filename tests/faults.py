"""Model factories that misbehave on purpose: the child crashes, hangs or raises.

Used through tests/conf/model/*.yaml, added with hydra.searchpath.
"""

import os
import signal
import time


def die(signum: int = signal.SIGKILL):
    os.kill(os.getpid(), signum)


def hang(seconds: float = 3600):
    time.sleep(seconds)


def broken(message: str = "this model cannot be built"):
    raise RuntimeError(message)


def show_env(name: str = "LD_LIBRARY_PATH"):
    """Fails on purpose with the value the child had, so the row's reason shows it."""
    raise RuntimeError(f"{name}={os.environ.get(name)}")

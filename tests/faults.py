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


def hang_alone(seconds: float = 3600):
    """Hang like an instance that neither dies with its parent nor stops on SIGTERM:
    only a kill that reaches it directly (and escalates to SIGKILL) ends it."""
    import ctypes

    ctypes.CDLL("libc.so.6").prctl(1, 0)  # PR_SET_PDEATHSIG 0: the worker's parent-death signal is off
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)

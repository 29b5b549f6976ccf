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


def tiny(**kwargs):
    import torchvision

    return torchvision.models.resnet18(num_classes=10)


def counted(marker: str):
    """The tiny model, leaving one line (this pid) in `marker` each time a child builds it: counts set-ups."""
    with open(marker, "a") as out:
        out.write(f"{os.getpid()}\n")
    return tiny()


def _watched(hang_on: int = 0, fail_from: int = 0, die_on: int = 0):
    """The tiny model, counting its forward passes and noting when the last one ended;
    pass number `hang_on` (if any) never returns, passes from `fail_from` on (if any) raise,
    pass number `die_on` (if any) kills the process."""
    import torch

    class Watched(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = tiny()
            self.calls, self.last = 0, time.monotonic()

        def forward(self, x):
            self.calls += 1
            if self.calls == hang_on:
                time.sleep(3600)
            if fail_from and self.calls >= fail_from:
                raise ValueError(f"forward pass {self.calls} fails on purpose")
            if self.calls == die_on:
                os.kill(os.getpid(), signal.SIGKILL)
            out = self.inner(x)
            self.last = time.monotonic()
            return out

    return Watched()


def die_when_idle(calls: int = 10, idle_s: float = 0.5):
    """The tiny model; the process kills itself (SIGKILL) once it has run `calls` forward passes
    and then been waiting for `idle_s`: a live child dying between its blocks."""
    import threading

    model = _watched()

    def watch() -> None:
        while not (model.calls >= calls and time.monotonic() - model.last > idle_s):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
    return model


def hang_on_call(call: int = 12):
    """The tiny model, whose forward pass number `call` never returns: a block that hangs."""
    return _watched(hang_on=call)


def fail_from_call(call: int = 20):
    """The tiny model, whose forward passes from number `call` on raise: set-up and warm-up
    pass, then inference fails while the run is being measured."""
    return _watched(fail_from=call)


def die_on_call(call: int = 12):
    """The tiny model, whose forward pass number `call` kills the process (SIGKILL): a child dying in a block."""
    return _watched(die_on=call)


def show_env(name: str = "LD_LIBRARY_PATH"):
    """Fails on purpose with the value the child had, so the row's reason shows it."""
    raise RuntimeError(f"{name}={os.environ.get(name)}")


def hang_alone(seconds: float = 3600):
    """Hang like an instance that neither dies with its parent nor stops on SIGTERM:
    only a kill that reaches it directly (and escalates to SIGKILL) ends it."""
    import ctypes

    ctypes.CDLL("libc.so.6").prctl(1, 0)  # PR_SET_PDEATHSIG 0: the worker's parent-death signal is off
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)


def oom_then_hang(mb: int = 2048, seconds: float = 3600):
    """A helper process of the child (so in its cgroup) touches `mb` MiB: over a smaller memory
    limit the kernel's OOM killer stops it; then the child hangs in its set-up."""
    pid = os.fork()
    if pid == 0:
        hog = b"\1" * (mb << 20)  # bytes filled in, so every page is really used
        os._exit(0 if hog else 1)
    os.waitpid(pid, 0)
    time.sleep(seconds)

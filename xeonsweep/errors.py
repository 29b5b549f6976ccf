"""Errors a user can fix; printed as one line, without a traceback."""


class UserError(Exception):
    """Bad input: names the bad value and the valid ones."""


class Incompatible(UserError):
    """A combination of settings that cannot run together.

    A single run refuses it; inside a sweep it becomes a `skipped` row.
    """


class Skip(Exception):
    """Raised in the worker when a run cannot execute on this machine (e.g. missing ISA)."""


class JobLost(RuntimeError):
    """A cluster job that ended without a result (its node died, it was cancelled or preempted).

    The launchers return it for that job alone; its run is missing from the store and the
    next invocation runs it.
    """


def one_line(exc: Exception) -> str:
    """A library's multi-line message (Hydra's, the YAML parser's) folded into the one line a user gets."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())

"""xeonsweep: declarative, reproducible sweeps of CPU inference settings.

The parent process (config composition, planning, launching, the results store)
never imports torch; models, backends and timing run in a child worker.
"""

__version__ = "0.1.0"


def _register_resolvers() -> None:
    """${xeonsweep_invocation:}: one id per process, so two invocations started in the same
    second never share a job folder (conf/config.yaml's hydra.run.dir and sweep.dir)."""
    import os
    import uuid

    from omegaconf import OmegaConf

    invocation = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    if not OmegaConf.has_resolver("xeonsweep_invocation"):
        OmegaConf.register_new_resolver("xeonsweep_invocation", lambda: invocation)


_register_resolvers()

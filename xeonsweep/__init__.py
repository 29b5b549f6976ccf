"""xeonsweep: declarative, reproducible sweeps of CPU inference settings.

The parent process (config composition, planning, launching, the results store)
never imports torch; models, backends and timing run in a child worker.
"""

__version__ = "0.1.0"

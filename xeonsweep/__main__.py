"""`python -m xeonsweep [-m] [overrides]`: one run, or a sweep with -m."""

from __future__ import annotations

import sys

from xeonsweep.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main(sys.argv[1:]))

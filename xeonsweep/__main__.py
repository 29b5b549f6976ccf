"""`python -m xeonsweep [-m] [overrides]`: one run, or a sweep with -m;
`python -m xeonsweep report ...` / `doctor`: the subcommands."""

import sys

from xeonsweep.cli import main

if __name__ == "__main__":
    sys.exit(main())

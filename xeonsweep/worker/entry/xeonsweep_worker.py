"""Script form of `python -m xeonsweep.worker.main`.

run_cpu refuses a program whose name does not end in .py, even with --module,
so children start from this file. It sits alone in its folder because that
folder becomes sys.path[0] and must shadow nothing.
"""

import sys

from xeonsweep.worker.main import main

sys.exit(main(sys.argv[1:]))

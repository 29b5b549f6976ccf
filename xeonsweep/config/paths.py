"""Where xeonsweep's own files are: the config tree shipped inside the package."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
CONF = PACKAGE / "conf"

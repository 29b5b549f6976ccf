"""Where xeonsweep's own files are (the config tree shipped inside the package), and where
the paths a user gives point to."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

PACKAGE = Path(__file__).resolve().parents[1]
CONF = PACKAGE / "conf"


def absolute(path: str) -> str:
    """A local path relative to where xeonsweep was started; URIs (s3://...) as they are."""
    from hydra.utils import to_absolute_path

    return path if "://" in path else to_absolute_path(path)


def config_dirs(searchpath: Iterable[str]) -> list[Path]:
    """conf/ plus the file:// folders of a hydra.searchpath, in order (a later one wins, as in Hydra)."""
    dirs = [CONF]
    for item in searchpath:
        item = str(item).strip().strip("'\"")
        if item.startswith("file://"):
            dirs.append(Path(item[len("file://"):]))
    return dirs

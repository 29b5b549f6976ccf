"""The artifact cache under `cache.dir`: keyed paths and atomic writes.

A key is a hash of everything that determines the artifact; a writer writes a
temp file beside the target and renames it, so concurrent instances and killed
runs never leave a half-written artifact behind.

The folders xeonsweep makes here are 0755 whatever the umask (each artifact's own
folder 0700): cached graphs are unpickled, so no other user may write where they live,
and settings.check_storage refuses a cache where they could.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xeonsweep.config.cache_keys import key, path  # noqa: F401  (artifacts are named by their key)

FOLDER_MODE = 0o755


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder to fill; it becomes `final` in one rename (first writer wins)."""
    make_folders(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def make_folders(folder: Path) -> None:
    """`folder` and its missing parents, each FOLDER_MODE (mkdir's mode obeys the umask: chmod after)."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:
            continue  # another instance made it just now
        os.chmod(made, FOLDER_MODE)

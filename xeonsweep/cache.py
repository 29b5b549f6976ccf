"""The artifact cache under `cache.dir`: keyed paths and atomic writes.

A key is a hash of everything that determines the artifact; a writer writes a
temp file beside the target and renames it, so concurrent instances and killed
runs never leave a half-written artifact behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def key(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def path(cache_dir: str, kind: str, artifact_key: str, name: str) -> Path:
    return Path(cache_dir) / kind / artifact_key / name


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder to fill; it becomes `final` in one rename (first writer wins)."""
    final.parent.mkdir(parents=True, exist_ok=True)
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

"""Installed package versions, read from package metadata without importing the packages."""

from __future__ import annotations

from importlib import metadata


def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions(names: tuple[str, ...] | list[str], keep_missing: bool = False) -> dict:
    """{name: version}; missing packages are left out, or kept as None with keep_missing."""
    found = {name: version(name) for name in names}
    return found if keep_missing else {k: v for k, v in found.items() if v is not None}

"""Where xeonsweep's own files are (the config tree shipped inside the package), and where
the paths a user gives point to."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
CONF = PACKAGE / "conf"


def absolute(path: str) -> str:
    """A local path relative to where xeonsweep was started; URIs (s3://...) as they are."""
    from hydra.utils import to_absolute_path

    return path if "://" in path else to_absolute_path(path)


def source_folder(scheme: str, path: str) -> Path | None:
    """The folder of a file:// or pkg:// config source (None for one that is not a folder here)."""
    if scheme == "file":
        return Path(path)
    if scheme == "pkg":
        from importlib import resources

        try:
            folder = resources.files(path)
        except (ImportError, TypeError):
            return None
        return folder if isinstance(folder, Path) else None
    return None


def config_dirs_of(cfg) -> list[Path]:
    """Every config folder the composed `cfg` was searched in, in Hydra's order (the first holding a
    file is the one used): conf/, --config-dir, hydra.searchpath, as Hydra recorded them."""
    sources = cfg.hydra.runtime.config_sources
    folders = (source_folder(s.schema, s.path) for s in sources if s.provider not in ("hydra", "schema"))
    return [folder for folder in folders if folder is not None]


def nearest_existing(path: Path) -> Path:
    """The path itself if it exists, else its nearest parent that does: where a folder would be made."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing

"""Where a cached artifact lives under `cache.dir`: its key (a hash of everything that determines
it) and its path. Pure: the child that writes artifacts (models.cache) and the parent that finds
them again (a recipe) name them the same way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def key(*parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def path(cache_dir: str, kind: str, artifact_key: str, name: str) -> Path:
    return Path(cache_dir) / kind / artifact_key / name


def model_key(model_cfg: dict, seed: int) -> str:
    return key(model_cfg["factory"], model_cfg.get("weights"), seed)


def weights_file(model_cfg: dict, seed: int, cache_dir: str) -> Path:
    """The model's weights: its own `weights` file, or the random ones drawn once into the cache."""
    if model_cfg.get("weights"):
        return Path(model_cfg["weights"])
    return path(cache_dir, "weights", model_key(model_cfg, seed), "state_dict.pt")

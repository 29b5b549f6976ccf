"""Where a row's model came from, whether it is still there, and how to make it again.

A row of schema 6 or later names the file (`artifact_path`). An older row names the
export, IR or PT2E graph in its `backend_details`; for the torch backends its weights
are found again from the model's cache key (config.cache_keys.weights_file, pure).
Artifacts live in cache.dir as KIND/KEY/FILE beside what belongs with them (the ONNX
external data, the IR's .bin), so the whole folder is what a recipe copies.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd

from xeonsweep.errors import UserError

# backend_details keys of rows older than artifact_path (models.artifacts.LOADED_FROM, without the import).
LOADED_FROM = ("quantized_model", "ir", "onnx")
# Settings a rebuild command sets itself (where to write, run again) or leaves to the new run (its sweep).
NOT_REBUILT = ("results.dir", "cache.dir", "sweep_id", "results.rerun", "hydra.")


def recorded(row: pd.Series) -> Path:
    """The artifact's path as the run knew it."""
    if isinstance(row.get("artifact_path"), str):
        return Path(row["artifact_path"])
    details = json.loads(row["backend_details"]) if isinstance(row.get("backend_details"), str) else {}
    found = next((details[k] for k in LOADED_FROM if details.get(k)), None)
    if found:
        return Path(found)
    from xeonsweep.config.cache_keys import weights_file

    run = json.loads(row["config_json"])
    return weights_file(run["model"], run["seed"], str(run["cache"]["dir"])).absolute()


def own_weights(row: pd.Series, path: Path) -> bool:
    """The model's own `weights` file (not in the cache)."""
    weights = json.loads(row["config_json"])["model"].get("weights")
    return bool(weights) and path == Path(weights).absolute()


def locate(row: pd.Series, store: str, cache: str | None) -> Path:
    """The artifact's file now: where the run had it, or under `cache` (its KIND/KEY/FILE kept)."""
    path = recorded(row)
    if cache and not own_weights(row, path):
        path = Path(cache, *path.parts[-3:])
    if path.is_file():
        return path
    raise UserError(f"run {row['run_key']}: its artifact {path} is no longer there; rebuild it with "
                    f"`{rebuild_command(row, store, cache)}`, then make the recipe again")


def rebuild_command(row: pd.Series, store: str, cache: str | None) -> str:
    """The xeonsweep command that runs the row's config again into the same store (same run_key),
    and so makes its artifact."""
    run = json.loads(row["config_json"])
    given = row["overrides"] if isinstance(row.get("overrides"), str) else ""
    overrides = [o for o in shlex.split(given) if not o.startswith(NOT_REBUILT)]
    path = recorded(row)
    # The cache the run really used: the artifact's KIND/KEY/FILE is under it (cache.dir may have been relative).
    cache_dir = cache or (str(run["cache"]["dir"]) if own_weights(row, path) else str(path.parents[2]))
    return " ".join(["python -m xeonsweep", *map(shlex.quote, overrides), shlex.quote(f"results.dir={store}"),
                     shlex.quote(f"cache.dir={cache_dir}"), "results.rerun=true"])


def files_beside(row: pd.Series, path: Path) -> list[Path]:
    """The artifact and what belongs with it: every file of its cache folder (ONNX external data, the
    IR's .bin), or the model's own weights file alone."""
    if own_weights(row, path):
        return [path]
    return sorted(p for p in path.parent.iterdir() if p.is_file() and not p.name.startswith("."))

"""Exported and converted models, made once and kept in the artifact cache.

The key covers everything that determines the file: the model (config, seed,
weights), the input shape, the exporting libraries' versions and the options
of the step. A second sweep finds the file and skips the export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from xeonsweep import cache
from xeonsweep.models import model_key
from xeonsweep.versions import versions


def library_versions(*names: str) -> dict:
    return versions(names, keep_missing=True)


def artifact_key(run: dict, *parts: Any) -> str:
    return cache.key(model_key(run["model"], run["seed"]), run["model"]["input_shape"], *parts)


def cached(cache_dir: str, kind: str, key: str, name: str, make: Callable[[Path], None]) -> tuple[Path, bool]:
    """Path of the artifact `name` under kind/key, made by `make(folder)` if missing.

    Returns (path, True) when it came from the cache.
    """
    final = cache.path(cache_dir, kind, key, name)
    if final.exists():
        return final, True
    with cache.atomic_dir(final.parent) as tmp:
        make(tmp)
    return final, False


def onnx_file(load_model: Callable[[], Any], run: dict, cache_dir: str) -> tuple[Path, bool]:
    """The model exported with torch.onnx (dynamo) with a dynamic batch dimension.

    The weights go to an external-data file beside model.onnx; both live in one
    cache folder, so they always travel together.
    """
    import torch

    key = artifact_key(run, "onnx", library_versions("torch", "onnx", "onnxscript"))

    def export(folder: Path) -> None:
        # batch 2: torch.export specialises a dimension of size 1
        example = torch.randn(2, *run["model"]["input_shape"])
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(
            load_model(), (example,), str(folder / "model.onnx"), input_names=["input"], output_names=["output"],
            dynamic_shapes=({0: batch},), dynamo=True, external_data=True,
        )

    return cached(cache_dir, "onnx", key, "model.onnx", export)

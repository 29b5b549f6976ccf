"""Exported and converted models, made once and kept in the artifact cache.

The key covers everything that determines the file: the model (config, seed,
weights), the declared inputs (shapes with seq_len resolved, dtypes, fills) or an image
model's input shape, the exporting libraries' versions and the options
of the step. A second sweep finds the file and skips the export.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from xeonsweep.config import model_inputs
from xeonsweep.machine.versions import versions
from xeonsweep.models import cache, inputs
from xeonsweep.models.build import model_key, weights_file

# backend_details keys naming the file a backend loaded, the most derived first (an int8 IR
# or graph was made from the export or weights before it).
LOADED_FROM = ("quantized_model", "ir", "onnx")


def library_versions(*names: str) -> dict:
    return versions(names, keep_missing=True)


def artifact_key(run: dict, *parts: Any) -> str:
    return cache.key(model_key(run["model"], run["seed"]), model_inputs.key_part(run["model"]), *parts)


def export_example(model_cfg: dict) -> dict:
    """Inputs to trace with: batch 2 and symbolic dimensions of at least 2 (torch.export
    specialises a dimension of size 1)."""
    sizes = {d: max(2, model_cfg[d]) for spec in model_inputs.specs(model_cfg) for d in spec.dims if isinstance(d, str)}
    return inputs.generate(model_cfg, 2, 0, sizes)


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
    """The model exported with torch.onnx (dynamo) with a dynamic batch dimension, and
    dynamic symbolic dimensions (seq_len) for a model with declared inputs, which
    keep their names and dtypes (int64 token ids stay int64).

    The weights go to an external-data file beside model.onnx; both live in one
    cache folder, so they always travel together.
    """
    import torch

    key = artifact_key(run, "onnx", library_versions("torch", "onnx", "onnxscript"))

    model_cfg = run["model"]

    def export(folder: Path) -> None:
        if not model_inputs.declared(model_cfg):  # an image model, exported as before
            # batch 2: torch.export specialises a dimension of size 1
            example = torch.randn(2, *model_cfg["input_shape"])
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                load_model(), (example,), str(folder / "model.onnx"), input_names=["input"], output_names=["output"],
                dynamic_shapes=({0: batch},), dynamo=True, external_data=True,
            )
            return
        example = export_example(model_cfg)
        dynamic = {name: {p: torch.export.Dim.DYNAMIC for p in (0, *positions)}
                   for name, positions in model_inputs.symbolic_dims(model_cfg).items()}
        torch.onnx.export(
            load_model(), (), str(folder / "model.onnx"), kwargs=example, input_names=list(example),
            dynamic_shapes=dynamic, dynamo=True, external_data=True,
        )

    return cached(cache_dir, "onnx", key, "model.onnx", export)


def loaded_from(details: dict, run: dict, cache_dir: str) -> str:
    """The file the run's model came from, absolute: its artifact, or the weights for torch backends."""
    path = next((details[k] for k in LOADED_FROM if details.get(k)), None)
    return str(Path(path or weights_file(run["model"], run["seed"], cache_dir)).resolve())

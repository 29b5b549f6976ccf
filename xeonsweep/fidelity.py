"""Did the optimisation change the answers? Compare a run's output on the seeded
input with fp32 eager on the same weights and input.

The reference is computed once per model, seed and batch and cached.
max_rel_error is max|out - ref| / max|ref|: relative to the output's scale, so
near-zero logits do not blow it up.
"""

from __future__ import annotations

from typing import Any

from xeonsweep import cache
from xeonsweep.models import model_key


def first_tensor(output: Any) -> Any:
    while isinstance(output, (tuple, list)):
        output = output[0]
    if isinstance(output, dict):
        output = next(iter(output.values()))
    return output


def reference(model: Any, example: Any, run: dict, cache_dir: str) -> Any:
    """fp32 eager output of `model` on `example` (call before any backend touches the model)."""
    import numpy as np
    import torch

    ref_key = cache.key(model_key(run["model"], run["seed"]), run["batch_size"])
    path = cache.path(cache_dir, "reference", ref_key, "output.npy")
    if path.exists():
        return np.load(path)
    with torch.inference_mode():
        out = first_tensor(model(example)).float().numpy()
    with cache.atomic_dir(path.parent) as tmp:
        np.save(tmp / path.name, out)
    return out


def compare(output: Any, ref: Any) -> dict:
    import numpy as np

    out = np.asarray(first_tensor(output), dtype=np.float32).reshape(ref.shape)
    scale = float(np.abs(ref).max()) or 1.0
    agreement = None
    if ref.ndim == 2:
        agreement = float((out.argmax(axis=1) == ref.argmax(axis=1)).mean())
    return {"top1_agreement": agreement, "max_rel_error": float(np.abs(out - ref).max() / scale)}

"""Did the optimisation change the answers? Compare a run's output on the seeded
input with fp32 eager on the same weights and input.

The reference is computed once per model, seed, input (batch and shape), `env`
variables and weights file content, and cached.
max_rel_error is max|out - ref| / max|ref|: relative to the output's scale, so
near-zero logits do not blow it up.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Callable

from xeonsweep import cache
from xeonsweep.models import model_key


def first_tensor(output: Any) -> Any:
    while isinstance(output, (tuple, list)):
        output = output[0]
    if isinstance(output, dict):
        output = next(iter(output.values()))
    return output


def reference(load_model: Callable[[], Any], example: Any, run: dict, cache_dir: str) -> tuple[Any, float]:
    """fp32 eager output on `example`, and the seconds its forward pass took (0 when cached).

    Call it before any backend touches the model.
    """
    import numpy as np
    import torch

    ref_key = reference_key(run)
    path = cache.path(cache_dir, "reference", ref_key, "output.npy")
    if path.exists():
        return np.load(path), 0.0
    model = load_model()
    started = time.perf_counter()
    with torch.inference_mode():
        out = first_tensor(model(example)).float().numpy()
    seconds = time.perf_counter() - started
    with cache.atomic_dir(path.parent) as tmp:
        np.save(tmp / path.name, out)
    return out, seconds


def reference_key(run: dict) -> str:
    """Everything the reference output depends on: the model and its weights (by content, so a
    file rewritten in place is a new reference), the seeded input's shape, and `env`."""
    model = run["model"]
    return cache.key(model_key(model, run["seed"]), run["batch_size"], list(model["input_shape"]),
                     dict(sorted((str(k), str(v)) for k, v in (run.get("env") or {}).items())),
                     file_digest(model.get("weights")))


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    digest = hashlib.sha256()
    with open(Path(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare(output: Any, ref: Any) -> dict:
    import numpy as np

    out = np.asarray(first_tensor(output), dtype=np.float32).reshape(ref.shape)
    scale = float(np.abs(ref).max()) or 1.0
    agreement = None
    if ref.ndim == 2:
        agreement = float((out.argmax(axis=1) == ref.argmax(axis=1)).mean())
    return {"top1_agreement": agreement, "max_rel_error": float(np.abs(out - ref).max() / scale)}

"""Did the optimisation change the answers? Compare a run's outputs on the seeded
input with fp32 eager on the same weights and input.

An output may be a tensor, a tuple or list, a dict or a Hugging Face ModelOutput:
it is flattened to its tensors in order (ONNX Runtime and OpenVINO return the
same tensors in the same order). The reference is computed once per model, seed,
batch and inputs (shape, or the declared inputs and seq_len), `env` variables and the
weights file's content, and cached.
max_rel_error is max|out - ref| / max|ref| over every output tensor: relative to
the output's scale, so near-zero logits do not blow it up. cosine_similarity is
the lowest over the output tensors. top1_agreement only where the first output
is (batch, classes).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xeonsweep.config import model_inputs
from xeonsweep.models import cache, inputs
from xeonsweep.models.build import model_key


def tensors(output: Any) -> list:
    """The tensors (or arrays) of an output, in order; None entries (a ModelOutput's loss) dropped."""
    if output is None:
        return []
    if isinstance(output, dict):  # dicts and ModelOutput (an OrderedDict without its None fields)
        return [t for value in output.values() for t in tensors(value)]
    if isinstance(output, (tuple, list)):
        return [t for value in output for t in tensors(value)]
    return [output]


def reference_key(run: dict) -> str:
    """Everything the reference output depends on: the model and its weights (by content, so a
    file rewritten in place is a new reference), the seeded input (batch, and the image shape or the
    declared inputs with seq_len), and `env`."""
    model = run["model"]
    shape = model_inputs.key_part(model) if model_inputs.declared(model) else list(model["input_shape"])
    return cache.key(model_key(model, run["seed"]), run["batch_size"], shape,
                     dict(sorted((str(k), str(v)) for k, v in (run.get("env") or {}).items())),
                     file_digest(model.get("weights")))


def reference(load_model: Callable[[], Any], example: dict, run: dict, cache_dir: str) -> tuple[list, float]:
    """fp32 eager outputs on `example`, and the seconds its forward pass took (0 when cached).

    Call it before any backend touches the model.
    """
    import numpy as np
    import torch

    path = cache.path(cache_dir, "reference", reference_key(run), "outputs.npz")
    if path.exists():
        with np.load(path) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))], 0.0
    model = load_model()
    started = time.perf_counter()
    with torch.inference_mode():
        out = [t.float().numpy() for t in tensors(inputs.call(model, example, run["model"]))]
    seconds = time.perf_counter() - started
    with cache.atomic_dir(path.parent) as tmp:
        np.savez(tmp / path.name, *out)
    return out, seconds


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    digest = hashlib.sha256()
    with open(Path(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compare(output: list, ref: list) -> dict:
    import numpy as np

    if len(output) != len(ref):
        raise RuntimeError(f"the run returned {len(output)} output tensors, fp32 eager {len(ref)}: cannot compare them")
    errors, cosines = [], []
    for got, want in zip(output, ref):
        got = np.asarray(got, dtype=np.float32).reshape(want.shape)
        scale = float(np.abs(want).max()) or 1.0
        errors.append(float(np.abs(got - want).max() / scale))
        a, b = got.ravel().astype(np.float64), want.ravel().astype(np.float64)
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        cosines.append(float(a @ b / norms) if norms else float(np.array_equal(a, b)))
    agreement = None
    first, first_ref = np.asarray(output[0], dtype=np.float32).reshape(ref[0].shape), ref[0]
    if first_ref.ndim == 2:  # (batch, classes)
        agreement = float((first.argmax(axis=1) == first_ref.argmax(axis=1)).mean())
    return {"top1_agreement": agreement, "max_rel_error": max(errors), "cosine_similarity": min(cosines)}

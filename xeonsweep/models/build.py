"""Build a model and its seeded input from the model config (in the worker).

Random weights are drawn once per model config and seed and kept in the cache,
so every run (whatever its torch version or environment) times the same weights.
"""

from __future__ import annotations

from typing import Any

from xeonsweep.config.cache_keys import model_key, weights_file  # noqa: F401  (the model's own names)
from xeonsweep.models import cache, inputs


def build_model(model_cfg: dict, seed: int, cache_dir: str) -> Any:
    import torch
    from hydra.utils import instantiate

    torch.manual_seed(seed)
    model = instantiate(model_cfg["factory"])
    weights = weights_file(model_cfg, seed, cache_dir)
    if not model_cfg.get("weights"):
        if not weights.exists():
            with cache.atomic_dir(weights.parent) as tmp:
                torch.save(model.state_dict(), tmp / weights.name)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def make_input(model_cfg: dict, batch_size: int, seed: int) -> dict:
    """{name: tensor}: the model's declared inputs (or its one image input), seeded."""
    return inputs.generate(model_cfg, batch_size, seed)

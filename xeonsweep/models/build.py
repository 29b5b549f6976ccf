"""Build a model and its seeded input from the model config (in the worker).

Random weights are drawn once per model config and seed and kept in the cache,
so every run (whatever its torch version or environment) times the same weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xeonsweep.models import cache, inputs


def model_key(model_cfg: dict, seed: int) -> str:
    return cache.key(model_cfg["factory"], model_cfg.get("weights"), seed)


def weights_file(model_cfg: dict, seed: int, cache_dir: str) -> Path:
    """The model's weights: its own `weights` file, or the random ones drawn once into the cache."""
    if model_cfg.get("weights"):
        return Path(model_cfg["weights"])
    return cache.path(cache_dir, "weights", model_key(model_cfg, seed), "state_dict.pt")


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

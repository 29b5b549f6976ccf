"""A model's input tensors, made as its YAML declares them (config.model_inputs reads the
declaration without torch; this module makes the tensors, in the worker).
"""

from __future__ import annotations

from typing import Any

from xeonsweep.config.model_inputs import LEGACY_NAME, declared, shape, specs


def generate(model_cfg: dict, batch_size: int, seed: int, sizes: dict | None = None, generator: Any = None) -> dict:
    """The seeded input batch: {name: torch tensor}, in the declared order.

    `sizes` overrides symbolic dimensions (e.g. {"seq_len": 9}); `generator`, a torch
    Generator to draw from instead of a new one seeded with `seed` (successive batches).
    """
    import torch

    generator = generator or torch.Generator().manual_seed(seed)
    if not declared(model_cfg):  # exactly as before: the same values for the same seed
        return {LEGACY_NAME: torch.randn(batch_size, *model_cfg["input_shape"], generator=generator)}
    batch = {}
    for s in specs(model_cfg):
        full = (batch_size, *shape(s, model_cfg, sizes))
        dtype = getattr(torch, s.dtype)
        if s.fill == "normal":
            tensor = torch.randn(full, generator=generator)
        elif s.fill == "randint":
            tensor = torch.randint(s.low, s.high, full, generator=generator).to(dtype)
        else:
            tensor = (torch.ones if s.fill == "ones" else torch.zeros)(full, dtype=dtype)
        batch[s.name] = tensor
    return batch


def call(module: Any, batch: dict, model_cfg: dict) -> Any:
    """module(batch): keyword arguments for declared inputs, the one tensor positionally otherwise."""
    return module(**batch) if declared(model_cfg) else module(*batch.values())

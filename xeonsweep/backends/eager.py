"""PyTorch eager mode: the seed's baseline."""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext, torch_model, torch_prepared


@dataclass
class Eager(Backend):
    def prepare(self, load_model, example, ctx: RunContext) -> Prepared:
        return torch_prepared(torch_model(load_model, ctx), ctx)

"""PyTorch eager mode: the seed's baseline."""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext, torch_prepared


@dataclass
class Eager(Backend):
    def prepare(self, model, example, ctx: RunContext) -> Prepared:
        return torch_prepared(model, ctx)

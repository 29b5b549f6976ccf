"""Intel Extension for PyTorch: `ipex.optimize`, optionally followed by torch.compile
(the seed's combination, which interfered on its ResNet-50).

IPEX 2.8.0 is discontinued and only imports with torch 2.8, so these runs use
the interpreter of .venv-ipex (conf/backend/ipex*.yaml: `venv`, made by `make ipex-env`).
Its bf16 weight prepack needs AVX-512 (or AVX-NE-CONVERT): elsewhere the run is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext, torch_model, torch_prepared
from xeonsweep.errors import Skip

BF16_PREPACK = ({"avx512f", "avx512bw", "avx512vl"}, {"avx_ne_convert"})


def bf16_prepack_possible(isa: frozenset[str]) -> bool:
    return any(needed <= isa for needed in BF16_PREPACK)


@dataclass
class Ipex(Backend):
    compile: bool = False       # torch.compile the IPEX-optimized model afterwards
    weights_prepack: bool = True

    def prepare(self, load_model, example, ctx: RunContext) -> Prepared:
        import intel_extension_for_pytorch as ipex
        import torch

        bf16 = ctx.precision == "bf16"
        if bf16 and not bf16_prepack_possible(ctx.isa):
            raise Skip("IPEX bf16 weight prepack needs AVX-512 (avx512f/bw/vl) or AVX-NE-CONVERT; this CPU has "
                       + (", ".join(sorted(f for f in ctx.isa if f.startswith(("avx", "amx")))) or "neither"))
        dtype = torch.bfloat16 if bf16 else torch.float32
        try:
            optimized = ipex.optimize(torch_model(load_model, ctx), dtype=dtype, weights_prepack=self.weights_prepack)
        except RuntimeError as exc:
            if "AVX512" in str(exc).upper() or "avx_ne_convert" in str(exc):
                raise Skip(f"IPEX refused on this CPU: {exc}") from exc
            raise
        if self.compile:
            optimized = torch.compile(optimized)
        return torch_prepared(optimized, ctx, {"ipex_version": ipex.__version__}, static_batch=self.compile)

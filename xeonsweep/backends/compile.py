"""torch.compile with inductor, with the settings that matter for CPU inference."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext, torch_model, torch_prepared
from xeonsweep.config.components import check_choice
from xeonsweep.errors import Skip

MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class Compile(Backend):
    mode: str = "default"
    freezing: bool = True
    cpp_wrapper: bool = False
    dynamic: bool = False

    def __post_init__(self) -> None:
        check_choice("backend", "mode", self.mode, MODES)
        for name in ("freezing", "cpp_wrapper", "dynamic"):
            check_choice("backend", name, getattr(self, name), (True, False))

    def prepare(self, load_model, example, ctx: RunContext) -> Prepared:
        import torch
        import torch._inductor.config as inductor

        compiler = inductor.cpp.cxx[-1] if isinstance(inductor.cpp.cxx, tuple) else "g++"
        if not shutil.which(compiler or "g++"):
            raise Skip(
                f"torch.compile needs a C++ compiler ({compiler}) and none is on PATH; "
                "install g++ (scripts/install-system-packages.sh)"
            )
        inductor.freezing = self.freezing
        inductor.cpp_wrapper = self.cpp_wrapper
        details = {}
        model = torch_model(load_model, ctx)
        if ctx.quantizer is not None:
            model, details = ctx.quantizer.quantize(model, example, ctx)
            details["applied_precision"] = "int8" + (" + bf16 autocast" if ctx.precision == "bf16" else "")
        compiled = torch.compile(model, mode=self.mode, dynamic=self.dynamic)
        # A graph compiled for one shape recompiles for another (and PT2E's export is static): pad instead.
        prepared = torch_prepared(compiled, ctx, details, static_batch=not self.dynamic or ctx.quantizer is not None)
        prepared.facts = inductor_facts
        return prepared


def inductor_facts() -> dict:
    """The inductor settings in effect and the pattern rewrites its compilation made, read
    once the first call has compiled: two runs of one config must compile alike, whatever
    the process did before (a cached pt2e program once compiled without torchao's int8
    passes, see quantizers.pt2e.register_inductor_passes)."""
    import torch._inductor.config as inductor
    from torch._dynamo.utils import counters

    custom = inductor.pre_grad_custom_pass
    return {
        "inductor_freezing": inductor.freezing,
        "inductor_cpp_wrapper": inductor.cpp_wrapper,
        "inductor_pre_grad_pass": type(custom).__name__ if custom is not None else None,
        # e.g. qconv_weight_prepack: convolutions that became oneDNN int8 kernels
        "inductor_rewrites": {name.removesuffix("_matcher_count"): count
                              for name, count in sorted(counters["inductor"].items())
                              if name.endswith("_matcher_count")},
    }

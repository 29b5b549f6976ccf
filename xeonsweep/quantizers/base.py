"""The contract every quantizer implements.

A quantizer is a dataclass of its YAML `options`, validated without torch. It
names the backend implementations it works with (classes, so a variant YAML of a
backend with other options keeps its quantizers); the backend calls `quantize` on
its own kind of model (a torch module for Compile, an OpenVINO model for OpenVino).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

VNNI = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass
class Quantizer:
    backends: ClassVar[tuple[str, ...]] = ()  # backend impl classes, e.g. "xeonsweep.backends.compile.Compile"

    def incompatibility(self, run: dict) -> str | None:
        from xeonsweep.config.components import load_class

        impl = run["backend"].get("impl")
        backend_class = load_class(impl, "backend") if impl else None
        if backend_class is None or not any(issubclass(backend_class, load_class(b, "backend")) for b in self.backends):
            name = run["quantization"]["name"]
            kinds = " or ".join(f"{b.rpartition('.')[2]} (backend={b.split('.')[-2]} or a variant of it)"
                                for b in self.backends)
            return (f"quantization={name} works with backend impl {kinds}, "
                    f"not backend={run['backend']['name']} (impl {impl})")
        return None

    def cache_key(self) -> dict:
        """What determines the quantized artifact, besides the model."""
        from dataclasses import asdict

        return {"quantizer": type(self).__name__, **asdict(self)}

    def quantize(self, model: Any, example: Any, ctx: Any) -> tuple[Any, dict]:
        """Return the quantized model and details to record (e.g. reduce_range)."""
        raise NotImplementedError

"""The contract every quantizer implements.

A quantizer is a dataclass of its YAML `options`, validated without torch. It
names the backends it works with; the backend calls `quantize` on its own kind
of model (a torch module for `compile`, an OpenVINO model for `openvino`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

VNNI = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass
class Quantizer:
    backends: ClassVar[tuple[str, ...]] = ()

    def incompatibility(self, run: dict) -> str | None:
        backend = run["backend"]["name"]
        if backend not in self.backends:
            name = run["quantization"]["name"]
            return f"quantization={name} works with backend={'/'.join(self.backends)}, not backend={backend}"
        return None

    def cache_key(self) -> dict:
        """What determines the quantized artifact, besides the model."""
        from dataclasses import asdict

        return {"quantizer": type(self).__name__, **asdict(self)}

    def quantize(self, model: Any, example: Any, ctx: Any) -> tuple[Any, dict]:
        """Return the quantized model and details to record (e.g. reduce_range)."""
        raise NotImplementedError

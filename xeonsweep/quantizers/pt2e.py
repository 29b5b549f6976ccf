"""torchao PT2E int8 quantization for inductor (X86InductorQuantizer), as in the
seed; the compile backend then compiles the quantized graph with freezing.

torch.export runs strict by default here: on torch 2.14 the non-strict export
breaks ResNet's reused ReLU ("Input partition has more than one output node").
reduce_range avoids int8 overflow on CPUs without VNNI; null picks it from the ISA.
The quantized graph is saved with torch.export.save in the artifact cache, so a
second run skips export, calibration and conversion; it still registers torchao's
inductor passes (register_inductor_passes), which the quantizer's import does.
"""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.config import model_inputs
from xeonsweep.config.components import check_choice
from xeonsweep.errors import UserError
from xeonsweep.models import inputs
from xeonsweep.quantizers.base import VNNI, Quantizer


@dataclass
class Pt2e(Quantizer):
    backends = ("xeonsweep.backends.compile.Compile",)
    reduce_range: bool | None = None   # null: true when the CPU has no VNNI
    strict_export: bool = True
    calibration_batches: int = 1

    def __post_init__(self) -> None:
        check_choice("quantization", "reduce_range", self.reduce_range, (None, True, False))
        check_choice("quantization", "strict_export", self.strict_export, (True, False))
        if not isinstance(self.calibration_batches, int) or self.calibration_batches < 1:
            raise UserError(f"quantization.options.calibration_batches={self.calibration_batches} is not valid; "
                            "valid: an integer >= 1")

    def quantize(self, model, example, ctx):
        """The quantized graph, from the cache when this model, shape and setting were done before."""
        import torch

        from xeonsweep.backends.base import to_memory_format
        from xeonsweep.models.artifacts import artifact_key, cached, library_versions

        register_inductor_passes()
        reduce_range = self.reduce_range if self.reduce_range is not None else not (VNNI & ctx.isa)
        memory_format = torch.channels_last if ctx.channels_last else torch.contiguous_format
        example = {name: to_memory_format(t, memory_format) for name, t in example.items()}
        shapes = [list(t.shape) for t in example.values()]
        key = artifact_key(ctx.run, "pt2e", self.cache_key(), reduce_range, shapes[0] if len(shapes) == 1 else shapes,
                           ctx.channels_last, library_versions("torch", "torchao"))

        def quantize_and_save(folder):
            converted = self.convert(model, example, reduce_range, memory_format, ctx.run)
            with torch.no_grad():
                program = self.export(converted, example, ctx.run)
            torch.export.save(program, str(folder / "model.pt2"))

        path, from_cache = cached(ctx.cache_dir, "pt2e", key, "model.pt2", quantize_and_save)
        quantized = torch.export.load(str(path)).module()
        return quantized, {"reduce_range": reduce_range, "strict_export": self.strict_export,
                           "artifact_cached": from_cache, "quantized_model": str(path)}

    def export(self, model, example: dict, run: dict):
        """torch.export with the run's inputs: keyword arguments when the model declares them."""
        import torch

        if model_inputs.declared(run["model"]):
            return torch.export.export(model, (), kwargs=example, strict=self.strict_export)
        return torch.export.export(model, tuple(example.values()), strict=self.strict_export)

    def convert(self, model, example, reduce_range, memory_format, run):
        import torch
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        from xeonsweep.backends.base import to_memory_format

        batch_size = next(iter(example.values())).shape[0]
        with torch.no_grad():
            exported = self.export(model, example, run).module()
            quantizer = xiq.X86InductorQuantizer()
            quantizer.set_global(xiq.get_default_x86_inductor_quantization_config(reduce_range=reduce_range))
            prepared = prepare_pt2e(exported, quantizer)
            generator = torch.Generator().manual_seed(1)  # apart from the timed input's seed
            for _ in range(self.calibration_batches):
                # the model's own input generator: token ids for a BERT, never randn for integer inputs
                batch = inputs.generate(run["model"], batch_size, 1, generator=generator)
                inputs.call(prepared, {n: to_memory_format(t, memory_format) for n, t in batch.items()}, run["model"])
            return convert_pt2e(prepared)


def register_inductor_passes() -> None:
    """Ready this process to load and compile a quantized program, whether or not it quantized.

    Importing torchao's X86 quantizer module registers, as a side effect, the int8
    passes inductor needs for the program: under freezing, dequantize + conv/linear +
    quantize become oneDNN qconv/qlinear kernels with prepacked int8 weights (and
    inductor's pre_grad_custom_pass becomes torchao's QuantLiftUp). A process that
    loaded model.pt2 from the cache without this import compiled fp32 convolutions
    around dequantize instead: 0.41x the speed of the process that had quantized.
    quantize_pt2e registers the quantized_decomposed ops torch.export.load needs.
    """
    import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401

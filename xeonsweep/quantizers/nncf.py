"""NNCF post-training int8 quantization of the OpenVINO model, calibrated on
random inputs like the seed (for a model with declared inputs: its own input
generator, so token ids are integers in the vocabulary), on a folder of images,
or on a `.npy` file of int64 token ids (N, seq_len) for the first integer input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xeonsweep.config import model_inputs
from xeonsweep.config.components import check_choice
from xeonsweep.errors import UserError
from xeonsweep.models import inputs
from xeonsweep.quantizers.base import Quantizer

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Nncf(Quantizer):
    backends = ("xeonsweep.backends.openvino.OpenVino",)
    calibration_size: int = 300       # samples NNCF calibrates on (its subset_size)
    data: str | None = None           # null: seeded random inputs; a folder of images; or a .npy of token ids
    preset: str = "performance"       # performance (symmetric) or mixed (asymmetric activations)

    def __post_init__(self) -> None:
        if not isinstance(self.calibration_size, int) or self.calibration_size < 1:
            raise UserError(f"quantization.options.calibration_size={self.calibration_size} is not valid; "
                            "valid: an integer >= 1")
        check_choice("quantization", "preset", self.preset, ("performance", "mixed"))
        if self.data is not None and not (Path(self.data).is_dir() or self.token_file()):
            raise UserError(f"quantization.options.data={self.data} is neither a folder nor a .npy file; "
                            "valid: null, a folder of images, or a .npy file of int64 token ids (samples, seq_len)")

    def token_file(self) -> bool:
        return self.data is not None and self.data.endswith(".npy") and Path(self.data).is_file()

    def incompatibility(self, run: dict) -> str | None:
        model = run["model"]
        if self.token_file() and not any(s.dtype == "int64" for s in model_inputs.specs(model)):
            return f"quantization.options.data={self.data} holds token ids; model={model['name']} has no int64 input"
        if self.data and not self.token_file() and model_inputs.declared(model):
            return (f"quantization.options.data={self.data} is a folder of images; "
                    f"model={model['name']} declares its inputs")
        return super().incompatibility(run)

    def cache_key(self) -> dict:
        key = super().cache_key()
        if self.data:  # the images or token ids themselves determine the calibration
            files = [Path(self.data)] if self.token_file() else self.images()
            key["files"] = [(p.name, p.stat().st_size, p.stat().st_mtime) for p in files]
        return key

    def images(self) -> list[Path]:
        return sorted(p for p in Path(self.data).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def samples(self, shape: list[int]) -> list:
        import numpy as np

        if self.data is None:
            rng = np.random.default_rng(0)
            return [rng.standard_normal((1, *shape), dtype=np.float32) for _ in range(self.calibration_size)]
        from PIL import Image

        channels, height, width = shape
        mean = np.array(IMAGENET_MEAN, dtype=np.float32)[:, None, None]
        std = np.array(IMAGENET_STD, dtype=np.float32)[:, None, None]
        found = []
        for path in self.images()[: self.calibration_size]:
            image = Image.open(path).convert("RGB").resize((width, height))
            array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
            found.append(((array - mean) / std)[None, :channels])
        if not found:
            raise UserError(f"quantization.options.data={self.data} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return found

    def declared_samples(self, model_cfg: dict) -> list[dict]:
        """{name: array} samples of batch 1 from the model's own generator, or from the token file."""
        import numpy as np

        if not self.token_file():
            return [{n: t.numpy() for n, t in inputs.generate(model_cfg, 1, seed=1000 + i).items()}
                    for i in range(self.calibration_size)]
        tokens = np.load(self.data)
        if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
            raise UserError(f"quantization.options.data={self.data} holds {tokens.dtype} {list(tokens.shape)}; "
                            "valid: integer token ids of shape (samples, seq_len)")
        target = next(s for s in model_inputs.specs(model_cfg) if s.dtype == "int64")
        sizes = {d: tokens.shape[1] for d in target.dims if isinstance(d, str)}
        found = []
        for i, row in enumerate(tokens[: self.calibration_size]):
            sample = {n: t.numpy() for n, t in inputs.generate(model_cfg, 1, 1000 + i, sizes).items()}
            sample[target.name] = row[None, :].astype(np.int64)
            found.append(sample)
        return found

    def quantize(self, model, example, ctx):
        import nncf

        preset = nncf.QuantizationPreset.PERFORMANCE if self.preset == "performance" else nncf.QuantizationPreset.MIXED
        model_cfg = ctx.run["model"]
        if model_inputs.declared(model_cfg):
            names = {port.get_any_name() for port in model.inputs}  # the export drops inputs the model never reads
            samples = [{n: a for n, a in sample.items() if n in names} for sample in self.declared_samples(model_cfg)]
        else:
            samples = self.samples(model_cfg["input_shape"])
        quantized = nncf.quantize(model, nncf.Dataset(samples), preset=preset, subset_size=len(samples))
        return quantized, {"calibration_samples": len(samples),
                           "calibration_data": self.data or ("generated inputs" if model_inputs.declared(model_cfg)
                                                             else "random")}

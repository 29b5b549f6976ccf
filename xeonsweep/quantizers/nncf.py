"""NNCF post-training int8 quantization of the OpenVINO model, calibrated on
random inputs like the seed, or on a folder of images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xeonsweep.components import check_choice
from xeonsweep.errors import UserError
from xeonsweep.quantizers.base import Quantizer

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Nncf(Quantizer):
    backends = ("xeonsweep.backends.openvino.OpenVino",)
    calibration_size: int = 300       # samples NNCF calibrates on (its subset_size)
    data: str | None = None           # null: seeded random inputs; or a folder of images
    preset: str = "performance"       # performance (symmetric) or mixed (asymmetric activations)

    def __post_init__(self) -> None:
        if not isinstance(self.calibration_size, int) or self.calibration_size < 1:
            raise UserError(f"quantization.options.calibration_size={self.calibration_size} is not valid; valid: an integer >= 1")
        check_choice("quantization", "preset", self.preset, ("performance", "mixed"))
        if self.data is not None and not Path(self.data).is_dir():
            raise UserError(f"quantization.options.data={self.data} is not a folder; valid: null or a folder of images")

    def cache_key(self) -> dict:
        key = super().cache_key()
        if self.data:  # the images themselves determine the calibration
            key["files"] = [(p.name, p.stat().st_size, p.stat().st_mtime) for p in self.images()]
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

    def quantize(self, model, example, ctx):
        import nncf

        preset = nncf.QuantizationPreset.PERFORMANCE if self.preset == "performance" else nncf.QuantizationPreset.MIXED
        samples = self.samples(ctx.run["model"]["input_shape"])
        quantized = nncf.quantize(model, nncf.Dataset(samples), preset=preset, subset_size=len(samples))
        return quantized, {"calibration_samples": len(samples), "calibration_data": self.data or "random"}

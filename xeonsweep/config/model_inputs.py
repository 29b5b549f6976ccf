"""A model's inputs as its YAML declares them: names, shapes, dtypes and fills.

An image model written as before has `input_shape` only: one float32 input named
`input`, standard normal, passed positionally (its seeded values, cache keys
and fingerprints are what they always were). A model with `inputs` gets them as
keyword arguments, in the declared order:

    seq_len: 128
    inputs:
      input_ids: {shape: [seq_len], dtype: int64, fill: randint, high: 30522}
      attention_mask: {shape: [seq_len], dtype: int64, fill: ones}

A dimension is an integer or the name of an integer setting of the model
(`seq_len`): such a dimension is dynamic in exports, and sweepable
(`-m model.seq_len=128,384`).

Pure (no torch): the parent validates and records inputs with it; the worker's
xeonsweep.models.inputs makes the tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xeonsweep.errors import UserError

DTYPES = ("float32", "int64", "bool")
FILLS = ("normal", "randint", "ones", "zeros")
LEGACY_NAME = "input"


@dataclass(frozen=True)
class InputSpec:
    name: str
    dims: tuple        # each an int, or the name of an integer model setting (e.g. "seq_len")
    dtype: str = "float32"
    fill: str = "normal"
    low: int = 0
    high: int | None = None


def declared(model_cfg: dict) -> bool:
    """True when the model names its inputs (keyword arguments); False for `input_shape` models."""
    return bool(model_cfg.get("inputs"))


def specs(model_cfg: dict) -> list[InputSpec]:
    if not declared(model_cfg):
        return [InputSpec(LEGACY_NAME, tuple(model_cfg["input_shape"]))]
    return [
        InputSpec(name, tuple(node.get("shape") or ()), node.get("dtype", "float32"), node.get("fill", "normal"),
                  node.get("low", 0), node.get("high"))
        for name, node in model_cfg["inputs"].items()
    ]


def shape(spec: InputSpec, model_cfg: dict, sizes: dict | None = None) -> list[int]:
    """The shape without the batch dimension, symbolic dimensions replaced by their values."""
    sizes = sizes or {}
    return [d if isinstance(d, int) else sizes.get(d, model_cfg.get(d)) for d in spec.dims]


def symbolic_dims(model_cfg: dict) -> dict[str, list[int]]:
    """For each input, the positions (batch = 0) of its symbolic dimensions."""
    return {s.name: [i + 1 for i, d in enumerate(s.dims) if isinstance(d, str)] for s in specs(model_cfg)}


def all_images(model_cfg: dict) -> bool:
    """Every input a float (channels, height, width) image: what channels-last applies to."""
    return all(s.dtype == "float32" and len(s.dims) == 3 for s in specs(model_cfg))


def not_applicable(model_cfg: dict) -> dict[str, str]:
    """Run settings that do not apply to this model, with the reason: {name: reason}."""
    if all_images(model_cfg):
        return {}
    return {"channels_last": f"model={model_cfg.get('name')} has inputs that are not all 4-D images "
                             f"({describe(model_cfg)})"}


def describe(model_cfg: dict) -> str:
    """One line for the row, e.g. `input_ids:int64[128]:randint(0,30522) attention_mask:int64[128]:ones`."""
    parts = []
    for s in specs(model_cfg):
        fill = f"randint({s.low},{s.high})" if s.fill == "randint" else s.fill
        parts.append(f"{s.name}:{s.dtype}[{','.join(str(d) for d in shape(s, model_cfg))}]:{fill}")
    return " ".join(parts)


def key_part(model_cfg: dict) -> Any:
    """What the inputs add to an artifact or reference key (an image model's: its input_shape, as before)."""
    if not declared(model_cfg):
        return model_cfg["input_shape"]
    return describe(model_cfg)


def check(model_cfg: dict) -> None:
    """UserError naming the bad value and the valid ones."""
    name = model_cfg.get("name")
    if not declared(model_cfg):
        value = model_cfg.get("input_shape")
        if not (isinstance(value, list) and value and all(_positive(d) for d in value)):
            raise UserError(f"model.input_shape={value} is not valid; valid: a list of positive integers, "
                            "e.g. [3, 224, 224] (or declare model.inputs)")
        return
    if not isinstance(model_cfg["inputs"], dict):
        raise UserError(f"model.inputs of model={name} must map input names to {{shape, dtype, fill}}")
    for s in specs(model_cfg):
        where = f"model.inputs.{s.name}"
        _check_choice(f"{where}.dtype", s.dtype, DTYPES)
        _check_choice(f"{where}.fill", s.fill, FILLS)
        for d in s.dims:
            if isinstance(d, str) and d in model_cfg and not _positive(model_cfg[d]):  # the setting is what was set
                value = "null" if model_cfg[d] is None else model_cfg[d]
                raise UserError(f"model.{d}={value} is not valid; valid: an integer >= 1 (it sizes "
                                f"model.inputs.{s.name}.shape={list(s.dims)})")
            if not (_positive(d) or (isinstance(d, str) and _positive(model_cfg.get(d)))):
                raise UserError(f"{where}.shape={list(s.dims)} is not valid; valid: positive integers or the name of a "
                                f"positive integer setting of the model (e.g. seq_len), without the batch dimension")
        if s.fill == "randint" and not (isinstance(s.high, int) and isinstance(s.low, int) and s.high > s.low):
            raise UserError(f"{where}.high={s.high} is not valid for fill=randint; valid: an integer > low={s.low} "
                            "(values are drawn from low to high-1, e.g. high: the vocabulary size)")
        if s.fill == "normal" and s.dtype != "float32":
            raise UserError(f"{where}.fill=normal does not fit dtype={s.dtype}; valid: randint, ones, zeros")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise UserError(f"{name}={value} is not valid; valid: {', '.join(allowed)}")

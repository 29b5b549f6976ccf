"""The contract every backend implements.

A backend is a dataclass whose fields are its YAML `options`, validated in
`__post_init__` without importing torch. In the worker, `prepare` turns the
eager model into something to time: `Prepared.feed` converts the input (a dict
{name: tensor}, see xeonsweep.models.inputs) once, outside the timed loop; `infer` is
what is timed; `fetch` turns an output into its list of numpy arrays for the
fidelity check.

`prepare` gets `load_model`, which builds the eager fp32 model (weights loaded)
on its first call: a backend whose artifact is already cached never calls it,
and so never pays for building a model it would not use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from xeonsweep.models import inputs
from xeonsweep.models.fidelity import tensors


@dataclass
class Prepared:
    infer: Callable[[Any], Any]
    feed: Callable[[Any], Any]
    fetch: Callable[[Any], Any]
    details: dict  # what the backend really used, recorded in the row (e.g. OpenVINO's precision)
    # Built for one batch shape: a server's partial batch is padded to batch_size (only real samples count).
    static_batch: bool = False
    # Asynchronous backends: submit(batch, done) starts a batch and calls done() once it has completed.
    submit: Callable[[Any, Callable[[], None]], Any] | None = None
    drain: Callable[[], None] = field(default=lambda: None)  # wait for every batch still in flight
    # Asynchronous backends, whose infer returns before its batch is done: each batch's
    # (submitted_ns, completed_ns) on the monotonic clock since the last call (measure.pipelined).
    completions: Callable[[], list[tuple[int, int]]] | None = None
    facts: Callable[[], dict] = field(default=dict)          # details known only after timing (e.g. requests in flight)


@dataclass
class RunContext:
    """What a backend needs to know about the run, besides the model and input."""

    precision: str
    channels_last: bool  # False when it does not apply to the model (see models.not_applicable)
    batch_size: int
    threads: int
    cache_dir: str
    quantizer: Any  # a quantizer object, or None
    isa: frozenset[str]
    run: dict       # the whole run's settings: artifact keys are built from them


@dataclass
class Backend:
    precisions: ClassVar[tuple[str, ...]] = ("fp32", "bf16")
    # Run settings this backend ignores -> why (completes "backend=NAME ..."); see settings.not_applicable.
    ignores: ClassVar[dict[str, str]] = {}

    def incompatibility(self, run: dict) -> str | None:
        """Why this backend cannot run with these settings, or None. Pure: no I/O."""
        precision = run["precision"]["name"]
        if precision not in self.precisions:
            return (
                f"backend={run['backend']['name']} does not support precision={precision}; "
                f"it supports {', '.join(self.precisions)}"
            )
        return None

    def prepare(self, load_model: Callable[[], Any], example: Any, ctx: RunContext) -> Prepared:
        raise NotImplementedError


def torch_model(load_model: Callable[[], Any], ctx: RunContext) -> Any:
    """The eager model in the run's memory format."""
    import torch

    model = load_model()
    return model.to(memory_format=torch.channels_last) if ctx.channels_last else model


def to_memory_format(tensor: Any, memory_format: Any) -> Any:
    """Channels-last reaches 4-D (image) tensors only."""
    import torch

    return tensor.contiguous(memory_format=memory_format if tensor.dim() == 4 else torch.contiguous_format)


def torch_prepared(module: Any, ctx: RunContext, details: dict | None = None, static_batch: bool = False) -> Prepared:
    """A torch module run under inference_mode, with bf16 autocast when asked (as in the seed)."""
    import torch

    bf16 = ctx.precision == "bf16"
    memory_format = torch.channels_last if ctx.channels_last else torch.contiguous_format

    model_cfg = ctx.run["model"]

    def infer(batch):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return inputs.call(module, batch, model_cfg)

    return Prepared(
        infer=infer,
        feed=lambda batch: {name: to_memory_format(t, memory_format) for name, t in batch.items()},
        fetch=lambda out: [t.float().numpy() for t in tensors(out)],
        details={"applied_precision": "bf16 autocast" if bf16 else "fp32", **(details or {})},
        static_batch=static_batch,
    )

"""ONNX Runtime on the CPU execution provider, from the cached dynamo ONNX export."""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext
from xeonsweep.components import check_choice

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


@dataclass
class OnnxRuntime(Backend):
    precisions = ("fp32",)
    ignores = {
        "channels_last": "runs the ONNX graph in the layout it was exported in",
        "thp": "allocates with its own allocator, not torch's (THP_MEM_ALLOC_ENABLE acts on torch's)",
    }
    graph_optimization_level: str = "all"
    inter_op_threads: int = 1

    def __post_init__(self) -> None:
        check_choice("backend", "graph_optimization_level", self.graph_optimization_level, tuple(LEVELS))

    def prepare(self, load_model, example, ctx: RunContext) -> Prepared:
        import onnxruntime as ort

        from xeonsweep.artifacts import onnx_file

        path, from_cache = onnx_file(load_model, ctx.run, ctx.cache_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = ctx.threads  # the run's cores per instance
        options.inter_op_num_threads = self.inter_op_threads
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[self.graph_optimization_level])
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return Prepared(
            infer=lambda batch: session.run(None, {name: batch}),
            feed=lambda tensor: tensor.contiguous().numpy(),
            fetch=lambda out: out[0],
            details={"artifact_cached": from_cache, "applied_precision": "fp32",
                     "intra_op_threads": ctx.threads, "onnx": str(path)},
        )

"""ONNX Runtime on the CPU execution provider, from the cached dynamo ONNX export."""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.backends.base import Backend, Prepared, RunContext
from xeonsweep.config.components import check_choice

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
          "all": "ORT_ENABLE_ALL"}


def feed_by_name(batch: dict, names: list[str]) -> dict:
    """{input name: numpy array} for the graph's inputs (the export drops inputs the model never reads);
    an image model's one input under the graph's name for it."""
    if len(batch) == 1 and len(names) == 1:
        return {names[0]: next(iter(batch.values())).contiguous().numpy()}
    return {name: batch[name].contiguous().numpy() for name in names}


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

        from xeonsweep.models.artifacts import onnx_file

        path, from_cache = onnx_file(load_model, ctx.run, ctx.cache_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = ctx.threads  # the run's cores per instance
        options.inter_op_num_threads = self.inter_op_threads
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[self.graph_optimization_level])
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return Prepared(
            infer=lambda feed: session.run(None, feed),
            feed=lambda batch: feed_by_name(batch, names),
            fetch=list,
            details={"artifact_cached": from_cache, "applied_precision": "fp32",
                     "intra_op_threads": ctx.threads, "onnx": str(path),
                     "onnx_inputs": {i.name: i.type for i in session.get_inputs()}},
        )

# ---- The backend: ONNX Runtime (CPU execution provider) ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.
import onnxruntime as ort


def load(settings, batch, threads):
    """The saved ONNX export (its external data beside it) with the row's session options."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = settings["inter_op_threads"]
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, settings["graph_optimization_level"])
    session = ort.InferenceSession(str(ARTIFACT / settings["artifact"]), options, providers=["CPUExecutionProvider"])
    feed = by_name(batch, [i.name for i in session.get_inputs()])
    call = lambda: session.run(None, feed)  # noqa: E731
    call()
    return (lambda *timing: closed_loop(call, *timing)), threads

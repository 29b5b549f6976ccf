# ---- The backend: OpenVINO (CPU plugin) ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.
import openvino as ov


def in_flight(compiled, inputs, warmup, iterations, seconds):
    """The throughput hints: OpenVINO's optimal number of requests kept in flight; a batch's latency
    is from its start to its completion, and the window ends when the last one completes."""
    queue = ov.AsyncInferQueue(compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    spans = []
    queue.set_callback(lambda request, started: spans.append(time.perf_counter() - started))
    for _ in range(max(warmup, len(queue))):
        queue.start_async(inputs, time.perf_counter())
    queue.wait_all()
    spans.clear()
    start = time.perf_counter()
    while len(spans) < iterations or time.perf_counter() - start < seconds:
        queue.start_async(inputs, time.perf_counter())  # waits for a free request
    queue.wait_all()
    return list(spans), time.perf_counter() - start


def load(settings, batch, threads):
    """The saved IR (artifact/model.xml and .bin) reshaped to the row's batch, compiled with its hints."""
    core = ov.Core()
    model = core.read_model(str(ARTIFACT / settings["artifact"]))
    feed = by_name(batch, [port.get_any_name() for port in model.inputs])
    model.reshape({name: list(array.shape) for name, array in feed.items()})  # static shapes, as the row ran
    config = {"PERFORMANCE_HINT": settings["performance_hint"], "INFERENCE_NUM_THREADS": threads}
    if settings["precision_hint"] != "default":
        config["INFERENCE_PRECISION_HINT"] = settings["precision_hint"]
    compiled = core.compile_model(model, "CPU", config)
    inputs = list(feed.values())
    if settings["performance_hint"] != "LATENCY":
        return (lambda *timing: in_flight(compiled, inputs, *timing)), threads
    request = compiled.create_infer_request()  # one request, reused, as the row's latency hint ran
    call = lambda: request.infer(inputs, share_inputs=True, share_outputs=True)  # noqa: E731
    call()
    return (lambda *timing: closed_loop(call, *timing)), threads

"""OpenVINO on the CPU plugin, from the ONNX export or straight from the PyTorch
module (the seed had to go direct for ViT, whose ONNX failed in OpenVINO).
Declared inputs keep their names and dtypes (int64 token ids reach OpenVINO as i64).

The IR (quantized by NNCF when asked) is cached. The row records the precision
OpenVINO really ran in: a bf16 hint on a CPU without bf16 silently runs f32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xeonsweep.backends.base import Backend, Prepared, RunContext
from xeonsweep.backends.onnxruntime import feed_by_name
from xeonsweep.config import model_inputs
from xeonsweep.config.components import check_choice
from xeonsweep.machine.known_issues import FATAL_ALLOCATOR_WHY, fatal_allocator
from xeonsweep.models import cache

HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT", "cumulative_throughput": "CUMULATIVE_THROUGHPUT"}
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


@dataclass
class OpenVino(Backend):
    ignores = {
        "channels_last": "compiles its own layouts from the model it reads",
        "thp": "allocates with its own allocator, not torch's (THP_MEM_ALLOC_ENABLE acts on torch's)",
    }
    source: str = "onnx"                 # onnx (the seed's path) or pytorch (openvino.convert_model)
    performance_hint: str = "latency"
    # null: from `precision` (fp32 -> f32, bf16 -> bf16); f32, bf16, f16; or default: OpenVINO's
    # own choice, as in the seed (bf16 on AMX Xeons).
    precision_hint: str | None = None

    def __post_init__(self) -> None:
        check_choice("backend", "source", self.source, ("onnx", "pytorch"))
        check_choice("backend", "performance_hint", self.performance_hint, tuple(HINTS))
        check_choice("backend", "precision_hint", self.precision_hint, (None, "default", "f32", "bf16", "f16"))

    def prepare(self, load_model, example, ctx: RunContext) -> Prepared:
        import openvino as ov

        ir_path, from_cache, details = self.ir(load_model, ctx)
        core = ov.Core()
        ov_model = core.read_model(str(ir_path))
        model_cfg = ctx.run["model"]
        names = [port.get_any_name() for port in ov_model.inputs]
        if model_inputs.declared(model_cfg):  # static shapes run faster
            shapes = {s.name: [ctx.batch_size, *model_inputs.shape(s, model_cfg)]
                      for s in model_inputs.specs(model_cfg)}
            ov_model.reshape({name: shapes[name] for name in names})
        else:
            ov_model.reshape([ctx.batch_size, *model_cfg["input_shape"]])
        hint = self.precision_hint or PRECISIONS[ctx.precision]
        config = {"PERFORMANCE_HINT": HINTS[self.performance_hint], "INFERENCE_NUM_THREADS": ctx.threads}
        if hint != "default":
            config["INFERENCE_PRECISION_HINT"] = hint
        compiled = core.compile_model(ov_model, "CPU", config)
        used = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # e.g. "bf16", "f32"
        details.update(
            artifact_cached=from_cache, precision_hint=hint, ov_inference_precision=used,
            applied_precision=("int8+" if ctx.quantizer else "") + used,
            ov_streams=int(compiled.get_property("NUM_STREAMS")), ir=str(ir_path),
        )
        details["ov_inputs"] = {port.get_any_name(): port.get_element_type().get_type_name()
                                for port in compiled.inputs}
        feed = lambda batch: list(feed_by_name(batch, names).values())  # noqa: E731
        if self.performance_hint == "latency":
            details["ov_requests"] = 1
            request = compiled.create_infer_request()  # one request, reused; no copies of inputs or outputs
            return Prepared(infer=lambda batch: request.infer(batch, share_inputs=True, share_outputs=True),
                            feed=feed, fetch=lambda out: [value.copy() for value in out.values()],
                            details=details, static_batch=True)
        return self.pipelined(compiled, feed, details)

    @staticmethod
    def pipelined(compiled, feed, details: dict) -> Prepared:
        """The throughput hints: OpenVINO's optimal number of requests kept in flight."""
        from xeonsweep.backends.openvino_requests import Pipeline

        pipeline = Pipeline(compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        details["ov_requests"] = pipeline.requests
        return Prepared(
            infer=pipeline.infer, feed=feed, fetch=pipeline.fetch, details=details, static_batch=True,
            submit=pipeline.submit, drain=pipeline.drain, completions=pipeline.completions,
            facts=lambda: {"ov_max_requests_in_flight": pipeline.max_in_flight},
        )

    def incompatibility(self, run: dict) -> str | None:
        allocator = run.get("allocator") or {}
        if fatal_allocator(allocator):
            return (f"allocator={allocator.get('name')} cannot run with backend=openvino: {FATAL_ALLOCATOR_WHY}; "
                    "use allocator=system")
        scenario = (run.get("scenario") or {}).get("name", "offline")
        if scenario == "single_stream" and self.performance_hint != "latency":
            return (f"backend=openvino with performance_hint={self.performance_hint} keeps several requests in flight "
                    "and scenario=single_stream has one query at a time; use backend.options.performance_hint=latency")
        return super().incompatibility(run)

    def ir(self, load_model, ctx: RunContext) -> tuple[Path, bool, dict]:
        """The OpenVINO IR for this run, quantized if the run asks; (path, from cache, details)."""
        import openvino as ov

        from xeonsweep.models.artifacts import artifact_key, cached, export_example, library_versions, onnx_file

        run = ctx.run
        key = artifact_key(run, "openvino", self.source, library_versions("torch", "openvino"))

        def convert(folder: Path) -> None:
            if self.source == "onnx":
                onnx_path, _ = onnx_file(load_model, run, ctx.cache_dir)
                ov_model = ov.convert_model(str(onnx_path))
            elif model_inputs.declared(run["model"]):
                example = export_example(run["model"])
                types = {"float32": ov.Type.f32, "int64": ov.Type.i64, "bool": ov.Type.boolean}
                ports = [(s.name, ov.PartialShape([-1] * (1 + len(s.dims))), types[s.dtype])
                         for s in model_inputs.specs(run["model"])]  # every dimension dynamic, dtypes kept
                ov_model = ov.convert_model(load_model(), example_input=example, input=ports)
            else:
                import torch

                example = torch.randn(2, *run["model"]["input_shape"])
                shape = ov.PartialShape([-1, *run["model"]["input_shape"]])
                ov_model = ov.convert_model(load_model(), example_input=example, input=[shape])
            ov.save_model(ov_model, str(folder / "model.xml"), compress_to_fp16=False)

        if ctx.quantizer is None:
            path, from_cache = cached(ctx.cache_dir, "openvino", key, "model.xml", convert)
            return path, from_cache, {}

        def quantize(folder: Path) -> None:
            base, _ = cached(ctx.cache_dir, "openvino", key, "model.xml", convert)
            quantized, details = ctx.quantizer.quantize(ov.Core().read_model(str(base)), None, ctx)
            ov.save_model(quantized, str(folder / "model.xml"), compress_to_fp16=False)
            (folder / "details.json").write_text(json.dumps(details))

        quant_key = cache.key(key, ctx.quantizer.cache_key(), library_versions("nncf"))
        path, from_cache = cached(ctx.cache_dir, "openvino-int8", quant_key, "model.xml", quantize)
        return path, from_cache, json.loads((path.parent / "details.json").read_text())

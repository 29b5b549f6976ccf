"""A recipe's infer.py and requirements.txt, from a row.

infer.py is assembled from the templates in templates/ (data, never imported here):
SETTINGS (what the row ran: the artifact's file, the inputs, the backend's options),
the timing shared by every backend, the torch model for the torch backends, and the
backend's own `load`. It uses only the backend's library (and numpy): no xeonsweep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from xeonsweep.config import model_inputs
from xeonsweep.errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The template of each backend implementation, and whether it builds the torch model.
BACKENDS = {
    "xeonsweep.backends.eager.Eager": ("eager", True),
    "xeonsweep.backends.compile.Compile": ("compile", True),
    "xeonsweep.backends.ipex.Ipex": ("ipex", True),
    "xeonsweep.backends.onnxruntime.OnnxRuntime": ("onnxruntime", False),
    "xeonsweep.backends.openvino.OpenVino": ("openvino", False),
}
# What each template imports, by the names the row's `versions` uses.
LIBRARIES = {
    "eager": ["torch"], "compile": ["torch"], "pt2e": ["torch", "torchao"],
    "ipex": ["torch", "intel-extension-for-pytorch"], "onnxruntime": ["onnxruntime"], "openvino": ["openvino"],
}
FACTORY_LIBRARIES = {"torchvision": "torchvision", "timm": "timm", "transformers": "transformers",
                     "xeonsweep.hf": "transformers"}


def template(run: dict) -> tuple[str, bool]:
    """The backend template's name (pt2e for a compile run with PT2E int8) and whether it needs the torch model."""
    impl = run["backend"]["impl"]
    if impl not in BACKENDS:
        raise UserError(f"backend={run['backend']['name']} ({impl}) has no recipe; valid: "
                        + ", ".join(name for name, _ in BACKENDS.values()))
    name, torch_model = BACKENDS[impl]
    if run["quantization"]["name"] != "none" and name == "compile":
        return "pt2e", False
    return name, torch_model


def input_settings(model: dict) -> list[dict]:
    return [{"name": s.name, "shape": model_inputs.shape(s, model), "dtype": s.dtype, "fill": s.fill, "low": s.low,
             "high": s.high} for s in model_inputs.specs(model)]


def backend_settings(name: str, run: dict, details: dict) -> dict:
    options = dict(run["backend"].get("options") or {})
    if name == "onnxruntime":
        from xeonsweep.backends.onnxruntime import LEVELS

        return {"inter_op_threads": options.get("inter_op_threads", 1),
                "graph_optimization_level": LEVELS[options.get("graph_optimization_level", "all")]}
    if name == "openvino":
        from xeonsweep.backends.openvino import HINTS, PRECISIONS

        hint = details.get("precision_hint") or options.get("precision_hint") or PRECISIONS[run["precision"]["name"]]
        return {"performance_hint": HINTS[options.get("performance_hint", "latency")], "precision_hint": hint}
    return {"backend_options": options}


def settings(row: pd.Series, artifact: Path) -> dict:
    """What infer.py runs, from the row (its config_json and what the backend recorded)."""
    run = json.loads(row["config_json"])
    details = json.loads(row["backend_details"]) if isinstance(row.get("backend_details"), str) else {}
    name, torch_model = template(run)
    model = run["model"]
    found = {
        "run_key": row["run_key"], "model": model["name"], "backend": name, "artifact": artifact.name,
        "batch_size": int(row["batch_size"]), "precision": run["precision"]["name"],
        "channels_last": bool(run["channels_last"]), "seed": int(run["seed"]),
        "inputs": input_settings(model), "keyword_inputs": model_inputs.declared(model),
        "warmup": int(run["benchmark"]["warmup"]), "iterations": int(run["benchmark"]["iterations"]),
        "seconds": float(run["benchmark"]["min_duration_s"]),
        **backend_settings(name, run, details),
    }
    if torch_model:
        found["factory"] = model["factory"]
    return found


def settings_literal(found: dict) -> str:
    """The settings as a Python dict, one key a line."""
    return "{\n" + "".join(f"    {key!r}: {value!r},\n" for key, value in found.items()) + "}"


def template_text(part: str) -> str:
    """A template without its note to xeonsweep's readers (that it is a template)."""
    lines = (TEMPLATES / part).read_text().strip().splitlines()
    return "\n".join(line for line in lines if not line.startswith("# A template:")) + "\n"


def infer_script(row: pd.Series, artifact: Path) -> str:
    found = settings(row, artifact)
    name, torch_model = template(json.loads(row["config_json"]))
    parts = ["common.py", *(["torch_model.py"] if torch_model or name == "pt2e" else []), f"{name}.py"]
    head = (f'"""Times the model of xeonsweep run {row["run_key"]} ({found["model"]}, {name}) as the row ran it,\n'
            "from the artifact in artifact/, with its library alone. `sh run.sh` starts it in the row's\n"
            'environment; `python infer.py --help` for its options. Written by `xeonsweep recipe`."""\n\n'
            f"SETTINGS = {settings_literal(found)}\n\n")
    body = "\n\n".join(template_text(part) for part in parts)
    return head + body + '\n\nif __name__ == "__main__":\n    main(load, SETTINGS)\n'


def requirements(row: pd.Series) -> str:
    """The libraries infer.py (and run_cpu) imports, pinned to the versions the row's child had."""
    run = json.loads(row["config_json"])
    name, torch_model = template(run)
    wanted = ["numpy", *LIBRARIES[name]]
    if torch_model:
        target = str(run["model"]["factory"]["_target_"])
        wanted += [lib for prefix, lib in FACTORY_LIBRARIES.items() if target.startswith(prefix + ".")]
    if run["runtime"]["name"] == "run_cpu" and "torch" not in wanted:
        wanted.append("torch")  # run_cpu is torch's
    versions = json.loads(row["versions"]) if isinstance(row.get("versions"), str) else {}
    lines = [f"# The versions run {row['run_key']}'s child had (the row's `versions`)."]
    if any("+cpu" in str(versions.get(lib, "")) for lib in wanted):
        lines.append("--extra-index-url https://download.pytorch.org/whl/cpu")
    for lib in dict.fromkeys(wanted):
        lines.append(f"{lib}=={versions[lib]}" if versions.get(lib)
                     else f"{lib}  # the row does not record its version")
    return "\n".join(lines) + "\n"

# ---- The model in torch: the factory the row names, with the row's weights ----
# A template: `xeonsweep recipe` writes it into infer.py for the torch backends; nothing imports it.
import importlib

import torch


def load_class(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def hf_from_config(model_class, config_class=None, **config_kwargs):
    """A Hugging Face model from its config class (what xeonsweep.hf.from_config builds)."""
    model_type = load_class(model_class)
    config_type = load_class(config_class) if config_class else model_type.config_class
    return model_type(config_type(**config_kwargs))


def build_model(settings):
    """The model from its factory, the row's weights loaded (artifact/), in the row's memory format."""
    factory = dict(settings["factory"])
    target = factory.pop("_target_")
    make = hf_from_config if target == "xeonsweep.hf.from_config" else load_class(target)
    model = make(**factory)
    model.load_state_dict(torch.load(ARTIFACT / settings["artifact"], map_location="cpu", weights_only=True))
    model.eval()
    return model.to(memory_format=torch.channels_last) if settings["channels_last"] else model


def torch_inputs(batch, settings):
    """The inputs as tensors; channels-last reaches 4-D (image) tensors only."""
    layout = torch.channels_last if settings["channels_last"] else torch.contiguous_format
    return {name: torch.from_numpy(array).contiguous(memory_format=layout if array.ndim == 4 else torch.contiguous_format)
            for name, array in batch.items()}


def torch_call(module, batch, settings):
    """One call as xeonsweep timed it: under inference_mode, with bf16 autocast when the row had bf16."""
    tensors = torch_inputs(batch, settings)
    bf16 = settings["precision"] == "bf16"

    def call():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return module(**tensors) if settings["keyword_inputs"] else module(*tensors.values())

    return call


def set_inductor(options):
    """The inductor settings the row's torch.compile had."""
    import torch._inductor.config as inductor

    inductor.freezing = options["freezing"]
    inductor.cpp_wrapper = options["cpp_wrapper"]

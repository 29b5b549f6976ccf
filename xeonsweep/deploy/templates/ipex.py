# ---- The backend: Intel Extension for PyTorch ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.


def load(settings, batch, threads):
    """ipex.optimize with the row's dtype and weight prepacking, then torch.compile if the row had it."""
    import intel_extension_for_pytorch as ipex

    options = settings["backend_options"]
    dtype = torch.bfloat16 if settings["precision"] == "bf16" else torch.float32
    model = ipex.optimize(build_model(settings), dtype=dtype, weights_prepack=options["weights_prepack"])
    if options["compile"]:
        model = torch.compile(model)
    call = torch_call(model, batch, settings)
    call()  # the first call (and a compile) is set-up, not timed
    return (lambda *timing: closed_loop(call, *timing)), torch.get_num_threads()

# ---- The backend: the PT2E int8 program (torchao), compiled by inductor ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.


def load(settings, batch, threads):
    """The saved int8 program (artifact/model.pt2), compiled with the row's settings.

    Importing torchao's quantizer modules registers the quantized ops torch.export.load needs and
    inductor's int8 passes: without them the program compiles to fp32 convolutions around dequantize.
    """
    import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer  # noqa: F401

    options = settings["backend_options"]
    set_inductor(options)
    program = torch.export.load(str(ARTIFACT / settings["artifact"]))
    compiled = torch.compile(program.module(), mode=options["mode"], dynamic=options["dynamic"])
    call = torch_call(compiled, batch, settings)
    call()  # compiles: not timed, as xeonsweep's first call is set-up
    return (lambda *timing: closed_loop(call, *timing)), torch.get_num_threads()

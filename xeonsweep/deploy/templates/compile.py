# ---- The backend: torch.compile (inductor) ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.


def load(settings, batch, threads):
    """The model compiled with the row's mode and inductor settings; compiled by its first calls (warm-up)."""
    options = settings["backend_options"]
    set_inductor(options)
    compiled = torch.compile(build_model(settings), mode=options["mode"], dynamic=options["dynamic"])
    call = torch_call(compiled, batch, settings)
    call()  # compiles: not timed, as xeonsweep's first call is set-up
    return (lambda *timing: closed_loop(call, *timing)), torch.get_num_threads()

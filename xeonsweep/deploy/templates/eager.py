# ---- The backend: PyTorch eager ----
# A template: `xeonsweep recipe` writes it into infer.py; nothing imports it.


def load(settings, batch, threads):
    """The model in eager mode; torch takes its threads from OMP_NUM_THREADS (run.sh)."""
    call = torch_call(build_model(settings), batch, settings)
    return (lambda *timing: closed_loop(call, *timing)), torch.get_num_threads()

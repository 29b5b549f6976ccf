"""The machine speed probe's kernel, run in a child of its own:
`python -m xeonsweep.worker.probe_kernel [--bf16]` prints one JSON line;
with `--serve` it prints one for each line read on stdin, until EOF
(torch is imported once; between probes the child waits on stdin).

A fixed square matmul timed a fixed number of times, on torch's default
threads: a number that moves only when the machine's own speed moves (a
neighbour on the host, a throttled clock, the AMX unit's swings), to set
beside the configs' block SPS. Beside it a memory-bandwidth kernel (a copy of
a buffer far larger than the caches), since most inference is limited by
memory as much as by arithmetic, and a neighbour streaming memory slows it
without touching the matmul. The per-call median is used, so one stall does
not move either.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

SIZE = 1024
WARMUP = 3
CALLS = 15
COPY_MB = 256  # far beyond any last-level cache on these machines
COPY_CALLS = 7


def gflops(dtype) -> tuple[float, float]:
    """GFLOP/s of a SIZE x SIZE matmul in `dtype` (median call), and the unix time of the timed calls' middle."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(SIZE, SIZE, generator=generator).to(dtype)
    b = torch.randn(SIZE, SIZE, generator=generator).to(dtype)
    with torch.no_grad():
        for _ in range(WARMUP):
            torch.mm(a, b)
        start = time.time()
        times = []
        for _ in range(CALLS):
            t0 = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t0)
        end = time.time()
    return 2 * SIZE**3 / statistics.median(times) / 1e9, (start + end) / 2


def memory_gbps() -> float:
    """GB/s moved by a COPY_MB copy (read and write counted, median call) on torch's threads."""
    import torch

    src = torch.ones(COPY_MB * 2**20 // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)  # first touch: page faults are not bandwidth
    times = []
    for _ in range(COPY_CALLS):
        t0 = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t0)
    return 2 * src.numel() * 4 / statistics.median(times) / 1e9


def figures(bf16: bool) -> dict:
    import torch

    fp32, when = gflops(torch.float32)
    return {"probe_unix_s": when, "fp32_gflops": fp32, "bf16_gflops": gflops(torch.bfloat16)[0] if bf16 else None,
            "mem_gbps": memory_gbps(), "threads": torch.get_num_threads(), "size": SIZE, "calls": CALLS}


def main(argv: list[str]) -> int:
    bf16 = "--bf16" in argv
    if "--serve" not in argv:
        print(json.dumps(figures(bf16)))
        return 0
    for _ in sys.stdin:
        print(json.dumps(figures(bf16)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What a run really had, read inside the worker: the evidence, not the request."""

from __future__ import annotations

import json
import os
import re
import resource
import sys
from pathlib import Path

from xeonsweep import __version__
from xeonsweep.machine.facts import host_facts
from xeonsweep.machine.versions import versions

ALLOCATORS = {"tcmalloc": r"libtcmalloc", "jemalloc": r"libjemalloc"}
OPENMP = {"intel": r"libiomp5", "gnu": r"libgomp", "llvm": r"libomp\.so"}
LIBRARIES = (
    "torch", "torchvision", "timm", "numpy", "onnx", "onnxscript", "onnxruntime",
    "openvino", "nncf", "torchao", "intel-extension-for-pytorch", "mlcommons-loadgen", "transformers",
)


def mapped_libraries(maps_text: str) -> set[str]:
    return {line.split()[-1] for line in maps_text.splitlines() if line.count("/") and ".so" in line}


def which(patterns: dict, libraries: set[str], default: str) -> str:
    found = [name for name, pattern in patterns.items() if any(re.search(pattern, lib) for lib in libraries)]
    return ",".join(found) or default


def anon_huge_kb() -> int:
    """Anonymous memory backed by transparent huge pages in this process right now."""
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return -1
    match = re.search(r"AnonHugePages:\s+(\d+) kB", text)
    return int(match.group(1)) if match else -1


def applied_facts() -> dict:
    import torch

    libraries = mapped_libraries(Path("/proc/self/maps").read_text())
    return {
        **host_facts(),
        "applied_allocator": which(ALLOCATORS, libraries, "system"),
        "applied_openmp": which(OPENMP, libraries, "none"),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "thp_anon_huge_kb": anon_huge_kb(),
        "torch_threads": torch.get_num_threads(),
        "cpu_affinity": ",".join(str(c) for c in sorted(os.sched_getaffinity(0))),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "interpreter": sys.executable,
        "torch_version": torch.__version__,
        "versions": json.dumps(versions(LIBRARIES), sort_keys=True),
        "xeonsweep_version": __version__,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }

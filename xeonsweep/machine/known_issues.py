"""Combinations of libraries known to crash on these machines: one source for the backend
that refuses them and for `xeonsweep doctor`, which warns about them."""

from __future__ import annotations

# Preloaded allocators OpenVINO cannot run under (oneTBB's tbbbind frees their memory with glibc's free):
# measured to abort in compile_model. Refused by backend=openvino, and named in doctor's notes.
FATAL_ALLOCATORS = ("tcmalloc", "jemalloc")
FATAL_ALLOCATOR_WHY = ("OpenVINO >= 2024.3 aborts under a preloaded tcmalloc or jemalloc (free(): invalid pointer, "
                       "openvinotoolkit/openvino#29025)")


def fatal_allocator(allocator: dict) -> str | None:
    """The allocator OpenVINO aborts under that this run preloads (by its name or its libraries), or None."""
    names = [str(allocator.get("name")), *(str(lib) for lib in allocator.get("libraries") or [])]
    return next((fatal for fatal in FATAL_ALLOCATORS if any(fatal in name for name in names)), None)

"""The timing loop, a live child's block loop, and their statistics. No torch
here: the clock is injectable, so tests drive it with a fake clock and check
the stopping rule exactly."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    latencies_ns: list[int] = field(default_factory=list)
    start_ns: int = 0       # monotonic, comparable across processes on one host
    end_ns: int = 0
    ends_ns: list[int] = field(default_factory=list)  # end of each iteration, same clock
    warmup_s: float = 0.0


def run_loop(
    infer: Callable[[Any], Any],
    batch: Any,
    warmup: int,
    iterations: int,
    min_duration_s: float,
    clock: Callable[[], int] = time.monotonic_ns,
) -> Timing:
    """Warm up, then iterate until both `iterations` and `min_duration_s` are met."""
    t0 = clock()
    for _ in range(warmup):
        infer(batch)
    timing = Timing(warmup_s=(clock() - t0) / 1e9)
    min_ns = int(min_duration_s * 1e9)
    timing.start_ns = last = clock()
    while len(timing.latencies_ns) < iterations or last - timing.start_ns < min_ns:
        infer(batch)
        now = clock()
        timing.latencies_ns.append(now - last)
        timing.ends_ns.append(now)
        last = now
    timing.end_ns = last
    return timing


def pipelined(timing: Timing, drain: Callable[[], None],
              completions: Callable[[], list[tuple[int, int]]] | None) -> Timing:
    """The timing of a loop whose calls return before their batch is done (OpenVINO's async queue).

    Such a call returns once a request is free: the first calls return at once
    and the last batches are still running when the loop stops. After waiting
    for them (`drain`), each batch of the loop counts by its own submission and
    completion (`completions`): the iteration ends are the batches' completions,
    the latencies their real latencies, and the timed span runs from the first
    submission to the last completion, as benchmark_app counts. Synchronous
    backends (no `completions`) keep the loop's own timing.
    """
    drain()
    if completions is None:
        return timing
    spans = sorted((s for s in completions() if s[0] >= timing.start_ns), key=lambda s: s[1])
    if spans:
        timing.ends_ns = [end for _, end in spans]
        timing.latencies_ns = [end - start for start, end in spans]
        timing.end_ns = spans[-1][1]
    return timing


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def latency_stats(latencies_ms: list[float]) -> dict:
    ordered = sorted(latencies_ms)
    n = len(ordered)
    mean = sum(ordered) / n if n else float("nan")
    var = sum((x - mean) ** 2 for x in ordered) / (n - 1) if n > 1 else 0.0
    return {
        "latency_ms_mean": mean,
        "latency_ms_std": var**0.5,
        "latency_ms_p50": percentile(ordered, 50),
        "latency_ms_p90": percentile(ordered, 90),
        "latency_ms_p99": percentile(ordered, 99),
    }


def combined_sps(instances: list[dict], batch_size: int) -> tuple[float, list[float]]:
    """Total samples/s over the window in which every instance was measuring.

    Each instance reports its start and per-iteration end times on the host's
    monotonic clock. Only iterations inside the common window count, so a fast
    instance running alone after the others finished does not inflate the total.
    With one instance this is simply samples / elapsed.
    """
    window_start = max(i["start_ns"] for i in instances)
    window_end = min(i["end_ns"] for i in instances)
    per_instance = []
    for inst in instances:
        begin, ends = inst["start_ns"], []
        for end, lat in zip(inst["ends_ns"], inst["latencies_ns"]):
            if end - lat >= window_start and end <= window_end:
                ends.append(end)
                if len(ends) == 1:
                    begin = end - lat
        span = (ends[-1] - begin) / 1e9 if ends else 0.0
        per_instance.append(batch_size * len(ends) / span if span > 0 else 0.0)
    return sum(per_instance), per_instance


def warm_up(infer: Callable[[Any], Any], batch: Any, min_duration_s: float,
            clock: Callable[[], int] = time.monotonic_ns) -> float:
    """Untimed iterations (at least one) for at least `min_duration_s`: a woken child runs cold."""
    t0 = clock()
    infer(batch)
    while clock() - t0 < min_duration_s * 1e9:
        infer(batch)
    return (clock() - t0) / 1e9


def serve_blocks(
    recv: Callable[[], dict | None],
    send: Callable[[dict], None],
    infer: Callable[[Any], Any],
    batch: Any,
    clock: Callable[[], int] = time.monotonic_ns,
    drain: Callable[[], None] = lambda: None,
    completions: Callable[[], list[tuple[int, int]]] | None = None,
) -> int:
    """A live child's loop: block in `recv` (no CPU) until the parent asks for the next step.

    `warm` re-warms the set-up model; `time` runs one timed block with the same
    loop as a fresh run; `exit` (or the parent gone) ends it. The parent sends
    `warm` to every instance of a config, then `time` once all are warm, so that
    their blocks overlap. Returns the number of blocks timed.
    """
    blocks = 0
    while True:
        command = recv()
        if command is None or command["cmd"] == "exit":
            return blocks
        if command["cmd"] == "warm":
            warm_s = warm_up(infer, batch, command["min_s"], clock)
            drain()
            send({"warm_s": warm_s})
        elif command["cmd"] == "time":
            # Requests still in flight (OpenVINO's async queue) finish inside the block, and count by their completion.
            timing = pipelined(run_loop(infer, batch, 0, command["iterations"], command["min_s"], clock),
                               drain, completions)
            blocks += 1
            send({"start_ns": timing.start_ns, "end_ns": timing.end_ns,
                  "ends_ns": timing.ends_ns, "latencies_ns": timing.latencies_ns})
        else:
            raise ValueError(f"unknown command {command['cmd']!r}")


def window_problem(instances: list[dict]) -> str | None:
    """Why these instances' timings give no throughput (None when they do).

    A run is only `ok` when every instance has iterations inside the window in
    which all of them were measuring; otherwise its samples/s would be 0 or
    would count an instance running alone.
    """
    window_start = max(i["start_ns"] for i in instances)
    window_end = min(i["end_ns"] for i in instances)
    if window_end <= window_start:
        if len(instances) == 1:
            return "the measured window is empty: no timed iteration finished"
        return f"the {len(instances)} instances' timed loops never overlapped: no common measured window"
    _, per_instance = combined_sps(instances, 1)
    empty = [n for n, sps in enumerate(per_instance) if sps <= 0]
    if empty:
        return (f"the measured window is empty for instance(s) {', '.join(map(str, empty))}: none of their "
                "iterations fell inside the window in which all instances were measuring")
    return None

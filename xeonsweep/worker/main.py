"""The child: `python -m xeonsweep.worker.main SPEC_JSON OUT_DIR`.

Reads the run spec the parent wrote, builds the model, prepares the backend,
times it, and writes OUT_DIR/instance-<pid>.json atomically. Under run_cpu
with several instances every instance runs this; they wait for each other
after setup so that their timed loops overlap.

In live mode (the spec names a socket) it sets up the same way, reports ready
to the sweep and times short blocks when asked (see `serve`); a set-up that
fails still writes its instance file, like a fresh run.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xeonsweep.errors import Skip
from xeonsweep.launch.process import die_with_parent

BARRIER_TIMEOUT_S = 600.0


def write_json(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


def wait_for_peers(out_dir: Path, instances: int) -> int:
    """File barrier: each instance marks itself ready, then waits for the rest. Returns this instance's rank."""
    if instances <= 1:
        return 0
    ready = out_dir / "ready"
    ready.mkdir(exist_ok=True)
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while len(list(ready.iterdir())) < instances:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(list(ready.iterdir()))} of {instances} instances got ready")
        time.sleep(0.005)
    return sorted(int(p.name) for p in ready.iterdir()).index(os.getpid())


def closed_loop(prepared, batch, bench: dict) -> dict:
    """The offline scenario: call, wait, call again."""
    from xeonsweep.stats.measure import pipelined, run_loop

    timing = run_loop(prepared.infer, batch, bench["warmup"], bench["iterations"], bench["min_duration_s"])
    timing = pipelined(timing, prepared.drain, prepared.completions)
    return {"warmup_s": timing.warmup_s, "start_ns": timing.start_ns, "end_ns": timing.end_ns,
            "ends_ns": timing.ends_ns, "latencies_ns": timing.latencies_ns}


def loadgen_scenario(prepared, batch, example, run: dict, out_dir: Path, rank: int, instances: int) -> dict:
    """single_stream or server: warm up, then LoadGen against the batching SUT (xeonsweep.serving)."""
    from xeonsweep.serving.serve import serve

    warmup = max(run["benchmark"]["warmup"], 1)
    t0 = time.perf_counter()
    for _ in range(warmup):
        prepared.infer(batch)
    prepared.drain()
    warmup_s = time.perf_counter() - t0
    measured = serve(prepared, example, run, out_dir / "loadgen", rank, instances,
                     expected_latency_ns=int(warmup_s / warmup * 1e9))
    return {**measured, "warmup_s": warmup_s, "ends_ns": []}


@dataclass
class SetUp:
    """A model built and prepared by its backend, ready to time."""

    prepared: Any
    batch: Any
    ref: Any
    facts: dict  # setup_s, first_call_s, details
    example: Any  # the model's input before the backend's feed (LoadGen's queries are cut from it)


def set_up(spec: dict) -> SetUp:
    import torch

    from xeonsweep.backends.base import RunContext
    from xeonsweep.config import components
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.models import fidelity
    from xeonsweep.models.artifacts import loaded_from
    from xeonsweep.models.build import build_model, make_input

    run = spec["run"]
    ctx = RunContext(
        precision=run["precision"]["name"],
        channels_last=bool(run["channels_last"]),  # null: it does not apply to the model
        batch_size=run["batch_size"],
        threads=torch.get_num_threads(),
        cache_dir=spec["cache_dir"],
        quantizer=components.build("quantization", run["quantization"]),
        isa=cpu_info().flags,
        run=run,
    )
    backend = components.build("backend", run["backend"])

    t0 = time.perf_counter()
    # Built on first use only: a backend with a cached artifact never needs it.
    load_model = functools.cache(lambda: build_model(run["model"], run["seed"], spec["cache_dir"]))
    example = make_input(run["model"], run["batch_size"], run["seed"])
    # The reference's forward pass is not set-up (it is cached after the first run).
    ref, reference_s = fidelity.reference(load_model, example, run, spec["cache_dir"])
    prepared = backend.prepare(load_model, example, ctx)
    batch = prepared.feed(example)
    t1 = time.perf_counter()
    prepared.infer(batch)
    prepared.drain()
    t2 = time.perf_counter()
    facts = {"setup_s": t2 - t0 - reference_s, "first_call_s": t2 - t1, "details": prepared.details,
             "artifact_path": loaded_from(prepared.details, run, spec["cache_dir"])}
    return SetUp(prepared, batch, ref, facts, example)


def measure(spec: dict, out_dir: Path) -> dict:
    from xeonsweep.config.settings import scenario_name
    from xeonsweep.models import fidelity
    from xeonsweep.worker.applied import applied_facts

    run = spec["run"]
    ready = set_up(spec)
    prepared, batch = ready.prepared, ready.batch
    rank = wait_for_peers(out_dir, spec["instances"])
    if scenario_name(run) == "offline":
        measured = closed_loop(prepared, batch, run["benchmark"])
    else:
        measured = loadgen_scenario(prepared, batch, ready.example, run, out_dir, rank, spec["instances"])
    return {
        "status": "ok",
        **ready.facts,
        **measured,
        "details": {**prepared.details, **prepared.facts()},
        **fidelity.compare(prepared.fetch(prepared.infer(batch)), ready.ref),
        "applied": applied_facts(),
    }


def serve(spec: dict, out_dir: Path) -> None:
    """Live mode: set up once, report ready, then time blocks when the sweep asks.

    The ready report carries everything a row needs besides the blocks, its
    peak RSS so far (the sweep budgets memory with it) included. A failed
    set-up raises like a fresh run's, so it is reported the same way.
    """
    from xeonsweep.launch.channel import Channel
    from xeonsweep.models import fidelity
    from xeonsweep.stats.measure import serve_blocks
    from xeonsweep.worker.applied import applied_facts

    ready = set_up(spec)
    prepared, batch = ready.prepared, ready.batch
    report = {**ready.facts, "details": {**prepared.details, **prepared.facts()},
              **fidelity.compare(prepared.fetch(prepared.infer(batch)), ready.ref), "applied": applied_facts()}
    channel = Channel.connect(spec["live"]["socket"])
    channel.send({"token": spec["live"]["token"], "pid": os.getpid(), "ready": report})
    serve_blocks(channel.recv, channel.send, prepared.infer, batch, drain=prepared.drain,
                 completions=prepared.completions)
    channel.close()


def root_cause(exc: BaseException) -> BaseException:
    """The original error behind wrappers such as Hydra's InstantiationException."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def main(argv: list[str]) -> int:
    die_with_parent()
    spec_path, out_dir = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    started = out_dir / "started"  # the parent counts the instances that really started
    started.mkdir(exist_ok=True)
    (started / str(os.getpid())).touch()
    result_path = out_dir / f"instance-{os.getpid()}.json"
    try:
        if spec.get("live"):
            serve(spec, out_dir)
            return 0
        result = measure(spec, out_dir)
    except Skip as exc:
        result = {"status": "skipped", "reason": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        root = root_cause(exc)
        result = {"status": "failed", "reason": f"{type(root).__name__}: {root}"}
    write_json(result_path, result)
    return 0 if result["status"] != "failed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Bad input stops before any run with one line naming the value and the valid ones."""

import pytest

from tests.conftest import FAST

CASES = [
    (["model=resnet51"], "model=resnet51 is not an option; valid: bert, bert_tiny, distilbert, resnet50, tiny, vit"),
    (["-m", "model=tiny,nosuch"],
     "model=nosuch is not an option; valid: bert, bert_tiny, distilbert, resnet50, tiny, vit"),
    (["backend=tensorrt"], "backend=tensorrt is not an option; valid: compile, eager"),
    (["batchsize=8"], "batchsize is not a setting; valid: allocator, backend, batch_size"),
    (["batch_size=0"], "batch_size=0 is not valid; valid: an integer >= 1"),
    (["-m", "batch_size=1,0"], "batch_size=0 is not valid; valid: an integer >= 1"),
    (["workers=64", "runtime=run_cpu"], "workers=64 exceeds the"),
    (["-m", "workers=1,64", "runtime=run_cpu"], "workers=64 exceeds the"),
    (["allocator=tcmalloc", "allocator.libraries=[libtcmalloc.so.99]"],
     "allocator=tcmalloc: none of libtcmalloc.so.99 is installed; install the Debian package libtcmalloc-minimal4"),
    (["backend=compile", "backend.options.mode=ludicrous"],
     "backend.options.mode=ludicrous is not valid; valid: default,"),
    (["workers=2"], "workers=2 needs runtime=run_cpu"),
    (["hydra.run.dir=/tmp/a=b"], "hydra.run.dir=/tmp/a=b cannot be parsed"),
    (["scenario=streaming"], "scenario=streaming is not an option; valid: offline, server, single_stream"),
    (["scenario=server", "scenario.latency_slo_ms=null"],
     "scenario.latency_slo_ms=null: a server run needs its latency SLO"),
    (["scenario=server", "scenario.target_qps=0"], "scenario.target_qps=0 is not valid; valid: a number > 0"),
    (["-m", "scenario=server", "scenario.latency_slo_ms=100,-5"],
     "scenario.latency_slo_ms=-5 is not valid; valid: a number > 0"),
    (["scenario=single_stream", "scenario.find_peak=true"], "scenario.find_peak=true needs scenario=server"),
    (["-m", "cluster=local", "cluster.max_array_size=-1"],
     "cluster.max_array_size=-1 is not valid; valid: an integer >= 1"),
    (["cluster.max_array_size=0"], "cluster.max_array_size=0 is not valid; valid: an integer >= 1"),
    (["-m", "cluster=local", "cluster.max_array_size=lots"],
     "cluster.max_array_size=lots is not valid; valid: an integer >= 1"),
    (["scenario=single_stream", "batch_size=1", "backend=openvino", "backend.options.performance_hint=throughput"],
     "scenario=single_stream has one query at a time; use backend.options.performance_hint=latency"),
    (["scenario=single_stream"],
     "batch_size=8 is not valid with scenario=single_stream (one sample per query); use batch_size=1"),
    (["scenario=single_stream", "batch_size=4"], "batch_size=4 is not valid with scenario=single_stream"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_one_line_and_nothing_written(sweep, args, message):
    result = sweep(*args, *FAST, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xeonsweep: ") and message in lines[0]
    assert not sweep.store.exists()
    assert not (sweep.tmp / "sweep").exists() and not (sweep.tmp / "run").exists()

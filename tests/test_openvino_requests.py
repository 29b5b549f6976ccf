"""OpenVINO's async request queue (backends/openvino_requests.Pipeline) on a real, tiny OpenVINO model."""

import numpy as np
import pytest

ov = pytest.importorskip("openvino")

from xeonsweep.backends.openvino_requests import Pipeline  # noqa: E402


def tiny_compiled():
    from openvino import opset13 as ops

    x = ops.parameter([2, 4], np.float32, name="x")
    return ov.Core().compile_model(ov.Model([ops.relu(x)], [x], "tiny"), "CPU")


def test_batches_complete_and_are_counted():
    pipe = Pipeline(tiny_compiled(), 2)
    done = []
    for _ in range(5):
        pipe.submit([np.ones((2, 4), np.float32)], lambda: done.append(1))
    pipe.drain()
    assert len(done) == 5 and len(pipe.completions()) == 5
    assert 1 <= pipe.max_in_flight <= 2


def test_a_callback_that_raises_fails_the_callers_next_call_with_its_cause():
    pipe = Pipeline(tiny_compiled(), 2)

    def broken():
        raise ValueError("LoadGen said no")

    pipe.submit([np.ones((2, 4), np.float32)], broken)
    with pytest.raises(RuntimeError, match="LoadGen said no"):
        pipe.drain()
    pipe.submit([np.ones((2, 4), np.float32)], None)  # raised once: the pipeline still works
    pipe.drain()

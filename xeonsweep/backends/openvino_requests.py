"""OpenVINO's throughput mode for real: its optimal number of infer requests in flight.

`Pipeline.infer(batch)` starts one request on OpenVINO's AsyncInferQueue and
returns once a request is free for the next call, so in steady state one call
still means one batch completed (the timing loop's contract) while up to
`requests` batches run at once on OpenVINO's streams. `submit` is the same
with a callback per batch, for the LoadGen system under test. `fetch` drains
the queue first. The most requests seen in flight at once is recorded, and
each batch's submission and completion times (`completions`): a call's return
is not its batch's end, so the timing loop counts batches by these
(measure.pipelined), as benchmark_app does.

A callback runs on one of OpenVINO's threads, where an exception has nowhere
to go: the first one is kept and raised in the caller's thread by the next
`submit`, `infer`, `drain` or `completions`, so the run fails with its cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Pipeline:
    def __init__(self, compiled: Any, requests: int) -> None:
        import openvino as ov

        self.queue = ov.AsyncInferQueue(compiled, requests)
        self.outputs = len(compiled.outputs)
        self.requests = len(self.queue)
        self.queue.set_callback(self._done)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._spans: list[tuple[int, int]] = []
        self._error: BaseException | None = None

    def _started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self, request: Any, userdata: tuple) -> None:
        completed = time.monotonic_ns()
        with self._lock:
            self.in_flight -= 1
            self._spans.append((userdata[2], completed))
        callback = userdata[1]
        if callback is not None:
            try:
                callback()
            except BaseException as exc:  # on OpenVINO's thread: raised in the caller's by _raise_error
                with self._lock:
                    self._error = self._error or exc

    def _raise_error(self) -> None:
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise RuntimeError(f"a completed batch's callback failed: {error!r}") from error

    def infer(self, batch: Any) -> int:
        """Start `batch` (the model's inputs, in order) on the next free request (waiting for one);
        its request id, for `fetch`."""
        return self.submit(batch, None)

    def submit(self, batch: Any, callback: Callable[[], None] | None) -> int:
        self._raise_error()
        request_id = self.queue.get_idle_request_id()  # blocks until the oldest in flight is done
        self._started()
        self.queue.start_async(batch, (request_id, callback, time.monotonic_ns()))
        return request_id

    def completions(self) -> list[tuple[int, int]]:
        """(submitted_ns, completed_ns) of each batch completed since the last call."""
        self._raise_error()
        with self._lock:
            spans, self._spans = self._spans, []
        return spans

    def fetch(self, request_id: int) -> list:
        self.queue.wait_all()
        return [self.queue[request_id].get_output_tensor(i).data.copy() for i in range(self.outputs)]

    def drain(self) -> None:
        self.queue.wait_all()
        self._raise_error()

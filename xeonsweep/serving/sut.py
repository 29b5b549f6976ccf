"""The system under test: queries queued and run in batches, as an inference server does.

LoadGen issues queries of one sample each. A batch runs as soon as it holds
`batch_size` samples, or when its oldest sample has waited `max_wait_s`
(dynamic batching). A backend built for one batch shape gets a partial batch
padded to `batch_size`; only the real samples are reported. Responses go to
LoadGen as each batch completes (from the backend's callback when it runs
several batches at once, e.g. OpenVINO's async requests).

A batch that raises stops the batching: LoadGen waits for every query it
issued, so the failed batch's queries, the queued ones and any issued later are
answered without being run, and `raise_error` raises the error once LoadGen's
test has returned, so the run fails with its cause. They are answered at once,
or `late_s` after they arrived when set: LoadGen's FindPeakPerformance judges
latency alone, and instant answers would make it raise the load step after step
for minutes; answers later than the SLO make it stop at the next step.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any


class BatchingSUT:
    def __init__(self, prepared: Any, batches: dict[int, Any], batch_size: int, max_wait_s: float) -> None:
        self.prepared = prepared
        self.batches = batches          # real-sample count -> fed input (padded when the backend is static)
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.pending: collections.deque = collections.deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.batch_sizes: list[int] = []  # real samples per batch run
        self.in_flight = 0
        self.max_in_flight = 0            # batches started and not yet completed, at most
        self.error: Exception | None = None  # what stopped the batching
        self.late_s = 0.0                 # after a failure, queries are answered this long after they arrived
        self.thread = threading.Thread(target=self._loop, name="xeonsweep-batcher", daemon=True)

    def start(self) -> BatchingSUT:
        self.thread.start()
        return self

    def issue(self, samples: list) -> None:
        """LoadGen's IssueQuery callback: queue and return at once."""
        now = time.monotonic()
        with self.cond:
            self.pending.extend((sample.id, now) for sample in samples)
            self.cond.notify()

    def flush(self) -> None:
        pass

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        self.thread.join()
        self.prepared.drain()

    def _next_batch(self) -> list[int] | None:
        with self.cond:
            while not self.pending and not self.stopping:
                self.cond.wait()
            if not self.pending:
                return None
            deadline = self.pending[0][1] + self.max_wait_s
            while len(self.pending) < self.batch_size and not self.stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            count = min(self.batch_size, len(self.pending))
            return [self.pending.popleft()[0] for _ in range(count)]

    def _next_unserved(self) -> list[int] | None:
        """After a failure: the queued queries that are `late_s` old, once there are some."""
        with self.cond:
            while True:
                now = time.monotonic()
                if self.pending and self.pending[0][1] + self.late_s <= now:
                    due = []
                    while self.pending and self.pending[0][1] + self.late_s <= now:
                        due.append(self.pending.popleft()[0])
                    return due
                if not self.pending and self.stopping:
                    return None
                self.cond.wait(self.pending[0][1] + self.late_s - now if self.pending else None)

    def raise_error(self) -> None:
        """Raise what stopped the batching, if anything did (once LoadGen's test has returned)."""
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        while (ids := self._next_batch()) is not None:
            try:
                self._run(ids)
            except Exception as exc:  # raised again in the main thread by raise_error
                self.error = exc
                respond(ids)
                break
        while (ids := self._next_unserved()) is not None:
            respond(ids)

    def _run(self, ids: list[int]) -> None:
        self.batch_sizes.append(len(ids))
        batch = self.batches[len(ids)]
        self._started()
        if self.prepared.submit is not None:
            self.prepared.submit(batch, lambda ids=ids: self._completed(ids))
        else:
            self.prepared.infer(batch)
            self._completed(ids)

    def _started(self) -> None:
        with self.cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _completed(self, ids: list[int]) -> None:
        with self.cond:
            self.in_flight -= 1
        respond(ids)


def respond(ids: list[int]) -> None:
    """Tell LoadGen these queries are complete (with empty responses: only their latency counts)."""
    import mlperf_loadgen as lg

    lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])


def padded_batches(prepared: Any, example: Any, batch_size: int) -> dict[int, Any]:
    """The fed input for each count of real samples: the first k rows, or the whole batch when static."""
    full = prepared.feed(example)
    if prepared.static_batch:
        return {k: full for k in range(1, batch_size + 1)}
    return {k: prepared.feed(first_samples(example, k)) for k in range(1, batch_size + 1)}


def first_samples(example: Any, count: int) -> Any:
    """The first `count` samples of an input: a tensor, or a model's named inputs (a dict)."""
    if isinstance(example, dict):
        return {name: tensor[:count] for name, tensor in example.items()}
    return example[:count]

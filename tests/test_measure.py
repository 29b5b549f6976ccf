"""The timing loop and statistics, driven by a fake clock: exact, not timed."""

import numpy as np
import pytest

from xeonsweep.stats.measure import combined_sps, latency_stats, percentile, pipelined, run_loop, serve_blocks


class FakeClock:
    """Each inference advances time by the next step (ns)."""

    def __init__(self, steps):
        self.now, self.steps, self.calls = 0, list(steps), 0

    def __call__(self):
        return self.now

    def infer(self, _batch):
        self.calls += 1
        self.now += self.steps.pop(0) if self.steps else 1_000_000


def test_iterations_bound_when_duration_is_short():
    clock = FakeClock([])  # 1 ms per call
    timing = run_loop(clock.infer, None, warmup=2, iterations=5, min_duration_s=0.001, clock=clock)
    assert clock.calls == 7
    assert len(timing.latencies_ns) == 5
    assert timing.warmup_s == pytest.approx(0.002)


def test_duration_bound_when_iterations_are_few():
    clock = FakeClock([])
    timing = run_loop(clock.infer, None, warmup=0, iterations=1, min_duration_s=0.010, clock=clock)
    assert len(timing.latencies_ns) == 10
    assert timing.end_ns - timing.start_ns == 10_000_000


def test_latencies_are_per_iteration():
    clock = FakeClock([5, 7, 100, 200, 300])
    timing = run_loop(clock.infer, None, warmup=2, iterations=3, min_duration_s=0, clock=clock)
    assert timing.latencies_ns == [100, 200, 300]
    assert timing.ends_ns == [112, 312, 612]


def test_percentiles_match_numpy():
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0]
    for q in (50, 90, 99):
        assert percentile(sorted(values), q) == pytest.approx(np.percentile(values, q))
    stats = latency_stats(values)
    assert stats["latency_ms_mean"] == pytest.approx(np.mean(values))
    assert stats["latency_ms_std"] == pytest.approx(np.std(values, ddof=1))


def instance(start, latency, n):
    ends = [start + latency * (i + 1) for i in range(n)]
    return {"start_ns": start, "end_ns": ends[-1], "ends_ns": ends, "latencies_ns": [latency] * n}


def test_single_instance_sps_is_samples_over_time():
    total, per = combined_sps([instance(0, 100_000_000, 10)], batch_size=8)  # 10 x 0.1 s
    assert total == pytest.approx(80.0)
    assert per == [pytest.approx(80.0)]


def test_multi_instance_counts_only_the_common_window():
    # B runs 0.5 .. 1.5 s at 4 it/s. A runs 0 .. 2 s: 20 it/s outside that window, 10 it/s inside it,
    # so A's overall rate (15 it/s) differs from its rate in the common window (10 it/s).
    outside = 50_000_000
    a_latencies = [outside] * 10 + [100_000_000] * 10 + [outside] * 10
    a_ends = [sum(a_latencies[: i + 1]) for i in range(len(a_latencies))]
    a = {"start_ns": 0, "end_ns": a_ends[-1], "ends_ns": a_ends, "latencies_ns": a_latencies}
    b = instance(500_000_000, 250_000_000, 4)     # 0.5 .. 1.5 s, 4 it/s
    total, per = combined_sps([a, b], batch_size=1)
    assert per[0] == pytest.approx(10.0)
    assert per[1] == pytest.approx(4.0)
    assert total == pytest.approx(14.0)  # summing overall rates would give 15 + 4


class FakeParent:
    """The parent's side of a live child's channel: a script of commands, the answers kept."""

    def __init__(self, commands):
        self.commands, self.answers = list(commands), []

    def recv(self):
        return self.commands.pop(0) if self.commands else None

    def send(self, message):
        self.answers.append(message)


def test_a_live_child_warms_up_times_blocks_and_exits_when_told():
    clock = FakeClock([])  # 1 ms per call
    parent = FakeParent([
        {"cmd": "warm", "min_s": 0.0025},
        {"cmd": "time", "min_s": 0.004, "iterations": 2},
        {"cmd": "warm", "min_s": 0},
        {"cmd": "time", "min_s": 0, "iterations": 3},
        {"cmd": "exit"},
        {"cmd": "time", "min_s": 0, "iterations": 3},  # never reached
    ])
    assert serve_blocks(parent.recv, parent.send, clock.infer, None, clock=clock) == 2
    warm, first, rewarm, second = parent.answers
    assert warm == {"warm_s": pytest.approx(0.003)}  # whole iterations until 2.5 ms have passed
    assert first["latencies_ns"] == [1_000_000] * 4 and first["end_ns"] - first["start_ns"] == 4_000_000
    assert rewarm == {"warm_s": pytest.approx(0.001)}  # at least one iteration, however short asked
    assert len(second["latencies_ns"]) == 3 and second["start_ns"] == first["end_ns"] + 1_000_000
    assert clock.calls == 3 + 4 + 1 + 3


def test_a_live_child_stops_when_the_parent_is_gone():
    parent = FakeParent([{"cmd": "warm", "min_s": 0}])
    clock = FakeClock([])
    assert serve_blocks(parent.recv, parent.send, clock.infer, None, clock=clock) == 0
    assert len(parent.answers) == 1


class FakePipeline:
    """`requests` batches in flight at once, each taking `batch_ns` on the fake clock: a call returns
    as soon as a request is free (at once for the first ones), like OpenVINO's async queue."""

    def __init__(self, clock, requests, batch_ns):
        self.clock, self.requests, self.batch_ns = clock, requests, batch_ns
        self.in_flight, self.done = [], []  # (submitted, completes)

    def _complete_until(self, now):
        for span in [s for s in self.in_flight if s[1] <= now]:
            self.in_flight.remove(span)
            self.done.append(span)

    def infer(self, _batch):
        if len(self.in_flight) == self.requests:  # wait for the oldest
            self.clock.now = max(self.clock.now, min(s[1] for s in self.in_flight))
        self._complete_until(self.clock.now)
        self.in_flight.append((self.clock.now, self.clock.now + self.batch_ns))

    def drain(self):
        if self.in_flight:
            self.clock.now = max(self.clock.now, max(s[1] for s in self.in_flight))
        self._complete_until(self.clock.now)

    def completions(self):
        done, self.done = self.done, []
        return done


def test_a_pipelined_loop_counts_batches_by_their_completion():
    """Two requests in flight, 10 ms per batch: 200 batches/s. Counting calls would say 4 batches in
    the first 10 ms (2 returned at once) and leave the last 2 running; counting completions does not."""
    clock = FakeClock([])
    pipe = FakePipeline(clock, requests=2, batch_ns=10_000_000)
    raw = run_loop(pipe.infer, None, 0, 6, 0, clock)
    calls_sps, _ = combined_sps([vars(raw) | {}], 1)
    timing = pipelined(raw, pipe.drain, pipe.completions)
    sps, _ = combined_sps([{"start_ns": timing.start_ns, "end_ns": timing.end_ns, "ends_ns": timing.ends_ns,
                            "latencies_ns": timing.latencies_ns}], 1)
    assert len(timing.ends_ns) == 6 and timing.latencies_ns == [10_000_000] * 6  # each batch's real latency
    assert timing.end_ns - timing.start_ns == 30_000_000  # 6 batches, 2 at a time, 10 ms each
    assert sps == pytest.approx(200.0)
    assert calls_sps > 200.0 * 1.2  # what counting calls would have claimed


def test_a_synchronous_loop_keeps_its_own_timing():
    clock = FakeClock([])
    timing = run_loop(clock.infer, None, 0, 3, 0, clock)
    before = (list(timing.ends_ns), list(timing.latencies_ns), timing.end_ns)
    drained = []
    assert pipelined(timing, lambda: drained.append(1), None) is timing and drained == [1]
    assert (timing.ends_ns, timing.latencies_ns, timing.end_ns) == before

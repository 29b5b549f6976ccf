"""A live block in which an instance has nothing inside the common window gives no SPS.

The instances' answers are scripted (what measure.serve_blocks sends back); the
child is a real process, so that the sweep really has to stop it.
"""

import subprocess
from pathlib import Path

import pytest

from xeonsweep.blocks.children import Children, completed
from xeonsweep.blocks.member import Live
from xeonsweep.launch.child import Outcome
from xeonsweep.sweep.planning import Job

BENCH = {"timeout_s": 30, "block_s": 0.1, "block_warmup_s": 0.01}


def timing(start: int, latency: int, n: int) -> dict:
    ends = [start + latency * (i + 1) for i in range(n)]
    return {"start_ns": start, "end_ns": ends[-1], "ends_ns": ends, "latencies_ns": [latency] * n}


# The common window is 1000 .. 2500 ns, and the second instance's only iteration (500 .. 2500 ns) began before it.
MISSES = [timing(0, 100, 30), timing(500, 2000, 1), timing(1000, 100, 20)]
APART = [timing(0, 100, 10), timing(2000, 100, 10)]       # the second began after the first ended
TOGETHER = [timing(0, 100, 10), timing(50, 100, 10)]      # overlapping: 0.05 .. 1.0 us in common


@pytest.fixture
def child():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def scripted(child):
    """A live config whose `time` answers are the given ones, in order, and the commands it was asked."""
    asked = []

    def make(answers: list[list[dict]]):
        def ask(live, command, deadline):
            asked.append(command["cmd"])
            return [{"warm_s": 0.01}] * 2 if command["cmd"] == "warm" else answers.pop(0)

        children.ask = ask
        return Live(Job([], {"benchmark": BENCH, "batch_size": 1}), Path("0"), "config", proc=child), asked

    with Children(cache_dir=str) as children:
        yield children, make


@pytest.mark.slow
def test_a_block_that_misses_the_common_window_twice_fails_the_config(scripted, child):
    children, make = scripted
    live, asked = make([MISSES, MISSES])
    outcome = children.block(live, 1, 0)
    assert asked == ["warm", "time", "time"]  # re-timed once, then given up
    assert isinstance(outcome, Outcome) and outcome.status == "failed"
    assert outcome.reason.startswith("the measured window is empty for instance(s) 1: none of their iterations")
    assert "again when re-timed" in outcome.reason
    assert completed(live, outcome).method == "blocks"  # the row says how it was measured
    assert live.blocks == [] and child.poll() is not None  # no SPS recorded, and the child is gone


@pytest.mark.slow
def test_a_block_that_misses_the_window_once_is_re_timed(scripted, child):
    children, make = scripted
    live, asked = make([APART, TOGETHER])
    block = children.block(live, 1, 0)
    assert asked == ["warm", "time", "time"]
    assert not isinstance(block, Outcome) and live.blocks == [block] and block["instances"] == TOGETHER
    assert block["sps"] > 0 and all(s > 0 for s in block["instance_sps"])
    assert live.outcome is None and child.poll() is None

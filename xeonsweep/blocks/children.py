"""The live-child protocol: how a block sweep starts its configs' children and talks to them.

Each config's child starts exactly as a fresh run's would (its own environment,
interpreter and run_cpu instances: launch.prepare), sets up, reports ready on a
Unix socket and blocks there without using CPU. Asked for a block, every
instance of the config re-warms (untimed) for `benchmark.block_warmup_s`, then
times at least `benchmark.block_s` and a few iterations; afterwards the sweep
waits until the config's threads are really idle (OpenMP threads spin for a
while after a parallel region) before anything else runs. A child that dies,
overruns `timeout_s` or cannot be timed is killed and released like a failed
fresh run, and its failure comes back as an Outcome: writing rows is the
caller's. Everything here blocks on sockets or the child's pidfd, never polls.
"""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from xeonsweep.blocks.member import Live
from xeonsweep.launch import child as launch
from xeonsweep.launch.channel import Channel
from xeonsweep.launch.child import Outcome
from xeonsweep.machine.facts import wait_until_idle
from xeonsweep.stats.measure import combined_sps, window_problem

MIN_BLOCK_ITERATIONS = 3
SETTLE_INTERVAL_S = 0.03    # a thread still spinning gains CPU time within this
SETTLE_CAP_S = 2.0          # OMP_WAIT_POLICY=active spins for ever: do not wait longer than this


class Listener:
    """The socket live children report ready on, in a folder of its own (short path, private)."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="xeonsweep-live-")
        self.path = os.path.join(self.folder, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Children:
    """The live children of one sweep; used as a context, so that none outlives it (Ctrl-C or a bug)."""

    def __init__(self, cache_dir: Callable[[dict], str], clock: Callable[[], float] = time.monotonic) -> None:
        self.cache_dir, self.clock = cache_dir, clock
        self.listener: Listener | None = None
        self.started: list[Live] = []

    def __enter__(self) -> Children:
        self.listener = Listener()
        return self

    def __exit__(self, *exc) -> None:
        for live in self.started:
            if live.proc is not None and live.proc.poll() is None:
                launch.kill_tree(live.proc)
            if live.child is not None and live.child.cgroup is not None:
                live.child.cgroup.remove()
        self.listener.close()

    # -- set-up --------------------------------------------------------------------------
    def set_up(self, live: Live) -> Outcome | None:
        """Start the config's child and wait (blocked, not polling) until all its instances are
        ready; the failure, if it is not."""
        live.run_dir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        child = launch.prepare(live.run, live.run_dir, self.cache_dir(live.run),
                               live={"socket": self.listener.path, "token": token})
        if isinstance(child, Outcome):
            return child
        live.started_at = datetime.now(timezone.utc)
        live.child, live.proc = child, launch.start(child)
        self.started.append(live)
        parent_cpu = time.process_time()
        failure = self._wait_until_ready(live, token, float(live.run["benchmark"]["timeout_s"]))
        if failure:
            return failure
        live.rested = (live.tree_cpu_s(), self.clock())
        live.parent_cpu_s += time.process_time() - parent_cpu
        return None

    def _wait_until_ready(self, live: Live, token: str, timeout_s: float) -> Outcome | None:
        deadline = self.clock() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener.sock, selectors.EVENT_READ, "connection")
            selector.register(os.pidfd_open(live.proc.pid), selectors.EVENT_READ, "exit")
            try:
                while len(live.channels) < live.child.instances:
                    events = selector.select(timeout=max(deadline - self.clock(), 0))
                    if not events:
                        return self.kill(live, Outcome(
                            "timeout", f"set-up exceeded timeout_s={timeout_s:g}; instances killed"
                            + launch.stderr_tail(live.child.stderr_path)))
                    if any(key.data == "exit" for key, _ in events):
                        return self.read_failure(live, "during set-up")
                    self._accept(live, token, deadline)
            finally:
                for key in list(selector.get_map().values()):
                    if key.data == "exit":
                        os.close(key.fd)
        return None

    def _accept(self, live: Live, token: str, deadline: float) -> None:
        conn, _ = self.listener.sock.accept()
        conn.settimeout(max(deadline - self.clock(), 1.0))
        channel = Channel(conn)
        hello = channel.recv()
        if hello is None or hello.get("token") != token:  # not this config's child: nothing to talk about
            channel.close()
            return
        conn.settimeout(None)
        live.channels[hello["pid"]] = channel
        live.ready.append(hello["ready"])

    # -- blocks --------------------------------------------------------------------------
    def block(self, live: Live, round_no: int, group: int) -> dict | Outcome:
        """One timed block of every instance of `live` (also kept in live.blocks), or the config's failure."""
        bench = live.run["benchmark"]
        timeout_s = float(bench["timeout_s"])
        if live.rested:
            cpu, since = live.rested
            live.idle_cpu_s += max(live.tree_cpu_s() - cpu, 0.0)
            live.idle_s += self.clock() - since
        parent_cpu = time.process_time()
        deadline = self.clock() + timeout_s
        warm = self.ask(live, {"cmd": "warm", "min_s": float(bench["block_warmup_s"])}, deadline)
        timed, started_at, problem = self._time(live, deadline) if warm else (None, 0.0, None)
        if not timed:
            if self.clock() >= deadline:
                return self.kill(live, Outcome("timeout", f"a block exceeded timeout_s={timeout_s:g}; instances killed"
                                               + launch.stderr_tail(live.child.stderr_path)))
            return self.read_failure(live, f"after {len(live.blocks)} blocks")
        if problem:  # as a fresh run with this problem fails (launch.read_outcome): no SPS from it
            return self.kill(live, Outcome("failed", f"{problem} (in round {round_no}'s block, "
                                                     "and again when re-timed)"))
        ended_at = time.time()
        sps, per_instance = combined_sps(timed, live.run["batch_size"])
        settle_s = self.settle(live)
        block = {
            "sps": sps, "instance_sps": per_instance, "instances": timed, "round": round_no, "group": group,
            "warm_s": max(w["warm_s"] for w in warm), "settle_s": settle_s,
            "started_at": started_at, "ended_at": ended_at,
            "measured_s": (min(t["end_ns"] for t in timed) - max(t["start_ns"] for t in timed)) / 1e9,
        }
        live.blocks.append(block)
        live.parent_cpu_s += time.process_time() - parent_cpu
        return block

    def _time(self, live: Live, deadline: float) -> tuple[list[dict] | None, float, str | None]:
        """One timed block of every (warm) instance: (their timings, when it started, why it has no SPS).

        Timings are None if an instance is gone. A block in which an instance has no
        iteration inside the common window (measure.window_problem) is re-timed once
        before the config fails: the sweep asks its instances one after another, so on
        a busy machine one may start late by chance, while an instance that misses the
        window again (an iteration longer than the others' whole block) would miss it
        in every block.
        """
        command = {"cmd": "time", "min_s": float(live.run["benchmark"]["block_s"]),
                   "iterations": MIN_BLOCK_ITERATIONS}
        for _ in range(2):
            started_at = time.time()  # every instance is warm: the timed part starts now
            timed = self.ask(live, command, deadline)
            problem = window_problem(timed) if timed else None
            if not problem:
                break
        return timed, started_at, problem

    def ask(self, live: Live, command: dict, deadline: float) -> list[dict] | None:
        """Send `command` to every instance, then wait (blocked) for every answer; None if one is gone."""
        try:
            for channel in live.channels.values():
                channel.send(command)
        except OSError:
            return None
        answers: dict[int, dict] = {}
        with selectors.DefaultSelector() as selector:
            for pid, channel in live.channels.items():
                selector.register(channel.sock, selectors.EVENT_READ, pid)
            while len(answers) < len(live.channels):
                events = selector.select(timeout=max(deadline - self.clock(), 0))
                if not events:
                    return None
                for key, _ in events:
                    answer = live.channels[key.data].recv()
                    if answer is None:
                        return None
                    answers[key.data] = answer
                    selector.unregister(key.fileobj)
        return [answers[pid] for pid in live.channels]

    def settle(self, live: Live) -> float:
        """Wait until the instances' threads stop using CPU (OpenMP spins after a parallel region)."""
        waited = wait_until_idle(live.cpu_s, SETTLE_INTERVAL_S, SETTLE_CAP_S)
        live.rested = (live.tree_cpu_s(), self.clock())
        return waited

    # -- the end of a child --------------------------------------------------------------
    def read_failure(self, live: Live, when: str) -> Outcome:
        """Why a child died: what its instances wrote, else the signal or exit status, with stderr's tail."""
        try:
            returncode = live.proc.wait(timeout=launch.KILL_GRACE_S)
        except subprocess.TimeoutExpired:  # run_cpu still tearing down: its instance's fate is in stderr
            launch.kill_tree(live.proc)
            returncode = live.proc.returncode
        launch.kill_tree(live.proc)
        child = live.child
        outcome = launch.reported_failure(launch.instance_results(child.out_dir), child.stderr_path,
                                          child.env_set, str(child.interpreter))
        if outcome is None:  # no instance said why: the exit status and stderr's tail do
            stderr = child.stderr_path.read_text(errors="replace")
            outcome = Outcome("failed", f"{launch.exit_description(returncode, stderr)} {when}"
                              + launch.stderr_tail(child.stderr_path))
        return launch.release(child, outcome, live.run)  # names an out-of-memory kill

    def kill(self, live: Live, outcome: Outcome) -> Outcome:
        """A child that overran its time or cannot be timed: killed, then released like any
        failed child (its cgroup removed, an out-of-memory kill named)."""
        launch.kill_tree(live.proc)
        if live.child is not None:
            outcome = launch.release(live.child, outcome, live.run)
        return outcome

    def stop(self, lives: list[Live]) -> None:
        """Tell every instance of `lives` to exit, then make sure each whole child is gone.

        All are told first and waited for together: a child's interpreter (and run_cpu's
        launcher) takes a while to tear down, and the sweep's wall time should not add them up.
        """
        for live in lives:
            for channel in live.channels.values():
                try:
                    channel.send({"cmd": "exit"})
                except OSError:
                    pass
                channel.close()
        deadline = self.clock() + launch.KILL_GRACE_S
        for live in lives:
            if live.proc is not None:
                try:
                    live.proc.wait(timeout=max(deadline - self.clock(), 0.01))
                except subprocess.TimeoutExpired:
                    pass
                launch.kill_tree(live.proc)
            if live.child is not None and live.child.cgroup is not None:
                live.child.cgroup.remove()


def completed(live: Live, outcome: Outcome) -> Outcome:
    """`outcome` with what launch.release and read_outcome record for a fresh run; a failed
    child's channels closed."""
    if live.child is not None:
        outcome.child_env = outcome.child_env or live.child.env_set
        outcome.interpreter = outcome.interpreter or str(live.child.interpreter)
        outcome.planned_instances = outcome.planned_instances or live.child.instances
        if outcome.instances_started is None:
            outcome.instances_started = launch.started_count(live.child.out_dir)
    outcome.method = "blocks"
    if outcome.status != "ok":
        for channel in live.channels.values():
            channel.close()
    return outcome

"""Live workers: each config of a sweep set up once, then measured in short interleaved blocks.

Each config's child starts exactly as a fresh run's would (its own environment,
interpreter and run_cpu instances: launch.prepare), sets up, reports ready on a
Unix socket and blocks there without using CPU. Rounds then go round-robin over
the live configs, one config measuring at a time: a short untimed re-warm-up,
then a timed block of at least `benchmark.block_s` and a few iterations, all
instances of a config together. After each block the parent waits until the
config's threads are really idle (OpenMP threads spin for a while after a
parallel region) before the next config starts. Rounds stop when every
config's confidence interval meets the target, or when the budget runs out
(confidence.Rounds). The machine speed probe (xeonsweep.blocks.probe) runs between
rounds while every child waits, and its figures go into the rows.

Sweep-wide settings (min_rounds, target_ci_pct, budget_s, live_memory_mb) are
the first config's; block_s, block_warmup_s and timeout_s are each config's.

Memory: a live child keeps its memory while it waits, so children are budgeted
with their peak RSS during set-up (a sum over their instances) against the
memory available when the sweep started (or `benchmark.live_memory_mb`). When
more configs remain than fit, the live ones are measured as a group, written
and stopped, and the next group set up; the sweep's first config stays live
and is measured in every group, as the reference that makes groups comparable.

The parent never imports torch and starts every child from its main thread
(the kernel's parent-death signal follows the thread that created the child).
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from xeonsweep.launch import child as launch
from xeonsweep.blocks.channel import Channel
from xeonsweep.stats.confidence import Rounds
from xeonsweep.launch.child import Outcome
from xeonsweep.machine.facts import available_memory_mb, process_cpu_s, wait_until_idle
from xeonsweep.stats.measure import combined_sps, window_problem
from xeonsweep.config.run import Job

MIN_BLOCK_ITERATIONS = 3
MEMORY_SHARE = 0.8          # of MemAvailable at the start, when benchmark.live_memory_mb is null
SETTLE_INTERVAL_S = 0.03    # a thread still spinning gains CPU time within this
SETTLE_CAP_S = 2.0          # OMP_WAIT_POLICY=active spins for ever: do not wait longer than this
# The probe (a child that keeps torch imported; a fraction of a second) runs before the first
# round, then between rounds at most this often, and after the last; its time is not the budget's.
PROBE_INTERVAL_S = 10.0


@dataclass(eq=False)
class Live:
    """One config of the sweep: its child, its instances' channels, its blocks."""

    job: Job
    run_dir: Path
    label: str
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    child: launch.Child | None = None
    proc: subprocess.Popen | None = None
    channels: dict[int, Channel] = field(default_factory=dict)  # by instance pid
    ready: list[dict] = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    outcome: Outcome | None = None  # set once the config is over (failed, or written)
    idle_cpu_s: float = 0.0
    idle_s: float = 0.0
    parent_cpu_s: float = 0.0  # the sweep's own CPU time while it set this config up and timed its blocks
    rested: tuple[float, float] | None = None  # (the child's CPU s, monotonic s) once idle after a block

    @property
    def run(self) -> dict:
        return self.job.run

    @property
    def peak_rss_mb(self) -> float:
        return sum(r["applied"]["peak_rss_mb"] for r in self.ready)

    def cpu_s(self) -> float:
        """CPU time of the instances (all their threads) so far."""
        return sum(process_cpu_s(pid) or 0.0 for pid in self.channels)

    def tree_cpu_s(self) -> float:
        """CPU time of the whole child so far: the instances and, under run_cpu, its launcher that waits on them."""
        pids = set(self.channels) | ({self.proc.pid} if self.proc else set())
        return sum(process_cpu_s(pid) or 0.0 for pid in pids)


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


class Sweep:
    """The live part of one sweep: set up, rounds, rows; `write` records a finished config."""

    def __init__(self, jobs: list[Job], run_dirs: list[Path], cache_dir: Callable[[dict], str],
                 write: Callable[[Live], None], label: Callable[[Job], str] = lambda job: " ".join(job.overrides),
                 status: Callable[[str], None] = lambda text: None,
                 probe: Callable[[], dict] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs, self.run_dirs, self.cache_dir, self.label = jobs, run_dirs, cache_dir, label
        self.write, self.status, self.probe, self.clock = write, status, probe, clock
        bench = jobs[0].run["benchmark"]
        self.bench = bench
        self.memory_mb = bench.get("live_memory_mb") or MEMORY_SHARE * available_memory_mb()
        self.budget_s = float(bench["budget_s"])
        self.rounds_s = 0.0  # spent in rounds so far: the budget is for measuring, not for set-up
        self.largest_peak_mb = 0.0
        self.probes: list[dict] = []
        self.probe_s = 0.0  # time spent probing, left out of the rounds' budget
        self.lives: list[Live] = []

    # -- the whole sweep ---------------------------------------------------------------
    def run(self) -> None:
        listener = Listener()
        pending = [Live(job, run_dir, self.label(job)) for job, run_dir in zip(self.jobs, self.run_dirs)]
        reference: Live | None = None
        group = 0
        try:
            while pending:
                members = [reference] if reference else []
                while pending and self._room_for_one_more(members, reference):
                    live = pending.pop(0)
                    if self._set_up(live, listener):
                        reference = reference or live
                        members.append(live)
                if group and all(m is reference for m in members):
                    # Nothing new set up (every config left failed its set-up): the reference, if it
                    # still lives, was measured already; with none (it died earlier) the group is empty.
                    self._stop(members)
                    break
                share = len([m for m in members if m is not reference]) or 1
                budget = (self.budget_s - self.rounds_s) * share / (share + len(pending))
                began = self.clock() - self.probe_s
                # The next group's first probe follows soon enough: only the last group probes after its rounds.
                self._rounds(members, group, budget, reference if (group or pending) else None, last=not pending)
                self.rounds_s += self.clock() - self.probe_s - began
                if reference and reference.outcome and reference.outcome.status != "ok":
                    reference = None  # it died: later groups have no common reference, and it is stopped now
                self._stop([live for live in members if live is not reference or not pending])
                group += 1
        finally:  # Ctrl-C or a bug: no live child (or its cgroup) outlives the sweep
            for live in self.lives:
                if live.proc is not None and live.proc.poll() is None:
                    launch.kill_tree(live.proc)
                if live.child is not None and live.child.cgroup is not None:
                    live.child.cgroup.remove()
            listener.close()

    def _room_for_one_more(self, members: list[Live], reference: Live | None) -> bool:
        """Budget the next child at the largest set-up peak seen so far; a group measures at least two."""
        if len([m for m in members if m is not reference]) < 1:
            return True
        return sum(m.peak_rss_mb for m in members) + self.largest_peak_mb <= self.memory_mb

    # -- set-up --------------------------------------------------------------------------
    def _set_up(self, live: Live, listener: Listener) -> bool:
        """Start the config's child and wait (blocked, not polling) until all its instances are ready."""
        self.status(f"setting up {live.label}")
        live.run_dir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        child = launch.prepare(live.run, live.run_dir, self.cache_dir(live.run),
                               live={"socket": listener.path, "token": token})
        if isinstance(child, Outcome):
            return self._finish(live, child)
        live.started_at = datetime.now(timezone.utc)
        live.child, live.proc = child, launch.start(child)
        self.lives.append(live)
        parent_cpu = time.process_time()
        timeout_s = float(live.run["benchmark"]["timeout_s"])
        deadline = self.clock() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(listener.sock, selectors.EVENT_READ, "connection")
            selector.register(os.pidfd_open(live.proc.pid), selectors.EVENT_READ, "exit")
            try:
                while len(live.channels) < child.instances:
                    events = selector.select(timeout=max(deadline - self.clock(), 0))
                    if not events:
                        return self._kill(live, Outcome(
                            "timeout", f"set-up exceeded timeout_s={timeout_s:g}; instances killed"
                            + launch.stderr_tail(child.stderr_path)))
                    if any(key.data == "exit" for key, _ in events):
                        return self._finish(live, self._read_failure(live, "during set-up"))
                    self._accept(live, listener, token, deadline)
            finally:
                for key in list(selector.get_map().values()):
                    if key.data == "exit":
                        os.close(key.fd)
        self.largest_peak_mb = max(self.largest_peak_mb, live.peak_rss_mb)
        live.rested = (live.tree_cpu_s(), self.clock())
        live.parent_cpu_s += time.process_time() - parent_cpu
        return True

    def _accept(self, live: Live, listener: Listener, token: str, deadline: float) -> None:
        conn, _ = listener.sock.accept()
        conn.settimeout(max(deadline - self.clock(), 1.0))
        channel = Channel(conn)
        hello = channel.recv()
        if hello is None or hello.get("token") != token:  # not this config's child: nothing to talk about
            channel.close()
            return
        conn.settimeout(None)
        live.channels[hello["pid"]] = channel
        live.ready.append(hello["ready"])

    # -- rounds --------------------------------------------------------------------------
    def _rounds(self, members: list[Live], group: int, budget_s: float, reference: Live | None,
                last: bool = True) -> None:
        alive = [m for m in members if m.outcome is None]
        if not alive:
            return
        names = {str(i): m for i, m in enumerate(alive)}
        rounds = Rounds(list(names), int(self.bench["min_rounds"]), float(self.bench["target_ci_pct"]),
                        budget_s, lambda: self.clock() - self.probe_s)
        for m in alive:
            m.blocks = []
        last_probe = None
        while batch := rounds.next_round():
            if last_probe is None or self.clock() - last_probe >= PROBE_INTERVAL_S:
                last_probe = self._probe(group, rounds.done)
            for name in batch:
                live = names[name]
                self.status(f"group {group + 1}, round {rounds.done}: {live.label}")
                block = self._block(live, rounds.done, group)
                if block is None:
                    rounds.fail(name)
                else:
                    rounds.record(name, block["sps"])
        if last:
            self._probe(group, rounds.done + 1)
        for name, live in names.items():
            if live.outcome is None:
                self._finish(live, Outcome("ok", None, live.ready, parent_cpu_s=live.parent_cpu_s, child_cpu_s=live.tree_cpu_s(), method="blocks", schedule={
                    "group": group,
                    "reference": live is reference,
                    "rounds": rounds.done,
                    "target_ci_pct": rounds.target_pct,
                    "target_met": rounds.met(name),
                    "verdict": rounds.verdict(name),
                    "idle_cpu_s": live.idle_cpu_s,
                    "idle_s": live.idle_s,
                }, blocks=list(live.blocks), probes=[p for p in self.probes if p["group"] == group]))
                if live is reference:
                    live.outcome = None  # it stays live for the next group
                    live.idle_cpu_s = live.idle_s = live.parent_cpu_s = 0.0

    def _probe(self, group: int, before_round: int) -> float:
        """The machine's own speed now, while every live child waits; returns when it ended."""
        began = self.clock()
        if self.probe is not None:
            self.status(f"group {group + 1}: probing the machine's speed")
            self.probes.append({**self.probe(), "group": group, "before_round": before_round})
        self.probe_s += self.clock() - began
        return self.clock()

    def _block(self, live: Live, round_no: int, group: int) -> dict | None:
        """One timed block of every instance of `live`; None when the config failed in it."""
        bench = live.run["benchmark"]
        timeout_s = float(bench["timeout_s"])
        if live.rested:
            cpu, since = live.rested
            live.idle_cpu_s += max(live.tree_cpu_s() - cpu, 0.0)
            live.idle_s += self.clock() - since
        parent_cpu = time.process_time()
        deadline = self.clock() + timeout_s
        warm = self._ask(live, {"cmd": "warm", "min_s": float(bench["block_warmup_s"])}, deadline)
        timed, started_at, problem = self._time(live, deadline) if warm else (None, 0.0, None)
        if not timed:
            if self.clock() >= deadline:
                self._kill(live, Outcome("timeout", f"a block exceeded timeout_s={timeout_s:g}; instances killed"
                                         + launch.stderr_tail(live.child.stderr_path)))
            else:
                self._finish(live, self._read_failure(live, f"after {len(live.blocks)} blocks"))
            return None
        if problem:  # as a fresh run with this problem fails (launch.read_outcome): no SPS from it
            self._kill(live, Outcome("failed", f"{problem} (in round {round_no}'s block, and again when re-timed)"))
            return None
        ended_at = time.time()
        sps, per_instance = combined_sps(timed, live.run["batch_size"])
        settle_s = self._settle(live)
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
            timed = self._ask(live, command, deadline)
            problem = window_problem(timed) if timed else None
            if not problem:
                break
        return timed, started_at, problem

    def _ask(self, live: Live, command: dict, deadline: float) -> list[dict] | None:
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

    def _settle(self, live: Live) -> float:
        """Wait until the instances' threads stop using CPU (OpenMP spins after a parallel region)."""
        waited = wait_until_idle(live.cpu_s, SETTLE_INTERVAL_S, SETTLE_CAP_S)
        live.rested = (live.tree_cpu_s(), self.clock())
        return waited

    # -- the end of a config -------------------------------------------------------------
    def _read_failure(self, live: Live, when: str) -> Outcome:
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

    def _kill(self, live: Live, outcome: Outcome) -> bool:
        """A child that overran its time or cannot be timed: killed, then released like any
        failed child (its cgroup removed, an out-of-memory kill named), and its row written."""
        launch.kill_tree(live.proc)
        if live.child is not None:
            outcome = launch.release(live.child, outcome, live.run)
        return self._finish(live, outcome)

    def _finish(self, live: Live, outcome: Outcome) -> bool:
        if live.child is not None:  # what launch.release and read_outcome record for a fresh run
            outcome.child_env = outcome.child_env or live.child.env_set
            outcome.interpreter = outcome.interpreter or str(live.child.interpreter)
            outcome.planned_instances = outcome.planned_instances or live.child.instances
            if outcome.instances_started is None:
                outcome.instances_started = launch.started_count(live.child.out_dir)
        outcome.method = "blocks"
        live.outcome = outcome
        if outcome.status != "ok":
            for channel in live.channels.values():
                channel.close()
        self.write(live)
        return outcome.status == "ok"

    def _stop(self, lives: list[Live]) -> None:
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

def measure_in_blocks(jobs: list[Job], sweep_dir: Path, first_index: int, machine: str,
                      finished: Callable[[Job, dict], None], label: Callable[[Job], str],
                      status: Callable[[str], None]) -> None:
    """Measure a sweep's jobs with live workers, writing each config's row as soon as it is over.

    Job i runs in `sweep_dir`/`first_index + i` (after any fresh jobs' folders, as
    Hydra numbers them). Jobs whose settings cannot go together become skipped
    rows at once, as in a fresh sweep.
    """
    from xeonsweep.config.paths import absolute
    from xeonsweep.store import record
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.blocks.probe import Probe

    def keys(job: Job) -> dict:
        return record.identity(job.run, machine, " ".join(job.overrides))

    def write(job: Job, outcome: Outcome, started: datetime) -> None:
        finished(job, record.record(job.run, keys(job), outcome, started))

    runnable, run_dirs = [], []
    for index, job in enumerate(jobs, start=first_index):
        if job.incompatible:
            finished(job, record.skipped(job.run, keys(job), method="blocks"))
        else:
            runnable.append(job)
            run_dirs.append(sweep_dir / str(index))
    if runnable:
        with Probe(cpu_info()) as probe:
            Sweep(runnable, run_dirs, lambda run: absolute(run.cache_dir),
                  lambda live: write(live.job, live.outcome, live.started_at), label, status,
                  probe=probe.measure).run()

"""The block scheduler's groups, rounds, rows and probes, with scripted children and a fake clock.

Each scripted block takes one second of the fake clock and each probe half a
second; a config's fate says whether its set-up fails or in which of its
blocks it dies. The real children are covered by test_live.py.
"""

from pathlib import Path

import pytest

from xeonsweep.blocks.journal import Journal
from xeonsweep.blocks.live import Sweep
from xeonsweep.launch.child import Outcome
from xeonsweep.sweep.planning import Job


def scheduled(configs: list[tuple[str, str]], memory_mb: float, budget_s: float = 6, min_rounds: int = 3,
              journal=None) -> list:
    """What the sweep did, in order: ("setup", c), ("block", c, round, group), ("row", c, status, schedule,
    probes), ("stop", [c...]). `configs`: (name, fate), fate "ok", "noisy", "setup" (fails it) or "die@N"."""
    now = [0.0]
    bench = {"budget_s": budget_s, "min_rounds": min_rounds, "target_ci_pct": 3.0, "live_memory_mb": memory_mb,
             "timeout_s": 30, "block_s": 0.1, "block_warmup_s": 0.01}
    jobs = [Job([f"c={name}"], {"benchmark": bench, "batch_size": 1}, run_key=name) for name, _ in configs]
    fate, blocks, trace = dict(configs), {}, []

    def set_up(live):
        trace.append(("setup", live.label))
        if fate[live.label] == "setup":
            return Outcome("failed", "set-up failed")
        live.ready = [{"applied": {"peak_rss_mb": 10}}]
        return None

    def block(live, round_no, group):
        n = blocks[live.label] = blocks.get(live.label, 0) + 1
        trace.append(("block", live.label, round_no, group))
        now[0] += 1.0
        if fate[live.label] == f"die@{n}":
            return Outcome("failed", "died")
        live.blocks.append({"sps": 100.0 + (n % 3) * 10 * (fate[live.label] == "noisy"), "round": round_no})
        return live.blocks[-1]

    def probe():
        now[0] += 0.5
        return {}

    def write(live):
        o = live.outcome
        trace.append(("row", live.label, o.status, o.schedule, [(p["group"], p["before_round"]) for p in o.probes],
                      [b.get("earlier", False) for b in o.blocks]))

    sweep = Sweep(jobs, [Path("unused")] * len(jobs), str, write, lambda job: job.overrides[0][2:],
                  probe=probe, clock=lambda: now[0], journal=journal)
    sweep.children.set_up, sweep.children.block = set_up, block
    sweep.children.stop = lambda lives: trace.append(("stop", sorted(live.label for live in lives)))
    sweep.run()
    return trace


def rows(trace: list) -> list[tuple]:
    return [(e[1], e[2], e[3].get("group"), e[3].get("reference")) for e in trace if e[0] == "row"]


def test_one_group_when_all_fit_and_no_reference_is_named():
    trace = scheduled([("a", "ok"), ("b", "ok")], memory_mb=1000)
    assert rows(trace) == [("a", "ok", 0, False), ("b", "ok", 0, False)]
    assert [e for e in trace if e[0] == "block"] == [("block", c, r, 0) for r in (1, 2, 3) for c in "ab"]
    assert trace[-1] == ("stop", ["a", "b"])
    assert trace[-2][4] == [(0, 1), (0, 4)]  # probed before the first round and after the last


def test_the_reference_stays_live_and_is_measured_in_every_group():
    trace = scheduled([("a", "ok"), ("b", "noisy"), ("c", "ok")], memory_mb=1, budget_s=20)
    assert rows(trace) == [("a", "ok", 0, True), ("b", "ok", 0, False), ("a", "ok", 1, True), ("c", "ok", 1, False)]
    assert ("stop", ["b"]) in trace and trace[-1] == ("stop", ["a", "c"])
    assert [e[1] for e in trace if e[0] == "setup"] == ["a", "b", "c"]  # the reference is set up once
    # The budget is shared by the groups' new configs: b's group may spend half of it (10 s, probes not counted).
    b = next(e for e in trace if e[0] == "row" and e[1] == "b")
    assert b[3]["rounds"] == 5 and not b[3]["target_met"] and "budget" in b[3]["verdict"]
    assert b[4] == [(0, 1)]  # the next group probes first: only the last group probes after its rounds
    assert trace[-2][4] == [(1, 1), (1, 4)]


def test_a_reference_that_dies_leaves_the_next_group_its_own():
    trace = scheduled([("a", "die@2"), ("b", "ok"), ("c", "ok"), ("d", "ok")], memory_mb=1)
    assert rows(trace) == [("a", "failed", None, None), ("b", "ok", 0, False),
                           ("c", "ok", 1, True), ("d", "ok", 1, False)]


def test_a_config_whose_set_up_fails_takes_no_room():
    trace = scheduled([("a", "setup"), ("b", "ok"), ("c", "setup"), ("d", "ok")], memory_mb=25, budget_s=30)
    assert rows(trace) == [("a", "failed", None, None), ("c", "failed", None, None),
                           ("b", "ok", 0, False), ("d", "ok", 0, False)]


@pytest.mark.parametrize("later", [["setup", "setup"], ["setup"]])
def test_a_group_left_without_new_configs_after_the_reference_died_ends_the_sweep(later):
    configs = [("a", "die@2"), ("b", "ok")] + [(c, fate) for c, fate in zip("cd", later)]
    trace = scheduled(configs, memory_mb=1)
    assert rows(trace)[-len(later):] == [(c, "failed", None, None) for c in "cd"[:len(later)]]
    assert len(rows(trace)) == 2 + len(later)


def test_a_lone_config_set_up_after_the_reference_died_is_measured():
    # b's group is the dead reference's; c, the only config left, sets up alone and becomes the next reference.
    trace = scheduled([("a", "die@2"), ("b", "ok"), ("c", "ok")], memory_mb=1)
    assert rows(trace) == [("a", "failed", None, None), ("b", "ok", 0, False), ("c", "ok", 1, True)]
    assert trace[-1] == ("stop", ["c"])


def test_blocks_are_journaled_as_measured_and_forgotten_once_in_a_row(tmp_path):
    journal = Journal(tmp_path / "journal")
    trace = scheduled([("a", "ok"), ("b", "die@2")], memory_mb=1000, journal=journal)
    assert rows(trace) == [("b", "failed", None, None), ("a", "ok", 0, False)]
    assert not journal.path("a").exists()              # in its row now
    assert [b["round"] for b in journal.earlier("b")] == [1]  # no row holds it: kept for a sweep run again


def test_a_sweep_run_again_goes_on_from_the_journaled_blocks(tmp_path):
    journal = Journal(tmp_path / "journal")
    for name, count in (("a", 3), ("b", 2)):  # killed in round 3, after a's block and before b's
        for round_no in range(1, count + 1):
            journal.append(name, {"sps": 100.0, "round": round_no, "earlier": True})
    assert journal.continuing(["a", "b", "c"]).startswith("continuing 2 config(s) from 5 block(s)")
    trace = scheduled([("a", "ok"), ("b", "ok")], memory_mb=1000, min_rounds=4, journal=journal)
    # The rounds go on after the last round any config has a block of (b missed round 3, killed before its
    # block), and no round is measured twice: b needs two more rounds for its minimum of 4 blocks.
    assert [e[2] for e in trace if e[0] == "block"] == [4, 4, 5, 5]
    a, b = (e for e in trace if e[0] == "row")
    assert a[5] == [True] * 3 + [False] * 2 and b[5] == [True] * 2 + [False] * 2
    assert a[3]["rounds"] == 5 and not journal.path("a").exists() and not journal.path("b").exists()


def test_a_line_cut_short_by_a_kill_loses_that_block_only(tmp_path):
    journal = Journal(tmp_path)
    journal.append("a", {"sps": 1.0})
    with open(journal.path("a"), "a") as out:
        out.write('{"sps": 2.')  # the writer was killed mid-line
    journal.append("a", {"sps": 3.0})
    assert journal.earlier("a") == [{"sps": 1.0}, {"sps": 3.0}]
    assert journal.continuing(["b"]) is None and Journal.of_store("s3://bucket/store") is None


def test_every_row_carries_its_paired_speedup_over_the_reference():
    # The reference's row is written first; the rows after it still pair their blocks with its blocks.
    trace = scheduled([("a", "ok"), ("b", "ok"), ("c", "noisy")], memory_mb=1000)
    speedups = {e[1]: (e[3].get("speedup"), e[3].get("speedup_reference")) for e in trace if e[0] == "row"}
    assert speedups["a"] == (1.0, "a") and speedups["b"] == (1.0, "a")
    assert speedups["c"][0] == pytest.approx(1.1) and speedups["c"][1] == "a"

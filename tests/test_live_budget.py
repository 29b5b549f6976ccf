"""The memory budget of live workers: which configs fit in a group (pure, no child started)."""

from pathlib import Path

from xeonsweep.blocks.live import Live, Sweep
from xeonsweep.sweep.planning import Job

BENCH = {"budget_s": 10, "min_rounds": 3, "target_ci_pct": 3, "live_memory_mb": 1000}


def live(name: str, *peaks_mb: float) -> Live:
    """A config whose instances reported these set-up peaks."""
    config = Live(Job([f"model={name}"], {"benchmark": BENCH}), Path(name), name)
    config.ready = [{"applied": {"peak_rss_mb": peak}} for peak in peaks_mb]
    return config


def sweep() -> Sweep:
    return Sweep([Job([], {"benchmark": BENCH})], [Path("0")], cache_dir=str, write=lambda live: None)


def test_a_childs_charge_is_the_sum_of_its_instances_set_up_peaks():
    assert live("two", 300, 250).peak_rss_mb == 550


def test_the_next_child_is_budgeted_at_the_largest_peak_seen():
    budget = sweep()
    ref, a = live("ref", 300), live("a", 200)
    budget.largest_peak_mb = 300
    assert budget._room_for_one_more([ref, a], ref)        # 300 + 200 + 300 <= 1000
    b = live("b", 250)
    assert not budget._room_for_one_more([ref, a, b], ref)  # 750 + 300 > 1000


def test_a_group_always_measures_the_reference_and_one_more():
    budget = sweep()
    budget.largest_peak_mb = 5000  # nothing fits beside it ...
    assert budget._room_for_one_more([], None)             # ... but the first config starts
    ref = live("ref", 5000)
    assert budget._room_for_one_more([ref], ref)           # ... and one config beside the reference
    assert not budget._room_for_one_more([ref, live("a", 10)], ref)


def test_without_a_setting_the_budget_is_80_percent_of_available_memory(tmp_path, monkeypatch):
    from xeonsweep.machine.facts import available_memory_mb

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemFree:         2048000 kB\nMemAvailable:   10240000 kB\n")
    assert available_memory_mb(str(meminfo)) == 10000  # 10,240,000 kB / 1024
    # The recorded machine, wherever the scheduler imported available_memory_mb from.
    monkeypatch.setattr(available_memory_mb, "__defaults__", (str(meminfo),))
    unset = Sweep([Job([], {"benchmark": {**BENCH, "live_memory_mb": None}})], [Path("0")], str, lambda live: None)
    assert unset.memory_mb == 8000

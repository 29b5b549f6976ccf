"""The memory budget of live workers: which configs fit in a group (pure, no child started)."""

from pathlib import Path

from xeonsweep.blocks.groups import MemoryGroups
from xeonsweep.blocks.member import Live
from xeonsweep.sweep.planning import Job


def live(name: str, *peaks_mb: float, reference: bool = False) -> Live:
    """A config whose instances reported these set-up peaks."""
    config = Live(Job([f"model={name}"], {}), Path(name), name, reference=reference)
    config.ready = [{"applied": {"peak_rss_mb": peak}} for peak in peaks_mb]
    return config


def budget_of_1000_mb() -> MemoryGroups:
    return MemoryGroups(live_memory_mb=1000)


def test_a_childs_charge_is_the_sum_of_its_instances_set_up_peaks():
    assert live("two", 300, 250).peak_rss_mb == 550


def test_the_next_child_is_budgeted_at_the_largest_peak_seen():
    budget = budget_of_1000_mb()
    ref, a = live("ref", 300, reference=True), live("a", 200)
    budget.largest_peak_mb = 300
    assert budget.room_for_one_more([ref, a])        # 300 + 200 + 300 <= 1000
    b = live("b", 250)
    assert not budget.room_for_one_more([ref, a, b])  # 750 + 300 > 1000


def test_a_group_always_measures_the_reference_and_one_more():
    budget = budget_of_1000_mb()
    budget.largest_peak_mb = 5000  # nothing fits beside it ...
    assert budget.room_for_one_more([])             # ... but the first config starts
    ref = live("ref", 5000, reference=True)
    assert budget.room_for_one_more([ref])           # ... and one config beside the reference
    assert not budget.room_for_one_more([ref, live("a", 10)])


def test_without_a_setting_the_budget_is_80_percent_of_available_memory(tmp_path, monkeypatch):
    from xeonsweep.machine.facts import available_memory_mb

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemFree:         2048000 kB\nMemAvailable:   10240000 kB\n")
    assert available_memory_mb(str(meminfo)) == 10000  # 10,240,000 kB / 1024
    # The recorded machine, wherever the scheduler imported available_memory_mb from.
    monkeypatch.setattr(available_memory_mb, "__defaults__", (str(meminfo),))
    assert MemoryGroups(live_memory_mb=None).memory_mb == 8000

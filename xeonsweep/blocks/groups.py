"""Memory grouping: which configs of a block sweep are live together.

A live child keeps its memory while it waits, so children are budgeted with
their peak RSS during set-up (a sum over their instances) against the memory
available when the sweep started (or `benchmark.live_memory_mb`). A config's
peak is known only once it is set up, so the next one is budgeted at the
largest peak seen so far. When more configs remain than fit, the live ones are
measured as a group, written and stopped, and the next group set up; the first
config set up in a group without one is the common reference, which stays live
and is measured in every later group, so that groups are comparable.
"""

from __future__ import annotations

from collections.abc import Callable

from xeonsweep.blocks.member import Live
from xeonsweep.machine.facts import available_memory_mb

MEMORY_SHARE = 0.8  # of MemAvailable at the start, when benchmark.live_memory_mb is null


class MemoryGroups:
    def __init__(self, live_memory_mb: float | None) -> None:
        self.memory_mb = live_memory_mb or MEMORY_SHARE * available_memory_mb()
        self.largest_peak_mb = 0.0

    def room_for_one_more(self, members: list[Live]) -> bool:
        """Budget the next child at the largest set-up peak seen so far; a group measures at least two."""
        if not any(not m.reference for m in members):
            return True
        return sum(m.peak_rss_mb for m in members) + self.largest_peak_mb <= self.memory_mb

    def fill(self, members: list[Live], pending: list[Live], set_up: Callable[[Live], bool]) -> None:
        """Set configs up, in order, into `members` while the next one fits (a config whose set-up
        failed takes no room); the first that sets up in a group without a reference becomes it."""
        while pending and self.room_for_one_more(members):
            live = pending.pop(0)
            if not set_up(live):
                continue
            self.largest_peak_mb = max(self.largest_peak_mb, live.peak_rss_mb)
            live.reference = not any(m.reference for m in members)
            members.append(live)

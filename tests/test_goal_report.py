"""What a block sweep's goal did, in the report: the timeline marks where each config stopped being
measured and why (its row's stopped_by, at its last block), and a note counts the configs settled,
dropped or left open. From rows written directly (no run)."""

import pytest

from tests.report_store import T0, paired_row
from xeonsweep.report import page, tables, timeline
from xeonsweep.report.summary import labelled, summarize
from xeonsweep.store import results

EIGHT = [100.0, 101.0, 99.0, 100.0, 102.0, 100.0, 101.0, 100.0]


@pytest.fixture
def race(tmp_path):
    """goal=best: batch8 dropped after round 6, openvino still level with compile when the budget ran out."""
    store = tmp_path / "race"
    for step, position, blocks, stopped_by in (
            ("baseline", 1, EIGHT, "settled"),
            ("batch8", 2, [60.0, 61.0, 59.0, 60.0, 60.0, 61.0], "dropped"),
            ("compile", 3, [1.5 * b for b in EIGHT], "settled"),
            ("openvino", 4, [1.49 * b for b in EIGHT], "budget")):
        results.write_row(paired_row("race", step, position, blocks, stopped_by, goal="best"), store, "race")
    return labelled(results.load(store))


def test_stops_are_each_configs_last_block_and_why(race):
    stops = timeline.stops(race).set_index("config")
    assert stops.loc["batch8", "stopped_by"] == "dropped" and stops.loc["batch8", "round"] == 6
    assert stops.loc["batch8", "end"] == T0.timestamp() + 10 * 6 + 2 + 1  # round 6's block of position 2, 1 s long
    assert stops.loc["batch8", "sps"] == 61.0
    assert stops.loc["openvino", "stopped_by"] == "budget" and stops.loc["compile", "round"] == 8


def test_the_timeline_marks_and_labels_each_stop():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stops = [{"config": "a", "end": 70.0, "sps": 60.0, "round": 6, "stopped_by": "dropped"},
             {"config": "b", "end": 90.0, "sps": 150.0, "round": 8, "stopped_by": "settled"},
             {"config": "c", "end": 91.0, "sps": 149.0, "round": 8, "stopped_by": "budget"}]
    import pandas as pd

    fig, (ax, legend_ax) = plt.subplots(2, 1)
    timeline.mark_stops(ax, pd.DataFrame(stops), t0=10.0, legend_ax=legend_ax)
    assert [t.get_text() for t in ax.texts] == ["dropped r6", "settled r8", "left open r8"]
    assert ax.texts[0].xy == (1.0, 60.0)  # a minute after t0, at the block's SPS
    assert [t.get_text() for t in legend_ax.get_legend().get_texts()] == [
        "dropped: last block", "settled: last block", "left open: last block"]
    plt.close(fig)


def test_a_note_counts_what_the_goal_settled_dropped_and_left_open(race):
    words = tables.notes(summarize(race.drop(columns=["config"])), race)
    line = next(w for w in words if "benchmark.goal=best" in w)
    assert line.startswith("sweep race, resnet50 on AMD EPYC (2 cores): benchmark.goal=best (margin 2%): of 4 configs, "
                           "2 settled, 1 dropped (batch8), 1 left open (openvino); the budget (benchmark.budget_s) ran "
                           "out before the goal was met")


def test_report_md_and_the_page_say_it_too(race, tmp_path):
    summary = summarize(race.drop(columns=["config"]))
    paths = tables.write(summary, tmp_path / "out", race.drop(columns=["config"]))
    assert "1 dropped (batch8)" in (tmp_path / "out" / "report.md").read_text()
    png = next(p for p in paths if p.name == "timeline-race.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = page.timeline_figure(race, "race")
    marked = {trace.name: list(trace.text) for trace in figure.data if trace.name.endswith("(last block)")}
    assert marked == {"settled (last block)": ["settled", "settled"], "dropped (last block)": ["dropped"],
                      "left open (last block)": ["left open"]}


def test_rows_from_before_goals_get_no_marks_and_no_note(tmp_path):
    row = paired_row("old", "baseline", 1, EIGHT)
    for column in ("block_round", "goal", "equivalence_pct", "stopped_by"):
        row.pop(column)
    results.write_row(row, tmp_path, "old")
    frame = labelled(results.load(tmp_path))
    assert timeline.stops(frame).empty and timeline.goal_words(frame) == []

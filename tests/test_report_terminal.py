"""The terminal report (issue 20, item 5): the few columns that answer the question, laid out to fit
80 and 100 columns with no cell cut; every column with --wide."""

import pytest

from tests.report_store import EPYC, XEON, blocks_row, fresh_row, write_store
from xeonsweep.report import tables, terminal
from xeonsweep.store import results


@pytest.fixture
def store(tmp_path):
    path = write_store(tmp_path / "store")
    # Long labels: one step run with other settings, so the label names what differs.
    for n, (batch, seed, sps) in enumerate(((8, 0, 1234.5), (16, 1, 1250.25), (16, 2, 1251.0))):
        row = blocks_row(EPYC, "s1", "openvino_nncf_int8", 7, sps, sps - 30.5, sps + 31.25, 14.0)
        results.write_row({**row, "run_key": f"long-{n}", "config_hash": f"long-{n}", "batch_size": batch, "seed": seed,
                           "memory_limit_mb": 4096}, path, "s1")
    row = fresh_row(XEON, 20, "compile_max_autotune", 8, None, status="failed",
                    reason="torch._inductor.exc.InductorError: CppCompileError: C++ compile error " * 3)
    results.write_row(row, path, "fresh")
    return path


def printed(store, width, capsys, wide=False) -> str:
    frame = tables.load(str(store))
    tables.print_terminal(tables.summarize(frame), frame, wide=wide, width=width)
    return capsys.readouterr().out


def cells(store) -> list[str]:
    """Every figure of the terminal's columns, as it must appear whole (a figure, its interval)."""
    summary = tables.summarize(tables.load(str(store)))
    found = []
    for _, table in summary.groupby(tables.TABLE, sort=False):
        for row in tables.terminal_rows(table):
            for cell in row[1:-1]:
                found += [cell[0], f"({cell[1]})"] if isinstance(cell, tuple) and cell[1] not in ("", "-") else \
                    [cell[0] if isinstance(cell, tuple) else cell]
    return found


@pytest.mark.parametrize("width", [80, 100])
def test_no_cell_is_cut_at_80_or_100_columns(store, capsys, width):
    out = printed(store, width, capsys)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    missing = [cell for cell in cells(store) if cell not in out]
    assert not missing, f"cut or wrapped: {missing}"
    for header in ("SPS (95% CI)", "top-1", "status"):
        assert header.split()[0] in out
    labels = tables.summarize(tables.load(str(store)))["config"]
    long = [label for label in labels if label.startswith("openvino_nncf_int8 ")]
    assert len(long) == 3 and all(word in out for label in long for word in label.split())  # wrapped at spaces
    assert "compile_max_autotune: failed: torch._inductor.exc.InductorError" in out.replace("\n", " ")
    assert "--wide" in out


def test_one_line_cells_when_the_terminal_is_wide_enough(store, capsys):
    out = printed(store, 160, capsys)
    assert "150.0 (147.0-153.0)" in out and "1.50x (1.44-1.56)" in out
    narrow = printed(store, 80, capsys)
    assert "150.0 (147.0-153.0)" not in narrow and "(147.0-153.0)" in narrow  # the interval under its figure


def test_wide_prints_every_column(store, capsys):
    out = printed(store, 250, capsys, wide=True)
    for header in tables.HEADERS:
        assert header in out
    assert "more columns" not in out


def test_a_figure_column_keeps_its_width_and_its_header_wraps():
    columns = [terminal.Column("name", text=True), terminal.Column("cost per 1M at peak")]
    view = terminal.fitted("t", columns, [["a long name that can wrap", ("0.1234", "0.1-0.2")]], 30)
    from io import StringIO

    from rich.console import Console

    console = Console(width=30, file=StringIO())
    console.print(view)
    text = console.file.getvalue()
    assert "…" not in text and "0.1234" in text and "(0.1-0.2)" in text

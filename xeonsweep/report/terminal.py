"""Tables laid out to fit the terminal's width, no figure cut.

A figure and its interval are one cell, `(figure, interval)`: on one line,
`150.0 (147.0-153.0)`, when every column fits the console's width that way; else the
interval goes under its figure. Figures never wrap or shrink (rich is told their width);
only text columns (names, reasons) wrap, at spaces.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass

Cell = str | tuple[str, str]
BORDER = 2  # the box below (a rule under the header only, padding collapsed): two spaces between columns
TEXT_ROOM = 16  # what a text column should keep at least before intervals go under their figures
TEXT_WIDE = 40  # what text columns may take before a header is widened to one line


@dataclass(frozen=True)
class Column:
    header: str
    text: bool = False  # names and reasons: left-aligned, may wrap; figures: right-aligned, never wrap


def console(width: int | None = None):
    """The terminal, or 200 columns when the output is not one (a file, a pipe): rows stay whole there."""
    from rich.console import Console

    return Console(width=width or (None if sys.stdout.isatty() else 200))


def joined(cell: Cell, stacked: bool) -> str:
    if isinstance(cell, str):
        return cell
    figure, interval = cell
    if interval in ("", "-"):
        return figure
    return f"{figure}{chr(10) if stacked else ' '}({interval})"


def column_width(column: Column, cells: list[str], whole_header: bool = False) -> int:
    """The width a figure column needs: its longest line, and its header's longest word (or all of it)."""
    lines = [line for cell in cells for line in cell.splitlines()] or [""]
    header = len(column.header) if whole_header else max(len(word) for word in column.header.split())
    return max(max(len(line) for line in lines), header)


def needed_width(columns: list[Column], rows: list[list[str]], text_room: int = TEXT_ROOM) -> int:
    """Figures whole, text columns up to `text_room` (they wrap beyond it)."""
    total = BORDER * len(columns)
    for i, column in enumerate(columns):
        need = column_width(column, [row[i] for row in rows])
        total += min(need, text_room) if column.text else need
    return total


def header_widths(columns: list[Column], cells: list[list[str]], room: int) -> list[int]:
    """Each figure column's width: its figures' and its header's longest word, widened to the whole
    header (on one line) while the spare `room` lasts, left to right."""
    widths = []
    for i, column in enumerate(columns):
        narrow = column_width(column, [row[i] for row in cells])
        whole = column_width(column, [row[i] for row in cells], whole_header=True)
        if not column.text and whole - narrow <= room:
            room -= whole - narrow
            narrow = whole
        widths.append(narrow)
    return widths


def fitted(title: str, columns: list[Column], rows: list[list[Cell]], width: int):
    """A rich Table of these rows, one line per row if that fits `width`, else intervals under figures;
    headers on one line where that fits too."""
    from rich import box
    from rich.table import Table

    stacked = needed_width(columns, [[joined(c, False) for c in row] for row in rows]) > width
    cells = [[joined(c, stacked) for c in row] for row in rows]
    widths = header_widths(columns, cells, width - needed_width(columns, cells, TEXT_WIDE))
    view = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, leading=int(stacked))
    for column, figure_width in zip(columns, widths):
        if column.text:
            view.add_column(column.header, justify="left", overflow="fold")
        else:  # the header broken into lines by hand: a no_wrap column would cut it
            header = textwrap.fill(column.header, figure_width, break_long_words=False)
            view.add_column(header, justify="right", no_wrap=True, min_width=figure_width)
    for row in cells:
        view.add_row(*row)
    return view

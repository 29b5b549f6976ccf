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
BORDER = 3  # rich's default box: a rule and a space either side, per column (and one more rule)
TEXT_ROOM = 16  # what a text column should keep at least before intervals go under their figures


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


def column_width(column: Column, cells: list[str]) -> int:
    """The width a figure column needs: its longest line, and its header's longest word (headers wrap)."""
    lines = [line for cell in cells for line in cell.splitlines()] or [""]
    return max(max(len(line) for line in lines), max(len(word) for word in column.header.split()))


def needed_width(columns: list[Column], rows: list[list[str]]) -> int:
    total = BORDER * len(columns) + 1
    for i, column in enumerate(columns):
        cells = [row[i] for row in rows]
        total += min(column_width(column, cells), TEXT_ROOM) if column.text else column_width(column, cells)
    return total


def fitted(title: str, columns: list[Column], rows: list[list[Cell]], width: int):
    """A rich Table of these rows, one line per row if that fits `width`, else intervals under figures."""
    from rich.table import Table

    stacked = needed_width(columns, [[joined(c, False) for c in row] for row in rows]) > width
    cells = [[joined(c, stacked) for c in row] for row in rows]
    view = Table(title=title)
    for i, column in enumerate(columns):
        if column.text:
            view.add_column(column.header, justify="left", overflow="fold")
        else:  # the header broken into lines by hand: a no_wrap column would cut it
            figure_width = column_width(column, [row[i] for row in cells])
            header = textwrap.fill(column.header, figure_width, break_long_words=False)
            view.add_column(header, justify="right", no_wrap=True, min_width=figure_width)
    for row in cells:
        view.add_row(*row)
    return view

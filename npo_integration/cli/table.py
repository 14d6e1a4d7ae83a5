"""Rows the operator commands print: aligned columns that fit the terminal, or tab-separated
lines when the output is piped (scripts and tests read those, one field per tab)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import click

GAP = "  "
MIN_COLUMN = 4
"""A column is never cut narrower than this (or its header)."""


def echo_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, header: bool = True
) -> None:
    """Print ``rows``; ``header=False`` continues a table printed page by page."""
    if not _is_terminal():
        for row in rows:
            click.echo("\t".join(_one_line(cell) for cell in row))  # a newline in a reason too
        return
    for line in format_table(headers, rows, width=_width(), header=header):
        click.echo(line)


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int, header: bool = True
) -> list[str]:
    """Lines of at most ``width`` characters: the widest columns are narrowed first, and a cell
    longer than its column ends in ``…``."""
    table = [[_one_line(cell) for cell in row] for row in ([headers] if header else []) + [*rows]]
    if not table:
        return []
    widths = [max(len(row[i]) for row in (*table, headers)) for i in range(len(headers))]
    floors = [max(MIN_COLUMN, len(h)) for h in headers]
    while sum(widths) + len(GAP) * (len(widths) - 1) > width:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floors[i])
        if widths[widest] <= floors[widest]:
            break  # as narrow as it goes: wider than the terminal, but never unreadable
        widths[widest] -= 1
    return [
        GAP.join(_fit(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def _one_line(cell: str) -> str:
    """A cell on one line: any run of whitespace (tab, newline) becomes one space."""
    return " ".join(cell.split())


def _fit(cell: str, width: int) -> str:
    return cell.ljust(width) if len(cell) <= width else cell[: width - 1] + "…"


def _is_terminal() -> bool:
    return click.get_text_stream("stdout").isatty()


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns

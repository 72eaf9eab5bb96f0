"""The six lines `make bench` prints on stdout (issue 14's "Benchmark lines"), as pure functions.

Each line has one fixed shape; `check` refuses a list that is not exactly those six lines in order,
so a benchmark can never print a seventh line or a malformed figure on stdout.
"""

from __future__ import annotations

import re

PATTERNS = (
    r"no-change cycle: \d+ statements",
    r"1% change cycle: \d+ statements",
    r"full-mode no-change cycle: \d+ source rows read",
    r"fan-out export: \d+ invocations, \d+ rows/s",
    r"copy export vs psql \\copy: \d+\.\d\dx",
    r"end-to-end vs dlt: initial \d+\.\d\dx, 1% change \d+\.\d\dx, no change \d+\.\d\dx",
)


def no_change_statements(count: int) -> str:
    return f"no-change cycle: {count} statements"


def change_statements(count: int) -> str:
    return f"1% change cycle: {count} statements"


def full_mode_rows(rows: int) -> str:
    return f"full-mode no-change cycle: {rows} source rows read"


def fan_out(invocations: int, rows_per_s: float) -> str:
    return f"fan-out export: {invocations} invocations, {rows_per_s:.0f} rows/s"


def copy_ratio(psql_s: float, export_s: float) -> str:
    """psql's time / the exporter's time for the same rows (> 1: the exporter is faster)."""
    return f"copy export vs psql \\copy: {psql_s / export_s:.2f}x"


def end_to_end(initial: float, change: float, no_change: float) -> str:
    """Each figure is dlt's time / ours for that step (>= 1: we are at least as fast)."""
    return f"end-to-end vs dlt: initial {initial:.2f}x, 1% change {change:.2f}x, no change {no_change:.2f}x"


def matches(index: int, line: str) -> bool:
    return re.fullmatch(PATTERNS[index], line) is not None


def check(lines: list[str]) -> list[str]:
    """`lines` when they are exactly the six benchmark lines in order; ValueError naming the first misfit."""
    if len(lines) != len(PATTERNS):
        raise ValueError(f"expected {len(PATTERNS)} benchmark lines, got {len(lines)}: {lines}")
    for index, line in enumerate(lines):
        if not matches(index, line):
            raise ValueError(f"benchmark line {index + 1} does not match {PATTERNS[index]!r}: {line!r}")
    return lines

"""Watermark values: which column types may carry one, and how two values compare.

Values travel as PostgreSQL's text form (the exporter's session runs with TimeZone UTC and
DateStyle ISO), so they are exact and bindable back into PostgreSQL unchanged.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_contract.errors import ContractError
from sync_contract.types import Kind, map_type

# how far below `low` an export also reads (late commits): a number for integer and numeric
# watermarks, an interval for timestamps
LOOKBACK = re.compile(r"^(\d{1,12}|\d{1,6} (second|minute|hour|day)s?)$")

# `timestamp(3) with time zone` -> 3; no modifier: 6, PostgreSQL's default ("Date/Time Types")
_TIMESTAMP_PRECISION = re.compile(r"^timestamp\((\d)\)")

# not DATE: rows changed later on the day of the window's high bound would fall below the next window
WATERMARK_KINDS = (Kind.INTEGER, Kind.NUMBER, Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ)
# the watermarks that carry a time, which the late-row guard can bound
TIME_KINDS = (Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ)


def watermark_kind(pg_type: str, column: str) -> Kind:
    kind = map_type(pg_type, column).kind
    if kind not in WATERMARK_KINDS:
        raise ContractError(
            f"watermark column {column!r} has type {pg_type!r}; a watermark must be an integer, numeric or "
            "timestamp column that grows on every insert and update (e.g. updated_at); for a table without "
            'one use mode = "full"'
        )
    return kind


def timestamp_precision(pg_type: str) -> int:
    """Fractional digits of the seconds a timestamp column keeps (0-6); PostgreSQL rounds values to it."""
    match = _TIMESTAMP_PRECISION.match(pg_type.strip().lower())
    return int(match.group(1)) if match else 6


def sort_key(kind: Kind, value: str) -> Any:
    """A value that orders watermarks of one column correctly."""
    try:
        if kind in (Kind.INTEGER, Kind.NUMBER):
            return Decimal(value)
        if kind == Kind.DATE:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except (ValueError, InvalidOperation) as err:
        raise ContractError(f"watermark value {value!r} is not a valid {kind.value}") from err


def later(kind: Kind, a: str | None, b: str | None) -> str | None:
    """The later of two watermarks (None is the beginning of time)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if sort_key(kind, b) > sort_key(kind, a) else a


def is_after(kind: Kind, a: str | None, b: str | None) -> bool:
    """True when watermark `a` is strictly later than `b`."""
    if a is None:
        return False
    if b is None:
        return True
    return bool(sort_key(kind, a) > sort_key(kind, b))

"""The PostgreSQL -> Snowflake type mapping (DESIGN.md section 5), exact by default.

The exporter uses `Kind` to decide how a value is written to CSV; the procedures use it to decide the
target column type and how a staged string is converted. One table, both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sync_contract.errors import UnsupportedTypeError

MAX_NUMBER_PRECISION = 38
DEFAULT_UNBOUNDED_NUMERIC_SCALE = 18


class Kind(StrEnum):
    INTEGER = "integer"
    NUMBER = "number"
    FLOAT = "float"
    BOOLEAN = "boolean"
    TEXT = "text"
    UUID = "uuid"
    DATE = "date"
    TIMESTAMP_NTZ = "timestamp_ntz"
    TIMESTAMP_TZ = "timestamp_tz"
    TIME = "time"
    JSON = "json"
    ARRAY = "array"
    BINARY = "binary"
    TEXT_REPR = "text_repr"  # exported in PostgreSQL's text form, stored as VARCHAR (documented)
    MONEY = "money"  # exported as numeric text, stored as VARCHAR


@dataclass(frozen=True)
class TypeMapping:
    kind: Kind
    snowflake_type: str
    # for an unbounded numeric: the scale values must fit without rounding (checked before MERGE)
    unbounded_scale: int | None = None
    # for an array: the kind of its elements (how the exporter writes them, which checks apply)
    element: Kind | None = None
    # a `type_overrides` entry (sync_contract.type_overrides): the exact mapping's type it replaced
    override_of: str | None = None


_INTEGER = {"smallint", "integer", "int", "bigint", "int2", "int4", "int8"}
_FLOAT = {"real", "double precision", "float4", "float8"}
_TEXT = {"text", "character varying", "varchar", "character", "char", "bpchar", "name", "citext"}
_TEXT_REPR = {"interval", "inet", "cidr", "macaddr", "macaddr8", "time with time zone", "timetz"}
_NUMERIC = re.compile(r"^(?:numeric|decimal)(?:\((\d+)(?:,\s*(-?\d+))?\))?$")
_MODIFIER = re.compile(r"\(\d+(?:,\s*\d+)?\)")


def _strip_modifiers(pg_type: str) -> str:
    """`timestamp(3) with time zone` -> `timestamp with time zone`; `character varying(20)` -> ..."""
    return re.sub(r"\s+", " ", _MODIFIER.sub("", pg_type)).strip()


def map_type(
    pg_type: str, column: str = "?", *, unbounded_numeric_scale: int = DEFAULT_UNBOUNDED_NUMERIC_SCALE
) -> TypeMapping:
    """Map a PostgreSQL type as `format_type()` prints it (domains resolved, enums as `text`)."""
    raw = pg_type.strip().lower()
    if raw.endswith("[]"):
        element = map_type(raw.removesuffix("[]").removesuffix("[]"), column)  # the element type must be known
        return TypeMapping(Kind.ARRAY, "ARRAY", element=element.kind)
    if numeric := _NUMERIC.match(raw):
        return _map_numeric(numeric.group(1), numeric.group(2), column, unbounded_numeric_scale)
    base = _strip_modifiers(raw)
    simple = {
        "boolean": TypeMapping(Kind.BOOLEAN, "BOOLEAN"),
        "bool": TypeMapping(Kind.BOOLEAN, "BOOLEAN"),
        "uuid": TypeMapping(Kind.UUID, "VARCHAR(36)"),
        "date": TypeMapping(Kind.DATE, "DATE"),
        "timestamp": TypeMapping(Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        "timestamp without time zone": TypeMapping(Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ(6)"),
        "timestamp with time zone": TypeMapping(Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"),
        "timestamptz": TypeMapping(Kind.TIMESTAMP_TZ, "TIMESTAMP_TZ(6)"),
        "time": TypeMapping(Kind.TIME, "TIME(6)"),
        "time without time zone": TypeMapping(Kind.TIME, "TIME(6)"),
        "json": TypeMapping(Kind.JSON, "VARIANT"),
        "jsonb": TypeMapping(Kind.JSON, "VARIANT"),
        "bytea": TypeMapping(Kind.BINARY, "BINARY"),
        "money": TypeMapping(Kind.MONEY, "VARCHAR"),
    }
    if base in simple:
        return simple[base]
    if base in _INTEGER:
        return TypeMapping(Kind.INTEGER, "NUMBER(38,0)")
    if base in _FLOAT:
        return TypeMapping(Kind.FLOAT, "FLOAT")
    if base in _TEXT:
        return TypeMapping(Kind.TEXT, "VARCHAR")
    if base in _TEXT_REPR:
        return TypeMapping(Kind.TEXT_REPR, "VARCHAR")
    raise UnsupportedTypeError(
        f"column {column!r} has PostgreSQL type {pg_type!r}, which has no exact Snowflake mapping; "
        "cast it to a supported type in a view and replicate the view, or leave the column out "
        "(supported: see docs/ARCHITECTURE.md, type mapping)"
    )


def _map_numeric(precision: str | None, scale: str | None, column: str, unbounded_scale: int) -> TypeMapping:
    if precision is None:
        if not 0 <= unbounded_scale <= MAX_NUMBER_PRECISION:
            raise UnsupportedTypeError(
                f"column {column!r}: numeric scale {unbounded_scale} is outside 0..{MAX_NUMBER_PRECISION}"
            )
        return TypeMapping(Kind.NUMBER, f"NUMBER({MAX_NUMBER_PRECISION},{unbounded_scale})", unbounded_scale)
    p, s = int(precision), int(scale or 0)
    if p > MAX_NUMBER_PRECISION:
        raise UnsupportedTypeError(
            f"column {column!r} is numeric({p},{s}), wider than Snowflake's {MAX_NUMBER_PRECISION} digits; "
            f"declare it numeric(38,{min(s, 38)}) or unbounded numeric in a view, or leave the column out"
        )
    if s < 0:
        raise UnsupportedTypeError(f"column {column!r} is numeric({p},{s}): negative scales are not supported")
    return TypeMapping(Kind.NUMBER, f"NUMBER({p},{s})")


# --------------------------------------------------------------------------- schema drift

SAME, FITS, WIDEN, INCOMPATIBLE = "same", "fits", "widen", "incompatible"
_NUMBER = re.compile(r"^NUMBER\((\d+),(\d+)\)$")
_VARCHAR = re.compile(r"^VARCHAR(?:\((\d+)\))?$")


def classify_change(old: str, new: str) -> str:
    """How a column's Snowflake type changes between two exports of a table.

    SAME: nothing to do. FITS: every value of the new type fits the existing column exactly (e.g.
    bigint -> integer, numeric(12,2) -> numeric(10,2)). WIDEN: the column must grow first (more
    precision at the same scale, a longer or unbounded VARCHAR). INCOMPATIBLE: values would change
    (another scale, another kind): the load must stop.
    """
    if old == new:
        return SAME
    old_num, new_num = _NUMBER.match(old), _NUMBER.match(new)
    if old_num and new_num:
        (p, s), (p2, s2) = (int(old_num[1]), int(old_num[2])), (int(new_num[1]), int(new_num[2]))
        if s2 <= s and p2 - s2 <= p - s:
            return FITS
        return WIDEN if s2 == s and p2 > p else INCOMPATIBLE
    old_text, new_text = _VARCHAR.match(old), _VARCHAR.match(new)
    if old_text and new_text:
        old_len = int(old_text[1]) if old_text[1] else None
        new_len = int(new_text[1]) if new_text[1] else None
        if old_len is None or (new_len is not None and new_len <= old_len):
            return FITS
        return WIDEN
    return INCOMPATIBLE

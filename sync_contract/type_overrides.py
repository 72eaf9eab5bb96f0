"""`type_overrides`: a target column's Snowflake type chosen by the user instead of the exact mapping
(docs/CUSTOMIZATION.md, "Type overrides"). One pure rule, shared by configuration and the load.

`resolve(pg_type, mapping, override, column)` gives the overridden TypeMapping and, when the override
cannot hold every value of the source type, why (`Override.lossy`); it raises OverrideRefused for a
type it does not accept, or one of another family than the column's (text as a NUMBER, …).

Rules, from Snowflake's type pages:
- NUMBER(p,s) holds a value whose integer part has at most p - s digits and whose fraction has at most
  s digits; a wider value is refused and a longer fraction is rounded ("Numeric data types",
  https://docs.snowflake.com/en/sql-reference/data-types-numeric: "you can't load a value into a NUMBER
  column if the number of digits to the left of the decimal point exceeds the precision of the column
  minus its scale"; INT, INTEGER, BIGINT… are NUMBER(38,0)). So numeric(p,s) -> NUMBER(p2,s2) is
  lossless when s2 >= s and p2 - s2 >= p - s; smallint / integer / bigint need 5 / 10 / 19 integer
  digits.
- FLOAT is a double (about 15 significant digits, same page): integer and smallint fit exactly (below
  2^53), bigint and numeric may not; a float never fits a NUMBER losslessly (NaN, ±Infinity, exponents).
- VARCHAR(n) holds n characters, VARCHAR without a length 16,777,216 ("String & binary data types",
  https://docs.snowflake.com/en/sql-reference/data-types-text): lossless from varchar(m) / char(m) when
  n >= m, from uuid when n >= 36, from unbounded text only at the maximum length.
- TIMESTAMP_NTZ(p) / TIMESTAMP_TZ(p) / TIMESTAMP_LTZ(p) / TIME(p) keep p fractional digits (0..9) ("Date
  & time data types", https://docs.snowflake.com/en/sql-reference/data-types-datetime); PostgreSQL keeps
  at most 6. A timestamptz as TIMESTAMP_NTZ keeps the wall-clock time and drops the offset (which
  instant it was is lost); as TIMESTAMP_LTZ it keeps the instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sync_contract.errors import ContractError
from sync_contract.types import MAX_NUMBER_PRECISION, Kind, TypeMapping

VARCHAR_MAX = 16_777_216
_PG_PRECISION = 6  # PostgreSQL's timestamps and times keep microseconds
_INT_DIGITS = {"smallint": 5, "int2": 5, "integer": 10, "int": 10, "int4": 10, "bigint": 19, "int8": 19}
_NUMBER = re.compile(r"^(?:NUMBER|DECIMAL|DEC|NUMERIC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
_INTEGERS = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"}
_FLOATS = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"}
_VARCHAR = re.compile(r"^(?:VARCHAR|STRING|TEXT|CHARACTER VARYING|NVARCHAR)\s*(?:\(\s*(\d+)\s*\))?$")
_TEMPORAL = re.compile(r"^(TIMESTAMP_NTZ|TIMESTAMP_TZ|TIMESTAMP_LTZ|DATETIME|TIME)\s*(?:\(\s*(\d)\s*\))?$")
_PG_LENGTH = re.compile(r"^(?:character varying|varchar|character|char|bpchar)\s*\((\d+)\)$")
_PG_PRECISION_MOD = re.compile(r"^(?:timestamp|time)\s*\((\d)\)")
ACCEPTED = (
    "NUMBER(p,s) (DECIMAL, NUMERIC, INT…), FLOAT, VARCHAR(n), TIMESTAMP_NTZ(p), TIMESTAMP_TZ(p), "
    "TIMESTAMP_LTZ(p), TIME(p)"
)


class OverrideRefused(ContractError):
    """An override that is not a type, or not one the column's values convert to."""


@dataclass(frozen=True)
class Override:
    mapping: TypeMapping  # the target column's type (`override_of`: the exact mapping's type)
    lossy: str | None  # why some source value would not fit, None when every value fits


def canonical(text: str) -> str:
    """The Snowflake type `text` names, as INFORMATION_SCHEMA spells it (`number(20, 4)` -> NUMBER(20,4),
    STRING -> VARCHAR, DATETIME -> TIMESTAMP_NTZ(9)). Raises OverrideRefused for anything else."""
    t = re.sub(r"\s+", " ", text.strip().upper())
    if m := _NUMBER.match(t):
        p, s = int(m[1] or MAX_NUMBER_PRECISION), int(m[2] or 0)
        if not 1 <= p <= MAX_NUMBER_PRECISION or s > min(p, 37):
            raise OverrideRefused(f"{text!r}: NUMBER takes a precision 1..38 and a scale 0..min(precision, 37)")
        return f"NUMBER({p},{s})"
    if t in _INTEGERS:
        return f"NUMBER({MAX_NUMBER_PRECISION},0)"
    if t in _FLOATS:
        return "FLOAT"
    if m := _VARCHAR.match(t):
        n = int(m[1] or VARCHAR_MAX)
        if not 1 <= n <= VARCHAR_MAX:
            raise OverrideRefused(f"{text!r}: a VARCHAR holds 1..{VARCHAR_MAX} characters")
        return f"VARCHAR({n})"
    if m := _TEMPORAL.match(t):
        family = "TIMESTAMP_NTZ" if m[1] == "DATETIME" else m[1]
        return f"{family}({int(m[2]) if m[2] else 9})"
    raise OverrideRefused(f"{text!r} is not a type an override accepts ({ACCEPTED})")


def _numbers(t: str) -> tuple[int, int] | None:
    m = re.match(r"^NUMBER\((\d+),(\d+)\)$", t)
    return (int(m[1]), int(m[2])) if m else None


def _precision(t: str) -> int:
    return int(t[t.index("(") + 1 : -1])


def resolve(pg_type: str, mapping: TypeMapping, override: str, column: str) -> Override:
    """The column's mapping with `override` as its Snowflake type, and whether it can lose values.

    `pg_type`: the column's PostgreSQL type as the manifest lists it (its modifiers give lengths and
    precisions); `mapping`: its exact mapping (sync_contract.types.map_type)."""
    target = canonical(override)
    kind, base = mapping.kind, pg_type.strip().lower()
    lossy: str | None = None
    out = replace(mapping, snowflake_type=target, override_of=mapping.snowflake_type)
    number, family = _numbers(target), target.split("(")[0]
    if kind in (Kind.INTEGER, Kind.NUMBER) and (number or target == "FLOAT"):
        if kind == Kind.INTEGER:
            digits, scale = _INT_DIGITS.get(base, 19), 0
        else:
            src = _numbers(mapping.snowflake_type)
            assert src is not None
            digits, scale = src[0] - src[1], src[1]
        if number and (number[1] < scale or number[0] - number[1] < digits):
            lossy = (
                f"{pg_type} values have up to {digits} integer and {scale} fractional digits; {target} holds "
                f"{number[0] - number[1]} and {number[1]}"
            )
        if target == "FLOAT" and (kind == Kind.NUMBER or digits > 15):
            lossy = f"{pg_type} values can have more significant digits than a FLOAT keeps (about 15)"
        return Override(out, lossy)
    if kind == Kind.FLOAT and (number or target == "FLOAT"):
        if number:
            lossy = f"{pg_type} values include NaN, ±Infinity and numbers {target} cannot hold exactly"
        return Override(out, lossy)
    if kind in (Kind.TEXT, Kind.UUID, Kind.TEXT_REPR, Kind.MONEY) and family == "VARCHAR":
        length = _precision(target)
        m = _PG_LENGTH.match(base)
        longest = 36 if kind == Kind.UUID else int(m[1]) if m and kind == Kind.TEXT else None
        if length < (longest or VARCHAR_MAX):
            lossy = f"{pg_type} values can be longer than {length} characters"
        return Override(out, lossy)
    temporal = {
        Kind.TIMESTAMP_NTZ: ("TIMESTAMP_NTZ",),
        Kind.TIMESTAMP_TZ: ("TIMESTAMP_TZ", "TIMESTAMP_LTZ", "TIMESTAMP_NTZ"),
        Kind.TIME: ("TIME",),
    }
    if family in temporal.get(kind, ()):
        m = _PG_PRECISION_MOD.match(base)
        digits = int(m[1]) if m else _PG_PRECISION
        if _precision(target) < digits:
            lossy = f"{pg_type} values have up to {digits} fractional digits of a second; {target} keeps fewer"
        if kind == Kind.TIMESTAMP_TZ and family == "TIMESTAMP_NTZ":
            lossy = f"{pg_type} values as {target} keep their wall-clock time and lose their offset"
        return Override(out, lossy)
    raise OverrideRefused(
        f"column {column!r} ({pg_type}, loaded as {mapping.snowflake_type}) cannot be loaded as {target}: an "
        "override changes precision, scale or length within a type family (numbers, text, timestamps, "
        "times); to load it as another kind of type, replicate a view that casts it in PostgreSQL"
    )

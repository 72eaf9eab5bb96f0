"""Text -> DATE / TIME / TIMESTAMP conversions with an explicit format, never the account's.

A conversion of a string without a format (CAST, TRY_CAST, TO_TIMESTAMP_NTZ(x), an implicit one)
reads it with the DATE_INPUT_FORMAT / TIME_INPUT_FORMAT / TIMESTAMP_INPUT_FORMAT parameters
("Date and time input and output formats"): a consumer's account may set them to anything other than
AUTO, and an owner's-rights procedure cannot ALTER SESSION to undo that. So every conversion of
staged or bound text the product sends gives the format the text was written in
("Date and time formats in conversion functions"; "TO_DATE", "TO_TIME", "TO_TIMESTAMP / TO_TIMESTAMP_*").

The text is PostgreSQL's output with DateStyle ISO and TimeZone UTC (lambda_exporter/query.py):
`2024-01-02`, `03:04:05` or `03:04:05.123456` (a zero fraction is left out), `2024-01-02 03:04:05.5`,
and for timestamptz `2024-01-02 03:04:05+00:00` in exported rows (the exporter appends `:00`) but
`…+00` in a window bound (`max(col)::text`). A missing fraction gets `.0` and an hours-only offset
`:00` before conversion, so the format need not be lenient about either. Text in no such layout
(±infinity, BC, a year past 9999) does not convert: it is set aside beforehand
(stored_procs/loading/quarantine.py), and the TRY_ forms give NULL for it.
"""

from __future__ import annotations

from sync_contract.types import Kind, TypeMapping

FORMATS: dict[Kind, str] = {
    Kind.DATE: "YYYY-MM-DD",
    Kind.TIME: "HH24:MI:SS.FF9",
    Kind.TIMESTAMP_NTZ: "YYYY-MM-DD HH24:MI:SS.FF9",
    Kind.TIMESTAMP_TZ: "YYYY-MM-DD HH24:MI:SS.FF9TZH:TZM",
}
_FUNCTIONS = {
    Kind.DATE: "TO_DATE",
    Kind.TIME: "TO_TIME",
    Kind.TIMESTAMP_NTZ: "TO_TIMESTAMP_NTZ",
    Kind.TIMESTAMP_TZ: "TO_TIMESTAMP_TZ",
}
# the control tables' column types (stored_procs/control_tables.py CONTROL_TABLES) by name
_KINDS_BY_TYPE = {
    "DATE": Kind.DATE,
    "TIME": Kind.TIME,
    "TIMESTAMP_NTZ": Kind.TIMESTAMP_NTZ,
    "TIMESTAMP_TZ": Kind.TIMESTAMP_TZ,
}

# seconds without a fraction, then an optional offset: `\1.0\2` adds the fraction (no `?` in the
# pattern: a bind marker to some clients)
_NO_FRACTION = "^([^.]*[0-9]{2}:[0-9]{2}:[0-9]{2})([+-][0-9:]*){0,1}$"
# an offset of hours only (`+00`): `\1:00` adds its minutes
_HOURS_ONLY_OFFSET = "([+-][0-9]{2})$"
# a backreference's backslash as CHR(92): no backslash in SQL text, which the engines unescape differently
_BACKREF = "CHR(92)"


def is_temporal(mapping: TypeMapping) -> bool:
    return mapping.kind in FORMATS


def kind_of(sql_type: str) -> Kind | None:
    """The temporal kind of a control table's column type (`TIMESTAMP_NTZ`), None for other types."""
    return _KINDS_BY_TYPE.get(sql_type.upper())


def from_text(text: str, mapping: TypeMapping, *, safe: bool = False) -> str:
    """SQL converting the VARCHAR expression `text` (a column, or one `?` bind: it appears once) to the
    mapping's DATE / TIME / TIMESTAMP type with its explicit format; `safe`: NULL where it cannot (TRY_).

    Raises KeyError for a mapping that is not temporal (see `is_temporal`)."""
    kind = mapping.kind
    value = text
    if kind != Kind.DATE:
        value = f"REGEXP_REPLACE({value}, '{_NO_FRACTION}', {_BACKREF} || '1.0' || {_BACKREF} || '2')"
    if kind == Kind.TIMESTAMP_TZ:
        value = f"REGEXP_REPLACE({value}, '{_HOURS_ONLY_OFFSET}', {_BACKREF} || '1:00')"
    call = f"{'TRY_' if safe else ''}{_FUNCTIONS[kind]}({value}, '{FORMATS[kind]}')"
    # TO_TIME / TO_TIMESTAMP_* give 9 fractional digits: back to the column's own precision
    return call if kind == Kind.DATE else f"CAST({call} AS {mapping.snowflake_type})"


def timestamp_ntz(text: str = "?") -> str:
    """`text` (by default one bind, e.g. stored_procs.ledger.now()) as a TIMESTAMP_NTZ."""
    return from_text(text, TypeMapping(Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ"))

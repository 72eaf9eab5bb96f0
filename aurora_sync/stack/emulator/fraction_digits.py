"""Timestamps far from 1970 converted with a format of nanoseconds (see the package docstring).

The product converts staged text with `FF9` (stored_procs/datetime_text.py): up to nine fractional
digits, as Snowflake reads them ("SQL format models", FF[0-9]). sqlglot turns FF9 into DuckDB's `%n`,
which yields a nanosecond TIMESTAMP_NS, and that type ends at 1677-09-21 and 2262-04-11: STRPTIME of
`1500-03-01 12:00:00.5` fails and TRY_STRPTIME gives NULL, where Snowflake's TIMESTAMP holds years 1 to
9999 ("Date & time data types", https://docs.snowflake.com/en/sql-reference/data-types-datetime). The
emulator reads such fractions with `%f` instead (microseconds, up to six digits: the most PostgreSQL
writes), so the whole range converts as on Snowflake.
"""

from __future__ import annotations

from typing import Any

_NANOSECONDS = "%f_nine"  # sqlglot's internal name for FF9, generated as DuckDB's %n


def patch(duck_conn: Any = None) -> None:
    from fakesnow import cursor
    from sqlglot import exp

    original = cursor.FakeSnowflakeCursor._transform

    def microseconds(node: exp.Expr) -> exp.Expr:
        fmt = node.args.get("format") if isinstance(node, exp.StrToTime) else None
        if isinstance(fmt, exp.Literal) and fmt.is_string and _NANOSECONDS in fmt.this:
            node.set("format", exp.Literal.string(fmt.this.replace(_NANOSECONDS, "%f")))
        return node

    def transform(self: Any, expression: Any, params: Any) -> Any:
        return original(self, expression, params).transform(microseconds, copy=False)

    cursor.FakeSnowflakeCursor._transform = transform  # type: ignore[method-assign]

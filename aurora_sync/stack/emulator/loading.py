"""Loading: the CSV reader behind COPY INTO, and COPY's errors (see the package docstring)."""

from __future__ import annotations

from typing import Any


def patch_csv_reader(duck_conn: Any = None) -> None:
    """Read staged CSV as Snowflake does: `""` is an empty string, text is loaded verbatim as VARCHAR.

    https://docs.snowflake.com/en/sql-reference/sql/create-file-format (EMPTY_FIELD_AS_NULL,
    FIELD_OPTIONALLY_ENCLOSED_BY).
    """
    from fakesnow import copy_into
    from sqlglot import exp

    original = copy_into.ReadCSV.read_expression

    def read_expression(self: Any, url: str) -> exp.Expr:
        expr = original(self, url)
        expr.append("expressions", copy_into.FileTypeHandler.make_eq("allow_quoted_nulls", False))
        expr.append("expressions", copy_into.FileTypeHandler.make_eq("all_varchar", True))
        # DuckDB stops at 2 MB lines; Snowflake's fields go to 128 MB
        expr.append("expressions", copy_into.FileTypeHandler.make_eq("max_line_size", 200_000_000))
        return expr

    copy_into.ReadCSV.read_expression = read_expression  # type: ignore[method-assign]


def patch_copy_errors(duck_conn: Any = None) -> None:
    """A COPY of a missing or unreadable file is a SQL error naming the file, not an HTTP 500."""
    import duckdb
    import snowflake.connector
    from fakesnow import copy_into, cursor

    original = copy_into.copy_into

    def copy_into_with_sql_errors(*args: Any, **kwargs: Any) -> str:
        try:
            return original(*args, **kwargs)
        except (duckdb.IOException, duckdb.InvalidInputException) as err:
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"COPY could not read a file: {err.args[0] if err.args else err}", errno=100038, sqlstate="22000"
            ) from None

    cursor.copy_into = copy_into_with_sql_errors  # type: ignore[attr-defined]

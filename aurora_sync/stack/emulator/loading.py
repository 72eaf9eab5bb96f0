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


def patch_copy_transform(duck_conn: Any = None) -> None:
    """COPY of JSON with a transformation, `COPY INTO t (a, b) FROM (SELECT $1, METADATA$FILENAME FROM
    @stage/path)`: fakesnow passes `$1` and METADATA$FILENAME to DuckDB as they are (a bind and an unknown
    column). Snowflake gives `$1` as the file's JSON value and METADATA$FILENAME as the staged file's path
    ("Querying metadata for staged files", https://docs.snowflake.com/en/user-guide/querying-metadata;
    "Transforming data during a load"): here the value DuckDB's read_json_objects reads and the S3 key.
    The stage in the transformation's FROM (`@"DB"."SCHEMA"."STAGE"/path`) is no table: the emulator
    took it for an unqualified one and refused the COPY in a session without a current schema.
    """
    from urllib.parse import urlparse

    from fakesnow import checks, copy_into
    from sqlglot import exp

    relevant_tables = checks._relevant_tables

    def tables_but_stages(expression: exp.Expr) -> list[exp.Table]:
        return [
            t for t in relevant_tables(expression) if not (isinstance(t.this, exp.Var) and t.this.name.startswith("@"))
        ]

    checks._relevant_tables = tables_but_stages

    original = copy_into._inserts

    def inserts(expr: exp.Copy, params: Any, urls: list[str], *args: Any, **kwargs: Any) -> list[exp.Expr]:
        source = expr.args["files"][0]
        if not (isinstance(source, exp.Subquery) and isinstance(params.file_format, copy_into.ReadJSON)):
            return original(expr, params, urls, *args, **kwargs)
        made: list[exp.Expr] = []
        for url in urls:
            select = source.this.copy()
            for node in list(select.find_all(exp.Parameter)):
                if node.this.name == "1":
                    node.replace(exp.column("json"))
            for column in list(select.find_all(exp.Column)):
                if column.name.upper() == "METADATA$FILENAME":
                    column.replace(exp.Literal.string(urlparse(url).path.lstrip("/")))
            read = exp.Table(this=params.file_format.read_expression(url))
            query = exp.Select(expressions=select.expressions).from_(read)
            made.append(exp.Insert(this=expr.this, expression=query, by_name=False))
        return made

    copy_into._inserts = inserts

"""Entry point of the fakesnow server process of the embedded stack.

Six emulator workarounds live here, and only here (DESIGN.md section 7):
- DuckDB reads `s3://` through an s3fs filesystem pointed at the stack's S3 endpoint;
- DuckDB's CSV reader treats a quoted empty field as NULL and sniffs column types, where Snowflake
  loads `""` as an empty string and loads text verbatim into VARCHAR columns. We ask DuckDB to do
  the same (`allow_quoted_nulls=false`, `all_varchar=true`), and to read lines longer than 2 MB;
- a COPY of a missing or unreadable file (a truncated gzip stream) makes the emulator answer HTTP 500,
  which the connector retries for its whole network timeout; Snowflake answers with a SQL error
  naming the file. We turn the emulator's exception into such an error;
- DuckDB has no `ALTER TABLE a SWAP WITH b` (how a shadow table replaces a target atomically). The
  emulator runs it as three renames; Snowflake runs it as one atomic statement;
- the emulator drops the characters of `RTRIM(x, '0')` (and of LTRIM and TRIM) when it adds the
  implicit VARCHAR cast: `RTRIM(x, '0')` became `TRIM(x)`. We keep them;
- the emulator records VARCHAR lengths and table comments with the names spliced into its own SQL
  unescaped, so `CREATE TABLE` of a name holding a `'` failed (HTTP 500). We escape them.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any


def _patch_csv_reader() -> None:
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


def _patch_copy_errors() -> None:
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


def _patch_swap_with() -> None:
    from fakesnow import cursor
    from sqlglot import exp

    original = cursor.FakeSnowflakeCursor._transform_explode

    def rename(table: exp.Table, new_name: exp.Identifier) -> exp.Alter:
        return exp.Alter(this=table.copy(), kind="TABLE", actions=[exp.AlterRename(this=exp.Table(this=new_name))])

    def transform_explode(self: Any, expression: exp.Expr) -> Any:
        swap = expression.find(exp.SwapTable) if isinstance(expression, exp.Alter) else None
        if swap is None:
            return original(self, expression)
        first, second = expression.this, swap.this
        parked = exp.to_identifier(f"{first.name}__SWAPPING", quoted=True)
        parked_table = exp.Table(this=parked, db=first.args.get("db"), catalog=first.args.get("catalog"))
        return [rename(first, parked), rename(second, first.this.copy()), rename(parked_table, second.this.copy())]

    cursor.FakeSnowflakeCursor._transform_explode = transform_explode  # type: ignore[method-assign]


def _patch_trim_characters() -> None:
    from fakesnow import transforms
    from sqlglot import exp

    def trim_cast_varchar(expression: exp.Expr) -> exp.Expr:
        if not isinstance(expression, exp.Trim):
            return expression
        operand = expression.this
        if isinstance(operand, exp.Cast) and operand.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
            return expression
        trimmed = expression.copy()
        trimmed.set("this", exp.Cast(this=operand, to=exp.DataType(this=exp.DataType.Type.VARCHAR)))
        return trimmed

    transforms.trim_cast_varchar = trim_cast_varchar


def _patch_catalog_quoting() -> None:
    from fakesnow import info_schema

    def esc(name: Any) -> Any:
        return name.replace("'", "''") if isinstance(name, str) else name

    lengths_sql, comment_sql = info_schema.insert_text_lengths_sql, info_schema.insert_table_comment_sql

    def insert_text_lengths_sql(catalog: str, schema: str, table: str, text_lengths: list[tuple[str, int]]) -> str:
        lengths = [(esc(name), size) for name, size in text_lengths]
        return str(lengths_sql(esc(catalog), esc(schema), esc(table), lengths))

    def insert_table_comment_sql(catalog: str, schema: str, table: str, comment: str) -> str:
        return str(comment_sql(esc(catalog), esc(schema), esc(table), esc(comment)))

    info_schema.insert_text_lengths_sql = insert_text_lengths_sql
    info_schema.insert_table_comment_sql = insert_table_comment_sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    import importlib

    import s3fs
    import uvicorn

    server = importlib.import_module("fakesnow.server")  # the module, not fakesnow.server()

    filesystem = s3fs.S3FileSystem(
        endpoint_url=args.s3_endpoint, client_kwargs={"region_name": args.region}, use_listings_cache=False
    )
    server.shared_fs.duck_conn.register_filesystem(filesystem)
    _patch_csv_reader()
    _patch_copy_errors()
    _patch_swap_with()
    _patch_trim_characters()
    _patch_catalog_quoting()
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

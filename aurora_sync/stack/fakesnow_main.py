"""Entry point of the fakesnow server process of the embedded stack.

Ten emulator workarounds live here, and only here (DESIGN.md section 7):
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
  unescaped, so `CREATE TABLE` of a name holding a `'` failed (HTTP 500). We escape them;
- DuckDB's JSON keeps repeated object keys, where Snowflake's PARSE_JSON / TRY_PARSE_JSON refuse them
  unless given 'd' (https://docs.snowflake.com/en/sql-reference/functions/parse_json). We refuse them
  alike (an error, or NULL from TRY_PARSE_JSON);
- DuckDB's TIME holds 24:00:00 (read back by the connector as 00:00:00), where Snowflake's TIME ends at
  23:59:59.999999999 (https://docs.snowflake.com/en/sql-reference/data-types-datetime#time). A CAST to
  TIME of such a value fails and TRY_CAST gives NULL, as on Snowflake;
- the emulator's TYPEOF of a VARIANT says `JSON` and it has no AS_VARCHAR, where Snowflake names the
  stored type (OBJECT, ARRAY, VARCHAR, INTEGER, DECIMAL, DOUBLE, BOOLEAN, NULL_VALUE:
  https://docs.snowflake.com/en/sql-reference/functions/typeof) and AS_VARCHAR gives a string's
  characters or NULL (https://docs.snowflake.com/en/sql-reference/functions/as). We answer alike, a
  number being DOUBLE when its text has an exponent (as PARSE_JSON stores it) and DECIMAL otherwise;
- the emulator's FLATTEN reads an object member as `input -> key`, so the empty key "" gives the whole
  object again (a walk of the document never ends), and it turns a JSON null array element into SQL
  NULL, where Snowflake gives KEY '' with its value and a VARIANT null
  (https://docs.snowflake.com/en/sql-reference/functions/flatten). Our FLATTEN reads members and
  elements with DuckDB's json_each.
"""

from __future__ import annotations

import argparse
import json
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


def _duplicate_keys(text: str | None) -> bool | None:
    """Whether the JSON text repeats a key in any object (False for text that is not JSON)."""
    if text is None:
        return None
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({k for k, _ in items}) != len(items)
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=pairs)
    except ValueError:
        return False
    return found


def _patch_strict_values(duck_conn: Any) -> None:
    from fakesnow import transforms
    from sqlglot import exp
    from sqlglot.helper import seq_get
    from sqlglot.parsers.snowflake import SnowflakeParser

    # sqlglot drops TRY_PARSE_JSON's 'd' parameter (PARSE_JSON's it keeps): keep it to honour it below
    SnowflakeParser.FUNCTIONS["TRY_PARSE_JSON"] = lambda args: exp.ParseJSON(
        this=seq_get(args, 0), expression=seq_get(args, 1), safe=True
    )
    duck_conn.create_function(
        "_AURORA_SYNC_DUPLICATE_KEYS", _duplicate_keys, ["VARCHAR"], "BOOLEAN", null_handling="special"
    )
    original = transforms.try_parse_json

    def repeats_a_key(value: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="_AURORA_SYNC_DUPLICATE_KEYS", expressions=[exp.cast(value.copy(), "VARCHAR")])

    def error(message: str) -> exp.Expr:
        return exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])

    def lenient(parameter: exp.Expr | None) -> bool:
        return parameter is not None and parameter.name.lower() == "d"

    def strict(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, exp.ParseJSON):
            value, safe = expression.this, bool(expression.args.get("safe"))
            parsed = exp.ParseJSON(this=value.copy(), safe=safe)
            if lenient(expression.args.get("expression")):
                return parsed
            refused = exp.null() if safe else error("Error parsing JSON: duplicate object attribute")
            return exp.case().when(repeats_a_key(value), refused).else_(parsed)
        if isinstance(expression, exp.Cast) and expression.to.is_type(exp.DataType.Type.TIME):
            text = exp.cast(expression.this.copy(), "VARCHAR")
            past = exp.EQ(
                this=exp.Left(this=text, expression=exp.Literal.number(3)), expression=exp.Literal.string("24:")
            )
            refused = exp.null() if isinstance(expression, exp.TryCast) else error("Time '24:00:00' is not recognized")
            return exp.case().when(past, refused).else_(expression.copy())
        return original(expression)

    transforms.try_parse_json = strict


def _patch_variant_types() -> None:
    from fakesnow import transforms
    from sqlglot import exp

    original = transforms.flatten

    def call(name: str, *args: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this=name, expressions=[a.copy() for a in args])

    def typeof(value: exp.Expr) -> exp.Expr:
        json_type = call("json_type", value)
        number = exp.case().when(
            call("regexp_matches", exp.cast(value.copy(), "VARCHAR"), exp.Literal.string("[eE]")),
            exp.Literal.string("DOUBLE"),
        )
        named = (
            exp.case(json_type)
            .when(exp.Literal.string("NULL"), exp.Literal.string("NULL_VALUE"))
            .when(exp.Literal.string("BIGINT"), exp.Literal.string("INTEGER"))
            .when(exp.Literal.string("UBIGINT"), exp.Literal.string("INTEGER"))
            .when(exp.Literal.string("DOUBLE"), number.else_(exp.Literal.string("DECIMAL")))
            .else_(json_type.copy())
        )
        duck_type = call("typeof", value)
        is_json = exp.EQ(this=duck_type, expression=exp.Literal.string("JSON"))
        return exp.case().when(is_json, named).else_(call("upper", duck_type))

    def types_only(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, exp.Typeof):
            return typeof(expression.this)
        if isinstance(expression, exp.Anonymous) and expression.name.upper() == "AS_VARCHAR":
            value = expression.expressions[0]
            is_text = exp.EQ(this=call("json_type", value), expression=exp.Literal.string("VARCHAR"))
            return exp.case().when(is_text, call("json_extract_string", value, exp.Literal.string("$")))
        return expression

    def variant_types(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, (exp.Lateral, exp.TableFromRows)):  # FLATTEN's input: its node is replaced
            expression = expression.transform(types_only)
        return original(types_only(expression))

    transforms.flatten = variant_types


# FLATTEN of one object or array: KEY for a member, INDEX for an element, in document order; a scalar
# or NULL input gives no rows (the columns are those of fakesnow's own macro)
_FLATTEN_MACRO = """
CREATE OR REPLACE MACRO ${catalog}._fs_flatten(input) AS TABLE
    SELECT
        hash(TO_JSON(input))::UBIGINT AS SEQ,
        CASE WHEN json_type(TO_JSON(input)) = 'OBJECT' THEN e.key END AS KEY,
        CASE WHEN json_type(TO_JSON(input)) = 'OBJECT' THEN e.key ELSE '[' || e.key || ']' END AS PATH,
        CASE WHEN json_type(TO_JSON(input)) = 'ARRAY' THEN e.key::BIGINT END AS INDEX,
        e.value AS VALUE,
        TO_JSON(input) AS THIS
    FROM json_each(TO_JSON(input)) AS e
    WHERE json_type(TO_JSON(input)) IN ('OBJECT', 'ARRAY')
    ORDER BY e.id
"""


def _patch_flatten() -> None:
    from string import Template

    from fakesnow import macros

    macros.FS_FLATTEN = Template(_FLATTEN_MACRO)


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
    _patch_strict_values(server.shared_fs.duck_conn)
    _patch_variant_types()
    _patch_flatten()
    logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
    uvicorn.run(server.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

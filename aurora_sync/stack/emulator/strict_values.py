"""Strict values: PARSE_JSON's duplicate keys and TIME's 24:00 (see the package docstring)."""

from __future__ import annotations

import json
from typing import Any


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


def patch(duck_conn: Any) -> None:
    """PARSE_JSON refuses repeated keys (https://docs.snowflake.com/en/sql-reference/functions/parse_json);
    TIME refuses 24:00 (https://docs.snowflake.com/en/sql-reference/data-types-datetime#time)."""
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

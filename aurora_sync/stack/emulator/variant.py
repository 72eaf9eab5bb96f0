"""VARIANT: TYPEOF, AS_VARCHAR and FLATTEN as Snowflake answers them (see the package docstring)."""

from __future__ import annotations

from typing import Any


def patch_variant_types(duck_conn: Any = None) -> None:
    """TYPEOF names the stored type (https://docs.snowflake.com/en/sql-reference/functions/typeof);
    AS_VARCHAR (https://docs.snowflake.com/en/sql-reference/functions/as)."""
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


def patch_flatten(duck_conn: Any = None) -> None:
    """FLATTEN by json_each (https://docs.snowflake.com/en/sql-reference/functions/flatten)."""
    from string import Template

    from fakesnow import macros

    macros.FS_FLATTEN = Template(_FLATTEN_MACRO)

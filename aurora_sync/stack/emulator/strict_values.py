"""Strict values: PARSE_JSON's duplicate keys and numbers, TIME's 24:00 (see the package docstring)."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

# NUMBER holds 38 digits, at most 37 of them after the point
# (https://docs.snowflake.com/en/sql-reference/data-types-numeric), as stored_procs/loading/semistructured.py
MAX_DIGITS, MAX_DECIMALS = 38, 37
# a JSON string (skipped whole) or a JSON number
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.([0-9]+))?([eE][+-]?[0-9]+)?')


def _as_double(token: str) -> str:
    """The JSON text of the DOUBLE nearest to the number `token`, always with an exponent. A number past
    DOUBLE's range (1e400) is left as written: what PARSE_JSON does with one is not documented (verify on
    a first deploy); the product sets such values aside before parsing them."""
    value = float(token)
    return token if math.isinf(value) else format(Decimal(repr(value)).normalize(), "e")


def _snowflake_number(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith('"'):
        return token
    decimals, exponent = match.group(1) or "", match.group(2)
    digits = token.lstrip("-").replace(".", "").lstrip("0")
    if exponent or len(digits) > MAX_DIGITS or len(decimals) > MAX_DECIMALS:
        return _as_double(token)
    return token


def snowflake_numbers(text: str) -> str:
    """The JSON `text` with each number PARSE_JSON would store as a DOUBLE written as that DOUBLE: a
    number with an exponent, or beyond NUMBER's 38 digits / 37 decimals
    (https://docs.snowflake.com/en/sql-reference/functions/parse_json, usage notes)."""
    return _TOKEN.sub(_snowflake_number, text)


def _duplicate_keys(text: str) -> bool:
    """Whether the JSON text repeats a key in any object (ValueError for text that is not JSON)."""
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({k for k, _ in items}) != len(items)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return found


class _Number(str):
    """A JSON number's text, written back as it was read."""


def _write(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_write(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v) for v in value) + "]"
    return json.dumps(value)


def _last_of_each_key(text: str) -> str:
    """The JSON `text` with each object keeping the last value of a repeated key, numbers verbatim."""
    return _write(json.loads(text, parse_int=_Number, parse_float=_Number, object_pairs_hook=dict))


def parse_json_text(text: str | None, mode: str) -> str | None:
    """What the emulator's PARSE_JSON(text) hands DuckDB's JSON(): `text` with numbers rounded as
    Snowflake stores them (`snowflake_numbers`), after Snowflake's refusals: a repeated key unless `mode`
    holds 'd' (https://docs.snowflake.com/en/sql-reference/functions/parse_json). `mode` holding 'try'
    (TRY_PARSE_JSON) gives NULL instead of an error, also for text that is
    not JSON; otherwise such text is handed on and JSON() refuses it. One function, so that the value
    (a bind parameter, say) appears once in the statement."""
    if text is None:
        return None
    safe = "try" in mode
    try:
        repeated = _duplicate_keys(text)
    except ValueError:
        return None if safe else text
    if repeated and "d" not in mode.replace("try", ""):
        if safe:
            return None
        raise ValueError("Error parsing JSON: duplicate object attribute")
    if repeated:  # 'd': "a single instance of this key with the last value specified for it"
        text = _last_of_each_key(text)
    return snowflake_numbers(text)


def patch(duck_conn: Any) -> None:
    """PARSE_JSON refuses repeated keys and rounds numbers as Snowflake stores them
    (https://docs.snowflake.com/en/sql-reference/functions/parse_json); TIME refuses 24:00
    (https://docs.snowflake.com/en/sql-reference/data-types-datetime#time)."""
    from fakesnow import transforms
    from sqlglot import exp
    from sqlglot.helper import seq_get
    from sqlglot.parsers.snowflake import SnowflakeParser

    # sqlglot drops TRY_PARSE_JSON's 'd' parameter (PARSE_JSON's it keeps): keep it to honour it below
    SnowflakeParser.FUNCTIONS["TRY_PARSE_JSON"] = lambda args: exp.ParseJSON(
        this=seq_get(args, 0), expression=seq_get(args, 1), safe=True
    )
    duck_conn.create_function(
        "_AURORA_SYNC_PARSE_JSON_TEXT", parse_json_text, ["VARCHAR", "VARCHAR"], "VARCHAR", null_handling="special"
    )
    original = transforms.try_parse_json

    def error(message: str) -> exp.Expr:
        return exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])

    def strict(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, exp.ParseJSON):
            parameter = expression.args.get("expression")
            mode = ("try" if expression.args.get("safe") else "") + (parameter.name.lower() if parameter else "s")
            text = exp.Anonymous(
                this="_AURORA_SYNC_PARSE_JSON_TEXT",
                expressions=[exp.cast(expression.this.copy(), "VARCHAR"), exp.Literal.string(mode)],
            )
            return exp.ParseJSON(this=text)
        if isinstance(expression, exp.Cast) and expression.to.is_type(exp.DataType.Type.TIME):
            time_text = exp.cast(expression.this.copy(), "VARCHAR")
            past = exp.EQ(
                this=exp.Left(this=time_text, expression=exp.Literal.number(3)), expression=exp.Literal.string("24:")
            )
            refused = exp.null() if isinstance(expression, exp.TryCast) else error("Time '24:00:00' is not recognized")
            return exp.case().when(past, refused).else_(expression.copy())
        return original(expression)

    transforms.try_parse_json = strict


def patch_errors(duck_conn: Any = None) -> None:
    """The refusals above come back as SQL errors, as Snowflake's do. DuckDB raises `error(...)` as an
    InvalidInputException, which fakesnow does not translate: the emulator answered HTTP 500 and the
    connector retried for its whole network timeout. Codes like Snowflake's (not documented; as real
    accounts show them): 100069 (22P02) "Error parsing JSON: …", 100035 (22007) for a value the type
    refuses; 100072 (22000) for a NULL into a NOT NULL column."""
    import duckdb
    import snowflake.connector
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor._execute

    def execute(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original(self, *args, **kwargs)
        except duckdb.InvalidInputException as err:
            message = str(err.args[0] if err.args else err).split("\n")[0].removeprefix("Invalid Input Error: ")
            message = message[message.find("Error parsing JSON") :] if "Error parsing JSON" in message else message
            json_error = message.startswith("Error parsing JSON")
            errno, sqlstate = (100069, "22P02") if json_error else (100035, "22007")
            raise snowflake.connector.errors.ProgrammingError(msg=message, errno=errno, sqlstate=sqlstate) from None
        except duckdb.ConstraintException as err:
            # NOT NULL is the constraint Snowflake enforces on a standard table (its others are not enforced:
            # https://docs.snowflake.com/en/sql-reference/constraints); the refusal is a SQL error, 100072
            # (22000) "NULL result in a non-nullable column" on real accounts, not the emulator's HTTP 500
            message = str(err.args[0] if err.args else err).split("\n")[0].removeprefix("Constraint Error: ")
            if "NOT NULL" not in message:
                raise
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"NULL result in a non-nullable column ({message})", errno=100072, sqlstate="22000"
            ) from None

    cursor.FakeSnowflakeCursor._execute = execute  # type: ignore[method-assign]

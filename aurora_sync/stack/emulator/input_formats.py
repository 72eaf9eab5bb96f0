"""The emulator as an account whose DATE_INPUT_FORMAT / TIME_INPUT_FORMAT / TIMESTAMP_INPUT_FORMAT are
not AUTO: text converted to a date, time or timestamp without a format is refused.

Snowflake reads a string converted without a format (CAST, TRY_CAST, `::`, TO_DATE / TO_TIME /
TO_TIMESTAMP_* with one argument) with those parameters ("Date and time input and output formats",
https://docs.snowflake.com/en/sql-reference/date-time-input-output); an account may set them to any
format, and an owner's-rights procedure cannot ALTER SESSION. DuckDB reads ISO text whatever the
setting, so a conversion that forgot its format would pass here and fail, or turn NULL, on such an
account. Here it fails, naming the fix: the product converts with an explicit format
(stored_procs/datetime_text.py).

Stricter than Snowflake on two points, both on the safe side: TRY_CAST of text fails instead of giving
NULL, and a column of text fails even when the table is empty. A conversion of a bind (`?`) is taken
as text (the product binds strings); one of an expression holding a bind among others is not checked
(its text would be repeated, and the binds with it).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

_TEMPORAL = {
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIME,
    exp.DataType.Type.DATETIME,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPNTZ,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.TIMESTAMPLTZ,
}
# one-argument forms sqlglot leaves as they are written
_FORMATLESS_CALLS = {
    f"{prefix}TO_TIMESTAMP{suffix}" for prefix in ("", "TRY_") for suffix in ("", "_NTZ", "_TZ", "_LTZ")
}
# operands that are no text: NULL, and conversions with a format (TO_TIMESTAMP_TZ(x, 'fmt') in a CAST to
# the column's precision); checking them would only add error(), which DuckDB refuses in a window's ORDER BY
_TYPED = (exp.Null, exp.StrToTime, exp.StrToDate, exp.TsOrDsToDate, exp.TsOrDsToTime)
MESSAGE = (
    "Date/time conversion of text without a format: this emulator behaves like an account whose "
    "DATE_INPUT_FORMAT / TIME_INPUT_FORMAT / TIMESTAMP_INPUT_FORMAT is not AUTO "
    "(https://docs.snowflake.com/en/sql-reference/date-time-input-output). Give the format, e.g. "
    "TO_TIMESTAMP_NTZ(x, 'YYYY-MM-DD HH24:MI:SS.FF9') (stored_procs/datetime_text.py)"
)
_CHECKED = "aurora_sync_input_format_checked"


def _error() -> exp.Expr:
    return exp.Anonymous(this="error", expressions=[exp.Literal.string(MESSAGE)])


def _guarded(operand: exp.Expr) -> exp.Expr | None:
    """The operand, failing at run time if it is text; None when it cannot be checked."""
    if isinstance(operand, exp.Placeholder):  # NULL converts to NULL without a format
        present = exp.Not(this=exp.Is(this=exp.cast(operand, "VARCHAR"), expression=exp.null()))
        return exp.case().when(present, _error())
    if isinstance(operand, exp.Literal) and operand.is_string:
        return _error()
    if isinstance(operand, _TYPED) or operand.find(exp.Placeholder) is not None:
        return None
    is_text = exp.EQ(
        this=exp.Anonymous(this="typeof", expressions=[operand.copy()]), expression=exp.Literal.string("VARCHAR")
    )
    return exp.case().when(is_text, _error()).else_(operand.copy())


def refuse_formatless(expression: exp.Expr) -> exp.Expr:
    """A conversion of text to a date/time type without a format, made to fail (see the module)."""
    if expression.meta.get(_CHECKED):
        return expression
    cast = isinstance(expression, exp.Cast) and expression.to.this in _TEMPORAL
    to_date_or_time = isinstance(expression, (exp.TsOrDsToDate, exp.TsOrDsToTime))
    if cast or (to_date_or_time and not expression.args.get("format")):
        slot, operand = "this", expression.this
    elif (
        isinstance(expression, exp.Anonymous)
        and expression.name.upper() in _FORMATLESS_CALLS
        and len(expression.expressions) == 1
    ):
        slot, operand = "expressions", expression.expressions[0]
    else:
        return expression
    guarded = _guarded(operand)
    if guarded is None:
        return expression
    checked = expression.copy()
    checked.set(slot, [guarded] if slot == "expressions" else guarded)
    checked.meta[_CHECKED] = True
    return checked


def patch(duck_conn: Any) -> None:
    """Run `refuse_formatless` on every statement, before fakesnow turns conversions into DuckDB's.

    fakesnow splits a MERGE into statements it writes out and parses again, and writing drops a
    default format (`TO_DATE(x, 'YYYY-MM-DD')` comes back as `CAST(x AS DATE)`): a MERGE is checked
    whole, before the split, and the conversions of its parts are not checked again."""
    del duck_conn
    from fakesnow import transforms

    original = transforms.sequence_nextval
    original_merge = transforms.merge

    def sequence_nextval(expression: exp.Expr) -> exp.Expr:
        return original(refuse_formatless(expression))

    def merge(merge_expr: exp.Expr) -> list[exp.Expr]:
        if not isinstance(merge_expr, exp.Merge):
            return original_merge(merge_expr)
        parts = original_merge(merge_expr.transform(refuse_formatless))
        for part in parts:
            for node in part.find_all(exp.Cast, exp.TsOrDsToDate, exp.TsOrDsToTime, exp.Anonymous):
                node.meta[_CHECKED] = True
        return parts

    transforms.sequence_nextval = sequence_nextval
    transforms.merge = merge

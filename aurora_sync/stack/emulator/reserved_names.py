"""Column names Snowflake refuses, even double-quoted (see the package docstring).

"Reserved & limited keywords" (https://docs.snowflake.com/en/sql-reference/reserved-keywords) marks
CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP, CURRENT_USER, LOCALTIME and LOCALTIMESTAMP "Cannot be used
as column name (reserved by ANSI)". Quoting does not help: `CREATE TABLE t ("CURRENT_DATE" TIMESTAMP)`
fails with "invalid column definition name 'CURRENT_DATE' (ANSI reserved)", while `"current_date"`
(another identifier: quoted names keep their case) is accepted (reported on real accounts:
github.com/airbytehq/airbyte issues 30190 and 76262). DuckDB takes all of them; the emulator now refuses
them in CREATE TABLE and ALTER TABLE … ADD COLUMN as Snowflake does.
"""

from __future__ import annotations

from typing import Any

# the page's list, kept apart from the product's (sync_contract.identifiers) so that a test catches a
# product list that misses one
RESERVED_COLUMN_NAMES = frozenset(
    ("CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "LOCALTIME", "LOCALTIMESTAMP")
)


def _refused(expression: Any) -> str | None:
    """The first column an ALTER TABLE … ADD COLUMN or CREATE TABLE (with a column list) would define
    under a reserved name, as Snowflake resolves it (unquoted upper-cased, quoted verbatim)."""
    from sqlglot import exp

    if isinstance(expression, exp.Create) and str(expression.args.get("kind", "")).upper() == "TABLE":
        definitions = list(expression.this.find_all(exp.ColumnDef)) if isinstance(expression.this, exp.Schema) else []
    elif isinstance(expression, exp.Alter):
        definitions = [a for a in expression.args.get("actions") or [] if isinstance(a, exp.ColumnDef)]
    else:
        return None
    for definition in definitions:
        ident = definition.this
        if isinstance(ident, exp.Identifier):
            name = ident.this if ident.quoted else ident.this.upper()
        else:  # unquoted, some parse as the function (best effort: the product quotes every name)
            name = ident.sql(dialect="snowflake").upper()
        if name in RESERVED_COLUMN_NAMES:
            return str(name)
    return None


def patch(duck_conn: Any = None) -> None:
    """Refuse reserved column names before the statement runs (fakesnow checks each parsed statement in
    `check_db_and_schema` first)."""
    import snowflake.connector
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor.check_db_and_schema

    def check(self: Any, expression: Any) -> None:
        if name := _refused(expression):
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"SQL compilation error:\ninvalid column definition name '{name}' (ANSI reserved)",
                errno=1003,  # Snowflake's number for this error is not documented; 1003 as fakesnow's
                sqlstate="42000",
            )
        original(self, expression)

    cursor.FakeSnowflakeCursor.check_db_and_schema = check  # type: ignore[method-assign]

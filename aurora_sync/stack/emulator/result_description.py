"""A result's column names and types from the statement that produced it, not from running DESCRIBE on it.

fakesnow's server describes every result it returns (the connector needs each column's Snowflake type)
by parsing the DuckDB SQL it just ran once more and running `DESCRIBE <that SQL>` with the same binds
(`FakeSnowflakeCursor._describe_last_sql`): for the product's large statements (the staged checks of a
wide table) that took as long as running them. DuckDB already reports the names and types of the result it
just produced (`description`: the same type text DESCRIBE gives, e.g. `DECIMAL(15,2)`, `TIMESTAMP WITH TIME
ZONE`, `JSON`), so the emulator keeps that list after each statement and answers from it; a cursor with
no such list (nothing ran yet, or a statement without a result) is described as before.
"""

from __future__ import annotations

from typing import Any


def patch(duck_conn: Any = None) -> None:
    """Keep each result's description, and describe from it (module docstring)."""
    del duck_conn
    from fakesnow import cursor

    original_execute = cursor.FakeSnowflakeCursor._execute
    original_describe = cursor.FakeSnowflakeCursor._describe_last_sql

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._aurora_description = None
        result = original_execute(self, *args, **kwargs)
        description = self._duck_conn.description  # of the statement whose result this cursor now holds
        if description:
            # the rows DESCRIBE returns: name, type, null, key, default, extra
            self._aurora_description = [(d[0], str(d[1]), "YES", None, None, None) for d in description]
        return result

    def describe_last_sql(self: Any) -> list[Any]:
        described = getattr(self, "_aurora_description", None)
        return list(described) if described else original_describe(self)

    cursor.FakeSnowflakeCursor._execute = execute  # type: ignore[method-assign]
    cursor.FakeSnowflakeCursor._describe_last_sql = describe_last_sql  # type: ignore[method-assign]

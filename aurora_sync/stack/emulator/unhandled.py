"""A statement the emulator cannot run is a SQL error naming it, never an HTTP 500.

fakesnow answers any exception it does not expect with HTTP 500, and the connector retries a 5xx answer
for its whole network timeout, which aurora-sync leaves unset (aurora_sync/snowflake.py): a cycle that
sent such a statement hung instead of failing. Snowflake answers a statement it cannot run with a SQL
error (the connector raises ProgrammingError at once). E.g. fakesnow's CREATE SCHEMA of a name holding a
quote or a dot (`"RAW""Q"`, `"RAW.DOT"`, valid Snowflake names: "Identifier requirements",
https://docs.snowflake.com/en/sql-reference/identifiers-syntax) makes it the session's schema with an
unquoted DuckDB `SET schema`, which DuckDB refuses. Wrapped last, around every other patch's execute.
"""

from __future__ import annotations

from typing import Any

# Snowflake's "000603 (XX000): SQL execution internal error": not an access or a data error, so the product
# reports it as it is (stored_procs/configuration/access.py reads 2003, 2043 and 3001 as refused grants)
INTERNAL_ERRNO = 603


def patch(duck_conn: Any = None) -> None:
    import snowflake.connector
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, command, *args, **kwargs)
        except snowflake.connector.errors.Error:
            raise
        except Exception as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"the emulator cannot run this statement ({type(err).__name__}: {first}): {command[:200]}",
                errno=INTERNAL_ERRNO,
                sqlstate="XX000",
            ) from None

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]

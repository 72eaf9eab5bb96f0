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

import time
from typing import Any

# Snowflake's "000603 (XX000): SQL execution internal error": not an access or a data error, so the product
# reports it as it is (stored_procs/configuration/access.py reads 2003, 2043 and 3001 as refused grants)
INTERNAL_ERRNO = 603


# Two sessions' statements conflicting in DuckDB: a write-write conflict, or two CREATE ... IF NOT EXISTS of
# one table both adding its columns to fakesnow's catalog (_fs_columns_ext: "Duplicate key
# ext_table_catalog ..."). Snowflake makes the later statement wait on the earlier one's lock, then run
# ("Transactions", https://docs.snowflake.com/en/sql-reference/transactions: resource locking,
# LOCK_TIMEOUT), so the emulator runs it again once the other has committed (autocommit: the failed
# attempt left nothing), as the connector's retry of fakesnow's HTTP 500 did before this patch.
CONFLICT_ATTEMPTS = 5


def _conflict(err: Exception) -> bool:
    import duckdb

    return isinstance(err, duckdb.TransactionException) or "ext_table_catalog" in str(err)


def _internal(err: Exception, command: str) -> Exception:
    import snowflake.connector

    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return snowflake.connector.errors.ProgrammingError(
        msg=f"the emulator cannot run this statement ({type(err).__name__}: {first}): {command[:200]}",
        errno=INTERNAL_ERRNO,
        sqlstate="XX000",
    )


def patch(duck_conn: Any = None) -> None:
    import duckdb
    import snowflake.connector
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return original(self, command, *args, **kwargs)
            except snowflake.connector.errors.Error:
                raise
            except (duckdb.TransactionException, duckdb.ConstraintException) as err:
                if not _conflict(err) or attempt == CONFLICT_ATTEMPTS:
                    raise _internal(err, command) from None
                time.sleep(0.05 * attempt)  # the other session's statement commits meanwhile
            except Exception as err:
                raise _internal(err, command) from None
        raise AssertionError("unreachable")

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]

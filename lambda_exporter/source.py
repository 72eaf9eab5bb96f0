"""The source database: connection, session settings, table introspection, the export window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection

from lambda_exporter.errors import SourceError
from lambda_exporter.query import (
    COLUMNS_SQL,
    PRIMARY_KEY_SQL,
    SOURCE_STATE_SQL,
    Statement,
    guard_in_column_terms,
    open_transactions_bound,
    session_statements,
    snapshot_fingerprint,
    window_high,
)
from sync_contract.errors import ContractError
from sync_contract.manifest import Column, SourceState
from sync_contract.types import Kind, map_type
from sync_contract.watermark import TIME_KINDS, timestamp_precision, watermark_kind

__all__ = [
    "Connection",
    "begin_snapshot",
    "connect",
    "describe_table",
    "execute",
    "full_fingerprint",
    "incremental_high",
    "render",
]


def connect(dsn: str, connect_timeout: int = 10, statement_timeout_ms: int = 600_000) -> Connection:
    """A session with the settings the export needs, a connect timeout and a statement timeout."""
    conn: Connection = psycopg2.connect(dsn, connect_timeout=connect_timeout, application_name="aurora-sync-exporter")
    try:
        for stmt in session_statements(statement_timeout_ms):
            execute(conn, stmt)
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def is_auth_failure(err: psycopg2.OperationalError) -> bool:
    """The server refused the credentials (a rotated password), as opposed to any other failure."""
    return "password authentication failed" in str(err)


def begin_snapshot(conn: Connection, read_only: bool = True) -> None:
    """One REPEATABLE READ snapshot for the window query and the export itself; read-only unless the
    strategy calls a function that is not documented to run in a read-only transaction."""
    conn.set_session(isolation_level="REPEATABLE READ", readonly=read_only)


def execute(conn: Connection, stmt: Statement) -> list[tuple[Any, ...]]:
    """Run `stmt`; its rows (none for a statement without a result). The parameters are always passed,
    a tuple even when empty, so psycopg2 always formats the text (query.Statement: `%%` is one `%`);
    with None it would not, and a `%` in an identifier would mean one thing here and another in render."""
    with conn.cursor() as cur:
        cur.execute(stmt.text, tuple(stmt.params))
        return cur.fetchall() if cur.description else []


def render(conn: Connection, stmt: Statement) -> str:
    """`stmt` as plain SQL with its parameters bound (psycopg2 mogrify, formatted as `execute` formats
    it), for what takes no parameters: `COPY (...) TO STDOUT`, the query text handed to
    aws_s3.query_export_to_s3 as a value. Its `%` are single: run it again only as Statement.literal."""
    with conn.cursor() as cur:
        return str(cur.mogrify(stmt.text, tuple(stmt.params)).decode())


def describe_table(
    conn: Connection,
    schema: str,
    table: str,
    primary_key: Sequence[str],
    columns: Sequence[str],
    watermark: str | None,
) -> list[Column]:
    """The manifest's columns: every mapped column (or those named), with primary-key positions."""
    rows = execute(conn, Statement(COLUMNS_SQL, (schema, table)))
    if not rows:
        raise SourceError(
            f"table {schema}.{table} does not exist in the source database (or this user cannot see it); "
            "check the table name in the sync configuration and the exporter's grants"
        )
    by_name = {r[0]: r for r in rows}
    for name in [*primary_key, *columns, *([watermark] if watermark else [])]:
        if name not in by_name:
            raise SourceError(f"column {name!r} does not exist in {schema}.{table}; columns are {sorted(by_name)}")
    pk = list(primary_key) or [r[0] for r in execute(conn, Statement(PRIMARY_KEY_SQL, (schema, table)))]
    if not pk:
        raise SourceError(
            f"table {schema}.{table} has no primary key; declare primary_key for it in the sync configuration"
        )
    wanted = (set(columns) | set(pk) | ({watermark} if watermark else set())) if columns else set(by_name)
    result = []
    for name, normalised, source_type, nullable, ordinal, fills in rows:
        if name not in wanted:
            continue
        try:
            map_type(normalised, name)
        except ContractError as err:
            raise SourceError(f"table {schema}.{table}: {err}") from err
        position = pk.index(name) + 1 if name in pk else None
        result.append(Column(name, normalised, source_type, bool(nullable), int(ordinal), position, bool(fills)))
    if watermark:
        try:
            watermark_kind(by_name[watermark][1], watermark)
        except ContractError as err:
            raise SourceError(f"table {schema}.{table}: {err}") from err
    return result


def source_state(conn: Connection, schema: str, table: str) -> SourceState:
    """The table's highest attribute number, storage file, object id and (a view's) definition hash: what
    sync_contract.column_changes compares between two exports."""
    rows = execute(conn, Statement(SOURCE_STATE_SQL, (schema, table)))
    if not rows:
        return SourceState()
    highest, filenode, oid, definition = rows[0]
    return SourceState(
        None if highest is None else int(highest),
        None if filenode is None else int(filenode),
        int(oid),
        None if definition is None else str(definition),
    )


def incremental_high(
    conn: Connection, schema: str, table: str, watermark: str, low: str | None, below: str | None = None
) -> str | None:
    rows = execute(conn, window_high(schema, table, watermark, low, below))
    return rows[0][0] if rows else None


def late_row_bound(conn: Connection) -> str:
    """The late-row guard's bound, read in a transaction of its own that ends before the snapshot."""
    bound, can_see = execute(conn, open_transactions_bound())[0]
    conn.commit()
    if not can_see:
        raise SourceError(
            "the late-row guard needs to see every open transaction: GRANT pg_read_all_stats TO the "
            "exporter's role (or turn the guard off for this table: late_row_guard = false)"
        )
    return str(bound)


def column_guard(conn: Connection, schema: str, table: str, watermark_type: str, guard: str | None) -> str | None:
    """`guard` (late_row_bound, an instant) as a value of the watermark column, which high must stay
    below: floored to the column's precision and, for `timestamp` without time zone, the wall-clock time
    of its writers' zones (query.guard_in_column_terms). None without a guard, and for integer and
    numeric watermarks: a number carries no time, only a lookback helps there (docs/CORRECTNESS.md)."""
    kind = map_type(watermark_type).kind
    if guard is None or kind not in TIME_KINDS:
        return None
    precision = timestamp_precision(watermark_type)
    stmt = guard_in_column_terms(schema, table, guard, precision, wall_clock=kind == Kind.TIMESTAMP_NTZ)
    return str(execute(conn, stmt)[0][0])


def full_fingerprint(conn: Connection, schema: str, table: str) -> str:
    return str(execute(conn, snapshot_fingerprint(schema, table))[0][0])

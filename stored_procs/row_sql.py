"""Control-table rows as SQL: INSERT of one or several rows, MERGE of one row by its key.

Every value is a `?` bind cast on the server (`CAST(? AS T)`, a date/time with its explicit format:
stored_procs.datetime_text), so no value is ever part of the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stored_procs import datetime_text
from stored_procs.statement import Stmt
from sync_contract.identifiers import quote_ident
from sync_contract.types import TypeMapping

Row = Sequence[tuple[str, str, Any]]  # (column, Snowflake type, value)


def insert_row(table: str, values: Row) -> Stmt:
    """INSERT of one row of (column, Snowflake type, value); every value a bind, cast on the server.

    Numbers are bound as strings and cast (the emulator cannot bind a Decimal); None stays NULL.
    """
    return insert_rows(table, [values])


def _bound_as(sql_type: str) -> str:
    """One `?` bind as `sql_type`: a date/time type with its explicit format (stored_procs.datetime_text)."""
    kind = datetime_text.kind_of(sql_type)
    return datetime_text.from_text("?", TypeMapping(kind, sql_type)) if kind else f"CAST(? AS {sql_type})"


def _select(values: Row) -> tuple[str, tuple[Any, ...]]:
    select = ", ".join(f"{_bound_as(t)} AS {quote_ident(c)}" for c, t, _ in values)
    params = tuple(None if v is None else (v if t == "BOOLEAN" else str(v)) for _, t, v in values)
    return select, params


def insert_rows(table: str, rows: Sequence[Row]) -> Stmt:
    """One INSERT of several rows, each of the same (column, Snowflake type, value) shape as `insert_row`:
    `INSERT ... SELECT ... UNION ALL SELECT ...`."""
    if not rows:
        raise ValueError("no rows to insert")
    columns = ", ".join(quote_ident(c) for c, _, _ in rows[0])
    selects = [_select(r) for r in rows]
    text = " UNION ALL ".join(f"SELECT {s}" for s, _ in selects)
    return Stmt(f"INSERT INTO {table} ({columns}) {text}", tuple(p for _, ps in selects for p in ps))


def upsert_row(table: str, values: Row, key: str) -> Stmt:
    """One MERGE that inserts the row, or replaces the row with the same `key` column value."""
    select, params = _select(values)
    names = [quote_ident(c) for c, _, _ in values]
    k = quote_ident(key)
    sets = ", ".join(f"{n} = s.{n}" for n in names if n != k)
    return Stmt(
        f"MERGE INTO {table} AS t USING (SELECT {select}) AS s ON t.{k} = s.{k} WHEN MATCHED THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('s.' + n for n in names)})",
        params,
    )

"""Compare every configured table between source and target: row counts, then row by row by primary key.

Both sides are read in full and normalised to comparable Python values per column kind (json and
arrays parsed with exact decimal numbers); the result lists missing keys (in the source, not the
target), extra keys and rows whose values differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg2

from aurora_sync.config import SyncConfig
from aurora_sync.cycle import prepare
from aurora_sync.export_client import exporter_for
from lambda_exporter.query import Statement, ident, qualified, select_expression
from lambda_exporter.source import connect, describe_table, execute
from stored_procs.loading import transforms
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from stored_procs.spec import TableSpec
from stored_procs.sql import live_rows_only
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Column
from sync_contract.types import Kind, map_type


@dataclass
class TableReconciliation:
    spec: TableSpec
    source_rows: int = 0
    target_rows: int = 0
    missing: list[tuple[Any, ...]] = field(default_factory=list)
    extra: list[tuple[Any, ...]] = field(default_factory=list)
    different: list[tuple[tuple[Any, ...], list[str]]] = field(default_factory=list)
    duplicate_keys: int = 0  # target rows sharing a primary key with another row
    source_duplicate_keys: int = 0  # source rows sharing a primary key with another (a key not unique there)
    key_columns: list[str] = field(default_factory=list)
    compared_by_presence: list[str] = field(default_factory=list)  # transformed columns: NULL or not
    error: str | None = None

    def describe_key(self, key: tuple[Any, ...]) -> str:
        return ", ".join(f"{name}={value}" for name, value in zip(self.key_columns, key, strict=True))

    @property
    def clean(self) -> bool:
        return (
            self.error is None
            and not (self.missing or self.extra or self.different or self.duplicate_keys or self.source_duplicate_keys)
            and self.source_rows == self.target_rows
        )


def reconcile(
    session: Any,
    source_dsn: str,
    database: str,
    specs: list[TableSpec],
    columns: dict[str, tuple[str, ...]] | None = None,
) -> list[TableReconciliation]:
    results = []
    conn = connect(source_dsn)
    try:
        for spec in specs:
            result = TableReconciliation(spec)
            try:
                _compare(session, conn, database, spec, (columns or {}).get(spec.source, ()), result)
            except Exception as err:  # report and go on with the other tables
                conn.rollback()
                result.error = f"{type(err).__name__}: {err}"
            results.append(result)
    finally:
        conn.close()
    return results


def _compare(
    session: Any,
    conn: psycopg2.extensions.connection,
    database: str,
    spec: TableSpec,
    wanted: tuple[str, ...],
    result: TableReconciliation,
) -> None:
    cols = describe_table(conn, spec.source_schema, spec.source_table, spec.primary_key, wanted, spec.watermark_column)
    conn.rollback()
    kinds = [map_type(c.type, c.name, unbounded_numeric_scale=spec.scale_for(c.name)).kind for c in cols]
    key_idx = sorted(
        (i for i, c in enumerate(cols) if c.name in spec.primary_key),
        key=lambda i: spec.primary_key.index(cols[i].name),
    )
    result.key_columns = [cols[i].name for i in key_idx]
    source = _source_rows(conn, spec, cols, kinds)
    target = _target_rows(session, database, spec, cols, kinds)
    result.source_rows, result.target_rows = len(source), len(target)
    src = {tuple(r[i] for i in key_idx): r for r in source}
    tgt = {tuple(r[i] for i in key_idx): r for r in target}
    result.duplicate_keys = len(target) - len(tgt)
    result.source_duplicate_keys = len(source) - len(src)
    result.missing = sorted(set(src) - set(tgt), key=repr)
    result.extra = sorted(set(tgt) - set(src), key=repr)
    # a column a transform replaces: compared by presence (NULL or not), its source value not being the target's
    by_presence = set(transforms.transformed_sources(spec, [c.name for c in cols]))
    result.compared_by_presence = sorted(by_presence)

    def differs(column: Column, a: Any, b: Any) -> bool:
        return (a is None) != (b is None) if column.name in by_presence else a != b

    for key in sorted(set(src) & set(tgt), key=repr):
        diff = [c.name for c, a, b in zip(cols, src[key], tgt[key], strict=True) if differs(c, a, b)]
        if diff:
            result.different.append((key, diff))


def _source_rows(conn: Any, spec: TableSpec, cols: list[Column], kinds: list[Kind]) -> list[tuple[Any, ...]]:
    # json and arrays as text: psycopg2 would parse them with floats, hiding a number the target rounded
    # a Statement's text (lambda_exporter.query: `%` in names doubled), run by source.execute, which formats it
    exprs = ", ".join(
        f"({select_expression(c)})::text AS {ident(c.name)}"
        if k in (Kind.JSON, Kind.ARRAY)
        else f"{select_expression(c)} AS {ident(c.name)}"
        for c, k in zip(cols, kinds, strict=True)
    )
    rows = execute(conn, Statement(f"SELECT {exprs} FROM {qualified(spec.source_schema, spec.source_table)}"))
    conn.rollback()
    return [tuple(normalise(k, v) for k, v in zip(kinds, row, strict=True)) for row in rows]


def _target_rows(
    session: Any, database: str, spec: TableSpec, cols: list[Column], kinds: list[Kind]
) -> list[tuple[Any, ...]]:
    # `IS NULL` beside each value: the emulator returns NULL timestamps as 1970-01-01
    exprs = ", ".join(
        f"{quote_ident(spec.column(c.name))} AS V{i}, ({quote_ident(spec.column(c.name))} IS NULL) AS N{i}"
        for i, c in enumerate(cols)
    )
    live = f" WHERE {c}" if (c := live_rows_only(spec)) else ""
    rows = run(session, Stmt(f"SELECT {exprs} FROM {spec.target(database)}{live}"))
    out = []
    for row in rows:
        values = [None if row[2 * i + 1] else row[2 * i] for i in range(len(cols))]
        out.append(tuple(normalise(k, v) for k, v in zip(kinds, values, strict=True)))
    return out


JSON_NULL = ("json", None)  # a document that is JSON null: not SQL NULL


def normalise(kind: Kind, value: Any) -> Any:
    """One comparable Python value per kind, whichever side it was read from."""
    if value is None:
        return None
    if kind in (Kind.INTEGER, Kind.NUMBER, Kind.MONEY):
        return Decimal(str(value))
    if kind == Kind.FLOAT:
        return float(value)
    if kind in (Kind.JSON, Kind.ARRAY):  # numbers as Decimal: 1.50 equals 1.5, a rounded 1.2345678901234568E+29 differs
        parsed = json.loads(value, parse_float=Decimal) if isinstance(value, str) else value
        return JSON_NULL if parsed is None else parsed
    if kind == Kind.BINARY:
        return bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if kind == Kind.TIMESTAMP_TZ:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.astimezone(UTC)
    return value


def bucket_reconcile(session: Any, config: SyncConfig, specs: list[TableSpec]) -> list[dict[str, Any]]:
    """RECONCILE_TABLE's code, asking the configured exporter (or its code in-process) for the source side."""
    prepare(session, config)
    exporter = exporter_for(config)
    run_id = new_run_id()
    return [reconcile_table(session, config.place, config.database, spec, exporter.reconcile, run_id) for spec in specs]

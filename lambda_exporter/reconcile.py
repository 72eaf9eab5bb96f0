"""The source side of a bucketed reconciliation (sync_contract.reconcile), run by the exporter.

One read-only scan of the table: every bucket's (rows, hash), or the (key, row hash) of the rows in
some buckets. Nothing leaves the database but counts, hashes and the canonical text of key values, and
only of a real key (`check_key`): the table's primary key or, for a table without one, only the key the
exporter's own AURORA_SYNC_ALLOWED_TABLES declares for it (a unique index is no licence: its values may
be anything, an email); any other column named as the key is refused before the table is read. Every
statement runs in a read-only transaction (psycopg2's readonly session: each transaction begins READ ONLY,
PostgreSQL docs "SET TRANSACTION": no INSERT, UPDATE, DELETE or DDL on any table but a temporary one,
whatever a policy or a function in the query does).
"""

from __future__ import annotations

from typing import Any

from lambda_exporter.errors import SourceError
from lambda_exporter.query import Statement, qualified, template
from lambda_exporter.source import Connection, describe_table, execute
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Column
from sync_contract.reconcile import (
    MAX_ROWS_COMPARED,
    NUMERIC_KINDS,
    ReconcileRequest,
    child_path,
    is_document,
    is_hashed,
    joined,
    node_hash,
    node_text,
    presence,
    strip_zeros,
)
from sync_contract.types import Kind, map_type

MAX_RESPONSE_BYTES = 5_000_000  # a synchronous Lambda response may hold 6 MB

# every key-like index of a table (pg_index, PostgreSQL docs "System Catalogs"), by its key columns only
# (the first indnkeyatts of indkey; the rest are INCLUDE columns): its primary key, and the
# unique indexes that are valid, not partial and on plain columns; whether all its columns are NOT NULL
# (those are only named in a refusal's hint: check_key accepts the primary key or a declared key)
KEY_INDEXES_SQL = """
SELECT i.indisprimary, array_agg(a.attname::text ORDER BY k.ord), bool_and(a.attnotnull)
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE n.nspname = %s AND c.relname = %s AND k.ord <= i.indnkeyatts
  AND (i.indisprimary OR (i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL))
GROUP BY i.indexrelid, i.indisprimary
""".strip()


DOCS = '"__recon_docs"'  # the LATERAL subquery hashing each row's json/array values once


def canonical(column: Column) -> str:
    """PostgreSQL SQL for a value's canonical text (the same text Snowflake computes from the target), as
    plain SQL (a `%` is one `%`; `_keyed` makes it a Statement's text). A json/array column's text is
    its content hash (`document`), which `_keyed` evaluates once per row."""
    c = quote_ident(column.name)
    mapping = map_type(column.type, column.name)
    kind = mapping.kind
    if is_document(column.type, column.name):
        if kind == Kind.JSON:
            return document(f"({c})::jsonb")
        # money elements as numbers, as the exporter writes them (query.select_expression)
        return document(f"to_jsonb(({c})::numeric[])" if mapping.element == Kind.MONEY else f"to_jsonb({c})")
    if not is_hashed(column.type, column.name):
        return presence(c)
    if kind == Kind.MONEY:
        return strip_zeros(f"({c})::numeric::text")
    if kind in NUMERIC_KINDS:
        return strip_zeros(f"({c})::text")
    if kind == Kind.BOOLEAN:
        return f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"
    if kind == Kind.DATE:
        return f"to_char({c}, 'YYYY-MM-DD')"
    if kind in (Kind.TIMESTAMP_NTZ, Kind.TIMESTAMP_TZ):  # microseconds since the epoch (UTC)
        return f"(round(extract(epoch FROM {c}) * 1000000))::bigint::text"
    if kind == Kind.TIME:  # microseconds since midnight
        return f"(round(extract(epoch FROM {c}) * 1000000))::bigint::text"
    if kind == Kind.BINARY:
        return f"encode({c}, 'hex')"
    # text and the types kept in their text form, as the export writes them (char(n) keeps its padding)
    return f"CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END"


def document(value: str) -> str:
    """PostgreSQL SQL for a jsonb value's content hash (sync_contract.reconcile: every node hashed with its
    path, the node hashes sorted and hashed), NULL for NULL. A walk of the document in a recursive CTE;
    the set-returning functions stay in its select list (PostgreSQL runs them in lockstep, and a node is
    either an object or an array, so one of keys and indexes is NULL), jsonb_object_keys and the `$.*`
    path both iterating an object in its stored order. Read-only: nothing is created in the database."""
    typeof = "jsonb_typeof(n.v)"
    scalar = "(n.v #>> '{}')"
    typed = (
        f"CASE {typeof} WHEN 'object' THEN {node_text('object', '')} WHEN 'array' THEN {node_text('array', '')} "
        f"WHEN 'string' THEN {node_text('string', scalar)} WHEN 'number' THEN {node_text('number', scalar)} "
        f"WHEN 'boolean' THEN {node_text('boolean', scalar)} ELSE {node_text('null', '')} END"
    )
    keys = f"jsonb_object_keys(CASE WHEN {typeof} = 'object' THEN n.v ELSE '{{}}' END)"
    indexes = f"generate_series(0, CASE WHEN {typeof} = 'array' THEN jsonb_array_length(n.v) ELSE 0 END - 1)"
    values = f"jsonb_path_query(n.v, CASE WHEN {typeof} = 'object' THEN 'strict $.*' ELSE 'strict $[*]' END::jsonpath)"
    walk = (
        f"WITH RECURSIVE n(p, v) AS (SELECT ''::text, {value} UNION ALL "
        f"SELECT {child_path('n.p', keys, indexes, set_returning=True)}, {values} "
        f"FROM n WHERE {typeof} IN ('object', 'array')) "
        "SELECT md5(string_agg(h, '' ORDER BY h COLLATE \"C\")) "
        f"FROM (SELECT {node_hash('n.p', typed)} AS h FROM n) AS nodes"
    )
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE ({walk}) END"


def _keyed(
    schema: str, table: str, columns: list[Column], primary_key: tuple[str, ...], by_presence: tuple[str, ...] = ()
) -> tuple[list[str], str, str, str]:
    """(key texts, key text, row text, FROM clause), as a Statement's text (query.template: `%` doubled,
    also in the table's and columns' names). json/array values are hashed in a LATERAL subquery, once
    per row (the row text names each text twice: its length and itself)."""
    by_name = {c.name: c for c in columns}
    documents: list[str] = []

    def text(column: Column) -> str:
        if column.name in by_presence:  # transformed in the target (ReconcileRequest.presence)
            return template(presence(quote_ident(column.name)))
        if not is_document(column.type, column.name):
            return template(canonical(column))
        documents.append(template(canonical(column)))
        return f'{DOCS}."d{len(documents) - 1}"'

    keys = [text(by_name[k]) for k in primary_key]
    row = joined([text(c) for c in columns])
    source = qualified(schema, table)
    if documents:
        hashed = ", ".join(f'{d} AS "d{i}"' for i, d in enumerate(documents))
        # OFFSET 0 keeps the subquery whole: pulled up, its expressions would be evaluated where named
        source = f"{source} CROSS JOIN LATERAL (SELECT {hashed} OFFSET 0) AS {DOCS}"
    return keys, joined(keys), row, source


def fingerprints_query(schema: str, table: str, columns: list[Column], request: ReconcileRequest) -> Statement:
    _, key, row, source = _keyed(schema, table, columns, request.primary_key, request.presence)
    return Statement(
        f"SELECT b, count(*), md5(string_agg(h, '' ORDER BY h COLLATE \"C\")) FROM "
        f"(SELECT substr(md5({key}), 1, %s) AS b, md5({row}) AS h FROM {source}) AS r "
        "GROUP BY b",
        (request.digits,),
    )


def rows_query(schema: str, table: str, columns: list[Column], request: ReconcileRequest) -> Statement:
    keys, key, row, source = _keyed(schema, table, columns, request.primary_key, request.presence)
    assert request.buckets is not None
    marks = ", ".join("%s" for _ in request.buckets)
    key_list = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
    return Statement(
        f"SELECT {key_list}, md5({row}) AS h FROM {source} WHERE substr(md5({key}), 1, %s) IN ({marks}) LIMIT %s",
        (request.digits, *request.buckets, MAX_ROWS_COMPARED + 1),
    )


def check_key(
    conn: Connection, schema: str, table: str, key: tuple[str, ...], declared: tuple[str, ...] | None = None
) -> None:
    """Refuse (SourceError naming the table, the columns and the fix) a `key` that is not the table's
    primary key (any order) or, only when the table has none, the key the exporter's own configuration
    `declared` for it (AURORA_SYNC_ALLOWED_TABLES, lambda_exporter.policy). A reconcile returns its key's
    values, so any other column would leave the database: a unique index is not enough (a unique NOT
    NULL `email` is no key to hand out); the operator declares the key, the event never does."""
    indexes = execute(conn, Statement(KEY_INDEXES_SQL, (schema, table)))
    primary = [tuple(names) for is_pk, names, _ in indexes if is_pk]
    allowed = primary or ([declared] if declared else [])
    if any(set(names) == set(key) and len(names) == len(key) for names in allowed):
        return
    if primary:
        real = f"its primary key ({', '.join(primary[0])}): set the table's primary_key in the sync configuration to it"
    elif declared:
        real = f"the key AURORA_SYNC_ALLOWED_TABLES declares for it: ({', '.join(declared)})"
    else:
        unique = [names for _, names, not_null in indexes if not_null]
        hint = (
            f"; its unique index on NOT NULL ({', '.join(unique[0])}) is not used unless declared "
            f"({schema}.{table}({', '.join(unique[0])})), since its values would leave the database"
            if unique
            else ""
        )
        real = (
            "none: the table has no primary key and no key is declared for it; give it a primary key, or "
            f"declare its key in the exporter's AURORA_SYNC_ALLOWED_TABLES ({schema}.{table}(column, ...)){hint}"
        )
    raise SourceError(
        f"{schema}.{table}: reconcile by ({', '.join(key)}) refused: a reconcile returns its key's values, "
        f"and only the table's real key may leave the database, which is {real}"
    )


def run_reconcile(
    conn: Connection, request: ReconcileRequest, real_key: bool = True, declared: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The reconcile's answer (docs/EXPORTER.md), in read-only transactions. `real_key`: refuse a key
    that is not the table's own (`check_key`, with the key the exporter's configuration `declared`); only
    the operator's own process (`aurora-sync reconcile` without a Lambda, its own DSN) passes False."""
    conn.rollback()
    conn.set_session(readonly=True)  # every transaction from here on: BEGIN READ ONLY
    try:
        if real_key:
            check_key(conn, request.schema, request.table, request.primary_key, declared)
        return _reconcile(conn, request)
    finally:
        conn.rollback()


def _reconcile(conn: Connection, request: ReconcileRequest) -> dict[str, Any]:
    columns = describe_table(conn, request.schema, request.table, request.primary_key, request.columns, None)
    described = [{"name": c.name, "type": c.type} for c in columns]
    if request.buckets is None:
        found = execute(conn, fingerprints_query(request.schema, request.table, columns, request))
        conn.rollback()
        return {
            "schema": request.schema,
            "table": request.table,
            "columns": described,
            "rows": sum(int(r[1]) for r in found),
            "buckets": {r[0]: [int(r[1]), r[2]] for r in found},
        }
    found = execute(conn, rows_query(request.schema, request.table, columns, request))
    conn.rollback()
    width = len(request.primary_key)
    rows: list[list[Any]] = []
    size = 0
    for r in found[:MAX_ROWS_COMPARED]:
        size += sum(len(str(v)) + 8 for v in r[:width]) + 40  # its JSON, generously
        if size > MAX_RESPONSE_BYTES:
            break
        rows.append([list(r[:width]), r[width]])
    return {
        "schema": request.schema,
        "table": request.table,
        "columns": described,
        "truncated": len(rows) < len(found),
        "rows": rows,
    }

"""PostgreSQL SQL of an export, from pure functions: text with %s placeholders plus its parameters.

A `Statement`'s text is always a psycopg2 template: psycopg2 formats it (`%s` a parameter, `%%` one `%`)
every time it is run or bound, parameters or none (`source.execute`, `source.render`). So a literal `%`
in it, such as one inside a quoted identifier ("a%b", "%(x)s"), is written `%%`: identifiers go into a
text only through `ident` / `qualified` (`sync_contract.identifiers.quote_ident`, PostgreSQL and
Snowflake quote alike, then `%` doubled), other literal SQL only through `template`. An identifier passed
as a parameter (`%s::regclass`) is a value: `quote_qualified`, never doubled. Values are always
parameters; where a statement cannot take parameters (`COPY (SELECT ...)`, the text handed to
`aws_s3.query_export_to_s3`) the caller binds them with `source.render`, which returns plain SQL (no
template any more: `%` single again), and `Statement.literal` makes such text a template again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync_contract.identifiers import quote_ident, quote_qualified
from sync_contract.manifest import Column
from sync_contract.types import Kind, map_type

# Session settings that make PostgreSQL's text output exact and unambiguous for the loader.
SESSION_SETTINGS: tuple[tuple[str, str], ...] = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
)

COLUMNS_SQL = """
SELECT a.attname,
       CASE WHEN t.typtype = 'e' THEN 'text'
            WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
            WHEN et.typtype = 'e' THEN 'text[]'
            ELSE format_type(a.atttypid, a.atttypmod) END AS normalised_type,
       format_type(a.atttypid, a.atttypmod) AS source_type,
       NOT a.attnotnull AS nullable,
       a.attnum AS ordinal,
       -- a DEFAULT (also a GENERATED column), a default dropped since (atthasmissing: the value added
       -- rows read), an identity; a relation other than a plain table cannot tell: assume it fills
       a.atthasdef OR a.atthasmissing OR a.attidentity <> '' OR c.relkind <> 'r' AS fills_existing_rows
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
""".strip()

# the primary key's columns in key order; indkey lists an index's key columns, then its INCLUDE columns,
# of which only the first indnkeyatts are the key (PostgreSQL docs, "pg_index": indnkeyatts)
PRIMARY_KEY_SQL = """
SELECT a.attname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE n.nspname = %s AND c.relname = %s AND i.indisprimary AND k.ord <= i.indnkeyatts
ORDER BY k.ord
""".strip()


# the table's highest attribute number (dropped columns included: numbers are never reused), its
# storage file, which a rewrite (ALTER COLUMN TYPE, a volatile DEFAULT) replaces (NULL without storage),
# its object id, which a table dropped and created again under the same name does not keep, and what a
# relation without storage file stands for: a view's definition, a partitioned table's partitions (attached,
# detached, each rewritten)
SOURCE_STATE_SQL = """
SELECT (SELECT max(attnum) FROM pg_catalog.pg_attribute WHERE attrelid = c.oid AND attnum > 0),
       pg_catalog.pg_relation_filenode(c.oid), c.oid,
       CASE WHEN c.relkind IN ('v', 'm') THEN md5(pg_catalog.pg_get_viewdef(c.oid))
            WHEN c.relkind = 'p' THEN md5((
              SELECT string_agg(t.relid::text || ':' || coalesce(pg_catalog.pg_relation_filenode(t.relid)::text, ''),
                                ',' ORDER BY t.relid::text)
              FROM pg_catalog.pg_partition_tree(c.oid) AS t WHERE t.relid <> c.oid)) END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
""".strip()


@dataclass(frozen=True)
class Statement:
    """`text`: a psycopg2 template (a literal `%` written `%%`), `params`: a value per `%s`, in order."""

    text: str
    params: tuple[object, ...] = ()

    @classmethod
    def literal(cls, sql: str) -> Statement:
        """Plain SQL (bound already, e.g. `source.render`'s) as a statement without parameters."""
        return cls(template(sql))


def template(sql: str) -> str:
    """Literal SQL as a Statement's text: every `%` doubled, so psycopg2's formatting gives it back."""
    return sql.replace("%", "%%")


def ident(name: str) -> str:
    """`name` quoted (quote_ident) for a Statement's text: `%` doubled, as psycopg2 formats the text."""
    return template(quote_ident(name))


def qualified(schema: str, table: str) -> str:
    """`schema`.`table` quoted (quote_qualified) for a Statement's text: `%` doubled. A qualified name
    passed as a parameter (`%s::regclass`) is a value: quote_qualified, not this."""
    return template(quote_qualified(schema, table))


def session_statements(statement_timeout_ms: int = 600_000) -> list[Statement]:
    settings = (*SESSION_SETTINGS, ("statement_timeout", str(statement_timeout_ms)))
    return [Statement("SELECT set_config(%s, %s, false)", (name, value)) for name, value in settings]


def select_expression(column: Column) -> str:
    """How one column is written to the CSV so the loader can restore it exactly.

    Arrays are JSON (`to_json`), money arrays as numeric arrays so their elements are numbers as a
    money column's values are (`to_json(money[])` writes locale text such as "$1.50"). An array with
    a lower bound other than 1 in any dimension is written in PostgreSQL's own text form instead
    (`[0:2]={7,8,9}`): JSON cannot carry its bounds, and the loader sets such a row aside by that
    form (stored_procs/loading/semistructured.py) rather than load its elements re-indexed.
    """
    name = ident(column.name)
    mapping = map_type(column.type, column.name)
    kind = mapping.kind
    if kind == Kind.ARRAY:
        elements = f"{name}::numeric[]" if mapping.element == Kind.MONEY else name
        # array_dims prints "[lower:upper]" per dimension; NULL for an empty array
        return (
            f"CASE WHEN strpos(replace(array_dims({name}), '[1:', ''), '[') > 0 THEN {name}::text "
            f"ELSE to_json({elements})::text END"
        )
    if kind == Kind.BINARY:
        return f"encode({name}, 'hex')"
    if kind == Kind.MONEY:
        return f"{name}::numeric"
    if kind == Kind.TIMESTAMP_TZ:
        # the session's TimeZone is UTC, so the text always ends in "+00"; Snowflake wants "+00:00"
        return f"({name})::text || ':00'"
    return name


def export_select(
    schema: str,
    table: str,
    columns: Sequence[Column],
    watermark: str | None,
    low: str | None,
    high: str | None,
    ctid_range: tuple[int, int | None] | None = None,
    lookback: str | None = None,
    key_range: tuple[str, str | None, str | None] | None = None,
) -> Statement:
    """SELECT of exactly the manifest's columns, in order, restricted to the window (low, high] and,
    for one chunk of a chunked export, to a range of the table's blocks (a TID range scan), or for one
    part of a fan-out export to `key_range` (key_range_condition)."""
    exprs = ", ".join(f"{select_expression(c)} AS {ident(c.name)}" for c in columns)
    conditions: list[str] = []
    params: list[object] = []
    if watermark is not None:
        wm = ident(watermark)
        if low is not None and lookback is not None:  # re-export rows just below `low`: late commits
            wm_type = next(c.type for c in columns if c.name == watermark)
            step = "interval" if wm_type.startswith("timestamp") else "numeric"
            conditions.append(f"{wm} > (%s::{_cast_type(wm_type)} - %s::{step})")
            params += [low, lookback]
        elif low is not None:
            conditions.append(f"{wm} > %s")
            params.append(low)
        conditions.append(f"{wm} <= %s")
        params.append(high)
    if ctid_range is not None:
        first, end = ctid_range
        conditions.append("ctid >= %s::tid")
        params.append(f"({first},0)")
        if end is not None:
            conditions.append("ctid < %s::tid")
            params.append(f"({end},0)")
    if key_range is not None and (ranged := key_range_condition(*key_range)) is not None:
        conditions.append(ranged.text)
        params += ranged.params
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return Statement(f"SELECT {exprs} FROM {qualified(schema, table)}{where}", tuple(params))


def key_range_condition(column: str, key_from: str | None, key_to: str | None) -> Statement | None:
    """`column` in [key_from, key_to): None bounds are open; the range without a lower bound also holds
    NULL (a declared key may hold NULL, which no comparison selects), so the ranges of one plan cover
    every row exactly once. The bounds are the key's own values as text (percentile_disc(...)::text):
    an untyped literal takes the column's type, so they compare as the column does (its collation)."""
    key, parts, params = ident(column), [], []
    if key_from is not None:
        parts.append(f"{key} >= %s")
        params.append(key_from)
    if key_to is not None:
        parts.append(f"{key} < %s" if key_from is not None else f"({key} < %s OR {key} IS NULL)")
        params.append(key_to)
    return Statement(" AND ".join(parts), tuple(params)) if parts else None


def _cast_type(pg_type: str) -> str:
    """The watermark's own type for a cast (a fixed vocabulary: types come from the catalog)."""
    if pg_type.startswith("timestamp"):
        return "timestamptz" if "with time zone" in pg_type or pg_type == "timestamptz" else "timestamp"
    return "numeric"


def block_count(schema: str, table: str) -> Statement:
    return Statement(
        "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::bigint",
        (quote_qualified(schema, table),),
    )


def relation_bytes(schema: str, table: str) -> Statement:
    return Statement("SELECT pg_relation_size(%s::regclass)", (quote_qualified(schema, table),))


def relation_kind(schema: str, table: str) -> Statement:
    """`r` table, `m` materialized view, `p` partitioned table, `v` view, `f` foreign table."""
    return Statement(
        "SELECT relkind FROM pg_catalog.pg_class WHERE oid = %s::regclass", (quote_qualified(schema, table),)
    )


def partition_leaves(schema: str, table: str) -> Statement:
    """The leaf partitions of a partitioned table, at every level (pg_partition_tree, PostgreSQL 12+:
    `isleaf` is true for every member that is not itself partitioned): schema, name, bytes on disk, and
    whether this role may SELECT the partition itself (reading a partition directly needs its own
    privilege, not the parent's)."""
    return Statement(
        "SELECT n.nspname, c.relname, pg_relation_size(c.oid), has_table_privilege(c.oid, 'SELECT') "
        "FROM pg_partition_tree(%s::regclass) AS t JOIN pg_catalog.pg_class c ON c.oid = t.relid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE t.isleaf ORDER BY n.nspname, c.relname",
        (quote_qualified(schema, table),),
    )


def union_all(selects: Sequence[Statement]) -> Statement:
    """One SELECT of the rows of all `selects` (same columns, in order), their parameters in order."""
    return Statement(" UNION ALL ".join(s.text for s in selects), tuple(p for s in selects for p in s.params))


def ctid_ranges(blocks: int, chunks: int) -> list[tuple[int, int | None]]:
    """`chunks` contiguous block ranges covering the table; the last is open-ended."""
    step = max(1, -(-blocks // chunks))
    return [(i * step, (i + 1) * step if i < chunks - 1 else None) for i in range(chunks)]


def window_high(schema: str, table: str, watermark: str, low: str | None, below: str | None = None) -> Statement:
    """The window's high bound: the newest watermark value above `low` (and, with the late-row guard,
    below `below`), or NULL when nothing changed."""
    wm = ident(watermark)
    conditions, params = [], []
    if low is not None:
        conditions.append(f"{wm} > %s")
        params.append(low)
    if below is not None:
        conditions.append(f"{wm} < %s")
        params.append(below)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return Statement(f"SELECT max({wm})::text FROM {qualified(schema, table)}{where}", tuple(params))


def open_transactions_bound() -> Statement:
    """Where the late-row guard puts the high bound: the start of the oldest transaction still open in
    this database (not ours), or now when there is none (an instant; guard_in_column_terms puts it in
    the watermark column's terms). A transaction writes watermark values at or
    after its own start (now(), clock_timestamp()), so every row not yet committed lies at or above it.
    Run before the export's snapshot is taken. The second column says whether this role can see other
    roles' transactions at all (pg_read_all_stats, or a superuser)."""
    return Statement(
        "SELECT least(clock_timestamp(), min(xact_start))::text, "
        "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "
        "OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) "
        "FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND xact_start IS NOT NULL AND backend_type = 'client backend'"
    )


# The zones a `timestamp` column's writers may run in: this session's default before the exporter's own
# SET (pg_settings.reset_val: the server's setting, ALTER DATABASE, ALTER ROLE of the exporter) and each
# database-wide or role setting for this database of a role that may write the table (pg_db_role_setting);
# only the first when the exporter's role has a TimeZone of its own: that setting declares the writers' zone.
_WRITER_ZONES = """
WITH settings AS (
  SELECT s.setrole, substr(item, strpos(item, '=') + 1) AS zone
  FROM pg_catalog.pg_db_role_setting AS s, unnest(s.setconfig) AS item
  WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
    AND lower(split_part(item, '=', 1)) = 'timezone'
)
SELECT reset_val AS zone FROM pg_catalog.pg_settings WHERE name = 'TimeZone'
UNION
SELECT zone FROM settings
WHERE (setrole = 0 OR has_table_privilege(setrole, %s::regclass, 'INSERT, UPDATE'))
  AND NOT EXISTS (SELECT 1 FROM settings
                  WHERE setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
""".strip()

# `t AT TIME ZONE zone` as a session in `zone` would write t into a timestamp column. The forms SET
# TimeZone accepts: "INTERVAL '…'" and a number of hours are offsets east of UTC (ISO), which AT TIME
# ZONE would read as POSIX (west); anything else is a zone name or POSIX string, read alike by both.
_WALL_CLOCK = (
    "CASE WHEN zone ~* '^interval ' THEN {t} AT TIME ZONE btrim(substring(zone FROM 10), chr(39))::interval "
    "WHEN zone ~ '^[+-]?[0-9]+(\\.[0-9]+)?$' THEN {t} AT TIME ZONE make_interval(secs => zone::float8 * 3600) "
    "ELSE {t} AT TIME ZONE zone END"
)

# minutes after the guard at which the writers' wall clocks are read: a transition that sets clocks
# back (by at most a day) within this horizon lowers the bound to the repeated time
_DST_HORIZON_MINUTES = 1440


def guard_in_column_terms(schema: str, table: str, guard: str, precision: int, wall_clock: bool) -> Statement:
    """The late-row guard's bound as a value of the watermark column (text): high must stay below it.

    `guard` is an instant (the start of the oldest open transaction). A transaction that starts at or
    after it writes now() or later; PostgreSQL rounds a value to the column's `precision` (0-6
    fractional digits, to the nearest: "Date/Time Types", PostgreSQL documentation), which can be below
    the instant, never below the instant floored to that precision: so the bound is floored.

    `wall_clock` (timestamp without time zone): a session writes now() as its TimeZone's wall-clock time.
    The bound is the earliest wall-clock time any writer's zone (_WRITER_ZONES) shows at or after the
    instant: read each minute over the next day, one minute subtracted from every reading after the
    first (a transition between two readings), so when a zone sets its clocks back (daylight saving
    ends; local times repeat) the bound is the repeated time. A session that sets its own TimeZone
    (SET, PGTZ, a driver's startup parameter) is not known to the database: docs/CORRECTNESS.md."""
    unit = 10 ** (6 - precision)
    floor = "(b - (date_part('microseconds', b)::bigint %% %s) * interval '1 microsecond')::text"
    if not wall_clock:
        return Statement(f"SELECT {floor} FROM (SELECT %s::timestamptz AS b) AS bound", (unit, guard))
    reading = _WALL_CLOCK.format(t="(%s::timestamptz + k * interval '1 minute')")
    return Statement(
        f"WITH zones AS ({_WRITER_ZONES}), bound AS (SELECT min({reading} - least(k, 1) * interval '1 minute') AS b "
        f"FROM zones, generate_series(0, {_DST_HORIZON_MINUTES}) AS k) SELECT {floor} FROM bound",
        (quote_qualified(schema, table), guard, guard, guard, unit),
    )


def snapshot_fingerprint(schema: str, table: str) -> Statement:
    """Row count plus an order-independent sum of row hashes: equal fingerprints, equal snapshots."""
    return Statement(
        "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint"
        f"::numeric), 0)::text FROM {qualified(schema, table)} AS t"
    )


def copy_to_stdout(select_sql: str) -> str:
    """`select_sql` must already have its parameters bound."""
    return f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv, HEADER false, FORCE_QUOTE *)"

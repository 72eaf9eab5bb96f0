"""Full mode: whether a table may have changed since its last fingerprint, read without reading a row.

A full-mode export compares a fingerprint of every row (query.snapshot_fingerprint) with the loaded one.
Before it, the exporter reads a change token from PostgreSQL's cumulative statistics and catalogs:

- per table of the partition tree (the table itself, or a partitioned table's partitions): its
  pg_stat_all_tables `n_tup_ins`, `n_tup_upd`, `n_tup_del` ("Number of rows inserted / updated /
  deleted"), which only grow while the statistics are kept, and pg_class `relfilenode`, which TRUNCATE,
  VACUUM FULL, CLUSTER and table rewrites change (TRUNCATE counts no deletes);
- the columns (attribute number, name, type, modifier): ADD or DROP COLUMN changes every row's text
  without counting an update;
- what a reset of the counters changes: pg_stat_database `stats_reset` of the database (a reset of one
  table's counters, pg_stat_reset_single_table_counters, sets it as well), pg_postmaster_start_time()
  (a restart, or a failover: another instance), and the start of the server's auxiliary processes
  (pg_stat_activity `backend_start` of the checkpointer, background writer, WAL writer): after a crash
  the server discards every statistic and restarts them, with neither of the other two changing.

PostgreSQL documents the counters and their limits in "The Cumulative Statistics System"
(https://www.postgresql.org/docs/current/monitoring-stats.html): they are collected only with
`track_counts` on; each process flushes its counts "just before going idle, but not more frequently than
once per PGSTAT_MIN_INTERVAL milliseconds (1 second ...)", so the displayed totals lag behind activity;
statistics are discarded after a crash (kept across a clean restart); a hot standby counts nothing that
replay writes. So no token, and a fingerprint every cycle (as before), when track_counts is off, on a
standby (pg_is_in_recovery()), for a view or a tree with a foreign table (no counters), or when this
role cannot see the auxiliary processes' start (GRANT pg_read_all_stats, as the late-row guard needs).

The token is read in a transaction of its own that ends before the export's snapshot. A change that
commits between the two is in the fingerprint and, its counts flushed, changes the next token: at worst
one more fingerprint, never a missed change. Counts flushed late (a writer that stays busy without going
idle) delay detection to a later cycle; so do changes no counter sees (a writer that turns track_counts
off for its session, which only a superuser may; an enum label renamed): the fingerprint is computed at
least every FINGERPRINT_EVERY_S whatever the token says.

The exporter keeps (fingerprint, token, when fingerprinted) in `state/<table>/full_change.json`, signed
with the manifest key. A cycle skips the fingerprint only when the event's low bound (the loaded or last
exported fingerprint) is that state's fingerprint and the token is the same: the table is as it was when
that fingerprint was computed. A missing, unreadable or unverifiable state (an older exporter, a rotated
key) costs one fingerprint; the watermark itself is still the plain fingerprint.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg2
from botocore.exceptions import ClientError

from lambda_exporter.event import ExportRequest
from lambda_exporter.query import Statement
from sync_contract.errors import ManifestError
from sync_contract.identifiers import slug
from sync_contract.signing import SigningKey, sign, verify

FINGERPRINT_EVERY_S = 24 * 3600  # the fingerprint is computed at least this often, whatever the token

# one row: (trackable, token). The partition tree of a plain table is the table alone (pg_partition_tree
# returns nothing for a table that is neither partitioned nor a partition).
CHANGE_SIGNAL_SQL = """
WITH root AS (
    SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relname = %s
), tree AS (
    SELECT oid AS relid FROM root UNION SELECT p.relid FROM root, pg_partition_tree(root.oid::regclass) p
), members AS (
    SELECT l.oid, l.relkind, l.relfilenode, s.relid IS NOT NULL AS counted, s.n_tup_ins, s.n_tup_upd, s.n_tup_del
    FROM tree JOIN pg_class l ON l.oid = tree.relid LEFT JOIN pg_stat_all_tables s ON s.relid = l.oid
), auxiliary AS (
    SELECT min(backend_start)::text AS started FROM pg_stat_activity
    WHERE backend_type IN ('checkpointer', 'background writer', 'walwriter')
)
SELECT
    current_setting('track_counts')::boolean AND NOT pg_is_in_recovery()
    AND (SELECT relkind IN ('r', 'p') FROM root)
    AND (SELECT bool_and(relkind IN ('r', 'p') AND counted) FROM members)
    AND (SELECT started IS NOT NULL FROM auxiliary) AS trackable,
    md5(concat_ws('|',
        pg_postmaster_start_time()::text,
        (SELECT started FROM auxiliary),
        coalesce((SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()), '-'),
        (SELECT string_agg(a.attnum || ':' || a.attname || ':' || a.atttypid || ':' || a.atttypmod, ','
                           ORDER BY a.attnum)
         FROM pg_attribute a, root WHERE a.attrelid = root.oid AND a.attnum > 0 AND NOT a.attisdropped),
        (SELECT string_agg(oid || ':' || relfilenode || ':' || coalesce(n_tup_ins, -1) || ':'
                           || coalesce(n_tup_upd, -1) || ':' || coalesce(n_tup_del, -1), ',' ORDER BY oid)
         FROM members))) AS token
"""


def change_token(schema: str, table: str) -> Statement:
    return Statement(CHANGE_SIGNAL_SQL, (schema, table))


def read_token(conn: Any, schema: str, table: str) -> str | None:
    """The table's change token, or None when its counters cannot tell (see the module's docstring) or
    the query fails (then the fingerprint decides, as without the check). Runs and ends a transaction of
    its own: call it before the export's snapshot begins."""
    stmt = change_token(schema, table)
    try:
        with conn.cursor() as cur:
            cur.execute(stmt.text, stmt.params)
            row = cur.fetchone()
        conn.commit()
    except psycopg2.ProgrammingError:  # a function missing (pg_partition_tree: 12+) or not granted: fingerprint
        conn.rollback()
        return None
    if row is None or not row[0]:
        return None
    return str(row[1])


def state_key(schema: str, table: str) -> str:
    return f"state/{slug(schema, table)}/full_change.json"


def _now() -> datetime:
    return datetime.now(UTC)


def unchanged(s3: Any, request: ExportRequest, token: str | None, key: SigningKey, now: datetime | None = None) -> bool:
    """True when the table is as it was when the fingerprint `request.low` was computed: the stored state
    names that fingerprint with this token, signed by `key`, and is younger than FINGERPRINT_EVERY_S."""
    if token is None or request.low is None:
        return False
    try:
        body = s3.get_object(Bucket=request.s3.bucket, Key=request.s3.key(state_key(request.schema, request.table)))
        doc = json.loads(body["Body"].read())
        verify(doc, {key.key_id: key.secret})
        age = ((now or _now()) - datetime.fromisoformat(doc["fingerprinted_at"])).total_seconds()
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return False
        raise
    except (ValueError, TypeError, KeyError, AttributeError, ManifestError):  # unreadable or not ours: fingerprint
        return False
    return doc.get("fingerprint") == request.low and doc.get("token") == token and 0 <= age < FINGERPRINT_EVERY_S


def remember(
    s3: Any, request: ExportRequest, fingerprint: str, token: str | None, key: SigningKey, now: datetime | None = None
) -> None:
    """After a fingerprint: the table had `fingerprint` when its counters read `token` (read before the
    fingerprint's snapshot). Nothing is kept without a token."""
    if token is None:
        return
    doc = {
        "schema": request.schema,
        "table": request.table,
        "fingerprint": fingerprint,
        "token": token,
        "fingerprinted_at": (now or _now()).isoformat(),
    }
    request_key = request.s3.key(state_key(request.schema, request.table))
    body = json.dumps(sign(doc, key), sort_keys=True, separators=(",", ":")).encode()
    s3.put_object(Bucket=request.s3.bucket, Key=request_key, Body=body, ContentType="application/json")

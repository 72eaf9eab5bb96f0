"""Fan-out exports: an initial or full export too large for one invocation, split by key range into
parts that separate invocations export, each in a snapshot of its own (docs/EXPORTER.md, "Fan-out").

A synchronous caller drives it (aurora_sync.fan_out_driver); an asynchronous request (the app's
REQUEST_EXPORTS) is driven by the exporter itself (lambda_exporter.fan_out_async). The caller sends the
export with `max_rows_per_invocation`;
when the table holds more rows than that (pg_class.reltuples, or count(*) for a table never analyzed),
this invocation exports nothing and answers a plan (status "fan_out", one `part` event per key range);
the caller invokes each part, and retries a failed part alone (its export id, and so its S3 keys, are
the same every attempt).

Why the union of the parts misses no row:
- incremental (an initial export, no `low`): the plan reads high = max(watermark) (below the late-row
  guard) before any part runs; every part exports its key range with watermark <= high. A row written
  after the plan carries a watermark above high (every write sets it, as incremental mode requires) and
  is exported by the next cycle, which starts at high; a row a part saw twice (it moved between key
  ranges) is absorbed by the MERGE (one row per key, newest watermark wins);
- full: the plan reads each key range's fingerprint (row count and order-independent hash sum, as
  query.snapshot_fingerprint) in its snapshot; the window's high is their sum, which is the whole table's
  fingerprint. A part first checks its range's fingerprint in its own snapshot and refuses (StalePart)
  when it differs, so every part exports exactly the plan snapshot's rows and the union is that snapshot:
  high is exact, and the next cycle's fingerprint differs from it whenever the table changed since. The
  caller plans again on a refusal.

Every part's manifest is one chunk of the export (chunk index/count: the part's), signed like any other,
with the plan's time as `created_at` (the loader groups the parts into one batch by it, and never loads
or advances the watermark before every part is there) and `chunk.part` naming its key range and its own
snapshot time. The part that finds every part's manifest written records latest.json (and says so:
`completed_manifest_keys` in its summary, which an asynchronous request's answer is written from,
lambda_exporter.fan_out_async).
"""

from __future__ import annotations

import math
import time
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from lambda_exporter import change_check
from lambda_exporter.chunking import Chunk
from lambda_exporter.errors import ExportError
from lambda_exporter.event import ExportRequest, PartRequest
from lambda_exporter.exporter import (
    ConnectWorker,
    ExportResult,
    Plan,
    _check_late_rows,
    _export_chunk,
    chunk_export_id,
    record_latest,
    resolve_low,
    run_export,
)
from lambda_exporter.manifest_key import signing_key
from lambda_exporter.query import Statement, ident, key_range_condition, qualified
from lambda_exporter.source import (
    Connection,
    begin_snapshot,
    column_guard,
    describe_table,
    execute,
    incremental_high,
    late_row_bound,
    source_state,
)
from lambda_exporter.strategies import STRATEGIES
from sync_contract.identifiers import quote_qualified
from sync_contract.manifest import Column, Part, manifest_key
from sync_contract.signing import SigningKey

MAX_PARTS = 256
STALE = "changed since the fan-out plan"  # in StalePart's message: the caller plans again on it
SAMPLE_ABOVE = 1_000_000  # rows above which the key ranges come from a sample (_key_ranges)
SAMPLE_ROWS = 200_000

KeyRange = tuple[str | None, str | None]


class StalePart(ExportError):
    """A full-mode part whose key range no longer holds the plan snapshot's rows: plan again."""


def export(
    conn: Connection,
    s3_client: Any,
    request: ExportRequest,
    connect_worker: ConnectWorker | None = None,
    remaining_s: Any = None,
    key: SigningKey | None = None,
) -> ExportResult:
    """One invocation: a part of a plan, a plan (status "fan_out"), or an export as run_export does."""
    key = key or signing_key()  # checked first: nothing is read or written without a key
    if request.part is not None:
        return export_part(conn, s3_client, request, key)
    if request.max_rows_per_invocation is not None:
        request = resolve_low(s3_client, request)
        if request.mode == "full" or (request.mode == "incremental" and request.low is None):
            planned = plan(conn, s3_client, request, key)
            if planned is not None:
                return planned
    return run_export(conn, s3_client, request, connect_worker, remaining_s, key)


def plan(conn: Connection, s3_client: Any, req: ExportRequest, key: SigningKey) -> ExportResult | None:
    """The parts of `req` (status "fan_out"), "no_change", or None when one invocation is enough. A full
    table whose change token says it is as at its loaded fingerprint (lambda_exporter.change_check) is
    "no_change" without reading a row; after computing the fingerprint, the plan remembers it."""
    started = time.monotonic()
    assert req.max_rows_per_invocation is not None
    incremental = req.mode == "incremental"
    guard = late_row_bound(conn) if incremental and req.late_row_guard else None
    # both before the snapshot: a change in between costs one more fingerprint (change_check)
    token = None if incremental else change_check.read_token(conn, req.schema, req.table)
    begin_snapshot(conn, read_only=True)
    try:
        if not incremental and change_check.unchanged(s3_client, req, token, key):
            return ExportResult("no_change", req.schema, req.table, req.low, req.low)
        planned_at = _now()
        columns = describe_table(conn, req.schema, req.table, req.primary_key, req.columns, req.watermark_column)
        key_column = _first_key(columns)
        rows = _row_estimate(conn, req)
        wanted = math.ceil(rows / req.max_rows_per_invocation)
        if wanted <= 1:
            return None
        ranges = _key_ranges(conn, req, key_column, min(wanted, MAX_PARTS), rows)
        if len(ranges) <= 1:
            return None
        fingerprints: list[str | None] = [None] * len(ranges)
        if incremental:
            assert req.watermark_column is not None
            wm_type = next(c.type for c in columns if c.name == req.watermark_column)
            _check_late_rows(req, req.watermark_column, wm_type, guarded=guard is not None)
            guard = column_guard(conn, req.schema, req.table, wm_type, guard)
            high = incremental_high(conn, req.schema, req.table, req.watermark_column, None, guard)
        else:
            fingerprints = [range_fingerprint(conn, req, key_column, r) for r in ranges]
            high = add_fingerprints([f for f in fingerprints if f is not None])
            change_check.remember(s3_client, req, high, token, key)
        if high is None or (not incremental and high == req.low):
            return ExportResult("no_change", req.schema, req.table, req.low, req.low if high is None else high)
        parts = tuple(
            PartRequest(i, len(ranges), planned_at, high, key_column, lo, hi, fingerprints[i]).to_event()
            for i, (lo, hi) in enumerate(ranges)
        )
        return ExportResult(
            "fan_out", req.schema, req.table, req.low, high, duration_s=time.monotonic() - started, parts=parts
        )
    finally:
        with suppress(Exception):
            conn.rollback()


def export_part(conn: Connection, s3_client: Any, req: ExportRequest, key: SigningKey) -> ExportResult:
    """Export one planned part in a snapshot of its own; its manifest is chunk `part.index` of the plan's
    export. Raises StalePart (full mode) when its key range no longer holds the plan's rows."""
    started = time.monotonic()
    part = req.part
    assert part is not None
    req = ExportRequest(**{**req.__dict__, "low": None, "low_from_manifests": False, "chunks": 1})
    begin_snapshot(conn, read_only=STRATEGIES[req.strategy].read_only)
    try:
        snapshot_at = _now()
        columns = describe_table(conn, req.schema, req.table, req.primary_key, req.columns, req.watermark_column)
        if _first_key(columns) != part.key_column:
            raise ExportError(
                f"{req.schema}.{req.table}: fan-out part {part.index} ranges over {part.key_column!r}, but the "
                f"table's first key column is now {_first_key(columns)!r}; plan the export again"
            )
        key_range = (part.key_from, part.key_to)
        if req.mode == "full":
            now = range_fingerprint(conn, req, part.key_column, key_range)
            if now != part.fingerprint:
                raise StalePart(
                    f"{req.schema}.{req.table}: fan-out part {part.index + 1} of {part.count} ({part.key_column} "
                    f"from {part.key_from!r} to {part.key_to!r}): its rows {STALE} (fingerprint {part.fingerprint} "
                    f"then, {now} now); the caller plans the export again"
                )
            bound = "snapshot_fingerprint"
        else:
            bound = "max_watermark_below_open_transactions" if req.late_row_guard else "max_watermark"
        plan_ = Plan(
            req,
            tuple(columns),
            part.high,
            bound,
            part.created_at,
            part.count,
            source=source_state(conn, req.schema, req.table),
            key=key,
            part=Part(part.key_column, part.key_from, part.key_to, snapshot_at),
        )
        done = _export_chunk(conn, s3_client, plan_, part.index, Chunk(key_range=(part.key_column, *key_range)))
    finally:
        with suppress(Exception):
            conn.rollback()
    keys = [req.s3.key(manifest_key(req.schema, req.table, chunk_export_id(plan_, i))) for i in range(part.count)]
    complete = all(_exists(s3_client, req.s3.bucket, k) for k in keys)
    if complete:  # the last part: the pointer to continue from
        record_latest(
            s3_client, req, ExportResult("exported", req.schema, req.table, None, part.high, manifest_keys=tuple(keys))
        )
    return ExportResult(
        "exported",
        req.schema,
        req.table,
        None,
        part.high,
        done.export_id,
        done.key,
        done.rows,
        done.files,
        done.bytes,
        time.monotonic() - started,
        (done.key,),
        completed=tuple(keys) if complete else (),
    )


def range_fingerprint(conn: Connection, req: ExportRequest, key_column: str, key_range: KeyRange) -> str:
    """query.snapshot_fingerprint of the rows in `key_range` (count:hash sum; fingerprints of disjoint
    ranges add up to the fingerprint of their union)."""
    cond = key_range_condition(key_column, *key_range)
    where = f" WHERE {cond.text}" if cond is not None else ""
    stmt = Statement(
        "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint"
        f"::numeric), 0)::text FROM {qualified(req.schema, req.table)} AS t{where}",
        cond.params if cond is not None else (),
    )
    return str(execute(conn, stmt)[0][0])


def add_fingerprints(fingerprints: list[str]) -> str:
    """The fingerprint of the union of disjoint row sets, from theirs ("count:sum" each)."""
    count = total = 0
    for f in fingerprints:
        c, s = f.split(":")
        count, total = count + int(c), total + int(s)
    return f"{count}:{total}"


def _key_ranges(conn: Connection, req: ExportRequest, key_column: str, parts: int, rows: int) -> list[KeyRange]:
    """Up to `parts` ranges [from, to) of the first key column, covering every value (and NULL) once,
    split at its percentiles (percentile_disc, any orderable type; they compare as the column does).
    A plain table of more than SAMPLE_ABOVE rows is split at the percentiles of a block sample of about
    SAMPLE_ROWS rows (TABLESAMPLE SYSTEM: whole random blocks, no full pass) instead of an ordered pass
    over every key: the ranges still cover every row (the outer ones are open), only less evenly.
    Repeated boundaries merge ranges."""
    table, key = qualified(req.schema, req.table), ident(key_column)
    sample = ""
    if rows > SAMPLE_ABOVE and _plain_table(conn, quote_qualified(req.schema, req.table)):
        sample = f" TABLESAMPLE SYSTEM ({min(100.0, 100.0 * SAMPLE_ROWS / rows):.6f})"
    fractions = [i / parts for i in range(1, parts)]
    stmt = Statement(
        f"SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY {key})::text[] FROM {table}{sample}",
        (fractions,),
    )
    bounds = [b for b in (execute(conn, stmt)[0][0] or []) if b is not None]
    if not bounds and sample:  # an unlucky sample of empty blocks: every key, in order
        return _key_ranges(conn, req, key_column, parts, 0)
    unique = [b for i, b in enumerate(bounds) if i == 0 or b != bounds[i - 1]]
    edges: list[str | None] = [None, *unique, None]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _plain_table(conn: Connection, table: str) -> bool:
    rows = execute(conn, Statement("SELECT relkind FROM pg_catalog.pg_class WHERE oid = %s::regclass", (table,)))
    return bool(rows) and rows[0][0] == "r"


def _row_estimate(conn: Connection, req: ExportRequest) -> int:
    """pg_class.reltuples (kept by VACUUM, ANALYZE and CREATE INDEX; -1 before any of them, PostgreSQL
    14+), or count(*) when it says nothing (never analyzed, or a partitioned parent)."""
    relation = quote_qualified(req.schema, req.table)  # a value (regclass), not the statement's text
    rows = execute(
        conn, Statement("SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = %s::regclass", (relation,))
    )
    estimate = int(rows[0][0]) if rows and rows[0][0] is not None else -1
    if estimate <= 0:
        estimate = int(execute(conn, Statement(f"SELECT count(*) FROM {qualified(req.schema, req.table)}"))[0][0])
    return estimate


def _first_key(columns: list[Column]) -> str:
    keyed = sorted(
        (c for c in columns if c.primary_key_position is not None), key=lambda c: c.primary_key_position or 0
    )
    return keyed[0].name


def _exists(s3_client: Any, bucket: str, key: str) -> bool:
    try:
        s3_client.head_object(Bucket=bucket, Key=key)
    except Exception:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

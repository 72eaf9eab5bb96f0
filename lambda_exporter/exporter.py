"""One export: the window, the data files, then the manifest (written last: its presence commits it).

A large table can be exported in chunks: block (ctid) ranges of the table, or groups of the leaf
partitions of a partitioned table (lambda_exporter.chunking), all read from one snapshot
(the first connection exports it, each chunk's connection imports it) and all sharing one window, so
the chunks together are exactly the rows of one instant. Each chunk writes its own files and manifest;
a chunk that fails is retried alone within the invocation. Chunk export ids include the snapshot's time,
so chunks of two snapshots (whose block ranges differ) never combine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from lambda_exporter import __version__, change_check
from lambda_exporter.chunking import Chunk, plan_chunks
from lambda_exporter.errors import ExportError, SourceError
from lambda_exporter.event import ExportRequest
from lambda_exporter.manifest_key import signing_key
from lambda_exporter.manifest_lookup import newest_exported_high, newest_exported_manifest
from lambda_exporter.query import Statement, export_select, union_all
from lambda_exporter.retry import RetryPolicy, call_with_retries
from lambda_exporter.source import (
    Connection,
    begin_snapshot,
    column_guard,
    describe_table,
    execute,
    full_fingerprint,
    incremental_high,
    late_row_bound,
    render,
    source_state,
)
from lambda_exporter.strategies import STRATEGIES, ExportTarget
from sync_contract import failpoints
from sync_contract.column_changes import ColumnChanges, compare
from sync_contract.manifest import (
    Column,
    FileFormat,
    Manifest,
    Part,
    SourceState,
    Window,
    data_prefix,
    export_id,
    latest_export_key,
    manifest_key,
)
from sync_contract.signing import SigningKey, sign
from sync_contract.watermark import TIME_KINDS, watermark_kind

ConnectWorker = Callable[[], Connection]
CHUNK_RETRY = RetryPolicy(attempts=3, reserve_s=0)


@dataclass(frozen=True)
class ExportResult:
    status: str  # "exported" | "no_change" | "fan_out" (a plan: parts to invoke, nothing exported)
    schema: str
    table: str
    low: str | None
    high: str | None
    export_id: str | None = None  # the first chunk's
    manifest_key: str | None = None  # the first chunk's
    rows: int = 0
    files: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    manifest_keys: tuple[str, ...] = ()
    parts: tuple[dict[str, Any], ...] = ()  # status "fan_out": the planned parts (lambda_exporter.fan_out)
    checked_by: str | None = None  # full mode: "change token" (no row read) or "fingerprint" (every row read)
    # a fan-out part that found every part's manifest written (it recorded latest.json): all of them, in order
    completed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"parts": list(self.parts)} if self.parts else {}
        if self.completed:
            extra["completed_manifest_keys"] = list(self.completed)
        if self.checked_by:
            extra["checked_by"] = self.checked_by
        return extra | {
            "status": self.status,
            "table": {"schema": self.schema, "name": self.table},
            "window": {"low": self.low, "high": self.high},
            "export_id": self.export_id,
            "manifest_key": self.manifest_key,
            "manifest_keys": list(self.manifest_keys),
            "chunks": len(self.manifest_keys),
            "rows": self.rows,
            "files": self.files,
            "bytes": self.bytes,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class Plan:
    request: ExportRequest
    columns: tuple[Column, ...]
    high: str | None
    bound: str
    snapshot_at: str
    chunks: int
    guard: str | None = None
    source: SourceState = field(default_factory=SourceState)
    backfill: str | None = None  # why this incremental export starts from the beginning
    key: SigningKey | None = field(default=None, repr=False)  # signs every manifest (sync_contract.signing)
    part: Part | None = None  # a fan-out part: snapshot_at is the plan's time, part.snapshot_at its own


@dataclass(frozen=True)
class ChunkResult:
    export_id: str
    key: str
    rows: int
    files: int
    bytes: int


def resolve_low(s3_client: Any, request: ExportRequest) -> ExportRequest:
    """A scheduled event's low bound: where the newest complete export ended (once per invocation)."""
    if not request.low_from_manifests:
        return request
    return replace(request, low=newest_exported_high(s3_client, request), low_from_manifests=False)


def run_export(
    conn: Connection,
    s3_client: Any,
    request: ExportRequest,
    connect_worker: ConnectWorker | None = None,
    remaining_s: Callable[[], float] | None = None,
    key: SigningKey | None = None,
) -> ExportResult:
    """Export `request` from `conn`'s snapshot; chunks run on `connect_worker` connections when given.
    Every manifest is signed with `key` (default: manifest_key.signing_key(), which raises ExportError
    when none is configured: checked first, so nothing is read or written without a key)."""
    started = time.monotonic()
    key = key or signing_key()
    request = resolve_low(s3_client, request)
    # before the snapshot: every transaction the snapshot cannot see started at or after this bound
    guard = late_row_bound(conn) if request.mode in ("incremental", "keys") and request.late_row_guard else None
    # full mode: the change token, also before the snapshot (a change in between costs one more fingerprint)
    token = change_check.read_token(conn, request.schema, request.table) if request.mode == "full" else None
    begin_snapshot(conn, read_only=STRATEGIES[request.strategy].read_only)
    try:
        result = _export_in_snapshot(
            conn, s3_client, request, started, connect_worker, remaining_s, guard, key, token=token
        )
    finally:
        # read-only snapshot: nothing to commit; a failure here (a dropped connection) must not turn a
        # committed export into an error, and the caller closes the connection anyway
        with suppress(Exception):
            conn.rollback()
    if result.status == "exported" and request.mode != "keys":  # a key set is no window to continue from
        record_latest(s3_client, request, result)
    return result


def record_latest(s3_client: Any, request: ExportRequest, result: ExportResult) -> None:
    """After every chunk's manifest exists: the pointer scheduled exports continue from."""
    pointer = {
        "mode": request.mode,
        "window": {"low": result.low, "high": result.high},
        "manifest_keys": list(result.manifest_keys),
    }
    s3_client.put_object(
        Bucket=request.s3.bucket,
        Key=request.s3.key(latest_export_key(request.schema, request.table)),
        Body=json.dumps(pointer).encode(),
        ContentType="application/json",
    )


def _export_in_snapshot(
    conn: Connection,
    s3_client: Any,
    req: ExportRequest,
    started: float,
    connect_worker: ConnectWorker | None,
    remaining_s: Callable[[], float] | None,
    guard: str | None = None,
    key: SigningKey | None = None,
    token: str | None = None,
) -> ExportResult:
    # when the snapshot was taken: full-mode loads order snapshots by it
    snapshot_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    columns = describe_table(conn, req.schema, req.table, req.primary_key, req.columns, req.watermark_column)
    source, backfill = source_state(conn, req.schema, req.table), None
    checked_by: str | None = None  # full mode: how "no change" was found (ExportResult.checked_by)
    if req.mode == "keys":  # the primary-key set, for delete detection: bounded by the watermark
        assert req.watermark_column is not None
        wm_type = next(c.type for c in columns if c.name == req.watermark_column)
        guard = column_guard(conn, req.schema, req.table, wm_type, guard)  # in the column's own terms
        columns = [c for c in columns if c.primary_key_position is not None or c.name == req.watermark_column]
        high = incremental_high(conn, req.schema, req.table, req.watermark_column, None, guard)
        bound = "max_watermark" if guard is None else "max_watermark_below_open_transactions"
        changed = True  # a key set is always worth comparing: deletes change no watermark
    elif req.mode == "incremental":
        assert req.watermark_column is not None
        wm_column = req.watermark_column
        wm_type = next(c.type for c in columns if c.name == wm_column)
        _check_late_rows(req, wm_column, wm_type, guarded=guard is not None)
        guard = column_guard(conn, req.schema, req.table, wm_type, guard)  # in the column's own terms
        changes = _column_changes(s3_client, req, columns, source) if req.low is not None else None
        backfill = changes.backfill_reason if changes is not None else None
        if backfill is not None:  # existing values changed without moving the watermark: every row again
            req = replace(req, low=None)
        high = incremental_high(conn, req.schema, req.table, wm_column, req.low, guard)
        if high is None and changes is not None and changes.renamed:  # no row moved: the names must follow
            backfill = "columns renamed: " + ", ".join(f"{a} to {b}" for a, b in changes.renamed)
            req = replace(req, low=None)
            high = incremental_high(conn, req.schema, req.table, wm_column, None, guard)
        bound = "max_watermark" if guard is None else "max_watermark_below_open_transactions"
        changed = high is not None
    else:  # full: no fingerprint (no row read) while the change token says the table is as at the last one
        checked_by = "fingerprint"
        if key is not None and change_check.unchanged(s3_client, req, token, key):
            high, checked_by = req.low, "change token"
        else:
            high = full_fingerprint(conn, req.schema, req.table)
            if key is not None:
                change_check.remember(s3_client, req, high, token, key)
        bound, changed = "snapshot_fingerprint", high != req.low
    if not changed:
        return ExportResult(
            "no_change",
            req.schema,
            req.table,
            req.low,
            req.low if high is None else high,
            duration_s=time.monotonic() - started,
            checked_by=checked_by,
        )
    chunks = plan_chunks(conn, req)
    plan = Plan(req, tuple(columns), high, bound, snapshot_at, len(chunks), guard, source, backfill, key)
    if plan.chunks == 1:
        results = [_export_chunk(conn, s3_client, plan, 0, chunks[0])]
    else:
        if connect_worker is None:  # one connection: the chunks run one after another in this snapshot
            results = [_export_chunk(conn, s3_client, plan, i, c) for i, c in enumerate(chunks)]
        else:
            snapshot_id = str(execute(conn, Statement("SELECT pg_export_snapshot()"))[0][0])
            with ThreadPoolExecutor(max_workers=min(req.parallelism, plan.chunks)) as pool:
                futures = [
                    pool.submit(_chunk_on_worker, connect_worker, snapshot_id, s3_client, plan, i, c, remaining_s)
                    for i, c in enumerate(chunks)
                ]
                results = [f.result() for f in futures]
    return ExportResult(
        "exported",
        req.schema,
        req.table,
        req.low,
        high,
        results[0].export_id,
        results[0].key,
        sum(r.rows for r in results),
        sum(r.files for r in results),
        sum(r.bytes for r in results),
        time.monotonic() - started,
        tuple(r.key for r in results),
    )


def _check_late_rows(req: ExportRequest, column: str, pg_type: str, guarded: bool) -> None:
    """A lookback must fit the watermark: a number for a number, an interval ("5 minutes") for a
    timestamp. Without one, the late-row guard holds a bound in time and a number carries none, so for an
    integer or numeric watermark it cannot be made safe: refused unless the table says how it takes the
    risk (a lookback, or late_row_guard = false)."""
    timed = watermark_kind(pg_type, column) in TIME_KINDS
    if req.lookback is not None and timed == req.lookback.isdigit():
        wanted = 'an interval such as "5 minutes"' if timed else 'a number such as "1000"'
        raise SourceError(
            f"{req.schema}.{req.table}: lookback {req.lookback!r} does not fit watermark column {column!r} "
            f"({pg_type}): set lookback to {wanted} for the table"
        )
    if req.lookback is None and guarded and not timed:
        raise SourceError(
            f"{req.schema}.{req.table}: watermark column {column!r} is {pg_type}, and the late-row guard cannot "
            "apply to a number (it carries no time): a transaction that commits after an export with a value "
            "below the export's high bound would never be exported. Use a timestamp watermark that every write "
            "sets (e.g. updated_at timestamptz NOT NULL DEFAULT now(), set on update too), or set for the table "
            'lookback = "N" (each export re-reads N below the last high bound; a commit later than that is still '
            "missed) or late_row_guard = false (accept the risk: append-only tables whose writers commit in "
            "order)"
        )


def _column_changes(
    s3_client: Any, req: ExportRequest, columns: list[Column], source: SourceState
) -> ColumnChanges | None:
    """How the table changed since its newest export (sync_contract.column_changes): renames, and why the
    window must start from the beginning (values changed without moving the watermark). None when there
    is no earlier export to compare with."""
    before = newest_exported_manifest(s3_client, req)
    return None if before is None else compare(before.columns, before.source, columns, source)


def _chunk_on_worker(
    connect_worker: ConnectWorker,
    snapshot_id: str,
    s3_client: Any,
    plan: Plan,
    index: int,
    chunk: Chunk,
    remaining_s: Callable[[], float] | None,
) -> ChunkResult:
    """One chunk on its own connection, in the shared snapshot; retried alone on a transient failure."""
    req = plan.request

    def attempt() -> ChunkResult:
        worker = connect_worker()
        try:
            worker.set_session(isolation_level="REPEATABLE READ", readonly=STRATEGIES[req.strategy].read_only)
            with worker.cursor() as cur:
                cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot_id,))
            return _export_chunk(worker, s3_client, plan, index, chunk)
        finally:
            worker.close()

    return call_with_retries(attempt, CHUNK_RETRY, remaining_s)


def chunk_export_id(plan: Plan, index: int) -> str:
    req = plan.request
    # chunks of two snapshots never mix; key sets of two snapshots are two exports even with one high
    snapshot = plan.snapshot_at if plan.chunks > 1 or req.mode == "keys" else None
    if plan.backfill:  # never the id of another export of the same window (an earlier one, or a backfill)
        snapshot = plan.snapshot_at
    return export_id(req.schema, req.table, req.mode, req.low, plan.high, index, plan.chunks, snapshot, req.generation)


def _export_chunk(conn: Connection, s3_client: Any, plan: Plan, index: int, chunk: Chunk) -> ChunkResult:
    req = plan.request
    eid = chunk_export_id(plan, index)
    strategy = STRATEGIES[req.strategy]()
    incremental = req.mode == "incremental"
    scans = chunk.scans(req.schema, req.table)

    def scan_select(schema: str, table: str, ctid_range: tuple[int, int | None] | None) -> Statement:
        return export_select(
            schema,
            table,
            plan.columns,
            req.watermark_column if incremental else None,
            req.low if incremental else None,
            plan.high if incremental else None,
            ctid_range,
            req.lookback if incremental else None,
            chunk.key_range,
        )

    def render_scan(schema: str, table: str, ctid_range: tuple[int, int | None] | None) -> str:
        return render(conn, scan_select(schema, table, ctid_range))

    # a partition chunk reads its leaf partitions, each whole; plain SQL, parameters bound (source.render)
    select_sql = render(
        conn, union_all([scan_select(schema, table, ctid_range) for schema, table, ctid_range in scans])
    )
    target = ExportTarget(
        s3=req.s3,
        client=s3_client,
        data_prefix=data_prefix(req.schema, req.table, eid),
        max_file_bytes=req.max_file_bytes,
        scans=tuple(scans),
        render=render_scan,
    )
    exported = strategy.export(conn, select_sql, target)
    failpoints.reached("export:after_data_files")
    manifest = Manifest(
        export_id=eid,
        created_at=plan.snapshot_at,
        exporter_version=__version__,
        strategy=strategy.name,
        schema=req.schema,
        table=req.table,
        mode=req.mode,
        columns=plan.columns,
        window=Window(
            column=req.watermark_column,
            low=None if req.mode == "keys" else req.low,
            high=plan.high,
            bound=plan.bound,
            guard=plan.guard,
            lookback=req.lookback if incremental and req.low is not None else None,
            backfill=plan.backfill,
        ),
        files=tuple(exported.files),
        rows=exported.rows,
        bytes=exported.bytes,
        chunk_index=index,
        chunk_count=plan.chunks,
        format=FileFormat(compression=strategy.compression),
        source=plan.source,
        part=plan.part,
    )
    if plan.key is None:  # run_export always sets one; never write an unsigned manifest
        raise ExportError(f"{req.schema}.{req.table}: no manifest signing key")
    # the signed dict is what is written: the loader verifies these members after a VARIANT round trip
    body = json.dumps(sign(manifest.to_dict(), plan.key), sort_keys=True, separators=(",", ":"))
    key = req.s3.key(manifest_key(req.schema, req.table, eid))
    s3_client.put_object(Bucket=req.s3.bucket, Key=key, Body=body.encode(), ContentType="application/json")
    failpoints.reached("export:after_manifest")
    return ChunkResult(eid, key, exported.rows, len(exported.files), exported.bytes)

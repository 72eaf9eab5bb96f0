"""One export: window, data files, then the manifest (written last: its presence commits the export)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lambda_exporter import __version__
from lambda_exporter.event import ExportRequest
from lambda_exporter.manifest_lookup import newest_exported_high
from lambda_exporter.query import export_select
from lambda_exporter.source import (
    Connection,
    begin_snapshot,
    describe_table,
    full_fingerprint,
    incremental_high,
)
from lambda_exporter.strategies import STRATEGIES, ExportTarget
from sync_contract.manifest import FileFormat, Manifest, Window, data_prefix, export_id, manifest_key


@dataclass(frozen=True)
class ExportResult:
    status: str  # "exported" | "no_change"
    schema: str
    table: str
    low: str | None
    high: str | None
    export_id: str | None = None
    manifest_key: str | None = None
    rows: int = 0
    files: int = 0
    bytes: int = 0
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "table": {"schema": self.schema, "name": self.table},
            "window": {"low": self.low, "high": self.high},
            "export_id": self.export_id,
            "manifest_key": self.manifest_key,
            "rows": self.rows,
            "files": self.files,
            "bytes": self.bytes,
            "duration_s": round(self.duration_s, 3),
        }


def run_export(conn: Connection, s3_client: Any, request: ExportRequest) -> ExportResult:
    started = time.monotonic()
    if request.low_from_manifests:
        request = replace(request, low=newest_exported_high(s3_client, request), low_from_manifests=False)
    begin_snapshot(conn, read_only=STRATEGIES[request.strategy].read_only)
    try:
        result = _export_in_snapshot(conn, s3_client, request, started)
    finally:
        conn.rollback()  # read-only snapshot: nothing to commit
    return result


def _export_in_snapshot(conn: Connection, s3_client: Any, req: ExportRequest, started: float) -> ExportResult:
    # when the snapshot was taken: full-mode loads order snapshots by it
    snapshot_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    columns = describe_table(conn, req.schema, req.table, req.primary_key, req.columns, req.watermark_column)
    if req.mode == "incremental":
        assert req.watermark_column is not None
        high = incremental_high(conn, req.schema, req.table, req.watermark_column, req.low)
        bound = "max_watermark"
        changed = high is not None
    else:
        high = full_fingerprint(conn, req.schema, req.table)
        bound = "snapshot_fingerprint"
        changed = high != req.low
    if not changed:
        return ExportResult(
            "no_change",
            req.schema,
            req.table,
            req.low,
            req.low if high is None else high,
            duration_s=time.monotonic() - started,
        )

    eid = export_id(req.schema, req.table, req.mode, req.low, high)
    strategy = STRATEGIES[req.strategy]()
    window_low = req.low if req.mode == "incremental" else None
    select = export_select(
        req.schema, req.table, columns, req.watermark_column, window_low, high if req.mode == "incremental" else None
    )
    with conn.cursor() as cur:
        select_sql = cur.mogrify(select.text, select.params).decode()
    target = ExportTarget(
        s3=req.s3,
        client=s3_client,
        data_prefix=data_prefix(req.schema, req.table, eid),
        max_file_bytes=req.max_file_bytes,
    )
    exported = strategy.export(conn, select_sql, target)

    manifest = Manifest(
        export_id=eid,
        created_at=snapshot_at,
        exporter_version=__version__,
        strategy=strategy.name,
        schema=req.schema,
        table=req.table,
        mode=req.mode,
        columns=tuple(columns),
        window=Window(column=req.watermark_column, low=req.low, high=high, bound=bound),
        files=tuple(exported.files),
        rows=exported.rows,
        bytes=exported.bytes,
        format=FileFormat(compression=strategy.compression),
    )
    key = req.s3.key(manifest_key(req.schema, req.table, eid))
    s3_client.put_object(
        Bucket=req.s3.bucket, Key=key, Body=manifest.to_json().encode(), ContentType="application/json"
    )
    return ExportResult(
        "exported",
        req.schema,
        req.table,
        req.low,
        high,
        eid,
        key,
        exported.rows,
        len(exported.files),
        exported.bytes,
        time.monotonic() - started,
    )

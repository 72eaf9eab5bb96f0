"""WATERMARKS: each table's high-water mark, the export it came from, and its kind."""

from __future__ import annotations

from typing import Any

from stored_procs import datetime_text
from stored_procs.ledger import now
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.types import Kind


def get_watermark(session: Any, place: Place, spec: TableSpec) -> str | None:
    rows = run(
        session,
        Stmt(
            f"SELECT WATERMARK AS W FROM {place.control('WATERMARKS')} WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?",
            (spec.source_schema, spec.source_table),
        ),
    )
    return rows[0][0] if rows else None


def all_watermarks(session: Any, place: Place) -> dict[tuple[str, str], str | None]:
    """Every table's stored watermark by (schema, table) (`TableSpec.key`), in one statement."""
    rows = run(
        session,
        Stmt(f"SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, WATERMARK AS W FROM {place.control('WATERMARKS')}"),
    )
    return {(r[0], r[1]): r[2] for r in rows}


def set_watermark(
    session: Any, place: Place, spec: TableSpec, watermark: str | None, export_id: str, kind: Kind | None
) -> None:
    """`kind`: the watermark column's kind (stored_procs.loading.batch.window_kind; None for a full-mode
    snapshot's fingerprint), kept in WATERMARK_KIND so that TABLE_STATUS computes a lag only for times."""
    run(
        session,
        Stmt(
            f"MERGE INTO {place.control('WATERMARKS')} AS t USING (SELECT CAST(? AS VARCHAR) AS SOURCE_SCHEMA, "
            "CAST(? AS VARCHAR) AS SOURCE_TABLE, CAST(? AS VARCHAR) AS WATERMARK_COLUMN, "
            "CAST(? AS VARCHAR) AS WATERMARK, CAST(? AS VARCHAR) AS EXPORT_ID, "
            f"{datetime_text.timestamp_ntz()} AS UPDATED_AT, CAST(? AS VARCHAR) AS WATERMARK_KIND) AS s "
            "ON t.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND t.SOURCE_TABLE = s.SOURCE_TABLE "
            "WHEN MATCHED THEN UPDATE SET WATERMARK_COLUMN = s.WATERMARK_COLUMN, WATERMARK = s.WATERMARK, "
            "EXPORT_ID = s.EXPORT_ID, UPDATED_AT = s.UPDATED_AT, WATERMARK_KIND = s.WATERMARK_KIND "
            "WHEN NOT MATCHED THEN INSERT (SOURCE_SCHEMA, SOURCE_TABLE, WATERMARK_COLUMN, WATERMARK, EXPORT_ID, "
            "UPDATED_AT, WATERMARK_KIND) VALUES (s.SOURCE_SCHEMA, s.SOURCE_TABLE, s.WATERMARK_COLUMN, s.WATERMARK, "
            "s.EXPORT_ID, s.UPDATED_AT, s.WATERMARK_KIND)",
            (
                spec.source_schema,
                spec.source_table,
                spec.watermark_column,
                watermark,
                export_id,
                now(),
                kind.value if kind is not None else None,
            ),
        ),
    )

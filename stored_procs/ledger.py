"""The control tables: configuration, the MANIFESTS ledger, watermarks, runs and per-file COPY results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stored_procs.spec import Place, TableSpec
from stored_procs.sql import control_ddl
from stored_procs.statement import Stmt, run
from sync_contract.manifest import Manifest

NEW, LOADED, FAILED, QUARANTINED, SUPERSEDED = "NEW", "LOADED", "FAILED", "QUARANTINED", "SUPERSEDED"
MAX_ATTEMPTS = 3


def now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def ensure_control(session: Any, place: Place) -> None:
    for stmt in control_ddl(place):
        run(session, stmt)


def save_table_spec(session: Any, place: Place, spec: TableSpec) -> None:
    options = json.dumps({"numeric_scale": spec.numeric_scale}, sort_keys=True)
    run(
        session,
        Stmt(
            f"MERGE INTO {place.control('SYNC_TABLES')} AS t USING (SELECT CAST(? AS VARCHAR) AS SOURCE_SCHEMA, "
            "CAST(? AS VARCHAR) AS SOURCE_TABLE, CAST(? AS VARCHAR) AS TARGET_SCHEMA, "
            "CAST(? AS VARCHAR) AS TARGET_TABLE, CAST(? AS VARCHAR) AS MODE, CAST(? AS VARCHAR) AS PRIMARY_KEY, "
            "CAST(? AS VARCHAR) AS WATERMARK_COLUMN, CAST(? AS VARCHAR) AS OPTIONS, "
            "CAST(? AS TIMESTAMP_NTZ) AS UPDATED_AT) AS s "
            "ON t.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND t.SOURCE_TABLE = s.SOURCE_TABLE "
            "WHEN MATCHED THEN UPDATE SET TARGET_SCHEMA = s.TARGET_SCHEMA, TARGET_TABLE = s.TARGET_TABLE, "
            "MODE = s.MODE, PRIMARY_KEY = s.PRIMARY_KEY, WATERMARK_COLUMN = s.WATERMARK_COLUMN, "
            "OPTIONS = s.OPTIONS, ENABLED = TRUE, UPDATED_AT = s.UPDATED_AT "
            "WHEN NOT MATCHED THEN INSERT (SOURCE_SCHEMA, SOURCE_TABLE, TARGET_SCHEMA, TARGET_TABLE, MODE, "
            "PRIMARY_KEY, WATERMARK_COLUMN, OPTIONS, ENABLED, UPDATED_AT) VALUES (s.SOURCE_SCHEMA, s.SOURCE_TABLE, "
            "s.TARGET_SCHEMA, s.TARGET_TABLE, s.MODE, s.PRIMARY_KEY, s.WATERMARK_COLUMN, s.OPTIONS, TRUE, "
            "s.UPDATED_AT)",
            (
                spec.source_schema,
                spec.source_table,
                spec.target_schema,
                spec.target_table,
                spec.mode,
                json.dumps(list(spec.primary_key)),
                spec.watermark_column,
                options,
                now(),
            ),
        ),
    )


def read_table_specs(session: Any, place: Place) -> list[TableSpec]:
    """The enabled tables, as configured in SYNC_TABLES (what the procedures act on)."""
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS A, SOURCE_TABLE AS B, TARGET_SCHEMA AS C, TARGET_TABLE AS D, MODE AS E, "
            f"PRIMARY_KEY AS F, WATERMARK_COLUMN AS G, OPTIONS AS H FROM {place.control('SYNC_TABLES')} "
            "WHERE ENABLED ORDER BY SOURCE_SCHEMA, SOURCE_TABLE"
        ),
    )
    return [
        TableSpec(
            source_schema=r[0],
            source_table=r[1],
            target_schema=r[2],
            target_table=r[3],
            mode=r[4],
            primary_key=tuple(json.loads(r[5])),
            watermark_column=r[6],
            numeric_scale=dict(json.loads(r[7] or "{}").get("numeric_scale", {})),
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class LedgerEntry:
    export_id: str
    status: str
    attempts: int
    doc: str


def known_export_ids(session: Any, place: Place) -> set[str]:
    return {r[0] for r in run(session, Stmt(f"SELECT EXPORT_ID AS E FROM {place.control('MANIFESTS')}"))}


def record_manifest(session: Any, place: Place, manifest: Manifest, doc: str) -> None:
    w = manifest.window
    run(
        session,
        Stmt(
            f"INSERT INTO {place.control('MANIFESTS')} (EXPORT_ID, SOURCE_SCHEMA, SOURCE_TABLE, MODE, WINDOW_COLUMN, "
            "WINDOW_LOW, WINDOW_HIGH, CHUNK_INDEX, CHUNK_COUNT, ROWS_EXPORTED, FILE_COUNT, BYTES, CREATED_AT, "
            "STATUS, ATTEMPTS, DOC, INTAKE_AT) SELECT CAST(? AS VARCHAR) AS A, CAST(? AS VARCHAR) AS B, "
            "CAST(? AS VARCHAR) AS C, CAST(? AS VARCHAR) AS D, CAST(? AS VARCHAR) AS E, CAST(? AS VARCHAR) AS F, "
            "CAST(? AS VARCHAR) AS G, CAST(? AS NUMBER) AS H, CAST(? AS NUMBER) AS I, CAST(? AS NUMBER) AS J, "
            "CAST(? AS NUMBER) AS K, CAST(? AS NUMBER) AS L, CAST(? AS VARCHAR) AS M, CAST(? AS VARCHAR) AS N, "
            "0 AS O, CAST(? AS VARCHAR) AS P, CAST(? AS TIMESTAMP_NTZ) AS Q",
            (
                manifest.export_id,
                manifest.schema,
                manifest.table,
                manifest.mode,
                w.column,
                w.low,
                w.high,
                manifest.chunk_index,
                manifest.chunk_count,
                str(manifest.rows),
                len(manifest.files),
                str(manifest.bytes),
                manifest.created_at,
                NEW,
                doc,
                now(),
            ),
        ),
    )


def record_invalid_manifest(session: Any, place: Place, export_id: str, doc: str, error: str) -> None:
    run(
        session,
        Stmt(
            f"INSERT INTO {place.control('MANIFESTS')} (EXPORT_ID, STATUS, ATTEMPTS, ERROR, DOC, INTAKE_AT) "
            "SELECT CAST(? AS VARCHAR) AS A, CAST(? AS VARCHAR) AS B, 0 AS C, CAST(? AS VARCHAR) AS D, "
            "CAST(? AS VARCHAR) AS E, CAST(? AS TIMESTAMP_NTZ) AS F",
            (export_id, QUARANTINED, error, doc, now()),
        ),
    )


def pending_manifests(session: Any, place: Place, spec: TableSpec) -> list[LedgerEntry]:
    rows = run(
        session,
        Stmt(
            f"SELECT EXPORT_ID AS E, STATUS AS S, ATTEMPTS AS A, DOC AS D FROM {place.control('MANIFESTS')} "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS IN (?, ?) ORDER BY CREATED_AT, EXPORT_ID",
            (spec.source_schema, spec.source_table, NEW, FAILED),
        ),
    )
    return [LedgerEntry(r[0], r[1], int(r[2] or 0), r[3]) for r in rows]


def loaded_highs(session: Any, place: Place, spec: TableSpec) -> list[str]:
    rows = run(
        session,
        Stmt(
            f"SELECT WINDOW_HIGH AS H FROM {place.control('MANIFESTS')} "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS = ? AND WINDOW_HIGH IS NOT NULL",
            (spec.source_schema, spec.source_table, LOADED),
        ),
    )
    return [r[0] for r in rows]


def mark_loaded(session: Any, place: Place, export_id: str, run_id: str, counts: dict[str, int]) -> None:
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ERROR = NULL, LOADED_AT = CAST(? AS TIMESTAMP_NTZ), "
            "ROWS_LOADED = CAST(? AS NUMBER), ROWS_INSERTED = CAST(? AS NUMBER), ROWS_UPDATED = CAST(? AS NUMBER), "
            "ROWS_DELETED = CAST(? AS NUMBER), RUN_ID = ?, ATTEMPTS = ATTEMPTS + 1 WHERE EXPORT_ID = ?",
            (
                LOADED,
                now(),
                str(counts["loaded"]),
                str(counts["inserted"]),
                str(counts["updated"]),
                str(counts["deleted"]),
                run_id,
                export_id,
            ),
        ),
    )


def mark_status(session: Any, place: Place, export_id: str, status: str, error: str | None, run_id: str) -> None:
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ERROR = ?, RUN_ID = ?, "
            "ATTEMPTS = ATTEMPTS + 1 WHERE EXPORT_ID = ?",
            (status, error, run_id, export_id),
        ),
    )


# --------------------------------------------------------------------------- watermarks


def get_watermark(session: Any, place: Place, spec: TableSpec) -> str | None:
    rows = run(
        session,
        Stmt(
            f"SELECT WATERMARK AS W FROM {place.control('WATERMARKS')} WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?",
            (spec.source_schema, spec.source_table),
        ),
    )
    return rows[0][0] if rows else None


def set_watermark(session: Any, place: Place, spec: TableSpec, watermark: str | None, export_id: str) -> None:
    run(
        session,
        Stmt(
            f"MERGE INTO {place.control('WATERMARKS')} AS t USING (SELECT CAST(? AS VARCHAR) AS SOURCE_SCHEMA, "
            "CAST(? AS VARCHAR) AS SOURCE_TABLE, CAST(? AS VARCHAR) AS WATERMARK_COLUMN, "
            "CAST(? AS VARCHAR) AS WATERMARK, CAST(? AS VARCHAR) AS EXPORT_ID, "
            "CAST(? AS TIMESTAMP_NTZ) AS UPDATED_AT) AS s "
            "ON t.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND t.SOURCE_TABLE = s.SOURCE_TABLE "
            "WHEN MATCHED THEN UPDATE SET WATERMARK_COLUMN = s.WATERMARK_COLUMN, WATERMARK = s.WATERMARK, "
            "EXPORT_ID = s.EXPORT_ID, UPDATED_AT = s.UPDATED_AT "
            "WHEN NOT MATCHED THEN INSERT (SOURCE_SCHEMA, SOURCE_TABLE, WATERMARK_COLUMN, WATERMARK, EXPORT_ID, "
            "UPDATED_AT) VALUES (s.SOURCE_SCHEMA, s.SOURCE_TABLE, s.WATERMARK_COLUMN, s.WATERMARK, s.EXPORT_ID, "
            "s.UPDATED_AT)",
            (spec.source_schema, spec.source_table, spec.watermark_column, watermark, export_id, now()),
        ),
    )


# --------------------------------------------------------------------------- runs and files


def record_files(session: Any, place: Place, export_id: str, results: list[dict[str, Any]]) -> None:
    for r in results:
        run(
            session,
            Stmt(
                f"INSERT INTO {place.control('LOAD_FILES')} (EXPORT_ID, FILE, STATUS, ROWS_PARSED, ROWS_LOADED, "
                "ERRORS_SEEN, FIRST_ERROR, LOADED_AT) SELECT CAST(? AS VARCHAR) AS A, CAST(? AS VARCHAR) AS B, "
                "CAST(? AS VARCHAR) AS C, CAST(? AS NUMBER) AS D, CAST(? AS NUMBER) AS E, CAST(? AS NUMBER) AS F, "
                "CAST(? AS VARCHAR) AS G, CAST(? AS TIMESTAMP_NTZ) AS H",
                (
                    export_id,
                    r["file"],
                    r["status"],
                    str(r["rows_parsed"]),
                    str(r["rows_loaded"]),
                    str(r["errors_seen"]),
                    r["first_error"],
                    now(),
                ),
            ),
        )


def record_run(session: Any, place: Place, summary: dict[str, Any]) -> None:
    keys = (
        "run_id",
        "source_schema",
        "source_table",
        "started_at",
        "finished_at",
        "status",
        "manifests",
        "rows_exported",
        "rows_loaded",
        "rows_inserted",
        "rows_updated",
        "rows_deleted",
        "watermark_before",
        "watermark_after",
        "duration_s",
        "error",
    )
    casts = (
        "VARCHAR",
        "VARCHAR",
        "VARCHAR",
        "TIMESTAMP_NTZ",
        "TIMESTAMP_NTZ",
        "VARCHAR",
        "NUMBER",
        "NUMBER",
        "NUMBER",
        "NUMBER",
        "NUMBER",
        "NUMBER",
        "VARCHAR",
        "VARCHAR",
        "FLOAT",
        "VARCHAR",
    )
    select = ", ".join(f"CAST(? AS {c}) AS {k.upper()}" for k, c in zip(keys, casts, strict=True))
    values = tuple(None if summary.get(k) is None else str(summary[k]) for k in keys)
    run(
        session,
        Stmt(f"INSERT INTO {place.control('RUNS')} ({', '.join(k.upper() for k in keys)}) SELECT {select}", values),
    )

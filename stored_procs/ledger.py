"""The control tables: configuration, the MANIFESTS ledger, runs and per-file COPY results (the
watermarks: stored_procs.watermarks)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stored_procs import datetime_text
from stored_procs.control_tables import control_ddl
from stored_procs.row_sql import insert_row
from stored_procs.spec import Place, TableSpec, customization_options
from stored_procs.statement import Stmt, run
from sync_contract.manifest import Manifest

NEW, LOADED, FAILED, QUARANTINED, SUPERSEDED = "NEW", "LOADED", "FAILED", "QUARANTINED", "SUPERSEDED"
DISCARDED = "DISCARDED"  # by an operator: DISCARD_MANIFEST (stored_procs.loading.discard)
UNSETTLED = (NEW, FAILED, QUARANTINED)  # not loaded, not superseded, not discarded: may still load
MAX_ATTEMPTS = 3


# a time bound from now(), converted with its explicit format (stored_procs/datetime_text.py)
_BOUND_TIME = datetime_text.timestamp_ntz()


def now(seconds_from_now: float = 0.0) -> str:
    """UTC now (plus `seconds_from_now`) as `YYYY-MM-DD HH:MI:SS.ffffff`, for a TIMESTAMP_NTZ bind."""
    moment = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=seconds_from_now)
    return moment.isoformat(sep=" ", timespec="microseconds")


def ensure_control(session: Any, place: Place) -> None:
    for stmt in control_ddl(place):
        run(session, stmt)


def save_table_spec(session: Any, place: Place, spec: TableSpec, enabled: bool = True) -> None:
    options = json.dumps(
        {
            "numeric_scale": spec.numeric_scale,
            "late_row_guard": spec.late_row_guard,
            "lookback": spec.lookback,
            "delete_detection": spec.delete_detection,
            "keys_interval_hours": spec.keys_interval_hours,
            "max_delete_fraction": spec.max_delete_fraction,
            "generation": spec.generation,
            "bad_values": spec.bad_values,
            **({"max_rows_per_invocation": spec.max_rows_per_invocation} if spec.max_rows_per_invocation else {}),
            **({"freshness_sla_minutes": spec.freshness_sla_minutes} if spec.freshness_sla_minutes else {}),
            # customization (configuration.customization): only what differs from the defaults
            **{k: v for k, v in customization_options(spec).items() if v},
        },
        sort_keys=True,
    )
    run(
        session,
        Stmt(
            f"MERGE INTO {place.control('SYNC_TABLES')} AS t USING (SELECT CAST(? AS VARCHAR) AS SOURCE_SCHEMA, "
            "CAST(? AS VARCHAR) AS SOURCE_TABLE, CAST(? AS VARCHAR) AS TARGET_SCHEMA, "
            "CAST(? AS VARCHAR) AS TARGET_TABLE, CAST(? AS VARCHAR) AS MODE, CAST(? AS VARCHAR) AS PRIMARY_KEY, "
            "CAST(? AS VARCHAR) AS WATERMARK_COLUMN, CAST(? AS VARCHAR) AS OPTIONS, "
            f"{_BOUND_TIME} AS UPDATED_AT, CAST(? AS BOOLEAN) AS ENABLED) AS s "
            "ON t.SOURCE_SCHEMA = s.SOURCE_SCHEMA AND t.SOURCE_TABLE = s.SOURCE_TABLE "
            "WHEN MATCHED THEN UPDATE SET TARGET_SCHEMA = s.TARGET_SCHEMA, TARGET_TABLE = s.TARGET_TABLE, "
            "MODE = s.MODE, PRIMARY_KEY = s.PRIMARY_KEY, WATERMARK_COLUMN = s.WATERMARK_COLUMN, "
            "OPTIONS = s.OPTIONS, ENABLED = s.ENABLED, UPDATED_AT = s.UPDATED_AT "
            "WHEN NOT MATCHED THEN INSERT (SOURCE_SCHEMA, SOURCE_TABLE, TARGET_SCHEMA, TARGET_TABLE, MODE, "
            "PRIMARY_KEY, WATERMARK_COLUMN, OPTIONS, ENABLED, UPDATED_AT) VALUES (s.SOURCE_SCHEMA, s.SOURCE_TABLE, "
            "s.TARGET_SCHEMA, s.TARGET_TABLE, s.MODE, s.PRIMARY_KEY, s.WATERMARK_COLUMN, s.OPTIONS, s.ENABLED, "
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
                "TRUE" if enabled else "FALSE",
            ),
        ),
    )


def read_table_specs(session: Any, place: Place, enabled_only: bool = True) -> list[TableSpec]:
    """The tables configured in SYNC_TABLES (by default the enabled ones: what the procedures act on)."""
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS A, SOURCE_TABLE AS B, TARGET_SCHEMA AS C, TARGET_TABLE AS D, MODE AS E, "
            f"PRIMARY_KEY AS F, WATERMARK_COLUMN AS G, OPTIONS AS H FROM {place.control('SYNC_TABLES')} "
            + ("WHERE ENABLED " if enabled_only else "")
            + "ORDER BY SOURCE_SCHEMA, SOURCE_TABLE"
        ),
    )
    return [spec_from_row(r) for r in rows]


def spec_from_row(r: Any) -> TableSpec:
    """A TableSpec from SYNC_TABLES' (SOURCE_SCHEMA, SOURCE_TABLE, TARGET_SCHEMA, TARGET_TABLE, MODE,
    PRIMARY_KEY, WATERMARK_COLUMN, OPTIONS)."""
    return TableSpec(
        source_schema=r[0],
        source_table=r[1],
        target_schema=r[2],
        target_table=r[3],
        mode=r[4],
        primary_key=tuple(json.loads(r[5])),
        watermark_column=r[6],
        **_options(r[7]),
    )


def _options(text: str | None) -> dict[str, Any]:
    options = json.loads(text or "{}")
    return {
        "numeric_scale": dict(options.get("numeric_scale", {})),
        "late_row_guard": bool(options.get("late_row_guard", True)),
        "lookback": options.get("lookback"),
        "delete_detection": options.get("delete_detection", "off"),
        "keys_interval_hours": float(options.get("keys_interval_hours", 24.0)),
        "max_delete_fraction": float(options.get("max_delete_fraction", 0.25)),
        "generation": int(options.get("generation", 0)),
        "bad_values": options.get("bad_values", "quarantine"),
        "max_rows_per_invocation": options.get("max_rows_per_invocation"),
        "freshness_sla_minutes": options.get("freshness_sla_minutes"),
        "rename": dict(options.get("rename", {})),
        "transform": dict(options.get("transform", {})),
        "type_overrides": dict(options.get("type_overrides", {})),
        "allow_lossy": bool(options.get("allow_lossy", False)),
        "history": bool(options.get("history", False)),
    }


def set_enabled(session: Any, place: Place, spec: TableSpec, enabled: bool) -> None:
    run(
        session,
        Stmt(
            f"UPDATE {place.control('SYNC_TABLES')} SET ENABLED = CAST(? AS BOOLEAN), "
            f"UPDATED_AT = {_BOUND_TIME} WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?",
            ("TRUE" if enabled else "FALSE", now(), spec.source_schema, spec.source_table),
        ),
    )


def supersede_history(session: Any, place: Place, spec: TableSpec, run_id: str) -> int:
    """Resync: every manifest of the table leaves the load path (kept, as SUPERSEDED) and the watermark
    is dropped, so the next export starts from the beginning and no old window counts as loaded."""
    rows = run(
        session,
        Stmt(
            f"SELECT COUNT(*) AS N FROM {place.control('MANIFESTS')} WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? "
            "AND STATUS <> ?",
            (spec.source_schema, spec.source_table, SUPERSEDED),
        ),
    )
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, RUN_ID = ?, ERROR = 'superseded by a resync' "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS <> ?",
            (SUPERSEDED, run_id, spec.source_schema, spec.source_table, SUPERSEDED),
        ),
    )
    run(
        session,
        Stmt(
            f"DELETE FROM {place.control('WATERMARKS')} WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ?",
            (spec.source_schema, spec.source_table),
        ),
    )
    return int(rows[0][0]) if rows else 0


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class LedgerEntry:
    export_id: str
    status: str
    attempts: int
    doc: str


def holds(session: Any, place: Place, export_id: str) -> bool:
    """Whether MANIFESTS has a row with this export id."""
    return bool(export_statuses(session, place, [export_id]))


def export_statuses(session: Any, place: Place, export_ids: list[str]) -> dict[str, str]:
    """The ledger status of those of `export_ids` MANIFESTS has a row of (one statement)."""
    table = place.control("MANIFESTS")
    rows = run(
        session,
        Stmt(
            f"SELECT EXPORT_ID AS E, STATUS AS S FROM {table} WHERE EXPORT_ID IN ({_in_list(export_ids)})",
            tuple(export_ids),
        ),
    )
    return {r[0]: r[1] for r in rows}


def record_manifest(
    session: Any, place: Place, manifest: Manifest, doc: str, as_id: str | None = None, error: str | None = None
) -> None:
    """A NEW ledger row of `manifest`; with `error`, QUARANTINED, under `as_id` (loading.duplicates)."""
    w = manifest.window
    row = [
        ("EXPORT_ID", "VARCHAR", as_id or manifest.export_id),
        ("SOURCE_SCHEMA", "VARCHAR", manifest.schema),
        ("SOURCE_TABLE", "VARCHAR", manifest.table),
        ("MODE", "VARCHAR", manifest.mode),
        ("WINDOW_COLUMN", "VARCHAR", w.column),
        ("WINDOW_LOW", "VARCHAR", w.low),
        ("WINDOW_HIGH", "VARCHAR", w.high),
        ("CHUNK_INDEX", "NUMBER", manifest.chunk_index),
        ("CHUNK_COUNT", "NUMBER", manifest.chunk_count),
        ("ROWS_EXPORTED", "NUMBER", manifest.rows),
        ("FILE_COUNT", "NUMBER", len(manifest.files)),
        ("BYTES", "NUMBER", manifest.bytes),
        ("CREATED_AT", "VARCHAR", manifest.created_at),
        ("STATUS", "VARCHAR", QUARANTINED if error else NEW),
        ("ATTEMPTS", "NUMBER", 0),
        ("ERROR", "VARCHAR", error),
        ("DOC", "VARCHAR", doc),
        ("INTAKE_AT", "TIMESTAMP_NTZ", now()),
    ]
    run(session, insert_row(place.control("MANIFESTS"), row))


def record_invalid_manifest(
    session: Any, place: Place, export_id: str, doc: str, error: str, table: tuple[str, str] | None = None
) -> None:
    row = [
        ("EXPORT_ID", "VARCHAR", export_id),
        ("SOURCE_SCHEMA", "VARCHAR", table[0] if table else None),
        ("SOURCE_TABLE", "VARCHAR", table[1] if table else None),
        ("STATUS", "VARCHAR", QUARANTINED),
        ("ATTEMPTS", "NUMBER", 0),
        ("ERROR", "VARCHAR", error),
        ("DOC", "VARCHAR", doc),
        ("INTAKE_AT", "TIMESTAMP_NTZ", now()),
    ]
    run(session, insert_row(place.control("MANIFESTS"), row))


def retry_manifest(session: Any, place: Place, export_id: str) -> int:
    """A FAILED or QUARANTINED manifest back to NEW with its attempts reset; the number of rows changed."""
    where = f"FROM {place.control('MANIFESTS')} WHERE EXPORT_ID = ? AND STATUS IN (?, ?)"
    rows = run(session, Stmt(f"SELECT COUNT(*) AS N {where}", (export_id, FAILED, QUARANTINED)))
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ATTEMPTS = 0, ERROR = NULL "
            "WHERE EXPORT_ID = ? AND STATUS IN (?, ?)",
            (NEW, export_id, FAILED, QUARANTINED),
        ),
    )
    return int(rows[0][0]) if rows else 0


def keys_due(session: Any, place: Place, spec: TableSpec) -> bool:
    """Whether the table wants a key-set export now: delete detection is on and the newest key set
    taken in is older than its interval (or there is none)."""
    if spec.delete_detection == "off":
        return False
    rows = run(
        session,
        Stmt(
            f"SELECT MAX(INTAKE_AT) AS T FROM {place.control('MANIFESTS')} "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND MODE = 'keys'",
            (spec.source_schema, spec.source_table),
        ),
    )
    return keys_due_at(spec, rows[0][0] if rows else None)


def keys_taken_at(session: Any, place: Place) -> dict[tuple[str, str], Any]:
    """The newest key set's INTAKE_AT of every table that has one, by (schema, table) (one statement)."""
    rows = run(
        session,
        Stmt(
            f"SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, MAX(INTAKE_AT) AS A FROM {place.control('MANIFESTS')} "
            "WHERE MODE = 'keys' GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
        ),
    )
    return {(r[0], r[1]): r[2] for r in rows}


def keys_due_at(spec: TableSpec, newest: Any) -> bool:
    """`keys_due` given the newest key set's INTAKE_AT (None: none taken in yet)."""
    if spec.delete_detection == "off":
        return False
    if newest is None:
        return True
    age_h = (datetime.fromisoformat(now()) - datetime.fromisoformat(str(newest))).total_seconds() / 3600
    return age_h >= spec.keys_interval_hours


def newest_loaded(session: Any, place: Place, spec: TableSpec) -> tuple[str, str | None] | None:
    """(manifest document, window high) of the table's newest LOADED export, by its snapshot time."""
    rows = run(
        session,
        Stmt(
            f"SELECT DOC AS D, WINDOW_HIGH AS H FROM {place.control('MANIFESTS')} "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS = ? AND MODE <> 'keys' "
            "ORDER BY CREATED_AT DESC, EXPORT_ID DESC LIMIT 1",
            (spec.source_schema, spec.source_table, LOADED),
        ),
    )
    return (rows[0][0], rows[0][1]) if rows else None


def newest_loaded_snapshot(session: Any, place: Place, spec: TableSpec) -> str | None:
    """`created_at` of the newest loaded export (ISO 8601 UTC: text order is time order)."""
    rows = run(
        session,
        Stmt(
            f"SELECT MAX(CREATED_AT) AS C FROM {place.control('MANIFESTS')} "
            "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS = ? AND MODE <> 'keys'",
            (spec.source_schema, spec.source_table, LOADED),
        ),
    )
    return rows[0][0] if rows else None


def _in_list(ids: list[str]) -> str:
    if not ids:
        raise ValueError("no export ids")
    return ", ".join("?" for _ in ids)


def mark_loaded(session: Any, place: Place, export_ids: list[str], run_id: str, counts: dict[str, int]) -> None:
    """All manifests of one batch in one statement: a batch is never half marked."""
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ERROR = NULL, LOADED_AT = {_BOUND_TIME}, "
            "ROWS_LOADED = CAST(? AS NUMBER), ROWS_INSERTED = CAST(? AS NUMBER), ROWS_UPDATED = CAST(? AS NUMBER), "
            "ROWS_DELETED = CAST(? AS NUMBER), ROWS_QUARANTINED = CAST(? AS NUMBER), RUN_ID = ?, "
            "ATTEMPTS = ATTEMPTS + 1 "
            f"WHERE EXPORT_ID IN ({_in_list(export_ids)})",
            (
                LOADED,
                now(),
                str(counts["loaded"]),
                str(counts["inserted"]),
                str(counts["updated"]),
                str(counts["deleted"]),
                str(counts.get("quarantined", 0)),
                run_id,
                *export_ids,
            ),
        ),
    )


def mark_status(
    session: Any,
    place: Place,
    export_ids: list[str],
    status: str,
    error: str | None,
    run_id: str,
    attempt: bool = True,
) -> None:
    """Set the exports' STATUS and ERROR; `attempt`: count one more ATTEMPTS (False for a batch refused by
    the table's configuration, loading.errors.ConfigRefused, which must not use up the export's attempts)."""
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ERROR = ?, RUN_ID = ?, "
            f"ATTEMPTS = ATTEMPTS + {1 if attempt else 0} WHERE EXPORT_ID IN ({_in_list(export_ids)})",
            (status, error, run_id, *export_ids),
        ),
    )

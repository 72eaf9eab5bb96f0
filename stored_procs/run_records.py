"""RUNS and LOAD_FILES rows: each table's load in a run, and the COPY results of files that did not load
cleanly."""

from __future__ import annotations

from typing import Any

from stored_procs.ledger import now
from stored_procs.row_sql import insert_rows
from stored_procs.spec import Place
from stored_procs.statement import run


def record_files(session: Any, place: Place, export_id: str, results: list[dict[str, Any]]) -> None:
    """One COPY's result rows in LOAD_FILES, in one INSERT."""
    rows = [
        [
            ("EXPORT_ID", "VARCHAR", export_id),
            ("FILE", "VARCHAR", r["file"]),
            ("STATUS", "VARCHAR", r["status"]),
            ("ROWS_PARSED", "NUMBER", r["rows_parsed"]),
            ("ROWS_LOADED", "NUMBER", r["rows_loaded"]),
            ("ERRORS_SEEN", "NUMBER", r["errors_seen"]),
            ("FIRST_ERROR", "VARCHAR", r["first_error"]),
            ("LOADED_AT", "TIMESTAMP_NTZ", now()),
        ]
        for r in results
    ]
    if rows:
        run(session, insert_rows(place.control("LOAD_FILES"), rows))


RUN_COLUMNS = (
    ("run_id", "VARCHAR"),
    ("source_schema", "VARCHAR"),
    ("source_table", "VARCHAR"),
    ("started_at", "TIMESTAMP_NTZ"),
    ("finished_at", "TIMESTAMP_NTZ"),
    ("status", "VARCHAR"),
    ("manifests", "NUMBER"),
    ("rows_exported", "NUMBER"),
    ("rows_loaded", "NUMBER"),
    ("rows_inserted", "NUMBER"),
    ("rows_updated", "NUMBER"),
    ("rows_deleted", "NUMBER"),
    ("watermark_before", "VARCHAR"),
    ("watermark_after", "VARCHAR"),
    ("duration_s", "FLOAT"),
    ("waiting_batches", "NUMBER"),
    ("notes", "VARCHAR"),
    ("error", "VARCHAR"),
    ("rows_quarantined", "NUMBER"),
)


def record_run(session: Any, place: Place, summary: dict[str, Any]) -> None:
    record_runs(session, place, [summary])


def record_runs(session: Any, place: Place, summaries: list[dict[str, Any]]) -> None:
    """RUNS rows of several tables in one INSERT."""
    rows = [[(key.upper(), sql_type, s.get(key)) for key, sql_type in RUN_COLUMNS] for s in summaries]
    run(session, insert_rows(place.control("RUNS"), rows))

"""A graph run: its id, the readiness check at the root, and the summary the finalizer writes."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import suppress
from typing import Any

from stored_procs import ledger
from stored_procs.configuration import access, app_config
from stored_procs.orchestration import export_check, lease
from stored_procs.spec import Place, TableSpec
from stored_procs.sql import insert_row
from stored_procs.statement import Stmt, query_tag, run


def new_run_id() -> str:
    return f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def task_runtime_info(session: Any, what: str) -> str | None:
    """SYSTEM$TASK_RUNTIME_INFO(what) inside a task run; None outside one (the function raises there)."""
    with suppress(Exception):
        rows = run(session, Stmt("SELECT SYSTEM$TASK_RUNTIME_INFO(?) AS R", (what,)))
        return str(rows[0][0]) if rows and rows[0][0] else None
    return None


def current_run_id(session: Any, given: str | None) -> str:
    """The id every task of one graph run shares: the graph run group id inside a task, else the
    caller's id, else a new one (a CALL from a worksheet)."""
    if given:
        return given
    group = task_runtime_info(session, "CURRENT_TASK_GRAPH_RUN_GROUP_ID")
    return f"graph-{group}" if group else new_run_id()


def set_task_return_value(session: Any, value: str) -> bool:
    """SYSTEM$SET_RETURN_VALUE inside a task run (what a successor's WHEN reads); False outside one.
    Inside a task a failure to set it fails the task: a missing value would skip every load."""
    if task_runtime_info(session, "CURRENT_TASK_NAME") is None:
        return False
    run(session, Stmt("SELECT SYSTEM$SET_RETURN_VALUE(?) AS R", (value,)))
    return True


def check_ready(session: Any, place: Place) -> dict[str, Any]:
    """ROOT: everything the graph needs is configured. Raises NotConfigured naming the missing step."""
    settings = app_config.read(session, place)
    needed = [app_config.STAGE_URL, app_config.TARGET_DATABASE]
    if not app_config.pushes(settings):  # in push mode the graph invokes no exporter
        needed.append(app_config.EXPORTER_FUNCTION)
    for key in needed:
        settings.require(key)
    specs = ledger.read_table_specs(session, place)
    if not specs:
        raise app_config.NotConfigured(
            "no table is enabled: CALL CORE.ADD_TABLE('<schema>.<table>', ['<key column>'], '<watermark column>')"
        )
    database = settings.require(app_config.TARGET_DATABASE)
    notes = access.prepare_new_targets(session, place, database, specs)
    ready = {"ready": True, "tables": [spec.source for spec in specs], "target_database": database}
    return {**ready, "notes": notes} if notes else ready


def finalize(session: Any, place: Place, run_id: str, specs: list[TableSpec] | None = None) -> dict[str, Any]:
    with query_tag(step="FINALIZE", run=run_id):
        return _finalize(session, place, run_id, specs)


def _finalize(session: Any, place: Place, run_id: str, specs: list[TableSpec] | None) -> dict[str, Any]:
    """FINALIZER: one RUN_SUMMARIES row from what the run's tasks recorded. A table with no RUNS row for
    this run had nothing to load (NO_CHANGE: INTAKE's answer skipped its task), or still has something
    pending (NOT_RUN: its task was skipped after a failure, or failed before recording): a failure.
    A table whose export failed in this run, or whose exported manifests intake did not find, and whose
    LOAD did not run (INTAKE found nothing to load anywhere) gets its FAILED RUNS row here, so
    TABLE_STATUS and FAILURES show it (`export_check`). A task retried within the run
    (TASK_AUTO_RETRY_ATTEMPTS) counts by its latest attempt, and a retried finalizer replaces its
    summary. Leases the run's tasks still hold are released."""
    lease.release_run(session, place, run_id)
    specs = ledger.read_table_specs(session, place) if specs is None else specs
    recorded = _loads(session, place, run_id)
    for spec in specs:
        if spec.source not in recorded and (problems := export_check.problems(session, place, spec, run_id)):
            ledger.record_run(session, place, _failed_run(spec, run_id, problems))
    pending = ledger.tables_with_pending(session, place)
    tables: dict[str, dict[str, Any]] = {
        spec.source: {"status": "NOT_RUN" if spec.source in pending else "NO_CHANGE"} for spec in specs
    }
    for name, load in _loads(session, place, run_id).items():
        tables[name] = load
    for spec in specs:
        errors = export_check.export_errors(export_check.requests_of_run(session, place, spec, run_id))
        if errors:
            tables.setdefault(spec.source, {"status": "NOT_RUN"})["export_error"] = "; ".join(errors)
    failed = sorted(name for name, t in tables.items() if t["status"] in {"FAILED", "NOT_RUN"} or t.get("export_error"))
    summary = {
        "run_id": run_id,
        "status": "FAILED" if failed else "SUCCEEDED",
        "tables_succeeded": len(tables) - len(failed),
        "tables_failed": failed,
        "rows_loaded": sum(t.get("rows_loaded", 0) for t in tables.values()),
        "tables": tables,
    }
    row = [
        ("RUN_ID", "VARCHAR", run_id),
        ("FINISHED_AT", "TIMESTAMP_NTZ", ledger.now()),
        ("STATUS", "VARCHAR", summary["status"]),
        ("TABLES_SUCCEEDED", "NUMBER", summary["tables_succeeded"]),
        ("TABLES_FAILED", "NUMBER", len(failed)),
        ("ROWS_LOADED", "NUMBER", summary["rows_loaded"]),
        ("SUMMARY", "VARCHAR", json.dumps(summary, sort_keys=True, default=str)),
    ]
    run(session, Stmt(f"DELETE FROM {place.control('RUN_SUMMARIES')} WHERE RUN_ID = ?", (run_id,)))
    run(session, insert_row(place.control("RUN_SUMMARIES"), row))
    return summary


def _loads(session: Any, place: Place, run_id: str) -> dict[str, dict[str, Any]]:
    """The RUNS rows of this run by table (a load retried within the run: its latest row)."""
    rows = run(
        session,
        Stmt(
            "SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, STATUS AS X, ROWS_LOADED AS R, ERROR AS E "
            f"FROM {place.control('RUNS')} WHERE RUN_ID = ? ORDER BY FINISHED_AT",
            (run_id,),
        ),
    )
    return {f"{r[0]}.{r[1]}": {"status": r[2], "rows_loaded": int(r[3] or 0), "error": r[4]} for r in rows}


def _failed_run(spec: TableSpec, run_id: str, problems: list[str]) -> dict[str, Any]:
    """A RUNS row for a table whose LOAD did not run in this run, failed by its export."""
    at = ledger.now()
    return {
        "run_id": run_id,
        "source_schema": spec.source_schema,
        "source_table": spec.source_table,
        "started_at": at,
        "finished_at": at,
        "status": "FAILED",
        "manifests": 0,
        "rows_loaded": 0,
        "duration_s": 0.0,
        "error": "; ".join(problems),
    }

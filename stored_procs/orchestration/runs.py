"""A graph run: its id, the readiness check at the root, and the summary the finalizer writes."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import suppress
from typing import Any

from stored_procs import ledger, run_records
from stored_procs.configuration import access, app_config
from stored_procs.monitoring import alerts
from stored_procs.orchestration import export_check, lease
from stored_procs.row_sql import upsert_row
from stored_procs.spec import Place, TableSpec
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
    recorded, pending, integration = _loads_and_pending(session, place, run_id)
    requests = export_check.requests_by_table(session, place, run_id)
    unrecorded = []
    for spec in specs:
        if spec.key in recorded:
            continue
        asked = requests.get(spec.key, [])
        if problems := export_check.problems(session, place, spec, run_id, asked) if asked else []:
            unrecorded.append(failed_run(spec, run_id, problems))
        elif spec.key not in pending:
            unrecorded.append(no_change_run(spec, run_id))  # nothing to load: its NO_CHANGE row
    if unrecorded:
        run_records.record_runs(session, place, unrecorded)
        for row in unrecorded:
            recorded[(row["source_schema"], row["source_table"])] = outcome(row)
    export_errors = {spec.key: export_check.export_errors(requests.get(spec.key, [])) for spec in specs}
    summary = write_summary(session, place, run_id, specs, recorded, pending, export_errors)
    if integration:  # incidents opened or over, notified once each; never fails the run
        summary["alerts"] = _alerts(session, place, specs, run_id, integration)
    return summary


def _alerts(session: Any, place: Place, specs: list[TableSpec], run_id: str, integration: str) -> dict[str, Any]:
    """The FINALIZER's alert step in the app (`stored_procs.monitoring.alerts`), through the notification
    integration CORE.SET_ALERT_INTEGRATION named; what went wrong is in the run's result, not a failure."""
    warnings: list[str] = []
    try:
        sender = alerts.integration_sender(session, integration, specs)
        outcome = alerts.evaluate(session, place, specs, run_id, sender, warnings.append)
    except Exception as err:  # the control tables: evaluated again next run
        outcome = {"error": f"alerts not evaluated ({type(err).__name__}: {err}); evaluated again next run"}
    return {**outcome, **({"warnings": warnings} if warnings else {})}


def write_summary(
    session: Any,
    place: Place,
    run_id: str,
    specs: list[TableSpec],
    recorded: dict[tuple[str, str], dict[str, Any]],
    pending: set[tuple[str, str]],
    export_errors: dict[tuple[str, str], list[str]],
) -> dict[str, Any]:
    """The run's RUN_SUMMARIES row (one MERGE: a retried finalizer replaces it) from its tables' loads
    (`recorded`: status, rows_loaded, error), the tables still `pending`, and the errors of their failed
    export requests, each keyed by (schema, table). The local runner, which holds all of it, calls this
    alone. The summary names each table `schema.table`."""
    tables: dict[str, dict[str, Any]] = {}
    for spec in specs:
        table = recorded.get(spec.key) or {"status": "NOT_RUN" if spec.key in pending else "NO_CHANGE"}
        if errors := export_errors.get(spec.key):
            table = {**table, "export_error": "; ".join(errors)}
        tables[spec.source] = table
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
    run(session, upsert_row(place.control("RUN_SUMMARIES"), row, key="RUN_ID"))  # a retried finalizer replaces it
    return summary


def _loads_and_pending(
    session: Any, place: Place, run_id: str
) -> tuple[dict[tuple[str, str], dict[str, Any]], set[tuple[str, str]], str | None]:
    """In one statement: the RUNS rows of this run by (schema, table) (a load retried within the run: its
    latest row), every table with a manifest still to load (NEW or FAILED), and the notification
    integration alerts go to (None: no alert is evaluated, `stored_procs.monitoring.alerts`)."""
    rows = run(
        session,
        Stmt(
            "SELECT 'R' AS W, SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, STATUS AS X, ROWS_LOADED AS R, ERROR AS E, "
            f"FINISHED_AT AS F FROM {place.control('RUNS')} WHERE RUN_ID = ? UNION ALL "
            "SELECT DISTINCT 'P', SOURCE_SCHEMA, SOURCE_TABLE, NULL, NULL, NULL, NULL "
            f"FROM {place.control('MANIFESTS')} WHERE STATUS IN (?, ?) UNION ALL "
            f"SELECT 'A', NULL, NULL, NULL, NULL, VALUE, NULL FROM {place.control('SETTINGS')} WHERE NAME = ? "
            "ORDER BY 7",
            (run_id, ledger.NEW, ledger.FAILED, alerts.ALERT_INTEGRATION),
        ),
    )
    loads = {(r[1], r[2]): outcome({"status": r[3], "rows_loaded": r[4], "error": r[5]}) for r in rows if r[0] == "R"}
    integration = next((str(r[5]) for r in rows if r[0] == "A" and r[5]), None)
    return loads, {(r[1], r[2]) for r in rows if r[0] == "P"}, integration


def outcome(run_row: dict[str, Any]) -> dict[str, Any]:
    """What the run's summary keeps of a table's RUNS row (a load's summary, `failed_run`, `no_change_run`)."""
    return {
        "status": run_row["status"],
        "rows_loaded": int(run_row.get("rows_loaded") or 0),
        "error": run_row.get("error"),
    }


def failed_run(spec: TableSpec, run_id: str, problems: list[str]) -> dict[str, Any]:
    """A RUNS row for a table whose LOAD did not run in this run, failed by its export."""
    return _unloaded_run(spec, run_id, "FAILED", "; ".join(problems))


def no_change_run(spec: TableSpec, run_id: str) -> dict[str, Any]:
    """A RUNS row for a table that had nothing to load in this run: TABLE_STATUS's last run and last
    success (a table that recovered with nothing new is no longer shown failing, an idle one not stale)."""
    return _unloaded_run(spec, run_id, "NO_CHANGE", None)


def _unloaded_run(spec: TableSpec, run_id: str, status: str, error: str | None) -> dict[str, Any]:
    at = ledger.now()
    return {
        "run_id": run_id,
        "source_schema": spec.source_schema,
        "source_table": spec.source_table,
        "target": f"{spec.target_schema}.{spec.target_table}",
        "started_at": at,
        "finished_at": at,
        "status": status,
        "manifests": 0,
        "rows_loaded": 0,
        "duration_s": 0.0,
        "error": error,
    }

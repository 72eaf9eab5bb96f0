"""Monitoring views over the control tables (Snowsight worksheets, dashboards and the Streamlit page).

TABLE_STATUS   one row per configured table: its STATE (below), last success, minutes since it, rows of
               the last run, last error, manifests quarantined, failed or pending, export requests not
               answered yet, rows set aside in QUARANTINE (all, and by the last run), the watermark and
               its lag in minutes (timestamp watermarks only)
RUN_HISTORY    one row per table per run (RUNS), with the watermark's lag when the run ended
GRAPH_RUNS     one row per graph run (the finalizer's summary)
FAILURES       every failed load, failed export request and failed or quarantined manifest
QUARANTINED_ROWS  every row set aside because the target cannot hold one of its values

TABLE_STATUS.STATE, the first that holds (`aurora-sync status` shows it; docs/RUNBOOK.md):
  FAILED       the table's last run (its newest RUNS row) FAILED: LAST_RUN_ERROR says why (LAST_ERROR is
               the newest error of any run, LAST_ERROR_AT when)
  QUARANTINED  a manifest of the table is QUARANTINED (not retried: RETRY_MANIFEST or DISCARD_MANIFEST),
               or its last run set rows aside (RUNS.ROWS_QUARANTINED > 0: the run loaded, those rows
               are in QUARANTINED_ROWS, not in the target); the next run that sets none aside clears it
  WAITING      manifests to load (NEW, or FAILED and retried next run), or an export request not
               answered yet (EXPORT_REQUESTS.STATUS REQUESTED)
  NEVER_RUN    no RUNS row and nothing waiting
  SUCCEEDED / NO_CHANGE  the last run's status: it loaded rows / it had nothing new
A table's "last run" is its newest RUNS row whose STATUS is one of COUNTED (SUCCEEDED, NO_CHANGE,
FAILED): a BUSY row (a run that found another run loading the table, and did nothing) says nothing about
the table, so a FAILED table stays FAILED until a run actually loads it. The alerts
(stored_procs.monitoring.alerts) read the same `last_runs` fragment.
BUSY (another run holds the table's load lease now) is not a column: a lease's name is a digest of the
table's name (`lease`, `TableSpec.slug`) that SQL here cannot compute the same on every engine; the
reader adds it from LEASES (`aurora_sync.status`).
"""

from __future__ import annotations

from stored_procs import datetime_text
from stored_procs.orchestration.answers import REQUESTED
from stored_procs.spec import Place
from stored_procs.statement import Stmt
from sync_contract.identifiers import quote_qualified
from sync_contract.types import Kind, TypeMapping
from sync_contract.watermark import TIME_KINDS


def _watermark_lag(watermark: str, kind: str, until: str) -> str:
    """Minutes from `watermark` (text, as WATERMARKS holds it) to `until`, for a timestamp watermark only
    (`kind`: WATERMARKS.WATERMARK_KIND): NULL for an integer or numeric one, whose text TO_TIMESTAMP would
    read as seconds since the epoch ("TO_TIMESTAMP / TO_TIMESTAMP_*"), and for a watermark loaded before
    the kind was kept. Watermarks are UTC (the exporter's session runs with TimeZone UTC): a timestamptz
    one is read without its `+00` offset, with its explicit format (stored_procs/datetime_text.py)."""
    kinds = ", ".join(f"'{k.value}'" for k in TIME_KINDS)
    utc = f"REGEXP_REPLACE({watermark}, '[+-][0-9]{{2}}(:[0-9]{{2}}){{0,1}}$', '')"
    at = datetime_text.from_text(utc, TypeMapping(Kind.TIMESTAMP_NTZ, "TIMESTAMP_NTZ"), safe=True)
    return f"CASE WHEN {kind} IN ({kinds}) THEN DATEDIFF('minute', {at}, {until}) END"


COUNTED = ("SUCCEEDED", "NO_CHANGE", "FAILED")  # RUNS statuses that say how a table is (not BUSY)


def last_runs(runs_table: str) -> str:
    """SELECT SOURCE_SCHEMA, SOURCE_TABLE, RUN_ID, STATUS, ROWS_LOADED, ROWS_QUARANTINED, FINISHED_AT, ERROR,
    RN of `runs_table` (RUNS, quoted) over the COUNTED runs only; RN = 1 is each table's last run. The one
    definition TABLE_STATUS and the alert conditions share."""
    counted = ", ".join(f"'{s}'" for s in COUNTED)
    return (
        "SELECT SOURCE_SCHEMA, SOURCE_TABLE, RUN_ID, STATUS, ROWS_LOADED, ROWS_QUARANTINED, FINISHED_AT, ERROR, "
        "ROW_NUMBER() OVER (PARTITION BY SOURCE_SCHEMA, SOURCE_TABLE ORDER BY FINISHED_AT DESC) AS RN "
        f"FROM {runs_table} WHERE STATUS IN ({counted})"
    )


def _state() -> str:
    """TABLE_STATUS.STATE (the module's docstring) over the view's joins: r (last run), m (manifests),
    o (open export requests)."""
    waiting = (
        "COALESCE(m.PENDING_MANIFESTS, 0) + COALESCE(m.FAILED_MANIFESTS, 0) + COALESCE(o.OPEN_EXPORT_REQUESTS, 0) > 0"
    )
    return (
        "CASE WHEN r.STATUS = 'FAILED' THEN 'FAILED' "
        "WHEN COALESCE(m.QUARANTINED_MANIFESTS, 0) > 0 OR COALESCE(r.ROWS_QUARANTINED, 0) > 0 THEN 'QUARANTINED' "
        f"WHEN {waiting} THEN 'WAITING' "
        "WHEN r.STATUS IS NULL THEN 'NEVER_RUN' ELSE r.STATUS END"
    )


def view_ddl(place: Place, view_schema: str) -> dict[str, Stmt]:
    """CREATE OR REPLACE VIEW statements by view name; `view_schema` is where the views live."""
    c = place.control

    def name(view: str) -> str:
        parts = (view_schema, view) if place.database is None else (place.database, view_schema, view)
        return quote_qualified(*parts)

    last_run = last_runs(c("RUNS"))
    last_success = (
        "SELECT SOURCE_SCHEMA, SOURCE_TABLE, MAX(FINISHED_AT) AS LAST_SUCCESS_AT "
        f"FROM {c('RUNS')} WHERE STATUS IN ('SUCCEEDED', 'NO_CHANGE') GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    last_error = (
        "SELECT SOURCE_SCHEMA, SOURCE_TABLE, ERROR, FINISHED_AT, "
        "ROW_NUMBER() OVER (PARTITION BY SOURCE_SCHEMA, SOURCE_TABLE ORDER BY FINISHED_AT DESC) AS RN "
        f"FROM {c('RUNS')} WHERE ERROR IS NOT NULL"
    )
    manifests = (
        "SELECT SOURCE_SCHEMA, SOURCE_TABLE, "
        "SUM(CASE WHEN STATUS = 'QUARANTINED' THEN 1 ELSE 0 END) AS QUARANTINED_MANIFESTS, "
        "SUM(CASE WHEN STATUS = 'FAILED' THEN 1 ELSE 0 END) AS FAILED_MANIFESTS, "
        "SUM(CASE WHEN STATUS = 'NEW' THEN 1 ELSE 0 END) AS PENDING_MANIFESTS "
        f"FROM {c('MANIFESTS')} GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    # rows set aside by batches that loaded (a batch applied again after a crash records its rows once;
    # one that failed after setting rows aside is not counted, nor shown in QUARANTINED_ROWS)
    of_loaded = (
        f"FROM {c('QUARANTINE')} AS x WHERE EXISTS (SELECT 1 AS X FROM {c('MANIFESTS')} AS l "
        "WHERE l.EXPORT_ID = x.EXPORT_ID AND l.STATUS = 'LOADED')"
    )
    requests = (
        "SELECT SOURCE_SCHEMA, SOURCE_TABLE, COUNT(*) AS OPEN_EXPORT_REQUESTS "
        f"FROM {c('EXPORT_REQUESTS')} WHERE STATUS = '{REQUESTED}' GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    quarantined = (
        f"SELECT x.SOURCE_SCHEMA AS SOURCE_SCHEMA, x.SOURCE_TABLE AS SOURCE_TABLE, COUNT(*) AS QUARANTINED_ROWS "
        f"{of_loaded} GROUP BY x.SOURCE_SCHEMA, x.SOURCE_TABLE"
    )
    table_status = (
        f"CREATE OR REPLACE VIEW {name('TABLE_STATUS')} AS SELECT t.SOURCE_SCHEMA AS SOURCE_SCHEMA, "
        "t.SOURCE_TABLE AS SOURCE_TABLE, t.TARGET_SCHEMA AS TARGET_SCHEMA, t.TARGET_TABLE AS TARGET_TABLE, "
        "t.MODE AS MODE, t.ENABLED AS ENABLED, s.LAST_SUCCESS_AT AS LAST_SUCCESS_AT, "
        "DATEDIFF('minute', s.LAST_SUCCESS_AT, SYSDATE()) AS MINUTES_SINCE_SUCCESS, "  # both UTC
        f"{_state()} AS STATE, r.RUN_ID AS LAST_RUN_ID, "
        "r.STATUS AS LAST_RUN_STATUS, r.FINISHED_AT AS LAST_RUN_AT, r.ROWS_LOADED AS ROWS_LAST_RUN, "
        "COALESCE(r.ROWS_QUARANTINED, 0) AS ROWS_SET_ASIDE_LAST_RUN, r.ERROR AS LAST_RUN_ERROR, "
        "e.ERROR AS LAST_ERROR, e.FINISHED_AT AS LAST_ERROR_AT, "
        "COALESCE(m.QUARANTINED_MANIFESTS, 0) > 0 AS QUARANTINED, "
        "COALESCE(m.QUARANTINED_MANIFESTS, 0) AS QUARANTINED_MANIFESTS, "
        "COALESCE(m.FAILED_MANIFESTS, 0) AS FAILED_MANIFESTS, COALESCE(m.PENDING_MANIFESTS, 0) AS PENDING_MANIFESTS, "
        "COALESCE(o.OPEN_EXPORT_REQUESTS, 0) AS OPEN_EXPORT_REQUESTS, "
        "COALESCE(q.QUARANTINED_ROWS, 0) AS QUARANTINED_ROWS, "
        "w.WATERMARK_COLUMN AS WATERMARK_COLUMN, w.WATERMARK AS WATERMARK, "
        f"{_watermark_lag('w.WATERMARK', 'w.WATERMARK_KIND', 'SYSDATE()')} AS WATERMARK_LAG_MINUTES "
        f"FROM {c('SYNC_TABLES')} AS t "
        f"LEFT JOIN ({last_success}) AS s ON s.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND s.SOURCE_TABLE = t.SOURCE_TABLE "
        f"LEFT JOIN ({last_run}) AS r ON r.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND r.SOURCE_TABLE = t.SOURCE_TABLE "
        "AND r.RN = 1 "
        f"LEFT JOIN ({last_error}) AS e ON e.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND e.SOURCE_TABLE = t.SOURCE_TABLE "
        "AND e.RN = 1 "
        f"LEFT JOIN ({manifests}) AS m ON m.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND m.SOURCE_TABLE = t.SOURCE_TABLE "
        f"LEFT JOIN ({requests}) AS o ON o.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND o.SOURCE_TABLE = t.SOURCE_TABLE "
        f"LEFT JOIN ({quarantined}) AS q ON q.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND q.SOURCE_TABLE = t.SOURCE_TABLE "
        f"LEFT JOIN {c('WATERMARKS')} AS w ON w.SOURCE_SCHEMA = t.SOURCE_SCHEMA AND w.SOURCE_TABLE = t.SOURCE_TABLE"
    )
    # the lag when each run ended (the table's watermark kind is the current one: WATERMARKS)
    run_lag = _watermark_lag("r.WATERMARK_AFTER", "w.WATERMARK_KIND", "r.FINISHED_AT")
    run_history = (
        f"CREATE OR REPLACE VIEW {name('RUN_HISTORY')} AS SELECT r.RUN_ID AS RUN_ID, "
        "r.SOURCE_SCHEMA AS SOURCE_SCHEMA, r.SOURCE_TABLE AS SOURCE_TABLE, r.STARTED_AT AS STARTED_AT, "
        "r.FINISHED_AT AS FINISHED_AT, r.STATUS AS STATUS, r.MANIFESTS AS MANIFESTS, "
        "r.ROWS_EXPORTED AS ROWS_EXPORTED, r.ROWS_LOADED AS ROWS_LOADED, r.ROWS_INSERTED AS ROWS_INSERTED, "
        "r.ROWS_UPDATED AS ROWS_UPDATED, r.ROWS_DELETED AS ROWS_DELETED, r.WATERMARK_AFTER AS WATERMARK, "
        "r.ROWS_QUARANTINED AS ROWS_QUARANTINED, r.DURATION_S AS DURATION_S, r.WAITING_BATCHES AS WAITING_BATCHES, "
        "r.ERROR AS ERROR, "
        f"{run_lag} AS WATERMARK_LAG_MINUTES FROM {c('RUNS')} AS r LEFT JOIN {c('WATERMARKS')} AS w "
        "ON w.SOURCE_SCHEMA = r.SOURCE_SCHEMA AND w.SOURCE_TABLE = r.SOURCE_TABLE"
    )
    graph_runs = (
        f"CREATE OR REPLACE VIEW {name('GRAPH_RUNS')} AS SELECT RUN_ID AS RUN_ID, FINISHED_AT AS FINISHED_AT, "
        "STATUS AS STATUS, TABLES_SUCCEEDED AS TABLES_SUCCEEDED, TABLES_FAILED AS TABLES_FAILED, "
        f"ROWS_LOADED AS ROWS_LOADED, SUMMARY AS SUMMARY FROM {c('RUN_SUMMARIES')}"
    )
    failures = (
        f"CREATE OR REPLACE VIEW {name('FAILURES')} AS "
        "SELECT 'LOAD' AS KIND, RUN_ID AS RUN_ID, SOURCE_SCHEMA AS SOURCE_SCHEMA, SOURCE_TABLE AS SOURCE_TABLE, "
        f"CAST(NULL AS VARCHAR) AS EXPORT_ID, FINISHED_AT AS FAILED_AT, ERROR AS ERROR FROM {c('RUNS')} "
        "WHERE STATUS = 'FAILED' UNION ALL "
        # an asynchronous request fails in the run whose intake took its answer in (orchestration.answers)
        "SELECT 'EXPORT_REQUEST' AS KIND, COALESCE(SETTLED_RUN_ID, RUN_ID) AS RUN_ID, SOURCE_SCHEMA AS SOURCE_SCHEMA, "
        "SOURCE_TABLE AS SOURCE_TABLE, CAST(NULL AS VARCHAR) AS EXPORT_ID, "
        "COALESCE(SETTLED_AT, REQUESTED_AT) AS FAILED_AT, "
        f"ERROR AS ERROR FROM {c('EXPORT_REQUESTS')} WHERE STATUS = 'FAILED' UNION ALL "
        "SELECT 'MANIFEST_' || STATUS AS KIND, RUN_ID AS RUN_ID, SOURCE_SCHEMA AS SOURCE_SCHEMA, "
        "SOURCE_TABLE AS SOURCE_TABLE, EXPORT_ID AS EXPORT_ID, COALESCE(LOADED_AT, INTAKE_AT) AS FAILED_AT, "
        f"ERROR AS ERROR FROM {c('MANIFESTS')} WHERE STATUS IN ('FAILED', 'QUARANTINED')"
    )
    quarantined_rows = (
        f"CREATE OR REPLACE VIEW {name('QUARANTINED_ROWS')} AS SELECT x.SOURCE_SCHEMA AS SOURCE_SCHEMA, "
        "x.SOURCE_TABLE AS SOURCE_TABLE, x.PRIMARY_KEY AS PRIMARY_KEY, x.REASON AS REASON, "
        "x.ROW_VALUES AS ROW_VALUES, x.EXPORT_ID AS EXPORT_ID, x.RUN_ID AS RUN_ID, "
        f"x.QUARANTINED_AT AS QUARANTINED_AT {of_loaded}"
    )
    return {
        "TABLE_STATUS": Stmt(table_status),
        "RUN_HISTORY": Stmt(run_history),
        "GRAPH_RUNS": Stmt(graph_runs),
        "FAILURES": Stmt(failures),
        "QUARANTINED_ROWS": Stmt(quarantined_rows),
    }

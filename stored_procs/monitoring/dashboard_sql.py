"""The dashboard's SQL and what it makes of the rows: pure functions, no session, standard library only.

The Streamlit page (snowflake_app/streamlit/dashboard.py) imports this module; so do the tests. Inside
the app the page's folder is all it has (no package of the project): the bundle copies this file next to
the page (snowflake.yml, `streamlit/dashboard_sql.py`), so it imports nothing of the project.

Every query reads the monitoring views (stored_procs/monitoring/views.py) in `Where.views`: `CORE` in the
app, the control schema locally (`aurora-sync dashboard`, where the local runner creates the same views).
A table's failure is TABLE_STATUS.STATE (FAILED / QUARANTINED): `aurora-sync status` shows that STATE
(adding BUSY for a table another run is loading now, never over FAILED or QUARANTINED), and the alerts'
RUN_FAILED / QUARANTINED / ROWS_SET_ASIDE read the same last run (`views.last_runs`: a BUSY row is never
a table's last run) and the same quarantined manifests. The page never decides it from other columns.
The old page did ("Failing or quarantined 0 ... No failures recorded" while four tables had failed:
issue 15), and read `CORE` only.

Freshness (`freshness`), per table, the first that holds:
  failing   STATE is FAILED or QUARANTINED
  no SLA    no `freshness_sla_minutes` (SYNC_TABLES.OPTIONS)
  not run   no run yet (the alerts count such a table stale from when it was configured)
  late      no successful run (SUCCEEDED / NO_CHANGE) within the SLA: the alerts' STALE rule
            (stored_procs/monitoring/alerts.py), seconds since the last success > SLA * 60
  on time   otherwise
Times are UTC: the control tables hold UTC wall-clock times (TIMESTAMP_NTZ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FAILING = ("FAILED", "QUARANTINED")
ON_TIME, LATE, FAILING_TEXT, NO_SLA, NOT_RUN = "on time", "late", "failing", "no SLA", "not run yet"
HISTORY_DAYS = 14  # rows and lag over this many days
CREDIT_DAYS = 14
# QUERY_ATTRIBUTION_HISTORY ("QUERY_ATTRIBUTION_HISTORY view", Account Usage,
# https://docs.snowflake.com/en/sql-reference/account-usage/query_attribution_history): the warehouse
# credits of each query (CREDITS_ATTRIBUTED_COMPUTE) with its QUERY_TAG. Reading it needs the SNOWFLAKE
# database role USAGE_VIEWER ("SNOWFLAKE database roles", https://docs.snowflake.com/en/sql-reference/
# snowflake-db-roles), or for an app IMPORTED PRIVILEGES ON SNOWFLAKE DB ("Request global privileges
# from consumers", https://docs.snowflake.com/en/developer-guide/native-apps/requesting-privs).
CREDITS_NEED = (
    "credits: not available (needs SELECT on SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY: the "
    "SNOWFLAKE.USAGE_VIEWER database role, or IMPORTED PRIVILEGES ON SNOWFLAKE DB granted to the app)"
)


@dataclass(frozen=True)
class Where:
    """Where the page reads: `views` the schema of the monitoring views, `sync_tables` the SYNC_TABLES
    control table (both qualified and quoted already: `CORE` / `STATE.SYNC_TABLES` in the app)."""

    views: str
    sync_tables: str


APP = Where(views="CORE", sync_tables="STATE.SYNC_TABLES")


def status_sql(where: Where) -> str:
    """TABLE_STATUS, one row per configured table, by name."""
    return (
        "SELECT SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, STATE AS STATE, LAST_RUN_ID AS LAST_RUN_ID, "
        "LAST_RUN_AT AS LAST_RUN_AT, LAST_SUCCESS_AT AS LAST_SUCCESS_AT, ROWS_LAST_RUN AS ROWS_LAST_RUN, "
        "ROWS_SET_ASIDE_LAST_RUN AS ROWS_SET_ASIDE_LAST_RUN, QUARANTINED_MANIFESTS AS QUARANTINED_MANIFESTS, "
        "QUARANTINED_ROWS AS QUARANTINED_ROWS, PENDING_MANIFESTS AS PENDING_MANIFESTS, WATERMARK AS WATERMARK, "
        f"LAST_RUN_ERROR AS LAST_RUN_ERROR FROM {where.views}.TABLE_STATUS ORDER BY SOURCE"
    )


def sla_sql(where: Where) -> str:
    """Each table's OPTIONS (JSON text; `slas` reads freshness_sla_minutes from it)."""
    return f"SELECT SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, OPTIONS AS OPTIONS FROM {where.sync_tables}"


def history_sql(where: Where) -> str:
    """Rows loaded per run and the freshness lag when each successful run ended, over HISTORY_DAYS (one
    bind: the days). The lag is RUN_HISTORY.WATERMARK_LAG_MINUTES: NULL unless the watermark is a
    timestamp (an integer one read as a time was the old chart's bogus millions of minutes); a
    negative one (a watermark ahead of the run's end: rows stamped in the future) is NULL too, not a
    lag; a failed run loaded nothing, so it has none."""
    return (
        "SELECT FINISHED_AT AS FINISHED_AT, SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, STATUS AS STATUS, "
        "COALESCE(ROWS_LOADED, 0) AS ROWS_LOADED, CASE WHEN STATUS IN ('SUCCEEDED', 'NO_CHANGE') "
        "AND WATERMARK_LAG_MINUTES >= 0 THEN WATERMARK_LAG_MINUTES END AS LAG_MINUTES "
        f"FROM {where.views}.RUN_HISTORY WHERE FINISHED_AT >= DATEADD('day', -?, SYSDATE()) ORDER BY FINISHED_AT"
    )


def failure_log_sql(where: Where) -> str:
    """The newest 50 rows of FAILURES (failed loads, export requests, failed or quarantined manifests)."""
    return (
        "SELECT FAILED_AT AS FAILED_AT, KIND AS KIND, SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, "
        f"EXPORT_ID AS EXPORT_ID, ERROR AS ERROR FROM {where.views}.FAILURES ORDER BY FAILED_AT DESC LIMIT 50"
    )


def quarantined_rows_sql(where: Where) -> str:
    """The newest 200 rows set aside (QUARANTINED_ROWS: values the target cannot hold)."""
    return (
        "SELECT QUARANTINED_AT AS QUARANTINED_AT, SOURCE_SCHEMA || '.' || SOURCE_TABLE AS SOURCE, "
        "PRIMARY_KEY AS PRIMARY_KEY, REASON AS REASON, EXPORT_ID AS EXPORT_ID "
        f"FROM {where.views}.QUARANTINED_ROWS ORDER BY QUARANTINED_AT DESC LIMIT 200"
    )


def graph_runs_sql(where: Where) -> str:
    """The newest 10 graph runs (GRAPH_RUNS: the finalizer's summary of each run)."""
    return (
        "SELECT FINISHED_AT AS FINISHED_AT, RUN_ID AS RUN_ID, STATUS AS STATUS, TABLES_SUCCEEDED AS "
        f"TABLES_SUCCEEDED, TABLES_FAILED AS TABLES_FAILED, ROWS_LOADED AS ROWS_LOADED FROM {where.views}.GRAPH_RUNS "
        "ORDER BY FINISHED_AT DESC LIMIT 10"
    )


def credits_sql() -> str:
    """Warehouse credits per table over CREDIT_DAYS (one bind: the days) from the QUERY_TAG the product
    sets (`stored_procs.statement.query_tag`: JSON with "app": "aurora_sync", the "step" and, for a
    table's load, its "table"); statements of no table are grouped by step, in parentheses. Account
    Usage lags (up to hours), and very short queries may carry no attribution (the view's usage notes)."""
    tag = "TRY_PARSE_JSON(QUERY_TAG)"
    return (
        f"SELECT COALESCE({tag}:\"table\"::VARCHAR, '(' || COALESCE({tag}:\"step\"::VARCHAR, 'other') || ')') "
        "AS SOURCE, SUM(CREDITS_ATTRIBUTED_COMPUTE) AS CREDITS, COUNT(*) AS QUERIES "
        "FROM SNOWFLAKE.ACCOUNT_USAGE.QUERY_ATTRIBUTION_HISTORY "
        f"WHERE START_TIME >= DATEADD('day', -?, CURRENT_TIMESTAMP()) AND {tag}:\"app\"::VARCHAR = 'aurora_sync' "
        "GROUP BY 1 ORDER BY CREDITS DESC"
    )


def slas(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """{schema.table: freshness_sla_minutes or None} from `sla_sql` rows; OPTIONS that are not JSON
    objects give None."""
    found: dict[str, float | None] = {}
    for row in rows:
        try:
            options = json.loads(row["OPTIONS"] or "{}")
        except ValueError:
            options = {}
        sla = options.get("freshness_sla_minutes") if isinstance(options, dict) else None
        found[str(row["SOURCE"])] = float(sla) if isinstance(sla, int | float) and sla > 0 else None
    return found


def _naive_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def freshness(state: str, last_success_at: Any, sla_minutes: float | None, now: datetime) -> str:
    """The table's freshness against its SLA (the module's docstring); `now` naive UTC."""
    if state in FAILING:
        return FAILING_TEXT
    if sla_minutes is None:
        return NO_SLA
    if state == "NEVER_RUN":
        return NOT_RUN
    success = _naive_utc(last_success_at)
    if success is None or (now - success).total_seconds() > sla_minutes * 60:
        return LATE
    return ON_TIME


def why(row: dict[str, Any]) -> str:
    """Why a TABLE_STATUS row is failing: the last run's error when FAILED, what is set aside when
    QUARANTINED."""
    if row["STATE"] == "FAILED":
        return str(row["LAST_RUN_ERROR"] or "failed (no error recorded)")
    parts = []
    if row["QUARANTINED_MANIFESTS"]:
        parts.append(f"{row['QUARANTINED_MANIFESTS']} export(s) quarantined: RETRY_MANIFEST or DISCARD_MANIFEST")
    if row["ROWS_SET_ASIDE_LAST_RUN"]:
        parts.append(f"{row['ROWS_SET_ASIDE_LAST_RUN']} row(s) set aside by the last run (QUARANTINED_ROWS)")
    return "; ".join(parts) or "quarantined"


def tables(status: list[dict[str, Any]], sla: dict[str, float | None], now: datetime) -> list[dict[str, Any]]:
    """The page's table of tables: TABLE_STATUS rows with FRESHNESS and the SLA, in the same order."""
    shown = []
    for row in status:
        minutes = sla.get(str(row["SOURCE"]))
        verdict = freshness(str(row["STATE"]), row["LAST_SUCCESS_AT"], minutes, now)
        shown.append({"TABLE": row["SOURCE"], "STATE": row["STATE"], "FRESHNESS": verdict, "SLA_MINUTES": minutes})
        shown[-1].update({k: v for k, v in row.items() if k not in ("SOURCE", "STATE")})
    return shown


def failing(status: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The FAILED or QUARANTINED tables: TABLE, STATE, WHY, LAST_RUN_ID, LAST_RUN_AT."""
    return [
        {
            "TABLE": r["SOURCE"],
            "STATE": r["STATE"],
            "WHY": why(r),
            "LAST_RUN_ID": r["LAST_RUN_ID"],
            "LAST_RUN_AT": r["LAST_RUN_AT"],
        }
        for r in status
        if r["STATE"] in FAILING
    ]


def pivot(history: list[dict[str, Any]], value: str) -> dict[str, dict[Any, Any]]:
    """{table: {finished_at: value}} without NULLs: one line per table in st.line_chart."""
    series: dict[str, dict[Any, Any]] = {}
    for row in history:
        if row[value] is not None:
            series.setdefault(str(row["SOURCE"]), {})[row["FINISHED_AT"]] = row[value]
    return series

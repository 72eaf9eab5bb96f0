"""CORE.CHECK_ALERTS and the watchdog task: incidents evaluated outside a graph run.

The FINALIZER evaluates incidents once per graph run (`stored_procs.monitoring.alerts`), so without a run
nothing would notice a table staler than its `freshness_sla_minutes`, nor a Task graph that Snowflake
suspended (SUSPEND_TASK_AFTER_NUM_FAILURES, stored_procs/orchestration/graph.py) or that stopped running.
CHECK_ALERTS runs the same evaluation (the same MERGE over INCIDENTS, the same `alerts` lease, the same
SYSTEM$SEND_SNOWFLAKE_NOTIFICATION) with one more incident, of the graph rather than a table:

GRAPH_IDLE  the schedule is enabled (setting `graph_state` ENABLED) and no graph run finished
            (RUN_SUMMARIES.FINISHED_AT, the finalizer's row) for 3 schedule intervals, at least 30 minutes
            (counted from when the schedule was enabled when no run ever finished); over once a run
            finishes (or the schedule is disabled). Its SOURCE_SCHEMA / SOURCE_TABLE are the root task's
            schema and name (`marker`), so INCIDENTS stays keyed by (schema, table, kind).

The watchdog task (`graph.watchdog_ddl`, built by stored_procs.orchestration.schedule) calls CHECK_ALERTS
on its own schedule: its own root, not part of the graph, so the graph's suspension does not stop it.
"""

from __future__ import annotations

import re
from typing import Any

from stored_procs import datetime_text, ledger
from stored_procs.configuration import app_config
from stored_procs.monitoring import alerts
from stored_procs.orchestration import graph, runs
from stored_procs.orchestration.schedule import ENABLED, GRAPH_STATE
from stored_procs.spec import Place
from stored_procs.statement import Stmt

IDLE_INTERVALS, MIN_IDLE_MINUTES = 3, 30.0
_EVERY = re.compile(r"^(\d+) (SECONDS|MINUTES|HOURS)$")
_UNIT_MINUTES = {"SECONDS": 1 / 60, "MINUTES": 1.0, "HOURS": 60.0}


def interval_minutes(schedule: str) -> float:
    """Minutes between two scheduled runs of a schedule as CREATE TASK takes it ('<num> MINUTES', ...).
    A cron ('USING CRON <min> <hour> ...'): 60 when its hour field is `*` (it runs at least hourly), else
    1440 (at least daily, the common case; a weekly cron alerts after 3 days without a run)."""
    text = schedule.strip().upper()
    if m := _EVERY.match(text):
        return int(m[1]) * _UNIT_MINUTES[m[2]]
    fields = text.split()
    return 60.0 if len(fields) > 3 and fields[3] == "*" else 1440.0


def idle_minutes(schedule: str) -> float:
    """How long without a finished graph run is GRAPH_IDLE: 3 intervals, at least 30 minutes."""
    return max(IDLE_INTERVALS * interval_minutes(schedule), MIN_IDLE_MINUTES)


def marker(place: Place) -> tuple[str, str]:
    """GRAPH_IDLE's (SOURCE_SCHEMA, SOURCE_TABLE): the root task's schema and name."""
    where = graph.GraphLocation(place.control_schema, "CORE")
    return place.control_schema, f"{where.prefix}_{graph.ROOT}"


def idle_condition(place: Place, window_minutes: float, now: str) -> Stmt:
    """SELECT S, T, K, D: one GRAPH_IDLE row when no graph run finished within `window_minutes` of `now`
    (the newest RUN_SUMMARIES.FINISHED_AT; none: since `graph_state` was last written, i.e. enabled)."""
    c = place.control
    schema, table = marker(place)
    text = (
        f"SELECT CAST(? AS VARCHAR) AS S, CAST(? AS VARCHAR) AS T, '{alerts.GRAPH_IDLE}' AS K, "
        "'no graph run finished since ' || COALESCE(LEFT(CAST(r.L AS VARCHAR), 19), "
        "'the schedule was enabled at ' || LEFT(CAST(e.E AS VARCHAR), 19)) || ' UTC' || CAST(? AS VARCHAR) AS D "
        f"FROM (SELECT MAX(FINISHED_AT) AS L FROM {c('RUN_SUMMARIES')}) AS r CROSS JOIN "
        f"(SELECT MAX(UPDATED_AT) AS E FROM {c('SETTINGS')} WHERE NAME = ?) AS e "
        f"WHERE DATEDIFF('second', COALESCE(r.L, e.E), {datetime_text.timestamp_ntz()}) > ? * 60"
    )
    window = f" ({window_minutes:g} minutes: {IDLE_INTERVALS} schedule intervals)"
    return Stmt(text, (schema, table, window, GRAPH_STATE, now, window_minutes))


def check(session: Any, place: Place) -> dict[str, Any]:
    """CORE.CHECK_ALERTS: evaluate every incident (STALE and GRAPH_IDLE too, without a run) and send what
    waits through the notification integration CORE.SET_ALERT_INTEGRATION named. Returns
    {"evaluated": bool, "opened": [texts sent], "recovered": [texts sent], "sent": n, "waiting": n
    (undelivered, sent at the next evaluation), "warnings"?: [...], "busy"?: holder}. No integration:
    {"evaluated": False, "alerts": "off"} after reading the settings, nothing else. Raises only when the
    control tables cannot be read or written (the watchdog task's run fails and is retried next interval)."""
    settings = app_config.read(session, place)
    integration = settings.get(alerts.ALERT_INTEGRATION)
    if not integration:
        return {"evaluated": False, "alerts": "off"}
    specs = ledger.read_table_specs(session, place)
    enabled = settings.get(GRAPH_STATE) == ENABLED
    now = ledger.now()
    condition = idle_condition(place, idle_minutes(settings.schedule), now) if enabled else None
    warnings: list[str] = []
    outcome = alerts.evaluate(
        session,
        place,
        specs,
        runs.new_run_id().replace("run-", "check-"),
        alerts.integration_sender(session, integration, specs),
        warnings.append,
        alerts.Extra(marker(place), condition),
    )
    sent = len(outcome.get("opened", [])) + len(outcome.get("recovered", []))
    summary = {"evaluated": True, **outcome, "sent": sent, "waiting": len(outcome.get("undelivered", []))}
    return {**summary, "warnings": warnings} if warnings else summary

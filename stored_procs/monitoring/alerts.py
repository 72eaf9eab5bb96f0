"""Incidents and their notifications: once when an incident opens, once when it is over, never every run.

An incident is one of these conditions of one configured table, found from the control tables:

RUN_FAILED      the table's last run (`views.last_runs`: SUCCEEDED, NO_CHANGE or FAILED; a BUSY row is not
                a run of the table) failed: TABLE_STATUS.STATE FAILED, by the same fragment
QUARANTINED     an export of the table is QUARANTINED in MANIFESTS (it waits for RETRY_MANIFEST or
                DISCARD_MANIFEST: docs/RUNBOOK.md)
ROWS_SET_ASIDE  the table's last run set rows aside in QUARANTINE (values the target cannot hold)
STALE           no successful run (SUCCEEDED or NO_CHANGE) for longer than the table's
                `freshness_sla_minutes` (counted from its first run when it never succeeded, from when it
                was configured, SYNC_TABLES.UPDATED_AT, when it never ran)
GRAPH_IDLE      (not a table: the Task graph, `Extra`) the schedule is enabled and no graph run finished
                within 3 schedule intervals: stored_procs.monitoring.watchdog, evaluated by CORE.CHECK_ALERTS

The FINALIZER evaluates them once per run, and only when an alert destination is configured (the local
`[alerts]` section, or the app's notification integration); locally `aurora-sync alerts` evaluates them
without a run too (a stopped cron, a run that never finishes: STALE). `evaluate` sends one MERGE over
INCIDENTS (opens the new conditions, closes the ones gone), and reads and marks incidents only when that
MERGE changed a row or one still waits for its notification, holding the lease LEASE meanwhile, so that
two evaluations at once never both send a notice. A run with no incident opening or closing sends that
one statement. A notification that cannot be delivered never fails the run: the sending stops there, one
warning goes through `warn`, and it and the rest are sent next time.

In the app the message goes through SYSTEM$SEND_SNOWFLAKE_NOTIFICATION to the notification integration
the consumer named with CORE.SET_ALERT_INTEGRATION ("SYSTEM$SEND_SNOWFLAKE_NOTIFICATION",
https://docs.snowflake.com/en/sql-reference/stored-procedures/system_send_snowflake_notification: a
message `{"text/plain": "..."}` and an integration configuration `{"<integration>": {}}`, both JSON
strings, so both are binds). An email integration mails the text; a webhook integration (Slack, Teams,
PagerDuty: "CREATE NOTIFICATION INTEGRATION (webhooks)") puts it where its WEBHOOK_BODY_TEMPLATE holds
SNOWFLAKE_WEBHOOK_MESSAGE, so the text carries no double quote, backslash or line break (`plain`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stored_procs import datetime_text, ledger
from stored_procs.configuration import app_config
from stored_procs.monitoring.views import last_runs
from stored_procs.orchestration import lease
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

RUN_FAILED, QUARANTINED, ROWS_SET_ASIDE, STALE = "RUN_FAILED", "QUARANTINED", "ROWS_SET_ASIDE", "STALE"
GRAPH_IDLE = "GRAPH_IDLE"
LABELS = {
    RUN_FAILED: "run failed",
    QUARANTINED: "export quarantined",
    ROWS_SET_ASIDE: "rows set aside",
    STALE: "stale beyond its freshness SLA",
    GRAPH_IDLE: "task graph idle",
}
ALERT_INTEGRATION = "alert_integration"  # setting (STATE.SETTINGS): the notification integration's name
MAX_DETAIL = 1000  # characters of an error kept in INCIDENTS.DETAIL and in a message
_NOW = datetime_text.timestamp_ntz()  # one bind: ledger.now()
# which of the open incidents of one (table, kind) is the incident: a notified one, else the oldest
_FIRST = "IFF(OPEN_NOTIFIED_AT IS NULL, 1, 0), OPENED_AT, INCIDENT_ID"
LEASE = "alerts"  # LEASES: one evaluation sends at a time (stored_procs.orchestration.lease)
LEASE_TTL_S = 600


@dataclass(frozen=True)
class Notice:
    """One notification: an incident opened (`recovered` False) or over (True). Times are UTC."""

    incident_id: str
    kind: str
    source_schema: str
    source_table: str
    detail: str
    opened_at: Any
    closed_at: Any = None
    recovered: bool = False

    @property
    def source(self) -> str:
        return f"{self.source_schema}.{self.source_table}"

    @property
    def event(self) -> str:
        return "recovered" if self.recovered else "opened"

    def text(self, sla_minutes: float | None = None) -> str:
        """One line, for a person: what, which table, why, since when."""
        label = LABELS.get(self.kind, self.kind)
        if self.recovered:
            return plain(f"aurora-sync RECOVERED {self.source}: {label} since {_at(self.opened_at)} UTC is over")
        if self.kind == GRAPH_IDLE:  # the source is the root task; the detail says since when
            return plain(
                f"aurora-sync ALERT {self.source}: {label}: {self.detail}. Check the root task's state (SHOW TASKS "
                f"IN SCHEMA {self.source_schema}) and, after fixing the failure, resume it with "
                "CALL CORE.ENABLE_SCHEDULE()"
            )
        why = f"no successful run within {sla_minutes:g} minutes" if self.kind == STALE and sla_minutes else self.detail
        return plain(f"aurora-sync ALERT {self.source}: {label}: {why} (since {_at(self.opened_at)} UTC)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "kind": self.kind,
            "table": self.source,
            "detail": self.detail,
            "incident_id": self.incident_id,
            "opened_at": _at(self.opened_at),
            "closed_at": _at(self.closed_at) if self.closed_at is not None else None,
        }


@dataclass(frozen=True)
class Extra:
    """Incidents of something other than a table (the Task graph: stored_procs.monitoring.watchdog): its
    marker (SOURCE_SCHEMA, SOURCE_TABLE), evaluated like a configured table without an SLA, so that an
    open incident of it closes once `condition` no longer gives it; `condition` is a SELECT S, T, K, D of
    its conditions holding now (None: none can hold, e.g. the schedule is disabled)."""

    marker: tuple[str, str]
    condition: Stmt | None = None


Send = Callable[[Notice], None]  # delivers one notice or raises
Warn = Callable[[str], None]


def plain(text: str) -> str:
    """Text a webhook body template can hold between double quotes: no `"`, backslash or line break, and
    not the template's own placeholder words."""
    text = " ".join(text.replace('"', "'").replace("\\", "/").split())
    return text.replace("SNOWFLAKE_WEBHOOK_", "SNOWFLAKE-WEBHOOK-")


def _at(moment: Any) -> str:
    return str(moment)[:19] if moment is not None else "?"


def _tables(specs: Sequence[TableSpec], extra: Extra | None = None) -> tuple[str, tuple[Any, ...]]:
    """The configured tables and their SLAs as rows of binds (S, T, SLA), and `extra`'s marker (no SLA)."""
    keyed = [(s.source_schema, s.source_table, s.freshness_sla_minutes) for s in specs]
    keyed += [(*extra.marker, None)] if extra else []
    rows = " UNION ALL ".join(
        "SELECT CAST(? AS VARCHAR) AS S, CAST(? AS VARCHAR) AS T, CAST(? AS FLOAT) AS SLA" for _ in keyed
    )
    return rows, tuple(v for row in keyed for v in row)


def conditions(
    place: Place, specs: Sequence[TableSpec], now: str, extra: Extra | None = None
) -> tuple[str, tuple[Any, ...]]:
    """SELECT S, T, K, D: every incident condition holding now, one row per (table, kind). RUN_FAILED and
    ROWS_SET_ASIDE read the table's last run as TABLE_STATUS does (`views.last_runs`: BUSY rows do not
    count), so an open RUN_FAILED incident and a FAILED state are the same thing. A table that never ran
    is counted stale from when it was configured (SYNC_TABLES.UPDATED_AT)."""
    c = place.control
    tables, table_params = _tables(specs, extra)
    last = f"SELECT * FROM ({last_runs(c('RUNS'))}) AS r WHERE r.RN = 1"
    fresh = (
        "SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, "
        "MAX(IFF(STATUS IN ('SUCCEEDED', 'NO_CHANGE'), FINISHED_AT, NULL)) AS L, MIN(STARTED_AT) AS F "
        f"FROM {c('RUNS')} GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    saved = (
        f"SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, MIN(UPDATED_AT) AS U FROM {c('SYNC_TABLES')} "
        "GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    held = (
        "SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, COUNT(*) AS C, MIN(EXPORT_ID) AS E "
        f"FROM {c('MANIFESTS')} WHERE STATUS = 'QUARANTINED' GROUP BY SOURCE_SCHEMA, SOURCE_TABLE"
    )
    on = "ON x.S = v.S AND x.T = v.T"
    run_on = "ON x.SOURCE_SCHEMA = v.S AND x.SOURCE_TABLE = v.T"
    text = (
        f"SELECT v.S AS S, v.T AS T, '{RUN_FAILED}' AS K, LEFT(COALESCE(x.ERROR, 'failed'), {MAX_DETAIL}) AS D "
        f"FROM ({tables}) AS v JOIN ({last}) AS x {run_on} AND x.STATUS = 'FAILED' UNION ALL "
        f"SELECT v.S, v.T, '{QUARANTINED}', CAST(x.C AS VARCHAR) || ' export(s) quarantined, e.g. ' || x.E "
        f"FROM ({tables}) AS v JOIN ({held}) AS x {on} UNION ALL "
        f"SELECT v.S, v.T, '{ROWS_SET_ASIDE}', "
        "CAST(x.ROWS_QUARANTINED AS VARCHAR) || ' row(s) set aside in QUARANTINE by ' || x.RUN_ID "
        f"FROM ({tables}) AS v JOIN ({last}) AS x {run_on} AND x.ROWS_QUARANTINED > 0 UNION ALL "
        f"SELECT v.S, v.T, '{STALE}', 'no successful run within the freshness SLA' "
        f"FROM ({tables}) AS v LEFT JOIN ({fresh}) AS x {on} LEFT JOIN ({saved}) AS y ON y.S = v.S AND y.T = v.T "
        f"WHERE v.SLA IS NOT NULL AND DATEDIFF('second', COALESCE(x.L, x.F, y.U), {_NOW}) > v.SLA * 60"
    )
    if extra is not None and extra.condition is not None:
        return f"{text} UNION ALL {extra.condition.text}", (*table_params * 4, now, *extra.condition.params)
    return text, table_params * 4 + (now,)


def evaluate_incidents(
    place: Place, specs: Sequence[TableSpec], run_id: str, now: str, extra: Extra | None = None
) -> Stmt:
    """One MERGE over INCIDENTS: a condition without an open incident opens one (OPENED_AT, INCIDENT_ID
    `<run>/<kind>/<schema>.<table>`); an open incident of a configured table whose condition is gone is
    closed (CLOSED_AT); an incident still waiting for a notification is touched, so that the MERGE's
    counts ("number of rows inserted" / "updated", "MERGE" in the SQL command reference) say whether
    anything is to be sent.

    Two runs that evaluate at once may both open an incident for one (table, kind) (neither MERGE sees
    the other's row). Of the open incidents of one (table, kind) the first (`_FIRST`: a notified one, else
    the oldest) is the incident; the others are closed here, silently (both notification times set) when
    never notified."""
    i = place.control("INCIDENTS")
    found, found_params = conditions(place, specs, now, extra)
    tables, table_params = _tables(specs, extra)
    open_ = (
        "SELECT i.INCIDENT_ID AS ID, i.SOURCE_SCHEMA AS S, i.SOURCE_TABLE AS T, i.KIND AS K, "
        f"ROW_NUMBER() OVER (PARTITION BY i.SOURCE_SCHEMA, i.SOURCE_TABLE, i.KIND ORDER BY {_FIRST}) AS R "
        f"FROM {i} AS i JOIN ({tables}) AS v ON v.S = i.SOURCE_SCHEMA AND v.T = i.SOURCE_TABLE "
        "WHERE i.CLOSED_AT IS NULL"
    )
    # conditions and open incidents side by side (A = 1: the condition holds), by (table, kind), then the
    # duplicates (P = 1), then the closed incidents whose end is not notified yet (C: their CLOSED_AT,
    # which the touch sets again)
    source = (
        "SELECT b.S AS S, b.T AS T, b.K AS K, MAX(b.D) AS D, MAX(b.A) AS A, MAX(b.ID) AS ID, "
        "CAST(NULL AS TIMESTAMP_NTZ) AS C, 0 AS P FROM ("
        f"SELECT c.S AS S, c.T AS T, c.K AS K, c.D AS D, 1 AS A, CAST(NULL AS VARCHAR) AS ID FROM ({found}) AS c "
        f"UNION ALL SELECT o.S, o.T, o.K, NULL, 0, o.ID FROM ({open_}) AS o WHERE o.R = 1) AS b "
        "GROUP BY b.S, b.T, b.K UNION ALL "
        f"SELECT d.S, d.T, d.K, NULL, 0, d.ID, CAST(NULL AS TIMESTAMP_NTZ), 1 FROM ({open_}) AS d WHERE d.R > 1 "
        f"UNION ALL SELECT SOURCE_SCHEMA, SOURCE_TABLE, KIND, NULL, 0, INCIDENT_ID, CLOSED_AT, 0 FROM {i} "
        "WHERE CLOSED_AT IS NOT NULL AND CLOSE_NOTIFIED_AT IS NULL"
    )
    # every value is a column of the source (the emulator's MERGE binds only there)
    text = (
        f"MERGE INTO {i} AS t USING (SELECT u.S AS S, u.T AS T, u.K AS K, u.D AS D, u.A AS A, u.ID AS ID, u.C AS C, "
        f"u.P AS P, {_NOW} AS W, CAST(? AS VARCHAR) || '/' || u.K || '/' || u.S || '.' || u.T AS N "
        f"FROM ({source}) AS u) AS s ON t.INCIDENT_ID = s.ID "
        "WHEN MATCHED AND t.CLOSED_AT IS NULL AND s.P = 1 AND t.OPEN_NOTIFIED_AT IS NULL "
        "THEN UPDATE SET CLOSED_AT = s.W, OPEN_NOTIFIED_AT = s.W, CLOSE_NOTIFIED_AT = s.W "
        "WHEN MATCHED AND t.CLOSED_AT IS NULL AND s.A = 0 THEN UPDATE SET CLOSED_AT = s.W "
        "WHEN MATCHED AND (t.OPEN_NOTIFIED_AT IS NULL OR t.CLOSE_NOTIFIED_AT IS NULL AND t.CLOSED_AT IS NOT NULL) "
        "THEN UPDATE SET CLOSED_AT = s.C "
        "WHEN NOT MATCHED AND s.A = 1 THEN INSERT (INCIDENT_ID, SOURCE_SCHEMA, SOURCE_TABLE, KIND, DETAIL, OPENED_AT) "
        "VALUES (s.N, s.S, s.T, s.K, s.D, s.W)"
    )
    return Stmt(text, (now, run_id, *found_params, *table_params, *table_params))


def waiting(place: Place) -> Stmt:
    """The incidents whose opening, or end, has not been notified yet, oldest first; of the open incidents
    of one (table, kind) only the first (`_FIRST`), so a duplicate another run opened at the same time is
    never notified. Whether one is closed is read as a boolean (X), not from CLOSED_AT: the emulator's
    server hands a NULL timestamp over as the epoch."""
    ranked = (
        "SELECT INCIDENT_ID, SOURCE_SCHEMA, SOURCE_TABLE, KIND, DETAIL, OPENED_AT, CLOSED_AT, OPEN_NOTIFIED_AT, "
        "CLOSE_NOTIFIED_AT, ROW_NUMBER() OVER (PARTITION BY SOURCE_SCHEMA, SOURCE_TABLE, KIND, "
        f"IFF(CLOSED_AT IS NULL, 1, 0) ORDER BY {_FIRST}) AS R FROM {place.control('INCIDENTS')}"
    )
    return Stmt(
        "SELECT INCIDENT_ID AS I, SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, KIND AS K, DETAIL AS D, OPENED_AT AS O, "
        f"CLOSED_AT AS C, OPEN_NOTIFIED_AT IS NULL AS W, CLOSED_AT IS NOT NULL AS X FROM ({ranked}) AS r "
        "WHERE (OPEN_NOTIFIED_AT IS NULL AND (CLOSED_AT IS NOT NULL OR R = 1)) "
        "OR (CLOSED_AT IS NOT NULL AND CLOSE_NOTIFIED_AT IS NULL) ORDER BY OPENED_AT, INCIDENT_ID"
    )


def notices(rows: Sequence[Any]) -> list[Notice]:
    """The notices of `waiting`'s rows: an opening first, then (once over) its end."""
    out: list[Notice] = []
    for r in rows:
        base = Notice(str(r[0]), str(r[3]), str(r[1]), str(r[2]), str(r[4] or ""), r[5], r[6] if r[8] else None)
        if r[7]:
            out.append(base)
        if r[8]:
            out.append(replace(base, recovered=True))
    return out


def mark_notified(place: Place, opened: Sequence[str], closed: Sequence[str], now: str) -> Stmt:
    """One UPDATE: the notified openings and ends get their time."""

    def among(ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        return (f"INCIDENT_ID IN ({', '.join('?' for _ in ids)})", tuple(ids)) if ids else ("FALSE", ())

    (o, o_params), (c, c_params), (a, a_params) = among(opened), among(closed), among([*opened, *closed])
    return Stmt(
        f"UPDATE {place.control('INCIDENTS')} SET OPEN_NOTIFIED_AT = IFF({o}, {_NOW}, OPEN_NOTIFIED_AT), "
        f"CLOSE_NOTIFIED_AT = IFF({c}, {_NOW}, CLOSE_NOTIFIED_AT) WHERE {a}",
        (*o_params, now, *c_params, now, *a_params),
    )


def evaluate(
    session: Any,
    place: Place,
    specs: Sequence[TableSpec],
    run_id: str,
    send: Send,
    warn: Warn,
    extra: Extra | None = None,
) -> dict[str, Any]:
    """Open and close incidents, send what waits (each notice once, in order), mark what was delivered.
    Returns {"opened": [...], "recovered": [...], "undelivered": [...]} (texts), and "busy" (who holds the
    alerts lease) when another evaluation is sending now: it sends what waits, or the next run does.

    Sending holds the lease LEASE, so two runs finishing at once never both send one notice. The first
    notice that cannot be delivered stops the sending: the rest wait for the next evaluation (a webhook
    that is down costs one timeout per evaluation, not one per notice) and one warning says how many wait.
    Raises only when the control tables cannot be read or written; the caller reports that without
    failing the run. `extra`: incidents of the Task graph too (CORE.CHECK_ALERTS)."""
    done: dict[str, Any] = {"opened": [], "recovered": [], "undelivered": []}
    if not specs and extra is None:
        return done
    now = ledger.now()
    counts = run(session, evaluate_incidents(place, specs, run_id, now, extra))
    if not counts or not sum(int(v or 0) for v in counts[0]):
        return done
    with lease.held(session, place, LEASE, run_id, LEASE_TTL_S) as busy:
        if busy is not None:
            return {**done, "busy": busy.holder}
        return _send_waiting(session, place, specs, send, warn)


def _send_waiting(session: Any, place: Place, specs: Sequence[TableSpec], send: Send, warn: Warn) -> dict[str, Any]:
    """What `evaluate` does under the lease: read what waits, send it in order until one fails, mark it."""
    sla = {s.key: s.freshness_sla_minutes for s in specs}

    def text(n: Notice) -> str:
        return n.text(sla.get((n.source_schema, n.source_table)))

    due = notices(run(session, waiting(place)))
    sent: dict[str, list[Notice]] = {"opened": [], "recovered": []}
    undelivered: list[str] = []
    for k, notice in enumerate(due):
        try:
            send(notice)
        except Exception as err:
            undelivered = [text(n) for n in due[k:]]
            more = f" and {len(due) - k - 1} more alert(s) wait" if k + 1 < len(due) else ""
            warn(
                f"alert not delivered ({notice.event} {notice.kind} {notice.source}): {err}; it{more}: "
                "sent at the next evaluation"
            )
            break
        sent[notice.event].append(notice)
    if sent["opened"] or sent["recovered"]:
        ids = {event: [n.incident_id for n in done] for event, done in sent.items()}
        run(session, mark_notified(place, ids["opened"], ids["recovered"], ledger.now()))
    return {**{event: [text(n) for n in done] for event, done in sent.items()}, "undelivered": undelivered}


# --------------------------------------------------------------------------- the app's destination


def notification_call(integration: str, text: str) -> Stmt:
    """SYSTEM$SEND_SNOWFLAKE_NOTIFICATION of a plain-text message to the named integration (exact name)."""
    return Stmt(
        "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(?, ?)",
        (json.dumps({"text/plain": plain(text)}), json.dumps({integration: {}})),
    )


def integration_sender(session: Any, integration: str, specs: Sequence[TableSpec]) -> Send:
    sla = {s.key: s.freshness_sla_minutes for s in specs}

    def send(notice: Notice) -> None:
        run(session, notification_call(integration, notice.text(sla.get((notice.source_schema, notice.source_table)))))

    return send


def set_integration(session: Any, place: Place, name: str | None) -> dict[str, Any]:
    """CORE.SET_ALERT_INTEGRATION: the notification integration alerts go to (None or '': no alerts). A
    test message is sent first, so that a missing grant fails here, naming it, and not in a later run.
    The name is a setting, not an app reference: "Request references and object-level privileges from
    consumers" (https://docs.snowflake.com/en/developer-guide/native-apps/requesting-refs) and
    "SYSTEM$REFERENCE" list no reference type for notification integrations; the consumer grants USAGE
    instead (docs/SNOWFLAKE_COMPATIBILITY.md, S13: to verify on a real account)."""
    if not name:
        app_config.write(session, place, {ALERT_INTEGRATION: None})
        return {"alerts": "off"}
    exact = app_config.object_name(name, "notification integration")
    try:
        run(session, notification_call(exact, "aurora-sync: alerts of this app will come here"))
    except Exception as err:
        raise app_config.InvalidSetting(
            f"a test message to notification integration {exact} failed ({err}). Create it (CREATE NOTIFICATION "
            f"INTEGRATION ... TYPE = EMAIL or WEBHOOK) and run GRANT USAGE ON INTEGRATION {exact} TO APPLICATION <app>",
            "integration",
        ) from err
    app_config.write(session, place, {ALERT_INTEGRATION: exact})
    return {"alerts": exact, "test_message": "sent"}

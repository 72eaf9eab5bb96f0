"""CORE.CHECK_ALERTS, the watchdog task's procedure: incidents evaluated without a graph run. A table
staler than its SLA is notified with no run at all; a schedule that is enabled while no graph run finished
for 3 intervals (a graph Snowflake suspended, or one that stopped) is a GRAPH_IDLE incident, over once a run
finishes. The emulator POSTs the webhook integration's messages to a local receiver
(tests/integration/receiver.py), as in test_alerts_app.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from stored_procs import ledger
from stored_procs.configuration import app_config
from stored_procs.handlers import app_place
from stored_procs.monitoring import watchdog
from stored_procs.orchestration import runs, schedule
from stored_procs.statement import Stmt, run
from tests.integration.receiver import Received, webhook_receiver
from tests.integration.test_app_procedures import APP_ROLE, app, call, configure  # noqa: F401 (app: a fixture)

pytestmark = pytest.mark.integration


@contextmanager
def bound_hook(app: Any, snow: Any, name: str) -> Iterator[Received]:  # noqa: F811
    """A webhook notification integration posting to a local receiver, granted and set as the app's."""
    with webhook_receiver() as hook:
        run(
            snow,
            Stmt(
                f"CREATE NOTIFICATION INTEGRATION {name} TYPE = WEBHOOK ENABLED = TRUE "
                f"WEBHOOK_URL = '{hook.url}' WEBHOOK_BODY_TEMPLATE = '{{\"text\": \"SNOWFLAKE_WEBHOOK_MESSAGE\"}}' "
                "WEBHOOK_HEADERS = ('Content-Type' = 'application/json')"
            ),
        )
        run(snow, Stmt(f"GRANT USAGE ON INTEGRATION {name} TO ROLE {APP_ROLE}"))
        chosen = call(app, "SET_ALERT_INTEGRATION", name)
        assert (chosen["alerts"], chosen["test_message"]) == (name, "sent")
        hook.posts.clear()  # the test message
        yield hook


def _ago(minutes: float) -> str:
    """A TIMESTAMP_NTZ literal `minutes` before now (UTC), with its format, as the product converts text."""
    return f"TO_TIMESTAMP_NTZ('{ledger.now(-minutes * 60)}', 'YYYY-MM-DD HH24:MI:SS.FF9')"


def test_check_alerts_notifies_a_stale_table_without_a_run_once(pg, app, stack, snow) -> None:  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.wd_stale (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    configure(app, stack, "public.wd_stale", "APP_WD.STALE")
    with bound_hook(app, snow, "WD_STALE_HOOK") as hook:
        call(app, "CONFIGURE_TABLE", "public.wd_stale", {"freshness_sla_minutes": 5})
        fresh = call(app, "CHECK_ALERTS")  # configured just now: within its SLA, no run needed yet
        assert (fresh["evaluated"], fresh["sent"], hook.posts) == (True, 0, [])
        run(app, Stmt(f"UPDATE STATE.SYNC_TABLES SET UPDATED_AT = {_ago(6)}"))  # configured 6 minutes ago, never ran

        first = call(app, "CHECK_ALERTS")
        assert (first["sent"], first["waiting"], len(first["opened"])) == (1, 0, 1)
        assert hook.texts() == [first["opened"][0]]
        assert hook.texts()[0].startswith(
            "aurora-sync ALERT public.wd_stale: stale beyond its freshness SLA: no successful run within 5 minutes"
        )
        again = call(app, "CHECK_ALERTS")
        assert (again["sent"], again["opened"], len(hook.posts)) == (0, [], 1)  # once per incident
    incidents = run(app, Stmt("SELECT KIND, CLOSED_AT IS NULL, OPEN_NOTIFIED_AT IS NOT NULL FROM STATE.INCIDENTS"))
    assert [tuple(r) for r in incidents] == [("STALE", True, True)]


def test_a_graph_without_a_finished_run_for_three_intervals_is_notified_and_its_recovery_too(app, stack, snow) -> None:  # noqa: F811
    place = app_place(app)
    with bound_hook(app, snow, "WD_IDLE_HOOK") as hook:
        # the schedule was enabled 2 hours ago, every 10 minutes: idle after 30 minutes without a finished run
        app_config.write(app, place, {schedule.GRAPH_STATE: schedule.ENABLED, app_config.SCHEDULE: "10 MINUTES"})
        run(app, Stmt(f"UPDATE STATE.SETTINGS SET UPDATED_AT = {_ago(120)} WHERE NAME = 'graph_state'"))
        run(
            app,
            Stmt(
                "INSERT INTO STATE.RUN_SUMMARIES (RUN_ID, FINISHED_AT, STATUS, TABLES_SUCCEEDED, TABLES_FAILED, "
                f"ROWS_LOADED, SUMMARY) SELECT 'run-old', {_ago(20)}, 'SUCCEEDED', 0, 0, 0, '{{}}'"
            ),
        )
        assert call(app, "CHECK_ALERTS")["sent"] == 0  # 20 minutes: within 3 intervals
        run(app, Stmt(f"UPDATE STATE.RUN_SUMMARIES SET FINISHED_AT = {_ago(45)}"))
        (last,) = run(app, Stmt("SELECT LEFT(CAST(FINISHED_AT AS VARCHAR), 19) FROM STATE.RUN_SUMMARIES"))[0]

        idle = call(app, "CHECK_ALERTS")
        assert (idle["sent"], len(idle["opened"])) == (1, 1)
        assert hook.texts() == [
            f"aurora-sync ALERT STATE.AURORA_SYNC_ROOT: task graph idle: no graph run finished since {last} UTC "
            "(30 minutes: 3 schedule intervals). Check the root task's state (SHOW TASKS IN SCHEMA STATE) and, "
            "after fixing the failure, resume it with CALL CORE.ENABLE_SCHEDULE()"
        ]
        assert call(app, "CHECK_ALERTS")["sent"] == 0 and len(hook.posts) == 1  # once per incident

        runs.write_summary(app, place, "run-new", [], {}, set(), {})  # the FINALIZER's row of a finished run
        over = call(app, "CHECK_ALERTS")
        assert (over["sent"], len(over["recovered"])) == (1, 1)
        assert len(hook.posts) == 2
        assert hook.texts()[1].startswith("aurora-sync RECOVERED STATE.AURORA_SYNC_ROOT: task graph idle since")
        assert call(app, "CHECK_ALERTS")["sent"] == 0 and len(hook.posts) == 2  # over: said once
    incidents = run(app, Stmt("SELECT KIND, SOURCE_TABLE, CLOSE_NOTIFIED_AT IS NOT NULL FROM STATE.INCIDENTS"))
    assert [tuple(r) for r in incidents] == [("GRAPH_IDLE", "AURORA_SYNC_ROOT", True)]


class Counting:
    """The driver boundary: counts the statements sent."""

    def __init__(self, session: Any) -> None:
        self._session, self.texts = session, []  # type: list[str]

    def sql(self, text: str, params: list[Any] | None = None) -> Any:
        self.texts.append(text)
        return self._session.sql(text, params=params)


def test_without_an_alert_integration_check_alerts_evaluates_nothing(pg, app, stack, snow) -> None:  # noqa: F811
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.wd_off (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    configure(app, stack, "public.wd_off", "APP_WD.OFF")
    place = app_place(app)
    call(app, "CONFIGURE_TABLE", "public.wd_off", {"freshness_sla_minutes": 1})
    run(app, Stmt(f"UPDATE STATE.SYNC_TABLES SET UPDATED_AT = {_ago(60)}"))  # stale
    app_config.write(app, place, {schedule.GRAPH_STATE: schedule.ENABLED})
    run(app, Stmt(f"UPDATE STATE.SETTINGS SET UPDATED_AT = {_ago(600)}"))  # and idle

    counted = Counting(app)
    assert watchdog.check(counted, place) == {"evaluated": False, "alerts": "off"}
    assert len(counted.texts) == 1 and counted.texts[0].startswith("SELECT NAME AS N, VALUE AS V FROM")
    assert call(app, "CHECK_ALERTS") == {"evaluated": False, "alerts": "off"}
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.INCIDENTS"))[0][0] == 0


def test_the_schedule_builds_the_watchdog_with_an_integration_and_drops_it_without(app, stack, snow) -> None:  # noqa: F811
    from tests.integration.test_app_procedures import TaskRecordingSession

    session = TaskRecordingSession(app)
    configure(session, stack, "public.wd_sched", "APP_WD.SCHED")
    (database,) = run(app, Stmt("SELECT CURRENT_DATABASE() AS D"))[0]
    name = f'"{database}"."STATE"."AURORA_SYNC_WATCHDOG"'
    call(session, "ENABLE_SCHEDULE", "30 MINUTES")
    assert not any(name in t for t in session.texts())  # no integration: no watchdog
    session.tasks.clear()
    with bound_hook(session, snow, "WD_SCHED_HOOK"):
        assert session.texts("CREATE OR REPLACE TASK")[0].startswith(f"CREATE OR REPLACE TASK {name} ")  # enabled
        session.tasks.clear()
        call(session, "DISABLE_SCHEDULE")
        assert session.texts("DROP TASK") == [f"DROP TASK IF EXISTS {name}"]
        session.tasks.clear()
        call(session, "ENABLE_SCHEDULE")
        watchdog_texts = [t for t in session.texts() if name in t]
        assert watchdog_texts[0].startswith(f"CREATE OR REPLACE TASK {name} USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE")
        assert watchdog_texts[0].endswith(f'AS CALL "{database}"."CORE"."CHECK_ALERTS"()')
        assert watchdog_texts[-1] == f"ALTER TASK {name} RESUME"

        # Snowflake suspended the graph: a table change keeps the watchdog, which is what notices that
        session.root_state, session.tasks = "suspended", []
        call(session, "ADD_TABLE", "public.wd_sched_b", ["id"], "updated_at")
        assert session.texts(f"ALTER TASK {name} RESUME")
        session.tasks.clear()
        assert call(session, "SET_ALERT_INTEGRATION", None) == {"alerts": "off", "watchdog": "dropped"}
        assert session.texts() == [f"DROP TASK IF EXISTS {name}"]

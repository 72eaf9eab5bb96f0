"""The procedures the app registers, called through their handlers on the embedded stack.

The app's database is set up from the generated object files themselves (sql/state, sql/views), the
app is configured through its configuration procedures, and the Task graph runs node by node as its
tasks would. The result is compared with `aurora-sync run` on the same source table.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import streamlit

from aurora_sync.config import parse_config
from aurora_sync.snowflake import snowpark_session
from aurora_sync.stack.stack import BUCKET, FUNCTION, PREFIX, REGION
from stored_procs import handlers
from stored_procs.configuration.app_config import InvalidSetting, NotConfigured
from stored_procs.orchestration import exports, graph, lambda_invoke
from stored_procs.procedures import by_name
from stored_procs.statement import Stmt, run
from sync_contract.manifest import manifest_key
from tests.integration.signed import signed_body

ROOT = Path(__file__).resolve().parents[2]
_databases = itertools.count(1)

pytestmark = pytest.mark.integration


APP_ROLE = "SYNCAPP_OWNER"  # the role the app's procedures run with (owner's rights)


def app_connect(stack: Any, role: str | None = APP_ROLE) -> dict[str, Any]:
    """Connection arguments of the embedded stack, logging in with `role` (None: no role, the
    emulator's account administrator, as the consumer)."""
    config = parse_config(
        tomllib.loads(stack.config_toml('[[tables]]\nsource = "public.x"\nprimary_key = ["id"]\nmode = "full"\n'))
    )
    return {**config.snowflake_connect, "role": role} if role else config.snowflake_connect


@pytest.fixture
def app(stack, snow) -> Iterator[Any]:
    """A fresh 'application': its own database with STATE and CORE made from the app's own files. It
    runs as its own role, which the emulator checks as Snowflake would (aurora_sync.stack.emulator.privileges):
    it owns what it creates, and the consumer (`snow`, no role) granted it what consumer_setup.sql grants
    an app on the target database."""
    database = f"SYNCAPP_{next(_databases)}"
    run(snow, Stmt(f'GRANT USAGE, CREATE SCHEMA ON DATABASE "ANALYTICS" TO ROLE {APP_ROLE}'))
    with snowpark_session(app_connect(stack), "ANALYTICS") as session:
        run(session, Stmt(f'CREATE DATABASE IF NOT EXISTS "{database}"'))
        run(session, Stmt(f'USE DATABASE "{database}"'))
        run(session, Stmt("CREATE SCHEMA IF NOT EXISTS STATE"))
        run(session, Stmt("CREATE SCHEMA IF NOT EXISTS CORE"))
        for folder in ("state", "views"):
            for path in sorted((ROOT / "snowflake_app/sql" / folder).glob("*.sql")):
                for text in path.read_text().split("\n", 1)[1].rstrip().rstrip(";").split(";\n"):
                    run(session, Stmt(text))
        yield session


def call(session: Any, procedure: str, *args: Any) -> dict[str, Any]:
    """CALL CORE.<procedure>(args) as Snowflake would: the registered handler, session first. As with a
    real CALL, the caller's current database is the same afterwards (a procedure that creates a target
    schema switches the procedure's own session to it)."""
    (database,) = run(session, Stmt("SELECT CURRENT_DATABASE() AS D"))[0]
    try:
        result = by_name()[procedure].handler(session, *args)
    finally:
        run(session, Stmt(f'USE DATABASE "{database}"'))
    json.dumps(result, default=str)  # a VARIANT: it must serialize
    return result


def configure(session: Any, stack: Any, source: str, target: str) -> None:
    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")
    call(session, "ADD_TABLE", source, ["id"], "updated_at", "incremental", target)


def test_the_graph_run_task_by_task_through_the_handlers_matches_aurora_sync_run(pg, harness, app, stack, snow):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_orders (id bigint PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
    cur.execute(
        "INSERT INTO public.app_orders SELECT g, 'n' || g, TIMESTAMPTZ '2026-02-01 00:00:00+00' + g * INTERVAL '1 s' "
        "FROM generate_series(1, 300) g"
    )
    configure(app, stack, "public.app_orders", "APP_VIA_PROCS.APP_ORDERS")
    assert call(app, "CHECK_READY") == {"ready": True, "tables": ["public.app_orders"], "target_database": "ANALYTICS"}

    # the graph's nodes, each through the procedure its task CALLs (the run id a task would take from
    # SYSTEM$TASK_RUNTIME_INFO is passed explicitly: the emulator has no task runtime)
    run_id = "graph-test-1"
    outcome: dict[str, Any] = {}

    def action(node: graph.Node) -> bool:
        args = [*node.args, run_id] if any(a.name == "RUN_ID" for a in by_name()[node.procedure].args) else []
        if node.procedure == "REQUEST_EXPORTS":  # WAIT: this run's INTAKE loads them (async: test_async_exports)
            args.append(True)
        try:
            outcome[node.name] = call(app, node.procedure, *args)
        except Exception as err:  # a failing procedure is a failed task
            outcome[node.name] = {"error": str(err)}
            return False
        return True

    def intake_value() -> str:  # what the lanes' WHEN reads: INTAKE's return value
        return graph.intake_answer(len(outcome["INTAKE"]["tables_to_load"]))

    specs = handlers.ledger.read_table_specs(app, handlers.app_place(app))
    assert graph.run_graph(graph.declare(specs), action, intake_value) == {
        "ROOT": "SUCCEEDED",
        "REQUEST_EXPORTS": "SUCCEEDED",
        "INTAKE": "SUCCEEDED",
        "LANE_1": "SUCCEEDED",
        "FINALIZER": "SUCCEEDED",
    }
    exported = outcome["REQUEST_EXPORTS"]["tables"]["public.app_orders"]
    assert (exported["status"], exported["rows"], exported["manifests"]) == ("EXPORTED", 300, 1)
    assert (outcome["LANE_1"]["lane"], outcome["LANE_1"]["failed"]) == (1, [])
    load = outcome["LANE_1"]["tables"]["public.app_orders"]
    assert (load["status"], load["rows_loaded"], load["rows_inserted"]) == ("SUCCEEDED", 300, 300)
    assert outcome["FINALIZER"]["status"] == "SUCCEEDED"
    assert outcome["FINALIZER"]["rows_loaded"] == 300

    # the same table through `aurora-sync run` (its own control schema, default target)
    h = harness.add("public.app_orders", ["id"], "updated_at")
    assert not h.cycle().failed
    via_procs = run(app, Stmt('SELECT * FROM "ANALYTICS"."APP_VIA_PROCS"."APP_ORDERS" ORDER BY "ID"'))
    via_cli = run(snow, Stmt('SELECT * FROM "ANALYTICS"."PUBLIC"."APP_ORDERS" ORDER BY "ID"'))
    assert [tuple(r) for r in via_procs] == [tuple(r) for r in via_cli]
    assert len(via_procs) == 300
    wm = run(app, Stmt("SELECT WATERMARK FROM STATE.WATERMARKS"))[0][0]
    assert wm == h.watermark("app_orders") == "2026-02-01 00:05:00+00"

    # monitoring: the views the setup script creates, and the Streamlit page on them
    status = run(
        app, Stmt("SELECT SOURCE_TABLE, LAST_RUN_STATUS, ROWS_LAST_RUN, QUARANTINED, WATERMARK FROM CORE.TABLE_STATUS")
    )
    assert [tuple(r) for r in status] == [("app_orders", "SUCCEEDED", 300, False, "2026-02-01 00:05:00+00")]
    lag = run(app, Stmt("SELECT WATERMARK_LAG_MINUTES FROM CORE.TABLE_STATUS"))[0][0]
    assert lag > 60 * 24 * 100  # the source rows are stamped February 2026: months behind now
    graph_runs = run(app, Stmt("SELECT RUN_ID, STATUS, TABLES_SUCCEEDED, ROWS_LOADED FROM CORE.GRAPH_RUNS"))
    assert [tuple(r) for r in graph_runs] == [(run_id, "SUCCEEDED", 1, 300)]
    assert run(app, Stmt("SELECT COUNT(*) FROM CORE.FAILURES"))[0][0] == 0
    page = _dashboard().render(streamlit, app)
    assert page == {"tables": 1, "failing": 0, "history": 1, "failures": 0, "credits": -1}  # -1: no Account Usage


def test_sync_all_and_sync_table_run_the_graph_in_one_session(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_items (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_items SELECT g, now() FROM generate_series(1, 40) g")
    configure(app, stack, "public.app_items", "APP_ALL.APP_ITEMS")

    first = call(app, "SYNC_ALL")
    assert first["status"] == "SUCCEEDED", first
    assert set(first["tasks"].values()) == {"SUCCEEDED"}
    assert first["tables"]["public.app_items"]["rows_loaded"] == 40

    cur.execute("INSERT INTO public.app_items VALUES (41, now())")
    one = call(app, "SYNC_TABLE", "public.app_items")
    assert (one["status"], one["rows_loaded"]) == ("SUCCEEDED", 1)
    assert run(app, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."APP_ALL"."APP_ITEMS"'))[0][0] == 41

    nothing = call(app, "LOAD_PENDING")
    assert nothing["steps"]["REQUEST_EXPORTS"] == {"skipped": "LOAD_PENDING requests no exports"}
    assert nothing["rows_loaded"] == 0

    # nothing new in the source: the exporter writes no manifest, INTAKE answers 0 and the load lane
    # is skipped (on Snowflake its WHEN is false: no compute), yet the run succeeded
    quiet = call(app, "SYNC_ALL")
    assert quiet["steps"]["INTAKE"]["pending_tables"] == []
    assert quiet["tasks"]["LANE_1"] == "SKIPPED"
    assert (quiet["status"], quiet["tables"]["public.app_items"]["status"]) == ("SUCCEEDED", "NO_CHANGE")

    # RECONCILE_TABLE asks the exporter Lambda (the loopback endpoint) for the source's fingerprints
    clean = call(app, "RECONCILE_TABLE", "public.app_items")
    assert (clean["status"], clean["source_rows"], clean["target_rows"]) == ("CLEAN", 41, 41)
    cur.execute("DELETE FROM public.app_items WHERE id = 7")
    gone = call(app, "RECONCILE_TABLE", "public.app_items")
    assert (gone["status"], gone["extra"], gone["details"]["extra_keys"]) == ("DIFFERENT", 1, [["7"]])

    # a resync exports the whole table again (a new generation of export ids) and swaps it in
    assert call(app, "RESYNC_TABLE", "public.app_items")["manifests_superseded"] == 2
    again = call(app, "SYNC_ALL")
    assert (again["status"], again["tables"]["public.app_items"]["rows_loaded"]) == ("SUCCEEDED", 40)
    assert run(app, Stmt('SELECT COUNT(*) FROM "ANALYTICS"."APP_ALL"."APP_ITEMS"'))[0][0] == 40
    assert call(app, "RECONCILE_TABLE", "public.app_items")["status"] == "CLEAN"


def test_configuration_procedures_refuse_bad_input_and_name_the_fix(app, stack):
    with pytest.raises(NotConfigured, match=r"CALL CORE\.REGISTER_STAGE\('s3://<bucket>/<prefix>/'"):
        call(app, "CHECK_READY")
    with pytest.raises(InvalidSetting, match="must look like s3://<bucket>/<prefix>/"):
        call(app, "REGISTER_STAGE", "https://example.com/x", "S3_INT", REGION)
    with pytest.raises(InvalidSetting, match="is not an AWS region name"):
        call(app, "REGISTER_EXPORTER", FUNCTION, "Europe")
    with pytest.raises(InvalidSetting, match="must be a Lambda function name, or its ARN"):
        call(app, "REGISTER_EXPORTER", "bad name!", REGION)
    with pytest.raises(InvalidSetting, match="watermark_column: is required for mode 'incremental'"):
        call(app, "ADD_TABLE", "public.t", ["id"])
    with pytest.raises(InvalidSetting, match="mode: must be 'incremental' or 'full', got 'keys'"):
        call(app, "ADD_TABLE", "public.t", ["id"], None, "keys")
    with pytest.raises(InvalidSetting, match=r"schema\.name"):
        call(app, "ADD_TABLE", "orders", ["id"], "updated_at")
    no_grant = 'GRANT USAGE, CREATE SCHEMA ON DATABASE "NO_SUCH_DB" TO APPLICATION "SYNCAPP_'
    with pytest.raises(NotConfigured, match=no_grant):
        call(app, "SET_TARGET_DATABASE", "no_such_db")  # resolved as Snowflake does: NO_SUCH_DB
    with pytest.raises(InvalidSetting, match="schedule 'every hour' must look like"):
        call(app, "ENABLE_SCHEDULE", "every hour")

    added = call(app, "ADD_TABLE", "public.t", ["id"], "updated_at")
    assert (added["action"], added["target"], added["graph"]) == ("added", "PG_PUBLIC.T", None)
    changed = call(app, "CONFIGURE_TABLE", "public.t", {"mode": "full", "watermark_column": None})
    assert (changed["mode"], changed["watermark_column"]) == ("full", None)
    with pytest.raises(InvalidSetting, match=r"public\.nope is not configured \(configured: public\.t\)"):
        call(app, "REMOVE_TABLE", "public.nope")
    assert call(app, "REMOVE_TABLE", "public.t")["action"] == "removed"
    assert call(app, "SHOW_CONFIG")["tables"][0]["enabled"] is False
    with pytest.raises(NotConfigured, match="no table is enabled"):
        configure_without_tables(app, stack)


def configure_without_tables(session: Any, stack: Any) -> None:
    ep = stack.endpoints
    call(session, "REGISTER_STAGE", f"s3://{BUCKET}/{PREFIX}", "EMBEDDED_S3", REGION, ep.s3_endpoint)
    call(session, "REGISTER_EXPORTER", FUNCTION, REGION, ep.lambda_endpoint)
    call(session, "SET_TARGET_DATABASE", "ANALYTICS")
    call(session, "CHECK_READY")


def test_a_failed_load_fails_its_task_and_the_run_summary_names_the_table(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_fail (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_fail SELECT g, now() FROM generate_series(1, 5) g")
    configure(app, stack, "public.app_fail", "APP_FAIL.APP_FAIL")
    exported = call(app, "REQUEST_EXPORTS", "run-f", True)["tables"]["public.app_fail"]
    # the manifest claims more rows than its files hold: the load must fail closed
    s3 = boto3.client("s3", endpoint_url=stack.endpoints.s3_endpoint, region_name=REGION)
    key = PREFIX + manifest_key("public", "app_fail", exported["export_id"])
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    doc["rows"], doc["files"][0]["rows"] = 6, 6
    s3.put_object(Bucket=BUCKET, Key=key, Body=signed_body(doc))
    call(app, "INTAKE_MANIFESTS")
    with pytest.raises(handlers.LoadFailed, match=r"public\.app_fail: .*details in STATE\.RUNS"):
        call(app, "LOAD_TABLE", "public", "app_fail", "run-f")
    summary = call(app, "FINALIZE_RUN", "run-f")
    assert (summary["status"], summary["tables_failed"]) == ("FAILED", ["public.app_fail"])
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.WATERMARKS"))[0][0] == 0
    assert [tuple(r) for r in run(app, Stmt("SELECT STATUS FROM STATE.MANIFESTS"))] == [("FAILED",)]
    failures = run(app, Stmt("SELECT KIND, SOURCE_TABLE FROM CORE.FAILURES WHERE KIND = 'LOAD'"))
    assert [tuple(r) for r in failures] == [("LOAD", "app_fail")]

    with pytest.raises(InvalidSetting, match="no FAILED or QUARANTINED manifest has export id 'nope'"):
        call(app, "RETRY_MANIFEST", "nope")
    assert call(app, "RETRY_MANIFEST", exported["export_id"])["status"] == "NEW"
    status = run(app, Stmt("SELECT STATUS, ATTEMPTS, ERROR FROM STATE.MANIFESTS"))
    assert [tuple(r) for r in status] == [("NEW", 0, None)]


def _dashboard() -> Any:
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "snowflake_app/streamlit/dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TaskRecordingSession:
    """The emulator has no tasks: statements about tasks are recorded here (the driver boundary) and
    answered as Snowflake would (SHOW TASKS reports `root_state`; `fail_on` makes one statement fail);
    everything else runs on the emulator."""

    TASK_SQL = ("CREATE OR REPLACE TASK", "ALTER TASK", "DROP TASK", "GRANT MONITOR, OPERATE ON TASK")

    def __init__(self, session: Any) -> None:
        self._session = session
        self.tasks: list[tuple[str, list[Any] | None]] = []
        self.root_state = "started"
        self.fail_on: str | None = None

    def sql(self, text: str, params: list[Any] | None = None) -> Any:
        if self.fail_on and self.fail_on in text:
            raise RuntimeError(f"003001 (42501): Insufficient privileges to operate on task ({text[:40]})")
        if text.startswith("SHOW TASKS"):
            return self._session.sql('SELECT ? AS "state"', params=[self.root_state])
        if text.startswith(self.TASK_SQL) or text.startswith("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE"):
            self.tasks.append((text, params))
            return self._session.sql("SELECT 1 AS RECORDED")
        return self._session.sql(text, params=params)

    def texts(self, prefix: str = "") -> list[str]:
        return [t for t, _ in self.tasks if t.startswith(prefix)]


def test_the_schedule_builds_the_graph_and_table_changes_rebuild_it(app, stack):
    session = TaskRecordingSession(app)
    configure(session, stack, "public.sched_a", "S.A")
    (database,) = run(app, Stmt("SELECT CURRENT_DATABASE() AS D"))[0]

    enabled = call(session, "ENABLE_SCHEDULE", "30 MINUTES")
    assert (enabled["schedule"], enabled["every"], enabled["compute"]) == ("ENABLED", "30 MINUTES", "serverless")
    texts = session.texts()
    assert texts[0] == f'ALTER TASK IF EXISTS "{database}"."STATE"."AURORA_SYNC_ROOT" SUSPEND'
    created = session.texts("CREATE OR REPLACE TASK")
    assert [t.split('"')[5] for t in created] == [
        "AURORA_SYNC_ROOT",
        "AURORA_SYNC_REQUEST_EXPORTS",
        "AURORA_SYNC_INTAKE",
        "AURORA_SYNC_LANE_1",
        "AURORA_SYNC_FINALIZER",
    ]
    assert enabled["load_lanes"] == [f'"{database}"."STATE"."AURORA_SYNC_LANE_1"']
    assert "SCHEDULE = '30 MINUTES'" in created[0]
    assert f'CALL "{database}"."CORE"."LOAD_LANE"(1, 1)' in created[3]
    assert "WHEN SYSTEM$GET_PREDECESSOR_RETURN_VALUE('AURORA_SYNC_INTAKE')::NUMBER >= 1" in created[3]
    assert call(session, "SHOW_CONFIG")["settings"]["load_lanes"] == "4"
    grants = session.texts("GRANT MONITOR, OPERATE ON TASK")
    assert len(grants) == 5 and all(g.endswith("TO APPLICATION ROLE AURORA_SYNC_ADMIN") for g in grants)
    assert session.tasks[-1] == (
        "SELECT SYSTEM$TASK_DEPENDENTS_ENABLE(?) AS R",
        [f'"{database}"."STATE"."AURORA_SYNC_ROOT"'],
    )

    session.tasks.clear()
    added = call(session, "ADD_TABLE", "public.sched_b", ["id"], "updated_at")
    assert added["graph"]["schedule"] == "ENABLED" and len(added["graph"]["load_lanes"]) == 2
    assert len(session.texts("CREATE OR REPLACE TASK")) == 6
    assert session.tasks[-1][0].startswith("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE")

    session.tasks.clear()
    call(session, "REMOVE_TABLE", "public.sched_a")
    dropped = session.texts("DROP TASK")
    assert any("AURORA_SYNC_LOAD_PUBLIC_SCHED_A_" in d for d in dropped)  # a per-table task of an older graph
    assert any(d.endswith('"AURORA_SYNC_LANE_2"') for d in dropped)  # one table left: one lane
    assert len(session.texts("CREATE OR REPLACE TASK")) == 5

    session.tasks.clear()
    with pytest.raises(InvalidSetting, match="LOAD_LANES: load_lanes must be a whole number from 1 to 8"):
        call(session, "ENABLE_SCHEDULE", None, None, 20)
    assert not session.tasks  # refused before anything was built
    call(session, "ADD_TABLE", "public.sched_d", ["id"], "updated_at")
    session.tasks.clear()
    assert len(call(session, "ENABLE_SCHEDULE", None, None, 1)["load_lanes"]) == 1
    assert call(session, "SHOW_CONFIG")["settings"]["load_lanes"] == "1"
    assert len(session.texts("CREATE OR REPLACE TASK")) == 5

    session.tasks.clear()
    assert call(session, "DISABLE_SCHEDULE")["schedule"] == "SUSPENDED"
    assert session.texts() == [f'ALTER TASK IF EXISTS "{database}"."STATE"."AURORA_SYNC_ROOT" SUSPEND']
    session.tasks.clear()
    rebuilt = call(session, "ADD_TABLE", "public.sched_c", ["id"], "updated_at")
    assert rebuilt["graph"]["schedule"] == "SUSPENDED"  # a paused graph stays paused
    assert not session.texts("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE")


def test_a_graph_snowflake_suspended_stays_suspended_and_a_failed_build_changes_no_setting(app, stack):
    session = TaskRecordingSession(app)
    configure(session, stack, "public.sched_x", "S.X")
    call(session, "ENABLE_SCHEDULE", "30 MINUTES", "SYNC_WH")
    assert call(session, "SHOW_CONFIG")["settings"]["warehouse"] == "SYNC_WH"

    # Snowflake suspended the root after repeated failures: a table change must not resume it
    session.root_state, session.tasks = "suspended", []
    changed = call(session, "ADD_TABLE", "public.sched_y", ["id"], "updated_at")
    assert changed["graph"]["schedule"] == "SUSPENDED"
    assert "CALL CORE.ENABLE_SCHEDULE()" in changed["graph"]["note"]
    assert not session.texts("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE")

    # the app may not run serverless tasks: the error names the privilege, the settings stay as they were
    session.fail_on = "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE"
    with pytest.raises(NotConfigured, match="settings unchanged. The app needs EXECUTE TASK and EXECUTE MANAGED TASK"):
        call(session, "ENABLE_SCHEDULE", "15 MINUTES", "serverless")
    settings = call(session, "SHOW_CONFIG")["settings"]
    assert (settings["schedule"], settings["warehouse"], settings["graph_state"]) == (
        "30 MINUTES",
        "SYNC_WH",
        "SUSPENDED",
    )

    session.fail_on = None
    resumed = call(session, "ENABLE_SCHEDULE")  # no arguments: the same schedule and warehouse, resumed
    assert (resumed["schedule"], resumed["every"], resumed["compute"]) == ("ENABLED", "30 MINUTES", "SYNC_WH")


def test_a_retried_task_counts_by_its_last_attempt_and_a_retried_finalizer_replaces_its_summary(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_retry (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_retry SELECT g, now() FROM generate_series(1, 3) g")
    configure(app, stack, "public.app_retry", "APP_RETRY.APP_RETRY")
    call(app, "REQUEST_EXPORTS", "run-r", True)
    call(app, "INTAKE_MANIFESTS")
    # a first attempt that failed (as recorded by LOAD_TABLE), then the automatic retry that succeeded
    run(
        app,
        Stmt(
            "INSERT INTO STATE.RUNS (RUN_ID, SOURCE_SCHEMA, SOURCE_TABLE, STATUS, FINISHED_AT, ERROR) "
            "VALUES ('run-r', 'public', 'app_retry', 'FAILED', TO_TIMESTAMP_NTZ('2000-01-01', 'YYYY-MM-DD'), "
            "'transient')"
        ),
    )
    call(app, "FINALIZE_RUN", "run-r")  # a finalizer attempt before the retry: FAILED
    assert call(app, "LOAD_TABLE", "public", "app_retry", "run-r")["rows_loaded"] == 3
    summary = call(app, "FINALIZE_RUN", "run-r")
    assert (summary["status"], summary["tables"]["public.app_retry"]["status"]) == ("SUCCEEDED", "SUCCEEDED")
    rows = run(app, Stmt("SELECT STATUS FROM CORE.GRAPH_RUNS WHERE RUN_ID = 'run-r'"))
    assert [tuple(r) for r in rows] == [("SUCCEEDED",)]


def test_changing_the_watermark_column_restarts_the_table_and_configuring_keeps_a_removed_table_removed(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_wm (id int PRIMARY KEY, updated_at timestamptz NOT NULL, version int)")
    cur.execute("INSERT INTO public.app_wm SELECT g, now(), g FROM generate_series(1, 4) g")
    configure(app, stack, "public.app_wm", "APP_WM.APP_WM")
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.WATERMARKS"))[0][0] == 1

    # an integer watermark: the late-row guard cannot apply to it, so the table takes the risk explicitly
    changed = call(app, "CONFIGURE_TABLE", "public.app_wm", {"watermark_column": "version", "late_row_guard": False})
    assert "1 manifests superseded, the next export starts from the beginning" in changed["resync"]
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.WATERMARKS"))[0][0] == 0
    again = call(app, "SYNC_ALL")
    assert (again["status"], again["tables"]["public.app_wm"]["rows_loaded"]) == ("SUCCEEDED", 4)
    assert run(app, Stmt("SELECT WATERMARK FROM STATE.WATERMARKS"))[0][0] == "4"
    unchanged = call(app, "CONFIGURE_TABLE", "public.app_wm", {"numeric_scale": {"version": 0}})
    assert "resync" not in unchanged

    call(app, "REMOVE_TABLE", "public.app_wm")
    configured = call(app, "CONFIGURE_TABLE", "public.app_wm", {"mode": "full"})  # drops the watermark column
    assert (configured["enabled"], configured["mode"], configured["watermark_column"]) == (False, "full", None)
    assert call(app, "SHOW_CONFIG")["tables"][0]["enabled"] is False


def test_quarantined_rows_show_in_the_views_once_per_row(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_days (id int PRIMARY KEY, day date, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_days VALUES (1, '2026-01-01', now()), (2, 'infinity', now())")
    configure(app, stack, "public.app_days", "APP_Q.APP_DAYS")
    assert call(app, "SYNC_ALL")["status"] == "SUCCEEDED"
    status = run(app, Stmt("SELECT SOURCE_TABLE, QUARANTINED_ROWS, ROWS_LAST_RUN FROM CORE.TABLE_STATUS"))
    assert [tuple(r) for r in status] == [("app_days", 1, 2)]
    rows = run(app, Stmt("SELECT PRIMARY_KEY, REASON FROM CORE.QUARANTINED_ROWS"))
    assert [(json.loads(r[0]), "±infinity" in r[1]) for r in rows] == [({"ID": "2"}, True)]


def test_in_push_mode_the_graph_loads_what_the_exporter_wrote_and_invokes_nothing(pg, app, stack):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.app_push (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.app_push SELECT g, now() FROM generate_series(1, 12) g")
    configure(app, stack, "public.app_push", "APP_PUSH.APP_PUSH")
    with pytest.raises(InvalidSetting, match="mode: must be 'pull' or 'push'"):
        call(app, "SET_EXPORT_MODE", "sideways")
    assert call(app, "SET_EXPORT_MODE", "push")["export_mode"] == "push"
    nothing = call(app, "SYNC_ALL")  # nobody exported yet: nothing to load, and no invocation
    assert nothing["steps"]["REQUEST_EXPORTS"]["skipped"].startswith("push mode")
    assert nothing["rows_loaded"] == 0
    assert run(app, Stmt("SELECT COUNT(*) FROM STATE.EXPORT_REQUESTS"))[0][0] == 0
    # the exporter's own (EventBridge) schedule: the event without a low bound, as the rule sends it
    spec = handlers.ledger.read_table_specs(app, handlers.app_place(app))[0]
    settings = handlers.app_config.read(app, handlers.app_place(app))
    event = exports.export_event(spec, settings, None)
    del event["low"]
    invoke = lambda_invoke.invoker(FUNCTION, lambda_invoke.lambda_client(REGION, stack.endpoints.lambda_endpoint))
    assert invoke(event)["rows"] == 12
    loaded = call(app, "SYNC_ALL")
    assert (loaded["status"], loaded["rows_loaded"]) == ("SUCCEEDED", 12)
    assert call(app, "SET_EXPORT_MODE", "pull")["export_mode"] == "pull"

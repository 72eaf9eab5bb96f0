import pytest

from stored_procs.orchestration import graph
from stored_procs.spec import TableSpec

WHERE = graph.GraphLocation("STATE", "CORE", "DB")
TABLES = [
    TableSpec("public", "orders", ("id",), watermark_column="updated_at"),
    TableSpec("Sales", "Customer Events", ("Event Id",), watermark_column="Updated At"),
]


def test_the_graph_has_one_load_task_per_table_after_intake_and_a_finalizer():
    nodes = graph.declare(TABLES)
    names = [n.name for n in nodes]
    assert names[:3] == ["ROOT", "REQUEST_EXPORTS", "INTAKE"]
    assert names[-1] == "FINALIZER"
    loads = [n for n in nodes if n.procedure == "LOAD_TABLE"]
    assert [n.args for n in loads] == [("public", "orders"), ("Sales", "Customer Events")]
    assert all(n.after == ("INTAKE",) for n in loads)


def test_ddl_is_serverless_by_default_scheduled_without_overlap_and_finalized():
    ddl = [s.text for s in graph.task_ddl(graph.declare(TABLES), WHERE, graph.GraphSettings())]
    root, request, intake, *loads, finalizer = ddl
    assert root.startswith(
        'CREATE OR REPLACE TASK "DB"."STATE"."AURORA_SYNC_ROOT" USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE'
    )
    for clause in (
        "SCHEDULE = '60 MINUTES'",
        "OVERLAP_POLICY = NO_OVERLAP",
        "SUSPEND_TASK_AFTER_NUM_FAILURES = 3",
        "TASK_AUTO_RETRY_ATTEMPTS = 1",
        "CONFIG = $${}$$",
    ):
        assert clause in root
    assert 'AFTER "DB"."STATE"."AURORA_SYNC_ROOT" AS CALL "DB"."CORE"."REQUEST_EXPORTS"()' in request
    assert 'AFTER "DB"."STATE"."AURORA_SYNC_REQUEST_EXPORTS" AS CALL "DB"."CORE"."INTAKE_MANIFESTS"()' in intake
    assert 'AS CALL "DB"."CORE"."LOAD_TABLE"(\'Sales\', \'Customer Events\')' in loads[1]
    assert 'FINALIZE = "DB"."STATE"."AURORA_SYNC_ROOT"' in finalizer
    assert """QUERY_TAG = '{"app": "aurora_sync", "step": "LOAD_SALES_CUSTOMER_EVENTS""" in loads[1]
    assert '"table": "Sales.Customer Events"' in loads[1]


def test_a_warehouse_replaces_serverless_and_values_cannot_break_out():
    settings = graph.GraphSettings(warehouse="SYNC_WH", schedule="USING CRON 0 * * * * UTC")
    (root, *_) = graph.task_ddl(graph.declare([]), WHERE, settings)
    assert 'WAREHOUSE = "SYNC_WH"' in root.text
    assert "SCHEDULE = 'USING CRON 0 * * * * UTC'" in root.text
    with pytest.raises(ValueError, match="schedule"):
        graph.task_ddl(graph.declare([]), WHERE, graph.GraphSettings(schedule="1 MINUTE' --"))
    odd = TableSpec("public", "it's", ("id",), watermark_column="v")
    load = [s.text for s in graph.task_ddl(graph.declare([odd]), WHERE, graph.GraphSettings())][3]
    assert "('public', 'it''s')" in load


def test_the_local_runner_follows_dependencies_skips_after_a_failure_and_always_finalizes():
    nodes = graph.declare(TABLES)
    ran: list[str] = []

    def action(node: graph.Node) -> bool:
        ran.append(node.name)
        return node.name != "INTAKE"

    outcome = graph.run_graph(nodes, action)
    assert ran == ["ROOT", "REQUEST_EXPORTS", "INTAKE", "FINALIZER"]
    assert [outcome[n.name] for n in nodes] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED", "SUCCEEDED"]


def test_one_failing_load_does_not_block_the_other():
    nodes = graph.declare(TABLES)
    first_load = nodes[3].name
    outcome = graph.run_graph(nodes, lambda node: node.name != first_load)
    assert outcome[first_load] == "FAILED"
    assert outcome[nodes[4].name] == "SUCCEEDED"
    assert outcome["FINALIZER"] == "SUCCEEDED"


def test_inside_the_app_names_are_two_part():
    where = graph.GraphLocation("STATE", "CORE")
    root, request, *_ = graph.task_ddl(graph.declare(TABLES), where, graph.GraphSettings())
    assert root.text.startswith('CREATE OR REPLACE TASK "STATE"."AURORA_SYNC_ROOT" ')
    assert request.text.endswith('AS CALL "CORE"."REQUEST_EXPORTS"()')


def test_a_rebuild_suspends_first_drops_removed_tables_and_resumes_only_when_asked():
    removed = [TableSpec("public", "gone", ("id",), watermark_column="v")]
    stmts = graph.rebuild_ddl(TABLES, removed, WHERE, graph.GraphSettings(), resume=True)
    assert stmts[0].text == 'ALTER TASK IF EXISTS "DB"."STATE"."AURORA_SYNC_ROOT" SUSPEND'
    assert stmts[1].text.startswith('DROP TASK IF EXISTS "DB"."STATE"."AURORA_SYNC_LOAD_PUBLIC_GONE_')
    assert stmts[-1] == graph.Stmt("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE(?) AS R", ('"DB"."STATE"."AURORA_SYNC_ROOT"',))
    paused = graph.rebuild_ddl(TABLES, [], WHERE, graph.GraphSettings(), resume=False)
    assert not any("TASK_DEPENDENTS_ENABLE" in s.text for s in paused)

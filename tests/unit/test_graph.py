from concurrent.futures import ThreadPoolExecutor

import pytest

from stored_procs.orchestration import graph, lanes
from stored_procs.spec import TableSpec

WHERE = graph.GraphLocation("STATE", "CORE", "DB")
TABLES = [
    TableSpec("public", "orders", ("id",), watermark_column="updated_at"),
    TableSpec("Sales", "Customer Events", ("Event Id",), watermark_column="Updated At"),
]
MANY = [TableSpec("public", f"t{i:02d}", ("id",), watermark_column="v") for i in range(30)]


def test_the_graph_has_a_bounded_number_of_load_lanes_after_intake_and_a_finalizer():
    nodes = graph.declare(MANY)
    names = [n.name for n in nodes]
    assert names == ["ROOT", "REQUEST_EXPORTS", "INTAKE", "LANE_1", "LANE_2", "LANE_3", "LANE_4", "FINALIZER"]
    loads = [n for n in nodes if n.procedure == "LOAD_LANE"]
    assert [n.args for n in loads] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [n.wake_at for n in loads] == [1, 2, 3, 4]
    assert all(n.after == ("INTAKE",) for n in loads)
    assert [n.name for n in graph.declare(MANY, lanes=8) if n.wake_at] == [f"LANE_{k}" for k in range(1, 9)]
    assert [n.args for n in graph.declare(TABLES, lanes=8) if n.wake_at] == [(1, 2), (2, 2)]  # never above the tables


@pytest.mark.parametrize("bad", [0, 9, 20, -1, "four", "2.5", True, None])
def test_a_lane_count_outside_1_to_8_is_refused_naming_the_range(bad):
    with pytest.raises(ValueError, match="load_lanes must be a whole number from 1 to 8"):
        graph.declare(MANY, bad)


def test_intake_wakes_exactly_the_lanes_that_get_a_table():
    lane_nodes = [n for n in graph.declare(MANY) if n.wake_at]
    for pending in range(0, 7):
        answer = graph.intake_answer(pending)
        woken = [n.wake_at for n in lane_nodes if graph.wakes(n, answer)]
        tables = MANY[:pending]
        assert woken == [k for k in range(1, 5) if lanes.share(tables, k, 4)], pending
    assert not graph.wakes(lane_nodes[0], None) and not graph.wakes(lane_nodes[0], "LOAD")  # an old INTAKE's answer


def test_tables_are_dealt_to_lanes_once_each_in_name_order():
    shares = [lanes.share(MANY, k, 4) for k in range(1, 5)]
    assert sorted(t.source for s in shares for t in s) == sorted(t.source for t in MANY)
    assert [len(s) for s in shares] == [8, 8, 7, 7]
    assert [t.source_table for t in shares[1][:3]] == ["t01", "t05", "t09"]
    assert [len(lanes.share(MANY[:2], k, 4)) for k in range(1, 5)] == [1, 1, 0, 0]
    assert lanes.share(list(reversed(MANY)), 3, 4) == shares[2]  # the order found does not matter


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
    assert loads[1].endswith(
        """AFTER "DB"."STATE"."AURORA_SYNC_INTAKE" WHEN SYSTEM$GET_PREDECESSOR_RETURN_VALUE('AURORA_SYNC_INTAKE')"""
        """::NUMBER >= 2 AS CALL "DB"."CORE"."LOAD_LANE"(2, 2)"""
    )
    assert 'FINALIZE = "DB"."STATE"."AURORA_SYNC_ROOT"' in finalizer
    assert """QUERY_TAG = '{"app": "aurora_sync", "step": "LANE_2"}'""" in loads[1]


def test_a_warehouse_replaces_serverless_and_values_cannot_break_out():
    settings = graph.GraphSettings(warehouse="SYNC_WH", schedule="USING CRON 0 * * * * UTC")
    (root, *_) = graph.task_ddl(graph.declare([]), WHERE, settings)
    assert 'WAREHOUSE = "SYNC_WH"' in root.text
    assert "SCHEDULE = 'USING CRON 0 * * * * UTC'" in root.text
    with pytest.raises(ValueError, match="schedule"):
        graph.task_ddl(graph.declare([]), WHERE, graph.GraphSettings(schedule="1 MINUTE' --"))
    odd = graph.Node("X", "SYNC_TABLE", ("it's",))
    assert graph.task_ddl([odd], WHERE, graph.GraphSettings())[0].text.endswith("('it''s')")


def test_the_local_runner_follows_dependencies_skips_after_a_failure_and_always_finalizes():
    nodes = graph.declare(TABLES)
    ran: list[str] = []

    def action(node: graph.Node) -> bool:
        ran.append(node.name)
        return node.name != "INTAKE"

    outcome = graph.run_graph(nodes, action, lambda: "2")
    assert ran == ["ROOT", "REQUEST_EXPORTS", "INTAKE", "FINALIZER"]
    assert [outcome[n.name] for n in nodes] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED", "SUCCEEDED"]


def test_lanes_whose_when_is_false_are_skipped_and_one_failing_lane_does_not_block_another():
    nodes = graph.declare(MANY)
    ran: list[str] = []

    def action(node: graph.Node) -> bool:
        ran.append(node.name)
        return node.name != "LANE_1"

    outcome = graph.run_graph(nodes, action, lambda: "2")
    assert [outcome[f"LANE_{k}"] for k in range(1, 5)] == ["FAILED", "SUCCEEDED", "SKIPPED", "SKIPPED"]
    assert outcome["FINALIZER"] == "SUCCEEDED" and "LANE_3" not in ran


def test_siblings_can_run_at_once():
    with ThreadPoolExecutor(4) as pool:
        outcome = graph.run_graph(graph.declare(MANY), lambda node: True, lambda: "30", pool.map)
    assert set(outcome.values()) == {"SUCCEEDED"}


def test_inside_the_app_names_are_two_part():
    where = graph.GraphLocation("STATE", "CORE")
    root, request, *_ = graph.task_ddl(graph.declare(TABLES), where, graph.GraphSettings())
    assert root.text.startswith('CREATE OR REPLACE TASK "STATE"."AURORA_SYNC_ROOT" ')
    assert request.text.endswith('AS CALL "CORE"."REQUEST_EXPORTS"()')


def test_a_rebuild_suspends_first_drops_what_the_graph_no_longer_has_and_resumes_only_when_asked():
    removed = [TableSpec("public", "gone", ("id",), watermark_column="v")]
    stmts = graph.rebuild_ddl(TABLES, removed, WHERE, graph.GraphSettings(), resume=True)
    assert stmts[0].text == 'ALTER TASK IF EXISTS "DB"."STATE"."AURORA_SYNC_ROOT" SUSPEND'
    drops = [s.text.removeprefix('DROP TASK IF EXISTS "DB"."STATE".') for s in stmts if s.text.startswith("DROP")]
    # the per-table tasks of graphs built before the lanes, and the lanes above the two this graph has
    assert [d for d in drops if d.startswith('"AURORA_SYNC_LOAD_')] == [
        f'"AURORA_SYNC_{graph.legacy_load_node_name(t)}"' for t in [*TABLES, *removed]
    ]
    assert [d for d in drops if d.startswith('"AURORA_SYNC_LANE_')] == [f'"AURORA_SYNC_LANE_{k}"' for k in range(3, 9)]
    created = [s.text for s in stmts if s.text.startswith("CREATE OR REPLACE TASK")]
    assert len(created) == 6 and all("DROP" not in c for c in created)
    assert stmts[-1] == graph.Stmt("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE(?) AS R", ('"DB"."STATE"."AURORA_SYNC_ROOT"',))
    paused = graph.rebuild_ddl(TABLES, [], WHERE, graph.GraphSettings(), resume=False)
    assert not any("TASK_DEPENDENTS_ENABLE" in s.text for s in paused)

"""S9 of the Snowflake audit: the task DDL the product generates executes on a real account.

No engine has ever run stored_procs/orchestration/graph.py's DDL (the emulator has no tasks; the other
tests record the statements). This builds the graph for two tables with the public API
(`graph.declare` + `graph.rebuild_ddl`, so it follows whatever shape the graph has), in a scratch schema,
with stub procedures of the same names and argument types as the product's (each records its call in
a table; the intake's stub returns `graph.intake_answer(1)` through SYSTEM$SET_RETURN_VALUE, as the real
INTAKE_MANIFESTS does with one table pending). Then: the statements run (clause order, CONFIG,
OVERLAP_POLICY, FINALIZE, AFTER with three-part quoted names, the WHEN on the predecessor's return value,
SYSTEM$TASK_DEPENDENTS_ENABLE on a quoted name), SHOW TASKS lists exactly the declared tasks, all
started, EXECUTE TASK runs the graph once and TASK_HISTORY shows every task SUCCEEDED, except those whose
WHEN is false for that answer (`graph.wakes`), SKIPPED; each procedure that ran was called with its
arguments; a rebuild for fewer tables leaves exactly the smaller graph's tasks. The schema, its tasks and procedures are
dropped at the end.

Environment: tests/live/account.py (AURORA_SYNC_LIVE_CONNECTION, AURORA_SYNC_LIVE_DATABASE, and
AURORA_SYNC_LIVE_WAREHOUSE to run the tasks on a warehouse). The role needs EXECUTE TASK on the account,
and EXECUTE MANAGED TASK for serverless tasks (the default) or USAGE on the warehouse. Takes a few
minutes (a serverless task's first start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stored_procs.orchestration import graph
from stored_procs.spec import TableSpec
from stored_procs.statement import Stmt, literal, run
from sync_contract.identifiers import quote_qualified
from tests.live.account import DATABASE, WAREHOUSE, account_session, needs_account, records, scratch_schema, wait_for

pytestmark = needs_account
PREFIX = "AURORA_SYNC_LIVE"
TABLES = tuple(TableSpec("public", f"live_{n}", ("id",)) for n in ("orders", "customers", "countries"))
DONE = {"SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED", "FAILED_AND_AUTO_SUSPENDED"}


def _stubs(session: Any, where: graph.GraphLocation, nodes: Sequence[graph.Node], calls: str, answer: str) -> None:
    """One procedure per name the graph calls, with the arguments its CALL passes (text or a number)."""
    signatures = {n.procedure: ["NUMBER" if isinstance(a, int) else "VARCHAR" for a in n.args] for n in nodes}
    intake = {n.procedure for n in nodes if n.name == graph.INTAKE}
    for name, types in signatures.items():
        params = ", ".join(f"A{i} {t}" for i, t in enumerate(types))
        values = ", ".join(f":A{i}" for i in range(len(types)))
        args = f"ARRAY_TO_STRING(ARRAY_CONSTRUCT({values}), '|')" if types else "''"
        returns = f"SELECT SYSTEM$SET_RETURN_VALUE({literal(answer)});" if name in intake else ""
        run(
            session,
            Stmt(
                f"CREATE OR REPLACE PROCEDURE {where.procedure(name)}({params}) RETURNS VARCHAR LANGUAGE SQL "
                "EXECUTE AS OWNER AS $$ BEGIN "
                f"INSERT INTO {calls} (PROCEDURE_NAME, ARGS, TASK_NAME) "
                f"SELECT {literal(name)}, {args}, SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME'); "
                f"{returns} RETURN 'called'; END $$"
            ),
        )


def _task_names(nodes: Sequence[graph.Node]) -> set[str]:
    return {f"{PREFIX}_{n.name}" for n in nodes}


def _shown(session: Any, schema: str) -> dict[str, dict[str, Any]]:
    shown = records(session, Stmt(f"SHOW TASKS IN SCHEMA {quote_qualified(DATABASE, schema)}"))
    return {t["name"]: t for t in shown}


def test_the_generated_task_graph_is_created_runs_once_and_is_rebuilt() -> None:
    settings = graph.GraphSettings(
        schedule="11520 MINUTES",  # 8 days, Snowflake's longest interval: only EXECUTE TASK runs it here
        warehouse=WAREHOUSE,
        timeout_ms=900_000,
        config={"live_test": "s9"},
        lanes=2,  # three tables, two lanes: one lane runs, one is skipped by its WHEN
    )
    with account_session() as session, scratch_schema(session, "S9") as schema:
        where = graph.GraphLocation(task_schema=schema, procedure_schema=schema, database=DATABASE, prefix=PREFIX)
        calls = quote_qualified(DATABASE, schema, "CALLS")
        run(session, Stmt(f"CREATE TABLE {calls} (PROCEDURE_NAME VARCHAR, ARGS VARCHAR, TASK_NAME VARCHAR)"))
        nodes = graph.declare(TABLES, settings.lanes)
        answer = graph.intake_answer(1)  # one table pending: the first lane loads, the others stay asleep
        _stubs(session, where, nodes, calls, answer)
        for stmt in graph.rebuild_ddl(TABLES, [], where, settings, resume=True):
            run(session, stmt)

        shown = _shown(session, schema)
        assert set(shown) == _task_names(nodes), sorted(shown)
        assert {name: t["state"] for name, t in shown.items()} == dict.fromkeys(shown, "started")
        root = shown[f"{PREFIX}_{graph.ROOT}"]
        assert root["schedule"] == "11520 MINUTES", root

        run(session, Stmt(f"EXECUTE TASK {where.task(graph.ROOT)}"))
        history = f"{quote_qualified(DATABASE)}.INFORMATION_SCHEMA.TASK_HISTORY"

        def finished() -> dict[str, dict[str, Any]] | None:
            rows = records(
                session,
                Stmt(
                    f"SELECT NAME, STATE, ERROR_MESSAGE, RETURN_VALUE FROM TABLE({history}("
                    "SCHEDULED_TIME_RANGE_START => DATEADD('hour', -2, CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000)) "
                    "WHERE DATABASE_NAME = ? AND SCHEMA_NAME = ? AND STATE <> 'SCHEDULED' ORDER BY SCHEDULED_TIME",
                    (DATABASE, schema),
                ),
            )
            latest = {r["NAME"]: r for r in rows}  # the newest row per task (one run here)
            done = all(latest.get(name, {}).get("STATE") in DONE for name in _task_names(nodes))
            return latest if done else None

        runs = wait_for("a finished run of every task of the graph", finished, timeout_s=1200, every_s=15)
        ran = [n for n in nodes if graph.wakes(n, answer)]
        assert len(ran) < len(nodes), "the test needs a task whose WHEN is false"
        expected_states = {f"{PREFIX}_{n.name}": "SUCCEEDED" if n in ran else "SKIPPED" for n in nodes}
        assert {name: r["STATE"] for name, r in runs.items()} == expected_states, runs
        assert runs[f"{PREFIX}_{graph.INTAKE}"]["RETURN_VALUE"] == answer, runs

        called = records(session, Stmt(f"SELECT PROCEDURE_NAME, ARGS, TASK_NAME FROM {calls}"))
        expected = sorted((n.procedure, "|".join(str(a) for a in n.args), f"{PREFIX}_{n.name}") for n in ran)
        got = sorted((c["PROCEDURE_NAME"], c["ARGS"], c["TASK_NAME"].split(".")[-1].strip('"')) for c in called)
        assert got == expected, called

        smaller = graph.declare(TABLES[:1], settings.lanes)
        assert len(smaller) < len(nodes), "the test needs a rebuild that removes a task"
        for stmt in graph.rebuild_ddl(TABLES[:1], TABLES[1:], where, settings, resume=False):
            run(session, stmt)
        after = _shown(session, schema)
        assert set(after) == _task_names(smaller), sorted(after)
        assert {t["state"] for t in after.values()} == {"suspended"}, after
        run(session, graph.suspend_ddl(where))

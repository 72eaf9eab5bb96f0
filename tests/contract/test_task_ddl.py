"""The generated CREATE TASK statements. sqlglot has no grammar for CREATE TASK (it keeps the statement
as a Command), so the statement's shape is checked here against CREATE TASK's documented syntax, and
its parts that are ordinary SQL (the WHEN condition, the CONFIG JSON) are parsed on their own. The WHEN
is held to what the CREATE TASK reference allows there (SYSTEM$GET_PREDECESSOR_RETURN_VALUE, casts,
comparison and boolean operators; no other function)."""

import json
import re

import pytest
import sqlglot
from sqlglot import exp

from stored_procs import procedures
from stored_procs.orchestration import graph
from stored_procs.spec import TableSpec

pytestmark = pytest.mark.contract

MANY = [TableSpec("public", f"t{i:02d}", ("id",), watermark_column="updated_at") for i in range(30)]
# CREATE TASK parameters, from the CREATE TASK reference (docs.snowflake.com/en/sql-reference/sql/create-task)
PARAMETERS = {
    "WAREHOUSE",
    "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE",
    "SCHEDULE",
    "CONFIG",
    "OVERLAP_POLICY",
    "USER_TASK_TIMEOUT_MS",
    "SUSPEND_TASK_AFTER_NUM_FAILURES",
    "TASK_AUTO_RETRY_ATTEMPTS",
    "FINALIZE",
    "QUERY_TAG",  # a session parameter, allowed on a task
}
NAME = r'(?:"[^"]+"\.){1,2}"[^"]+"'
VALUE = r"(?:'(?:[^']|'')*'|\$\$.*?\$\$|\w+|" + NAME + r'|"[^"]+")'
TASK = re.compile(
    rf"^CREATE OR REPLACE TASK (?P<name>{NAME}) (?P<params>(?:\w+ = {VALUE} )+)"
    rf"(?:AFTER (?P<after>{NAME}(?:, {NAME})*) )?(?:WHEN (?P<when>.+?) )?AS CALL (?P<proc>{NAME})\((?P<args>.*)\)$"
)


@pytest.mark.parametrize(
    "settings",
    [
        graph.GraphSettings(),
        graph.GraphSettings(warehouse="WH", schedule="USING CRON 0 * * * * UTC", lanes=graph.MAX_LANES),
    ],
)
def test_every_task_statement_follows_the_create_task_grammar(settings):
    where = graph.GraphLocation("STATE", "CORE", "DB")
    stmts = graph.task_ddl(graph.declare(MANY, settings.lanes), where, settings)
    declared = procedures.by_name()
    created = {TASK.match(s.text)["name"].split(".")[-1].strip('"') for s in stmts}
    lanes = []
    for stmt in stmts:
        assert isinstance(sqlglot.parse_one(stmt.text, read="snowflake"), exp.Command)  # no grammar in sqlglot
        m = TASK.match(stmt.text)
        assert m, stmt.text
        names = re.findall(rf"(\w+) = {VALUE}", m["params"])
        assert set(names) <= PARAMETERS, names
        assert len(names) == len(set(names))
        tag = re.search(r"QUERY_TAG = '((?:[^']|'')*)'", m["params"])
        assert tag and json.loads(tag[1].replace("''", "'"))["app"] == "aurora_sync"
        if config := re.search(r"CONFIG = \$\$(.*?)\$\$", m["params"]):
            json.loads(config[1])
        procedure = m["proc"].split(".")[-1].strip('"')
        if m["when"]:
            when = sqlglot.parse_one(f"SELECT {m['when']}", read="snowflake").expressions[0]
            # CREATE TASK (WHEN): the predecessor's return value, a cast and a comparison; nothing else.
            # The predecessor by its bare name, as SYSTEM$GET_PREDECESSOR_RETURN_VALUE wants.
            assert isinstance(when, exp.GTE), m["when"]
            cast, number = when.this, when.expression
            assert isinstance(cast, exp.Cast) and cast.to.this == exp.DataType.Type.DECIMAL, m["when"]
            assert cast.this.sql(dialect="snowflake") == "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('AURORA_SYNC_INTAKE')"
            assert "AURORA_SYNC_INTAKE" in created and m["after"].endswith('"AURORA_SYNC_INTAKE"')
            assert procedure == "LOAD_LANE" and m["args"].startswith(f"{number.sql()}, ")
            lanes.append(int(number.sql()))
        args = re.findall(r"'(?:[^']|'')*'|\b\d+\b", m["args"])
        required = sum(a.default is None for a in declared[procedure].args)
        assert required <= len(args) <= len(declared[procedure].args), stmt.text
    assert lanes == list(range(1, settings.lanes + 1))  # every lane, and only the lanes, wait for INTAKE's answer


@pytest.mark.parametrize("settings", [graph.GraphSettings(), graph.GraphSettings(warehouse="WH")])
def test_the_watchdog_task_is_its_own_scheduled_root_calling_check_alerts(settings):
    """The watchdog (stored_procs.monitoring.watchdog): a root with its own SCHEDULE, no AFTER, no FINALIZE,
    never suspended after failures, created suspended and then resumed (CREATE TASK: "Newly created ...
    tasks are created suspended")."""
    where = graph.GraphLocation("STATE", "CORE", "DB")
    create, grant, resume = graph.watchdog_ddl(where, settings, operator="APPLICATION ROLE AURORA_SYNC_ADMIN")
    assert isinstance(sqlglot.parse_one(create.text, read="snowflake"), exp.Command)
    m = TASK.match(create.text)
    assert m, create.text
    names = re.findall(rf"(\w+) = {VALUE}", m["params"])
    assert set(names) <= PARAMETERS and len(names) == len(set(names)), names
    assert {"SCHEDULE", "SUSPEND_TASK_AFTER_NUM_FAILURES", "OVERLAP_POLICY"} <= set(names)
    assert ("WAREHOUSE" in names) == bool(settings.warehouse)
    assert "FINALIZE" not in names and m["after"] is None and m["when"] is None
    assert "SCHEDULE = '15 MINUTES'" in m["params"] and "SUSPEND_TASK_AFTER_NUM_FAILURES = 0 " in m["params"]
    tag = re.search(r"QUERY_TAG = '((?:[^']|'')*)'", m["params"])
    assert tag and json.loads(tag[1]) == {"app": "aurora_sync", "step": "WATCHDOG"}
    assert m["name"] == '"DB"."STATE"."AURORA_SYNC_WATCHDOG"' and m["proc"] == '"DB"."CORE"."CHECK_ALERTS"'
    assert m["args"] == "" and procedures.by_name()["CHECK_ALERTS"].args == ()
    assert grant.text == f"GRANT MONITOR, OPERATE ON TASK {m['name']} TO APPLICATION ROLE AURORA_SYNC_ADMIN"
    assert resume.text == f"ALTER TASK {m['name']} RESUME"
    assert graph.drop_watchdog_ddl(where).text == f"DROP TASK IF EXISTS {m['name']}"

"""The sync Task graph, declared once: the same declaration generates the `CREATE TASK` DDL for
Snowflake and drives `aurora-sync run`, which executes the graph locally in dependency order.

ROOT (schedule, CONFIG) -> REQUEST_EXPORTS -> INTAKE -> LOAD_<table> (one per table, in parallel on
Snowflake, so one failing table does not block the others) ; FINALIZER (always runs, writes the summary).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from stored_procs.spec import TableSpec
from stored_procs.statement import Stmt, literal
from sync_contract.identifiers import quote_ident, quote_qualified

ROOT, REQUEST_EXPORTS, INTAKE, FINALIZER = "ROOT", "REQUEST_EXPORTS", "INTAKE", "FINALIZER"


@dataclass(frozen=True)
class Node:
    name: str  # task name suffix: the task is <prefix>_<name>
    procedure: str  # the procedure the task calls
    args: tuple[str, ...] = ()  # string arguments of the call
    after: tuple[str, ...] = ()
    finalizer: bool = False
    table: TableSpec | None = None
    only_if_pending: bool = False  # runs only when INTAKE returned LOAD (some table has something to load)


LOAD, NOTHING_TO_LOAD = "LOAD", "NOTHING_TO_LOAD"  # INTAKE's task return value


@dataclass(frozen=True)
class GraphSettings:
    schedule: str = "60 MINUTES"  # or "USING CRON 0 * * * * UTC"
    warehouse: str | None = None  # None: serverless
    initial_warehouse_size: str = "XSMALL"
    suspend_after_failures: int = 3
    auto_retry_attempts: int = 1
    timeout_ms: int = 3_600_000
    config: dict[str, str] = field(default_factory=dict)


def load_node_name(spec: TableSpec) -> str:
    return "LOAD_" + spec.slug.upper().replace("-", "_")


def declare(tables: Sequence[TableSpec]) -> list[Node]:
    """The graph for these tables, in an order where every node follows its predecessors."""
    nodes = [
        Node(ROOT, "CHECK_READY"),
        Node(REQUEST_EXPORTS, "REQUEST_EXPORTS", after=(ROOT,)),
        Node(INTAKE, "INTAKE_MANIFESTS", after=(REQUEST_EXPORTS,)),
    ]
    nodes += [
        Node(
            load_node_name(t),
            "LOAD_TABLE",
            (t.source_schema, t.source_table),
            after=(INTAKE,),
            table=t,
            only_if_pending=True,
        )
        for t in tables
    ]
    nodes.append(Node(FINALIZER, "FINALIZE_RUN", finalizer=True))
    return nodes


@dataclass(frozen=True)
class GraphLocation:
    """Where the tasks live (a non-versioned schema: a task keeps its state across upgrades) and where
    the procedures they call live. `database` None: the current one (inside the Native App)."""

    task_schema: str
    procedure_schema: str
    database: str | None = None
    prefix: str = "AURORA_SYNC"

    def _name(self, schema: str, name: str) -> str:
        parts = (schema, name) if self.database is None else (self.database, schema, name)
        return quote_qualified(*parts)

    def task(self, node_name: str) -> str:
        return self._name(self.task_schema, f"{self.prefix}_{node_name}")

    def procedure(self, name: str) -> str:
        return self._name(self.procedure_schema, name)


def query_tag(node: Node) -> str:
    """The QUERY_TAG of a node's task: every statement it runs is attributable to the table in
    QUERY_HISTORY (cost per table); the run is the task's graph run."""
    tag: dict[str, str] = {"app": "aurora_sync", "step": node.name}
    if node.table is not None:
        tag["table"] = node.table.source
    return json.dumps(tag, sort_keys=True)


def task_ddl(nodes: Sequence[Node], where: GraphLocation, settings: GraphSettings) -> list[Stmt]:
    """CREATE OR REPLACE TASK statements: children after their parents, the finalizer on the root.
    Tasks are created suspended."""

    def call(node: Node) -> str:
        args = ", ".join(literal(a) for a in node.args)
        return f"CALL {where.procedure(node.procedure)}({args})"

    compute = (
        f"WAREHOUSE = {quote_ident(settings.warehouse)}"
        if settings.warehouse
        else f"USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = '{_word(settings.initial_warehouse_size)}'"
    )
    stmts = []
    for node in nodes:
        common = f"{compute} QUERY_TAG = {literal(query_tag(node))}"
        if node.name == ROOT:
            config = json.dumps(settings.config, sort_keys=True).replace("$", "")
            head = (
                f"{common} SCHEDULE = '{_schedule(settings.schedule)}' CONFIG = $${config}$$ "
                f"OVERLAP_POLICY = NO_OVERLAP SUSPEND_TASK_AFTER_NUM_FAILURES = {int(settings.suspend_after_failures)} "
                f"TASK_AUTO_RETRY_ATTEMPTS = {int(settings.auto_retry_attempts)} "
                f"USER_TASK_TIMEOUT_MS = {int(settings.timeout_ms)}"
            )
        elif node.finalizer:
            head = f"{common} FINALIZE = {where.task(ROOT)}"
        else:
            head = f"{common} USER_TASK_TIMEOUT_MS = {int(settings.timeout_ms)} AFTER " + ", ".join(
                where.task(p) for p in node.after
            )
            if node.only_if_pending:  # evaluated without compute: no manifest, no load task runs
                intake = literal(f"{where.prefix}_{INTAKE}")
                head += f" WHEN SYSTEM$GET_PREDECESSOR_RETURN_VALUE({intake}) = '{LOAD}'"
        stmts.append(Stmt(f"CREATE OR REPLACE TASK {where.task(node.name)} {head} AS {call(node)}"))
    return stmts


def rebuild_ddl(
    tables: Sequence[TableSpec],
    removed: Sequence[TableSpec],
    where: GraphLocation,
    settings: GraphSettings,
    resume: bool,
    operator: str | None = None,
) -> list[Stmt]:
    """Rebuild the graph for the enabled tables: suspend the root (a graph cannot change while it is
    scheduled), drop the tasks of removed tables, recreate every task (granting MONITOR and OPERATE on
    each to `operator`, e.g. `APPLICATION ROLE AURORA_SYNC_ADMIN`), and resume them all if asked."""
    stmts = [Stmt(f"ALTER TASK IF EXISTS {where.task(ROOT)} SUSPEND")]
    stmts += [Stmt(f"DROP TASK IF EXISTS {where.task(load_node_name(t))}") for t in removed]
    nodes = declare(tables)
    stmts += task_ddl(nodes, where, settings)
    if operator:
        stmts += [Stmt(f"GRANT MONITOR, OPERATE ON TASK {where.task(n.name)} TO {operator}") for n in nodes]
    if resume:
        stmts.append(enable_ddl(where))
    return stmts


def enable_ddl(where: GraphLocation) -> Stmt:
    return Stmt("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE(?) AS R", (where.task(ROOT),))


def suspend_ddl(where: GraphLocation) -> Stmt:
    return Stmt(f"ALTER TASK IF EXISTS {where.task(ROOT)} SUSPEND")


def run_graph(
    nodes: Sequence[Node], action: Callable[[Node], bool], pending: Callable[[], bool] = lambda: True
) -> dict[str, str]:
    """Run the graph locally in dependency order, as Snowflake would: a node runs when all its parents
    succeeded, is skipped otherwise; a load is skipped when `pending()` (INTAKE's answer) is False; the
    finalizer always runs. `action` returns False on failure."""
    outcome: dict[str, str] = {}
    for node in nodes:
        if node.finalizer:
            continue
        if any(outcome.get(parent) != "SUCCEEDED" for parent in node.after) or (node.only_if_pending and not pending()):
            outcome[node.name] = "SKIPPED"
            continue
        outcome[node.name] = "SUCCEEDED" if action(node) else "FAILED"
    for node in nodes:
        if node.finalizer:
            outcome[node.name] = "SUCCEEDED" if action(node) else "FAILED"
    return outcome


def _schedule(value: str) -> str:
    if "'" in value or "$" in value:
        raise ValueError(f"schedule {value!r} must look like '60 MINUTES' or 'USING CRON 0 * * * * UTC'")
    return value


def _word(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise ValueError(f"{value!r} is not a warehouse size")
    return value.upper()

"""The sync Task graph, declared once: the same declaration generates the `CREATE TASK` DDL for
Snowflake and drives `aurora-sync run`, which executes the graph locally in dependency order.

ROOT (schedule, CONFIG) -> REQUEST_EXPORTS -> INTAKE -> LANE_1 .. LANE_n (siblings, in parallel on
Snowflake; each loads its share of the tables with something pending, one table after another:
`lanes.py`) ; FINALIZER (always runs, writes the summary).

A fixed, small number of lanes bounds how many load statements run at once, whatever the number of
tables: Snowflake aborts a statement once more than 20 wait for one table's lock ("Transactions",
resource locking), and every load writes the shared control tables (LEASES, MANIFESTS, WATERMARKS,
RUNS). With n <= MAX_LANES lanes at most n graph statements wait for one control table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from stored_procs.spec import TableSpec
from stored_procs.statement import Stmt, literal
from sync_contract.identifiers import quote_ident, quote_qualified

ROOT, REQUEST_EXPORTS, INTAKE, FINALIZER = "ROOT", "REQUEST_EXPORTS", "INTAKE", "FINALIZER"
DEFAULT_LANES, MAX_LANES = 4, 8  # load lanes: the setting `load_lanes` (docs/CONFIGURATION.md)
WATCHDOG, WATCHDOG_SCHEDULE, WATCHDOG_TIMEOUT_MS = "WATCHDOG", "15 MINUTES", 600_000  # CORE.CHECK_ALERTS


@dataclass(frozen=True)
class Node:
    name: str  # task name suffix: the task is <prefix>_<name>
    procedure: str  # the procedure the task calls
    args: tuple[str | int, ...] = ()  # arguments of the call: strings, or whole numbers
    after: tuple[str, ...] = ()
    finalizer: bool = False
    # runs only when INTAKE's return value, a number, is at least this (`wakes`); None: always
    wake_at: int | None = None


def intake_answer(pending_tables: int) -> str:
    """INTAKE's task return value: how many enabled tables have something to load. Lane k wakes when it
    is at least k, so exactly the lanes that get a table run (`lanes.share`); with nothing pending no
    lane runs. A decimal number of at most a few digits (SYSTEM$SET_RETURN_VALUE takes up to 10 kB)."""
    return str(int(pending_tables))


def wakes(node: Node, intake_value: str | None) -> bool:
    """The node's WHEN, as Snowflake evaluates it (`task_ddl` writes the same condition)."""
    if node.wake_at is None:
        return True
    try:
        return int(intake_value or "0") >= node.wake_at
    except ValueError:
        return False


@dataclass(frozen=True)
class GraphSettings:
    schedule: str = "60 MINUTES"  # or "USING CRON 0 * * * * UTC"
    warehouse: str | None = None  # None: serverless
    initial_warehouse_size: str = "XSMALL"
    suspend_after_failures: int = 3
    auto_retry_attempts: int = 1
    timeout_ms: int = 3_600_000
    config: dict[str, str] = field(default_factory=dict)
    lanes: int = DEFAULT_LANES


def check_lanes(value: object) -> int:
    """A lane count: a whole number from 1 to MAX_LANES. Raises ValueError naming the accepted range."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_LANES:
        raise ValueError(
            f"load_lanes must be a whole number from 1 to {MAX_LANES}, got {value!r}: each lane loads one "
            "table at a time, and Snowflake aborts statements once more than 20 wait for one table's lock"
        )
    return int(text)


def legacy_load_node_name(spec: TableSpec) -> str:
    """The task of one table's load in graphs built before the lanes (LOAD_<table>): a rebuild drops it."""
    return "LOAD_" + spec.slug.upper().replace("-", "_")


def lane_node_name(lane: int) -> str:
    return f"LANE_{lane}"


def lane_count(tables: Sequence[TableSpec], lanes: int = DEFAULT_LANES) -> int:
    """The lanes the graph has: the setting, but never more than there are tables."""
    return min(check_lanes(lanes), len(tables))


def declare(tables: Sequence[TableSpec], lanes: int = DEFAULT_LANES) -> list[Node]:
    """The graph for these tables, in an order where every node follows its predecessors: lane k calls
    LOAD_LANE(k, n) and wakes when INTAKE answered at least k tables pending."""
    n = lane_count(tables, lanes)
    nodes = [
        Node(ROOT, "CHECK_READY"),
        Node(REQUEST_EXPORTS, "REQUEST_EXPORTS", after=(ROOT,)),
        Node(INTAKE, "INTAKE_MANIFESTS", after=(REQUEST_EXPORTS,)),
    ]
    nodes += [Node(lane_node_name(k), "LOAD_LANE", (k, n), after=(INTAKE,), wake_at=k) for k in range(1, n + 1)]
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
    return json.dumps(tag, sort_keys=True)


def when_condition(node: Node, where: GraphLocation) -> str | None:
    """The task's WHEN: INTAKE's return value cast to a number, compared with the lane's number. The
    CREATE TASK reference ("WHEN boolean_expr") allows SYSTEM$GET_PREDECESSOR_RETURN_VALUE, casts
    between numeric, string and boolean types, comparison and boolean operators, evaluated without
    compute (its example: `SYSTEM$GET_PREDECESSOR_RETURN_VALUE('task_name')::FLOAT < 0.2`); no other
    function, so no list or bit test. The predecessor is named without database and schema, as
    SYSTEM$GET_PREDECESSOR_RETURN_VALUE requires."""
    if node.wake_at is None:
        return None
    intake = literal(f"{where.prefix}_{INTAKE}")
    return f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE({intake})::NUMBER >= {int(node.wake_at)}"


def task_ddl(nodes: Sequence[Node], where: GraphLocation, settings: GraphSettings) -> list[Stmt]:
    """CREATE OR REPLACE TASK statements: children after their parents, the finalizer on the root.
    Tasks are created suspended."""

    def call(node: Node) -> str:
        args = ", ".join(literal(a) if isinstance(a, str) else str(int(a)) for a in node.args)
        return f"CALL {where.procedure(node.procedure)}({args})"

    compute = _compute(settings)
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
            if condition := when_condition(node, where):  # evaluated without compute: idle lanes cost nothing
                head += f" WHEN {condition}"
        stmts.append(Stmt(f"CREATE OR REPLACE TASK {where.task(node.name)} {head} AS {call(node)}"))
    return stmts


def _compute(settings: GraphSettings) -> str:
    if settings.warehouse:
        return f"WAREHOUSE = {quote_ident(settings.warehouse)}"
    return f"USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = '{_word(settings.initial_warehouse_size)}'"


def watchdog_ddl(
    where: GraphLocation, settings: GraphSettings, every: str = WATCHDOG_SCHEDULE, operator: str | None = None
) -> list[Stmt]:
    """The watchdog task (stored_procs.monitoring.watchdog): its own root, not in the graph, so a graph
    Snowflake suspended does not stop it; every `every` it calls CORE.CHECK_ALERTS(), on the graph's
    compute (serverless unless a warehouse is set). CREATE TASK
    (https://docs.snowflake.com/en/sql-reference/sql/create-task): a task is created suspended, hence the
    ALTER TASK ... RESUME; SUSPEND_TASK_AFTER_NUM_FAILURES = 0 never suspends it (the default is 10),
    OVERLAP_POLICY = NO_OVERLAP: one check at a time; a short USER_TASK_TIMEOUT_MS."""
    tag = json.dumps({"app": "aurora_sync", "step": WATCHDOG}, sort_keys=True)
    name = where.task(WATCHDOG)
    stmts = [
        Stmt(
            f"CREATE OR REPLACE TASK {name} {_compute(settings)} QUERY_TAG = {literal(tag)} "
            f"SCHEDULE = '{_schedule(every)}' OVERLAP_POLICY = NO_OVERLAP SUSPEND_TASK_AFTER_NUM_FAILURES = 0 "
            f"USER_TASK_TIMEOUT_MS = {WATCHDOG_TIMEOUT_MS} AS CALL {where.procedure('CHECK_ALERTS')}()"
        )
    ]
    if operator:
        stmts.append(Stmt(f"GRANT MONITOR, OPERATE ON TASK {name} TO {operator}"))
    return [*stmts, Stmt(f"ALTER TASK {name} RESUME")]


def drop_watchdog_ddl(where: GraphLocation) -> Stmt:
    return Stmt(f"DROP TASK IF EXISTS {where.task(WATCHDOG)}")


def rebuild_ddl(
    tables: Sequence[TableSpec],
    removed: Sequence[TableSpec],
    where: GraphLocation,
    settings: GraphSettings,
    resume: bool,
    operator: str | None = None,
) -> list[Stmt]:
    """Rebuild the graph for the enabled tables: suspend the root (a graph cannot change while it is
    scheduled), drop the tasks no longer in it (lanes above the lane count, and the per-table LOAD_<table>
    tasks of graphs built before the lanes), recreate every task (granting MONITOR and OPERATE on each to
    `operator`, e.g. `APPLICATION ROLE AURORA_SYNC_ADMIN`), and resume them all if asked."""
    nodes = declare(tables, settings.lanes)
    kept = {n.name for n in nodes}
    stale = [legacy_load_node_name(t) for t in [*tables, *removed]]
    stale += [name for name in (lane_node_name(k) for k in range(1, MAX_LANES + 1)) if name not in kept]
    stmts = [Stmt(f"ALTER TASK IF EXISTS {where.task(ROOT)} SUSPEND")]
    stmts += [Stmt(f"DROP TASK IF EXISTS {where.task(name)}") for name in stale]
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
    nodes: Sequence[Node],
    action: Callable[[Node], bool],
    intake_value: Callable[[], str | None] = lambda: None,
    each: Callable[[Callable[[Node], bool], list[Node]], Iterable[bool]] = map,
) -> dict[str, str]:
    """Run the graph locally in dependency order, as Snowflake would: a node runs when all its parents
    succeeded, is skipped otherwise, and is skipped when its WHEN is false (`wakes`, on INTAKE's return
    value as `intake_value()` gives it); the finalizer always runs. `action` returns False on failure.
    Siblings (the lanes) run through `each(action, nodes)`: one after another by default, or at once
    with a thread pool's `map` when every action has its own session."""
    outcome: dict[str, str] = {}
    waiting = [n for n in nodes if not n.finalizer]
    while waiting:
        ready = [n for n in waiting if all(parent in outcome for parent in n.after)]
        if not ready:
            raise ValueError(f"the graph has a cycle or an unknown predecessor: {[n.name for n in waiting]}")
        runnable = []
        for node in ready:
            if any(outcome[parent] != "SUCCEEDED" for parent in node.after) or (
                node.wake_at is not None and not wakes(node, intake_value())
            ):
                outcome[node.name] = "SKIPPED"
            else:
                runnable.append(node)
        for node, succeeded in zip(runnable, each(action, runnable), strict=True):
            outcome[node.name] = "SUCCEEDED" if succeeded else "FAILED"
        waiting = [n for n in waiting if n.name not in outcome]
    for node in nodes:
        if node.finalizer:
            outcome[node.name] = "SUCCEEDED" if action(node) else "FAILED"
    return {n.name: outcome[n.name] for n in nodes}


def _schedule(value: str) -> str:
    if "'" in value or "$" in value:
        raise ValueError(f"schedule {value!r} must look like '60 MINUTES' or 'USING CRON 0 * * * * UTC'")
    return value


def _word(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise ValueError(f"{value!r} is not a warehouse size")
    return value.upper()

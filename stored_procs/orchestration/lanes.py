"""Load lanes: LOAD_LANE(k, n) loads, one after another, lane k's share of the tables with something
pending; the n lanes of a graph run at once.

Which tables a lane loads. INTAKE answers how many enabled tables have something to load (p: a pending
manifest, or a quarantined export the table is stuck behind, `tables_to_load`); lanes 1..min(n, p) wake
(`graph.wakes`). The tables are put in order of their `schema.table` name and dealt out
round robin over those m = min(n, p) lanes: lane k takes the k-th, (k+m)-th, ... table. Each lane finds
the same list on its own (no plan is stored): the tables of this run's INTAKE are those with a NEW or
FAILED manifest, or with a manifest this run has already changed (every change of a manifest's status
writes the run's id in the same UPDATE: `ledger.mark_loaded` / `ledger.mark_status`). So the list does
not shrink while sibling lanes load, and a lane retried within the run (TASK_AUTO_RETRY_ATTEMPTS) takes the
same share, skipping the tables this run has already recorded (RUNS) other than as FAILED.
A table enabled, disabled or given a new export (RETRY_MANIFEST, another intake) between INTAKE and a
lane may shift the deal: a table may then wait for the next run (the FINALIZER reports it NOT_RUN) or be
tried twice (its lease lets one load it; the other records BUSY).

One table failing, even for good, never fails the lane: its failure is recorded as before (RUNS,
MANIFESTS: FAILED, QUARANTINED after `ledger.MAX_ATTEMPTS`) and the lane goes on with its next table. A
lane task fails only when it could not do its work at all (the control tables unreadable) or a table's
failure could not be recorded (`LaneFailed`): those failures concern every table, and Snowflake suspends
the graph after SUSPEND_TASK_AFTER_NUM_FAILURES of them in a row. A graph that stopped for one table
would stop replicating every other one (audit S8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stored_procs import ledger, watermarks
from stored_procs.loading import blocked
from stored_procs.orchestration import graph
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

LOAD_LANES = "load_lanes"  # setting (STATE.SETTINGS): the number of lanes; ENABLE_SCHEDULE writes it
DONE = frozenset({"SUCCEEDED", "NO_CHANGE", "BUSY"})  # a table this run recorded so: a retried lane skips it

LoadOne = Callable[[TableSpec], dict[str, Any]]


class LaneFailed(RuntimeError):
    """Some table's load failed and the failure could not be recorded in RUNS: the lane task fails."""


def share(tables: Sequence[TableSpec], lane: int, lanes: int) -> list[TableSpec]:
    """Lane `lane`'s tables among `tables` (this run's tables with something to load), dealt round robin
    in order of their names over min(lanes, len(tables)) lanes; empty for a lane above that."""
    ordered = sorted(tables, key=lambda t: (t.source_schema, t.source_table))
    woken = min(graph.check_lanes(lanes), len(ordered))
    if not 1 <= lane <= woken:
        return []
    return ordered[lane - 1 :: woken]


def tables_to_load(session: Any, place: Place, run_id: str, specs: Sequence[TableSpec]) -> list[TableSpec]:
    return pending_and_to_load(session, place, run_id, specs)[1]


def pending_and_to_load(
    session: Any, place: Place, run_id: str, specs: Sequence[TableSpec]
) -> tuple[set[str], list[TableSpec]]:
    """The `schema.table` of every table with a NEW or FAILED manifest, and the tables among `specs` a run
    loads: those with a NEW or FAILED manifest, those with a manifest
    this run has already changed (`run_id`; module docstring), and those stuck behind a QUARANTINED
    export (`blocked.waiting_on`: their load reports them FAILED every run, never NO_CHANGE). INTAKE
    counts them for its answer; each lane finds the same list again."""
    rows = run(
        session,
        Stmt(
            "SELECT DISTINCT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, STATUS = ? AS Q, STATUS IN (?, ?) AS P "
            f"FROM {place.control('MANIFESTS')} "
            "WHERE STATUS IN (?, ?) OR RUN_ID = ? OR (STATUS = ? AND MODE IN ('incremental', 'full'))",
            (ledger.QUARANTINED, ledger.NEW, ledger.FAILED, ledger.NEW, ledger.FAILED, run_id, ledger.QUARANTINED),
        ),
    )
    found: dict[tuple[str, str], bool] = {}  # table -> only a quarantined export found (perhaps stuck)
    pending = set()  # `schema.table` with a NEW or FAILED manifest
    for schema, table, quarantined_only, waiting in rows:
        found[(schema, table)] = found.get((schema, table), True) and bool(quarantined_only)
        if waiting:
            pending.add(f"{schema}.{table}")
    chosen = []
    for spec in specs:
        key = (spec.source_schema, spec.source_table)
        if key not in found:
            continue
        if found[key] and not blocked.waiting_on(session, place, spec, watermarks.get_watermark(session, place, spec)):
            continue  # its quarantined exports are behind what is loaded: nothing to report
        chosen.append(spec)
    return pending, chosen


def recorded(session: Any, place: Place, run_id: str) -> dict[str, str]:
    """`schema.table` -> the status of its latest RUNS row in this run."""
    rows = run(
        session,
        Stmt(
            f"SELECT SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, STATUS AS X FROM {place.control('RUNS')} "
            "WHERE RUN_ID = ? ORDER BY FINISHED_AT",
            (run_id,),
        ),
    )
    return {f"{r[0]}.{r[1]}": r[2] for r in rows}


@dataclass
class LaneResult:
    lane: int
    lanes: int
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> its load's summary
    unrecorded: dict[str, str] = field(default_factory=dict)  # source -> an error RUNS could not take

    def to_dict(self) -> dict[str, Any]:
        failed = sorted(s for s, t in self.tables.items() if t.get("status") == "FAILED")
        return {
            "lane": self.lane,
            "lanes": self.lanes,
            "tables": self.tables,
            "failed": failed,
            "rows_loaded": sum(int(t.get("rows_loaded") or 0) for t in self.tables.values()),
        }


def return_value(summary: dict[str, Any]) -> str:
    """A short line for a lane task's return value (TASK_HISTORY.RETURN_VALUE), from its summary
    (`LaneResult.to_dict`)."""
    failed = summary["failed"]
    text = f"lane {summary['lane']}/{summary['lanes']}: {len(summary['tables'])} tables, {len(failed)} failed"
    return (text + (": " + ", ".join(failed) if failed else ""))[:2000]


def load_lane(
    session: Any,
    place: Place,
    run_id: str,
    lane: int,
    lanes: int,
    specs: Sequence[TableSpec],
    load_one: LoadOne,
    every_table: bool = False,
) -> LaneResult:
    """Load lane `lane`'s share of `specs` with `load_one` (which records each table's run in RUNS and
    returns its summary), one table after another: of the tables with something to load, or of all of
    `specs` with `every_table` (`aurora-sync run`, whose report has a line for every table). Raises
    LaneFailed at the end when a table's load raised (its failure is not in RUNS); every other table of
    the lane was loaded first."""
    result = LaneResult(lane, graph.check_lanes(lanes))
    mine = share(specs if every_table else tables_to_load(session, place, run_id, specs), lane, lanes)
    # a retried lane task skips what this run already recorded; `every_table` (the local runner) never retries
    done = recorded(session, place, run_id) if mine and not every_table else {}
    for spec in mine:
        if done.get(spec.source) in DONE:  # an earlier attempt of this lane in this run loaded it
            continue
        try:
            result.tables[spec.source] = load_one(spec)
        except Exception as err:  # e.g. RUNS could not be written: the other tables go on
            result.unrecorded[spec.source] = f"{type(err).__name__}: {err}"
    if result.unrecorded:
        details = "; ".join(f"{source}: {why}" for source, why in sorted(result.unrecorded.items()))
        raise LaneFailed(
            f"lane {lane}: the load of {len(result.unrecorded)} table(s) failed and could not be recorded in "
            f"{place.control('RUNS')} ({details}); the lane's other tables were loaded"
        )
    return result

"""A cycle interrupted by Ctrl-C: a RUNS row for each table whose run started and has none yet.

A load writes its RUNS row as it ends (`stored_procs.loading.load.load_table`); a Ctrl-C that lands after
its MERGE, before that row, left the table's load out of RUNS, so `status --history` showed only older
runs although rows were merged. On KeyboardInterrupt, `run_cycle` calls `record_interrupted`: each table
that had a stage started in this run (export, load, ...; `Started` counts them from the stage events),
was not BUSY, and has no RUNS row of this run gets one, FAILED with `ERROR`, and the rows and watermark
the run got so far (the manifests this run marked LOADED, the watermark as it is now). Best effort: a
failure to write it is swallowed (the interrupt is what the user sees), and the next run repairs the
rest (docs/CORRECTNESS.md, "Crashes")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from stored_procs import ledger, run_records, stage_events
from stored_procs.orchestration import runs
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run

ERROR = "interrupted by the user (Ctrl-C); run again"


class Started:
    """A stage-event sink remembering the tables (`schema.table`) a stage started for, forwarding every
    event to `forward` (the CLI's progress or log lines) when there is one."""

    def __init__(self, forward: Callable[[stage_events.StageEvent], None] | None) -> None:
        self.tables: set[str] = set()
        self.forward = forward

    def __call__(self, event: stage_events.StageEvent) -> None:
        if event.table is not None and event.state == stage_events.STARTED:
            self.tables.add(event.table)
        if self.forward is not None:
            self.forward(event)


def progress_query(place: Place, run_id: str) -> Stmt:
    """One statement: the tables with a RUNS row of `run_id` ('R'), the rows and manifests this run
    marked LOADED per table ('M'), and every table's watermark ('W'). Columns: kind, schema, table,
    watermark (VARCHAR), rows, manifests (numbers)."""
    return Stmt(
        "SELECT 'R' AS W, SOURCE_SCHEMA AS S, SOURCE_TABLE AS T, CAST(NULL AS VARCHAR) AS V, 0 AS N, 0 AS M "
        f"FROM {place.control('RUNS')} WHERE RUN_ID = ? UNION ALL "
        "SELECT 'M', SOURCE_SCHEMA, SOURCE_TABLE, NULL, SUM(COALESCE(ROWS_LOADED, 0)), COUNT(*) "
        f"FROM {place.control('MANIFESTS')} WHERE RUN_ID = ? AND STATUS = ? GROUP BY SOURCE_SCHEMA, SOURCE_TABLE "
        f"UNION ALL SELECT 'W', SOURCE_SCHEMA, SOURCE_TABLE, WATERMARK, 0, 0 FROM {place.control('WATERMARKS')}",
        (run_id, run_id, ledger.LOADED),
    )


def interrupted_runs(
    rows: list[Any], specs: list[TableSpec], run_id: str, before: dict[tuple[str, str], str | None]
) -> list[dict[str, Any]]:
    """The RUNS rows to write for `specs` (the started, not BUSY tables) from `progress_query`'s rows:
    none for a table that has one; `before`: each table's watermark as the run started."""
    recorded = {(r[1], r[2]) for r in rows if r[0] == "R"}
    loaded = {(r[1], r[2]): (int(r[4] or 0), int(r[5] or 0)) for r in rows if r[0] == "M"}
    now = {(r[1], r[2]): r[3] for r in rows if r[0] == "W"}
    out = []
    for spec in specs:
        if spec.key in recorded:
            continue
        row = runs.failed_run(spec, run_id, [ERROR])
        rows_loaded, manifests = loaded.get(spec.key, (0, 0))
        row.update(
            rows_loaded=rows_loaded,
            manifests=manifests,
            watermark_before=before.get(spec.key),
            watermark_after=now.get(spec.key),
        )
        out.append(row)
    return out


def record_interrupted(
    session: Any,
    place: Place,
    run_id: str,
    specs: list[TableSpec],
    before: dict[tuple[str, str], str | None],
) -> None:
    """Write `interrupted_runs` in one INSERT, best effort (module docstring)."""
    if not specs:
        return
    with suppress(Exception):
        rows = interrupted_runs(run(session, progress_query(place, run_id)), specs, run_id, before)
        if rows:
            run_records.record_runs(session, place, rows)

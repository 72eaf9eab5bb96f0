"""What a local cycle may leave out when nothing is new: INTAKE when no export wrote anything, a table's
load when it has nothing to load (issue 14: idle cycles near free). The Task graph decides the same from
INTAKE's answer (`stored_procs.orchestration.lanes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurora_sync.export_client import Exporter
from stored_procs import stage_events
from stored_procs.orchestration import cycle_state, runs
from stored_procs.spec import TableSpec

if TYPE_CHECKING:
    from aurora_sync.cycle import TableReport

Key = cycle_state.Key  # (schema, table): TableSpec.key


def nothing_to_load(spec: TableSpec, watermark: str | None = None) -> dict[str, Any]:
    """The report line of a table this cycle had nothing to load for, without a statement (the FINALIZER
    writes its NO_CHANGE RUNS row with the others', in one INSERT)."""
    return {
        "status": "NO_CHANGE",
        "manifests": 0,
        "rows_loaded": 0,
        "target": f"{spec.target_schema}.{spec.target_table}",
        "watermark_before": watermark,  # the loaded watermark, as read at the cycle's start
        "watermark_after": watermark,
    }


def tables_to_load(state: cycle_state.CycleState, reports: list[TableReport], taken: dict[str, Any]) -> set[Key]:
    """The tables this cycle loads, by (schema, table): something pending or quarantined before it (`state`),
    an export or an error in this cycle, or a manifest intake took in (`taken`: its `tables`)."""
    found = state.pending | state.quarantined | {(t[0], t[1]) for t in taken.get("tables") or ()}
    for report in reports:
        if report.errors or (report.export or {}).get("status") == "exported" or report.keys_export is not None:
            found.add(report.spec.key)
    return found


def intake_needed(state: cycle_state.CycleState, exporter: Exporter | None, reports: list[TableReport]) -> bool:
    """Whether INTAKE can find anything: not when every table's export answered no_change (pull mode writes
    a manifest only for an export; anything exported before and not loaded is exported again from the
    same watermark), no key set was exported, and INBOX holds nothing left over. Push mode (no exporter)
    always looks: its manifests come on the exporter's own schedule."""
    if exporter is None or state.inbox:
        return True
    return any(r.keys_export is not None or (r.export or {}).get("status") != "no_change" for r in reports)


def still_pending(state: cycle_state.CycleState, reports: list[TableReport], taken: dict[str, Any]) -> set[Key]:
    """The tables with manifests to load that no load of this cycle took up (intake or a lane failed)."""
    waiting = state.pending | {(t[0], t[1]) for t in taken.get("tables") or ()}
    return {r.spec.key for r in reports if r.spec.key in waiting and not (r.load and "run_id" in r.load)}


def busy_load(spec: TableSpec, why: str, watermark: str | None = None) -> dict[str, Any]:
    """The report line of a table whose load lease another run held as this cycle started (`why`:
    `lease.Busy.message`): this cycle neither exported nor loaded it, without a statement."""
    return {**nothing_to_load(spec, watermark), "status": "BUSY", "notes": why}


def busy_run(spec: TableSpec, run_id: str, why: str) -> dict[str, Any]:
    """Its RUNS row (BUSY, NOTES saying who holds the table, since and until when), written by the
    FINALIZER with the others' in one INSERT."""
    return {**runs.no_change_run(spec, run_id), "status": "BUSY", "notes": why}


def load_event(stage: stage_events.Stage, load: dict[str, Any] | None, errors: list[str]) -> None:
    """A table's load stage as its report says it went: rows loaded, and its status (failed with why,
    busy with who holds it, no_change)."""
    load = load or {}
    stage.rows = int(load.get("rows_loaded") or 0)
    status = "FAILED" if errors else load.get("status", "FAILED")
    stage.status = {"FAILED": stage_events.FAILED, "BUSY": stage_events.BUSY, "NO_CHANGE": stage_events.NO_CHANGE}.get(
        status, stage_events.OK
    )
    if status == "FAILED":
        stage.detail = "; ".join(errors) or load.get("error") or "failed"
    elif status == "BUSY":
        stage.detail = load.get("notes")


def export_event(stage: stage_events.Stage, report: TableReport) -> None:
    """A table's export stage: the rows its window export wrote and the bytes of every file written (the
    exporter's answers), failed with the error, or no_change."""
    answers = [a for a in (report.export, report.keys_export) if a]
    stage.rows = int((report.export or {}).get("rows") or 0)
    stage.bytes = sum(int(a.get("bytes") or 0) for a in answers)
    if report.export_errors:
        stage.status, stage.detail = stage_events.FAILED, "; ".join(report.export_errors)
    elif (report.export or {}).get("status") == "no_change":
        stage.status = stage_events.NO_CHANGE


def intake_event(stage: stage_events.Stage, ok: bool, taken: dict[str, Any]) -> None:
    """The intake stage: the manifests taken in; busy when another run's intake held its lease."""
    stage.rows = len(taken.get("export_ids") or ())
    if taken.get("busy"):
        stage.status, stage.detail = stage_events.BUSY, str(taken["busy"])
    elif not ok:
        stage.status = stage_events.FAILED


def mark_busy(state: cycle_state.CycleState, reports: list[TableReport]) -> None:
    """The tables whose load lease another run held as the cycle started (`state.held`): this cycle
    neither exports nor loads them (that run does) and reports them BUSY, naming the holder."""
    for report in reports:
        if held := state.held.get(report.spec.key):
            report.busy = held.message("this run neither exported nor loaded it")

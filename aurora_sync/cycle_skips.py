"""What a local cycle may leave out when nothing is new: INTAKE when no export wrote anything, a table's
load when it has nothing to load (issue 14: idle cycles near free). The Task graph decides the same from
INTAKE's answer (`stored_procs.orchestration.lanes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurora_sync.export_client import Exporter
from stored_procs.orchestration import cycle_state
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

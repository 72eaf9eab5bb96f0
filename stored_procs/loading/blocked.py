"""Exports a table still waits on: QUARANTINED batches ahead of its loaded watermark (or, in full mode,
snapshots newer than the loaded one). Retrying cannot help them, and a new export of the same window is
the same export id, so without this every later run would read as NO_CHANGE while the table is stuck."""

from __future__ import annotations

from typing import Any

from stored_procs import ledger
from stored_procs.loading import manifest_checks
from stored_procs.loading.batch import window_kind
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, parse_manifest_json
from sync_contract.watermark import is_after

SHOWN_ERROR_CHARS = 400


def quarantined(place: Place, spec: TableSpec) -> Stmt:
    """(EXPORT_ID, CREATED_AT, ERROR, DOC) of the table's QUARANTINED window and snapshot exports."""
    return Stmt(
        f"SELECT EXPORT_ID AS E, CREATED_AT AS C, ERROR AS R, DOC AS D FROM {place.control('MANIFESTS')} "
        "WHERE SOURCE_SCHEMA = ? AND SOURCE_TABLE = ? AND STATUS = ? AND MODE IN ('incremental', 'full') "
        "ORDER BY CREATED_AT, EXPORT_ID",
        (spec.source_schema, spec.source_table, ledger.QUARANTINED),
    )


def _ahead(manifest: Manifest, created_at: str, watermark: str | None, newest_snapshot: str) -> bool:
    """Is this export still to be loaded: a window above the loaded watermark, a newer snapshot."""
    kind = window_kind([manifest])
    if kind is not None and manifest.window.high is not None:
        return is_after(kind, manifest.window.high, watermark)
    return created_at > newest_snapshot


def waiting_on(session: Any, place: Place, spec: TableSpec, watermark: str | None) -> str | None:
    """Why the table cannot move on, naming the first quarantined export ahead of what is loaded and the
    fix; None when nothing blocks it."""
    rows = run(session, quarantined(place, spec))
    newest_snapshot = (ledger.newest_loaded_snapshot(session, place, spec) or "") if rows else ""
    ahead = []
    for export_id, created_at, error, doc in rows:
        try:
            manifest = parse_manifest_json(doc or "")
        except ContractError:
            continue  # not a manifest (a copy failure of the intake): reported by the intake
        if manifest_checks.misfit(manifest, spec):
            continue  # another mode, key or window column than the table's: its own exports bring the rows
        try:
            manifest_checks.check_orderable(manifest)
        except ContractError:  # a window that cannot be ordered cannot be placed behind the watermark either
            ahead_of_loaded = True
        else:
            ahead_of_loaded = _ahead(manifest, str(created_at or ""), watermark, newest_snapshot)
        if ahead_of_loaded:
            ahead.append((export_id, str(error or "")[:SHOWN_ERROR_CHARS]))
    if not ahead:
        return None
    export_id, error = ahead[0]
    shown = "none" if watermark is None else repr(watermark)  # none loaded yet
    return (
        f"{spec.source} waits on {len(ahead)} QUARANTINED export(s), the first {export_id}: {error}. Its rows are not "
        f"loaded and the watermark stays at {shown}: fix the cause, then retry it (in the app: CALL "
        f"CORE.RETRY_MANIFEST('{export_id}'); with the local runner: aurora-sync retry {export_id} --config "
        f"sync.toml) or resync the table ({spec.resync_hint}); if it must never load (the exporter did not write "
        f"it): CALL CORE.DISCARD_MANIFEST('{export_id}', '<reason>'), or aurora-sync discard {export_id} --reason "
        "'<reason>' --config sync.toml"
    )

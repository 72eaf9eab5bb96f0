"""An export id that arrives again with other contents (issue 13, item 3).

The ledger is keyed by export id, so a second manifest with a recorded id used to be skipped as "already
known": an empty copy of a real manifest planted under the same id (in another table's folder) got the
real export skipped, or was loaded in its place. Now the second document is compared with the recorded
one by digest (sha256 of what the manifest makes the load do, manifest_checks.digest):

- the same digest: the same manifest copied again (COPY's LOAD_UNCERTAIN_FILES, an INBOX re-created):
  nothing to do;
- another digest, the recorded one not yet loaded (NEW, FAILED, QUARANTINED), and the newcomer a later
  attempt of the same export (same table, mode, window and chunk, a later `created_at`): it replaces the
  recorded one, which becomes NEW with no attempts. Both are signed (intake verified the newcomer, and
  the recorded one when it was taken in), and a retried export rewrites its data files at the same keys,
  so only the newest manifest describes them: a source row deleted between two attempts of one window
  (the high unchanged) made the second attempt differ, and quarantining both blocked the table;
- another digest otherwise, the recorded one not yet loaded: both are QUARANTINED, since which is
  genuine cannot be told here; the reason names both digests. The operator RETRY_MANIFESTs the genuine
  one and DISCARD_MANIFESTs the other;
- another digest, the recorded one done with (LOADED, SUPERSEDED): it stands (its rows are in the target,
  the watermark passed it); only the newcomer is QUARANTINED, the reason saying so;
- another digest, the recorded one DISCARDED: the newcomer is QUARANTINED, the reason naming
  RETRY_MANIFEST if it is the genuine export (never loaded without an operator's word).

The newcomer is recorded, with its table, window and counts, under `<export id>.dup-<its digest's first 16
hex digits>`: once the operator RETRY_MANIFESTs it, it loads like any export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stored_procs import ledger
from stored_procs.loading.manifest_checks import digest, text_digest
from stored_procs.spec import Place
from stored_procs.statement import Stmt, run
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, parse_manifest_json


def recorded_digest(doc: str) -> str:
    """Digest of a ledger row's DOC: of the manifest it holds, or of its text when it holds none."""
    try:
        return digest(parse_manifest_json(doc))
    except ContractError:
        return text_digest(doc)


def duplicate_id(export_id: str, newcomer_digest: str) -> str:
    return f"{export_id[:100]}.dup-{newcomer_digest[:16]}"


def take_known(
    session: Any, place: Place, manifest: Manifest, file_name: str | None, known: set[str]
) -> dict[str, str] | None:
    """`manifest`'s export id is in the ledger: nothing when it is the same manifest, else the quarantine
    described above. Returns {"export_id", "error"} of the newcomer when it was quarantined."""
    recorded = status_and_doc(session, place, manifest.export_id)
    if recorded is None:
        return None
    status, doc = recorded
    theirs, ours = recorded_digest(doc or ""), digest(manifest)
    newcomer = duplicate_id(manifest.export_id, ours)
    if theirs == ours or newcomer in known or ledger.holds(session, place, newcomer):
        known.add(newcomer)
        return None
    came = f"from file {file_name!r}" if file_name else "(file not recorded)"
    if status in ledger.UNSETTLED and _later_attempt(manifest, doc or ""):
        note = (
            f"replaced at intake by a later attempt of this export {came} (sha256 {ours}, created "
            f"{manifest.created_at}; the attempt replaced had sha256 {theirs})"
        )
        run(session, replace_recorded(place, manifest, note))
        return None
    if status in ledger.UNSETTLED:
        error = (
            f"export id {manifest.export_id} arrived twice with different contents: the manifest recorded first "
            f"(sha256 {theirs}) and another {came} (sha256 {ours}, recorded as {newcomer}). Neither is loaded, "
            "since which one the exporter wrote cannot be told here: compare both (STATE.MANIFESTS.DOC), then "
            f"CALL CORE.RETRY_MANIFEST on the genuine one and CORE.DISCARD_MANIFEST on the other"
        )
        _quarantine_recorded(session, place, manifest.export_id, error)
    elif status == ledger.DISCARDED:
        error = (
            f"export id {manifest.export_id} arrived again with different contents {came} (sha256 {ours}); the "
            f"manifest recorded first (sha256 {theirs}) was discarded by an operator, and this one is not loaded "
            f"by itself. If it is the exporter's, CALL CORE.RETRY_MANIFEST('{newcomer}'); else remove the file and "
            f"CALL CORE.DISCARD_MANIFEST('{newcomer}', '<reason>')"
        )
    else:
        error = (
            f"export id {manifest.export_id} arrived again with different contents {came} (sha256 {ours}); the "
            f"manifest recorded first (sha256 {theirs}, status {status}) stands and this one is not loaded. If the "
            f"exporter did not write it, remove the file; CALL CORE.DISCARD_MANIFEST('{newcomer}', '<reason>')"
        )
    ledger.record_manifest(session, place, manifest, manifest.to_json(), as_id=newcomer, error=error)
    known.add(newcomer)
    return {"export_id": newcomer, "error": error}


def _later_attempt(newcomer: Manifest, recorded_doc: str) -> bool:
    """`newcomer` is a later attempt of the export the ledger holds: the same table, mode, window and chunk
    (what the export id is made of, sync_contract.manifest.export_id) and a later `created_at`; for a
    fan-out part, whose `created_at` is its plan's on every attempt, a later `chunk.part.snapshot_at`."""
    try:
        recorded = parse_manifest_json(recorded_doc)
        later = _instant(_attempt_time(newcomer)) > _instant(_attempt_time(recorded))
    except (ContractError, ValueError, TypeError):  # not a manifest, or times that cannot be compared
        return False
    same = (newcomer.schema, newcomer.table, newcomer.mode, newcomer.window.column, newcomer.window.low) == (
        recorded.schema,
        recorded.table,
        recorded.mode,
        recorded.window.column,
        recorded.window.low,
    )
    chunk = (newcomer.window.high, newcomer.chunk_index, newcomer.chunk_count)
    return later and same and chunk == (recorded.window.high, recorded.chunk_index, recorded.chunk_count)


def _attempt_time(manifest: Manifest) -> str:
    return manifest.part.snapshot_at if manifest.part is not None else manifest.created_at


def _instant(text: str) -> datetime:
    """An ISO 8601 time with an offset (the exporter writes UTC); raises ValueError or TypeError else."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return value


def replace_recorded(place: Place, manifest: Manifest, note: str) -> Stmt:
    """The recorded manifest of `manifest.export_id`, while still to load, replaced by `manifest`: NEW, no
    attempts, `note` in ERROR (one statement: a row loaded meanwhile stays as it is)."""
    return Stmt(
        f"UPDATE {place.control('MANIFESTS')} SET DOC = ?, ROWS_EXPORTED = ?, FILE_COUNT = ?, BYTES = ?, "
        "CREATED_AT = ?, STATUS = ?, ATTEMPTS = 0, ERROR = ? "
        f"WHERE EXPORT_ID = ? AND STATUS IN ({', '.join('?' for _ in ledger.UNSETTLED)})",
        (
            manifest.to_json(),
            manifest.rows,
            len(manifest.files),
            manifest.bytes,
            manifest.created_at,
            ledger.NEW,
            note,
            manifest.export_id,
            *ledger.UNSETTLED,
        ),
    )


def status_and_doc(session: Any, place: Place, export_id: str) -> tuple[str, str | None] | None:
    """(STATUS, DOC) of the ledger row of `export_id`, or None."""
    rows = run(
        session,
        Stmt(f"SELECT STATUS AS S, DOC AS D FROM {place.control('MANIFESTS')} WHERE EXPORT_ID = ?", (export_id,)),
    )
    return (rows[0][0], rows[0][1]) if rows else None


def _quarantine_recorded(session: Any, place: Place, export_id: str, error: str) -> None:
    """The recorded manifest QUARANTINED with `error`, the error it had before kept after it; only while it
    is still to load (a row loaded meanwhile by another session stays LOADED)."""
    run(
        session,
        Stmt(
            f"UPDATE {place.control('MANIFESTS')} SET STATUS = ?, ERROR = ? || COALESCE('; before: ' || ERROR, '') "
            f"WHERE EXPORT_ID = ? AND STATUS IN ({', '.join('?' for _ in ledger.UNSETTLED)})",
            (ledger.QUARANTINED, error, export_id, *ledger.UNSETTLED),
        ),
    )

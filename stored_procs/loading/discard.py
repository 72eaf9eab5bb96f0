"""DISCARD_MANIFEST: an operator takes an export out of the load path for good (issue 13, item 1).

What can be discarded:
- a ledger entry (a STATE.MANIFESTS row) that is NEW, FAILED or QUARANTINED: it becomes DISCARDED, its
  row and its error kept, with the status it had (DISCARDED_FROM), who (CURRENT_USER()), when
  (DISCARDED_AT, UTC) and why (DISCARD_REASON). A LOADED entry is refused: its rows are in the target and
  the watermark passed it, which a discard cannot undo (a resync rebuilds the table);
- an INBOX document that never reached the ledger (one waiting for a table that is not configured, or
  left by an intake that stopped half way), named by its export id or by the `invalid-<digest>` id intake
  gives a document without one: it is recorded in MANIFESTS as DISCARDED (DISCARDED_FROM 'INBOX', the
  document kept in DOC) and removed from INBOX.

A discarded export no longer holds up its table: it is not pending (nor a QUARANTINED export the table
waits on), so later exports load; the watermark is not touched. The same file copied again later is
recognised by its export id and digest and skipped (stored_procs.loading.duplicates).

"CURRENT_USER", https://docs.snowflake.com/en/sql-reference/functions/current_user: the user of the
session that called the procedure.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

from stored_procs import datetime_text, ledger
from stored_procs.configuration.app_config import InvalidSetting
from stored_procs.loading.intake import INTAKE_ERROR, claimed_table, invalid_id, name_unrecorded, remove_from_inbox
from stored_procs.orchestration import lease
from stored_procs.spec import Place
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident, slug

DISCARDABLE = ledger.UNSETTLED
FROM_INBOX = "INBOX"
MAX_REASON_CHARS = 2000
_AT = datetime_text.timestamp_ntz()  # the time bound as TIMESTAMP_NTZ, with its explicit format


def mark_discarded(place: Place, export_id: str, reason: str, at: str) -> Stmt:
    """A discardable ledger row DISCARDED, with the status it had, the caller, the time and the reason."""
    return Stmt(
        f"UPDATE {place.control('MANIFESTS')} SET DISCARDED_FROM = STATUS, STATUS = ?, "
        f"DISCARDED_BY = CURRENT_USER(), DISCARDED_AT = {_AT}, DISCARD_REASON = ? "
        f"WHERE EXPORT_ID = ? AND STATUS IN ({', '.join('?' * len(DISCARDABLE))})",
        (ledger.DISCARDED, at, reason, export_id, *DISCARDABLE),
    )


def record_discarded(
    place: Place, export_id: str, doc: str, table: tuple[str, str] | None, reason: str, at: str
) -> Stmt:
    """A MANIFESTS row for an INBOX document discarded before it reached the ledger."""
    values = [
        ("EXPORT_ID", "CAST(? AS VARCHAR)"),
        ("SOURCE_SCHEMA", "CAST(? AS VARCHAR)"),
        ("SOURCE_TABLE", "CAST(? AS VARCHAR)"),
        ("STATUS", "CAST(? AS VARCHAR)"),
        ("ATTEMPTS", "CAST(0 AS NUMBER)"),
        ("DOC", "CAST(? AS VARCHAR)"),
        ("INTAKE_AT", _AT),
        ("DISCARDED_FROM", "CAST(? AS VARCHAR)"),
        ("DISCARDED_BY", "CURRENT_USER()"),
        ("DISCARDED_AT", _AT),
        ("DISCARD_REASON", "CAST(? AS VARCHAR)"),
    ]
    columns = ", ".join(quote_ident(c) for c, _ in values)
    select = ", ".join(f"{expr} AS {quote_ident(c)}" for c, expr in values)
    return Stmt(
        f"INSERT INTO {place.control('MANIFESTS')} ({columns}) SELECT {select}",
        (export_id, *(table or (None, None)), ledger.DISCARDED, doc, at, FROM_INBOX, at, reason),
    )


def discard(session: Any, place: Place, export_id: str, reason: str, holder: str) -> dict[str, Any]:
    """Discard the ledger entry or INBOX document `export_id` (see the module docstring); `holder` names
    the caller in the leases it takes. Returns {"export_id", "discarded_from", "table", "next"}.

    Raises InvalidSetting: no reason, an export id found nowhere, a LOADED (or already settled) entry, an
    intake error row, or intake / the table's load running now (try again when it has finished)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidSetting("say why the export is discarded (it is recorded with your user name)", "reason")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidSetting(f"at most {MAX_REASON_CHARS} characters, got {len(reason)}", "reason")
    if export_id.startswith(INTAKE_ERROR):
        raise InvalidSetting(
            f"{export_id!r} is not an export but a table whose manifests could not be copied: fix or remove the file "
            "its error names; it goes by itself once intake works again",
            "export_id",
        )
    with ExitStack() as leases:
        _hold(leases, session, place, "intake", holder)  # intake would take in or record it meanwhile
        entry = _ledger_entry(session, place, export_id)
        if entry is not None and entry[1] is not None and entry[2] is not None:
            _hold(leases, session, place, f"load:{slug(entry[1], entry[2])}", holder)
        return _ledger(session, place, export_id, reason, entry) if entry else _inbox(session, place, export_id, reason)


def _hold(leases: ExitStack, session: Any, place: Place, name: str, holder: str) -> None:
    busy = leases.enter_context(lease.held(session, place, name, holder))
    if busy is not None:
        raise InvalidSetting(f"{busy.message()}; discard when it has finished", "export_id")


def _ledger_entry(session: Any, place: Place, export_id: str) -> tuple[str, str | None, str | None] | None:
    rows = run(
        session,
        Stmt(
            f"SELECT STATUS AS S, SOURCE_SCHEMA AS A, SOURCE_TABLE AS B FROM {place.control('MANIFESTS')} "
            "WHERE EXPORT_ID = ?",
            (export_id,),
        ),
    )
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


def _ledger(
    session: Any, place: Place, export_id: str, reason: str, entry: tuple[str, str | None, str | None]
) -> dict[str, Any]:
    status, schema, table = entry
    if status == ledger.LOADED:
        raise InvalidSetting(
            f"export {export_id} is LOADED: its rows are in the target and the watermark has passed it, which a "
            "discard cannot undo. To rebuild the table from the source, resync it (CALL CORE.RESYNC_TABLE)",
            "export_id",
        )
    if status not in DISCARDABLE:
        raise InvalidSetting(
            f"export {export_id} is {status}: it is not loaded any more, nothing to discard", "export_id"
        )
    run(session, mark_discarded(place, export_id, reason, ledger.now()))
    return _answer(export_id, status, schema, table)


def _inbox(session: Any, place: Place, export_id: str, reason: str) -> dict[str, Any]:
    run(session, name_unrecorded(place))  # every document with a file name, to remove just the one
    for doc_text, file_name in run(session, Stmt(f"SELECT DOC AS D, FILE_NAME AS F FROM {place.control('INBOX')}")):
        doc = _decoded(doc_text)
        raw = doc.get("export_id") if isinstance(doc, dict) else None
        if raw == export_id or (not (isinstance(raw, str) and raw) and invalid_id(doc_text) == export_id):
            table = claimed_table(doc)
            run(session, record_discarded(place, export_id, doc_text, table, reason, ledger.now()))
            run(session, remove_from_inbox(place, [file_name]))
            return _answer(export_id, FROM_INBOX, *(table or (None, None)))
    raise InvalidSetting(
        f"no ledger entry or INBOX document has export id {export_id!r}: see CORE.FAILURES (EXPORT_ID) or "
        "STATE.MANIFESTS",
        "export_id",
    )


def _decoded(doc_text: str) -> Any:
    try:
        return json.loads(doc_text)
    except json.JSONDecodeError:
        return None


def _answer(export_id: str, was: str, schema: str | None, table: str | None) -> dict[str, Any]:
    return {
        "export_id": export_id,
        "status": ledger.DISCARDED,
        "discarded_from": was,
        "table": f"{schema}.{table}" if schema and table else None,
        "next": "later exports of the table load in the next run; the watermark was not changed. An export of "
        "the same window gets the same id and is refused, naming it: resync the table to export it anew",
    }

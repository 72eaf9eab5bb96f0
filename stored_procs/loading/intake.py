"""INTAKE: COPY new manifests (JSON) from the stage into the inbox, validate, record them in the ledger.

Each step is idempotent: COPY's load history skips files already copied; the ledger is keyed by
export id; the inbox is emptied only of documents the ledger holds.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from stored_procs import ledger
from stored_procs.loading import duplicates, manifest_checks, manifest_keys
from stored_procs.loading.intake_sql import copy_manifests, copy_manifests_of
from stored_procs.orchestration import lease
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract import failpoints, signing
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, manifest_prefix, parse_manifest

UNRECORDED = "unrecorded:"  # the file name of a document copied before INBOX recorded file names
INVALID_PREFIX = "invalid-"  # the ledger id of a document intake refused (`invalid_id`)


@dataclass
class IntakeResult:
    new: list[str] = field(default_factory=list)
    tables: set[tuple[str, str]] = field(default_factory=set)  # (schema, table) of the manifests recorded as new
    invalid: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # table -> why its manifests could not be copied
    busy: str | None = None  # another intake was at work: this one did nothing

    def to_dict(self) -> dict[str, Any]:
        summary = {
            "new_manifests": len(self.new),
            "export_ids": self.new,
            "tables": [list(t) for t in sorted(self.tables)],
            "invalid": self.invalid,
        }
        return {**summary, "errors": self.errors, "busy": self.busy}


def intake(
    session: Any,
    place: Place,
    specs: list[TableSpec],
    run_id: str,
    intake_errors: set[tuple[str, str]] | None = None,
) -> IntakeResult:
    """One intake at a time (a lease, held by the run: its FINALIZER releases it if the task dies): two
    would both see a manifest as new and record it twice. `intake_errors`: the tables ((schema, table))
    with an intake error recorded, when the caller has read them (`cycle_state`); None clears every
    table's."""
    result = IntakeResult()
    with lease.held(session, place, "intake", run_id) as busy:
        if busy is not None:
            result.busy = busy.message()
            return result
        _intake(session, place, specs, result, intake_errors)
    return result


def _intake(
    session: Any,
    place: Place,
    specs: list[TableSpec],
    result: IntakeResult,
    intake_errors: set[tuple[str, str]] | None,
) -> None:
    keys = manifest_keys.load()  # first: without a key nothing can be verified, so nothing is taken in
    alone = _copy_together(session, place, specs)  # the tables not copied together: one by one
    copied = [s for s in specs if s not in alone and (intake_errors is None or s.key in intake_errors)]
    for spec in alone:
        try:
            run(session, copy_manifests(place, manifest_prefix(spec.source_schema, spec.source_table)))
        except Exception as err:  # one table's bad folder must not stop the others
            result.errors[spec.source] = (
                f"COPY of manifests failed: {err}. Nothing of this table's new exports was taken in; fix or "
                "remove the file named, then run again (its loaded data and watermark are untouched)"
            )
            record_intake_error(session, place, spec, result.errors[spec.source])
        else:
            if intake_errors is None or spec.key in intake_errors:
                copied.append(spec)
    if copied:  # their manifests could be copied again: their intake errors go, in one statement
        clear_intake_errors(session, place, copied)
    failpoints.reached("intake:after_copy")
    docs = run(session, inbox_documents(place))
    unnamed = any(file_name is None for _, file_name, _ in docs)
    if unnamed:  # copied before INBOX recorded file names
        run(session, name_unrecorded(place))
        docs = run(session, inbox_documents(place))
    configured = {(s.source_schema, s.source_table) for s in specs}
    known = {export_id for _, _, export_id in docs if export_id is not None}  # the ledger's, of these documents
    handled = []
    for doc_text, file_name, _ in docs:
        try:
            waits = not _take(session, place, doc_text, keys, known, configured, result, file_name)
        except Exception as err:  # one document must not stop the others' intake (nor every later one)
            waits = False
            _quarantine(session, place, doc_text, f"could not be recorded: {type(err).__name__}: {err}", known, result)
        if not waits:  # recorded, skipped as known, or quarantined: handled, so out of INBOX now
            handled.append(file_name)
    if handled:
        run(session, remove_from_inbox(place, handled))
    if unnamed:
        run(session, clean_inbox(place))


def _copy_together(session: Any, place: Place, specs: list[TableSpec]) -> list[TableSpec]:
    """Several tables' manifests in one COPY (intake_sql.copy_manifests_of); [] when it worked, else every table,
    each to be copied alone, so that the file that failed it (a document that is not JSON) fails only its
    own table's intake (the files the COPY loaded before it failed are not loaded again)."""
    if len(specs) < 2:
        return specs
    try:
        run(session, copy_manifests_of(place, [spec.slug for spec in specs]))
    except Exception:
        return specs
    return []


def inbox_documents(place: Place) -> Stmt:
    """INBOX's documents (DOC, FILE_NAME) with the export id the ledger holds for each, if it holds it (a
    manifest copied again, or recorded before): one read instead of the whole ledger's ids."""
    export_id = "AS_VARCHAR(i.DOC:export_id)"
    return Stmt(
        f"SELECT i.DOC AS D, i.FILE_NAME AS F, m.EXPORT_ID AS E FROM {place.control('INBOX')} AS i "
        f"LEFT JOIN (SELECT DISTINCT EXPORT_ID FROM {place.control('MANIFESTS')}) AS m ON m.EXPORT_ID = {export_id}"
    )


def name_unrecorded(place: Place) -> Stmt:
    """Documents copied before INBOX recorded file names get a name of their own (`unrecorded:<uuid>`, which
    manifest_checks.misplaced accepts), so each can be removed from INBOX once handled, as every other one.
    UUID_STRING: a random (version 4) UUID per row ("UUID_STRING")."""
    return Stmt(
        f"UPDATE {place.control('INBOX')} SET FILE_NAME = ? || UUID_STRING() WHERE FILE_NAME IS NULL",
        (UNRECORDED,),
    )


def remove_from_inbox(place: Place, file_names: list[str]) -> Stmt:
    """The INBOX documents of the manifest files handled (the same file copied twice is handled alike)."""
    marks = ", ".join("?" for _ in file_names)
    return Stmt(f"DELETE FROM {place.control('INBOX')} WHERE FILE_NAME IN ({marks})", tuple(file_names))


def clean_inbox(place: Place) -> Stmt:
    """Empty INBOX of the documents the ledger holds (each is also removed as it is handled, by its file
    name: this is the net under that): those recorded under their export id, and those
    whose export_id is no non-empty string (a JSON null, a number, an object, missing), which `_take`
    recorded as invalid under an `invalid-<digest>` id. AS_VARCHAR gives a string's characters and NULL
    for every other value, a VARIANT null included, where `IS NULL` is false for a VARIANT null and a
    CAST of an object to VARCHAR fails ("AS_<object_type>"; "Semi-structured data: NULL values")."""
    export_id = "AS_VARCHAR(DOC:export_id)"
    return Stmt(
        f"DELETE FROM {place.control('INBOX')} WHERE {export_id} IN (SELECT EXPORT_ID FROM "
        f"{place.control('MANIFESTS')}) OR {export_id} IS NULL OR {export_id} = ''"
    )


def _take(
    session: Any,
    place: Place,
    doc_text: str,
    keys: dict[str, bytes],
    known: set[str],
    configured: set[tuple[str, str]],
    result: IntakeResult,
    file_name: str | None = None,
) -> bool:
    """Take one INBOX document in: recorded in the ledger, skipped as known, or quarantined (returns True),
    or left to wait in INBOX until its table is configured (returns False). Its signature is checked
    before anything in it is believed (sync_contract.signing)."""
    try:
        doc = json.loads(doc_text)
        if isinstance(doc, dict):  # anything else fails parse_manifest, naming "$"
            signing.verify(doc, keys)
        manifest = parse_manifest(doc)
    except (ContractError, json.JSONDecodeError) as err:
        _quarantine(session, place, doc_text, str(err), known, result)
        return True
    if why := manifest_checks.refusal(manifest, file_name):  # a window it cannot order, a file out of place
        _quarantine(session, place, doc_text, why, known, result, manifest)
        return True
    if manifest.export_id in known:  # the same manifest again, or another under its id (duplicates.py)
        if newcomer := duplicates.take_known(session, place, manifest, file_name, known):
            result.invalid.append(newcomer)
        return True
    if (manifest.schema, manifest.table) not in configured:
        return False  # waits in the inbox until its table is configured
    ledger.record_manifest(session, place, manifest, manifest.to_json())
    known.add(manifest.export_id)
    result.new.append(manifest.export_id)
    result.tables.add((manifest.schema, manifest.table))
    return True


def _quarantine(
    session: Any,
    place: Place,
    doc_text: str,
    error: str,
    known: set[str],
    result: IntakeResult,
    manifest: Manifest | None = None,
) -> None:
    """Record a document that cannot be taken in as QUARANTINED, once, under `invalid-<digest of its text>`:
    never under the export id it claims, which would make the genuine export with that id be skipped as
    known (the document, and so the id it claims, is kept in DOC). A signed `manifest` refused by
    manifest_checks is recorded with its table, window and counts, so that its table reports it
    (loading.blocked) until an operator discards it."""
    export = invalid_id(doc_text)
    if export in known or ledger.holds(session, place, export):
        known.add(export)
        return
    if manifest is not None:
        ledger.record_manifest(session, place, manifest, doc_text, as_id=export, error=error)
    else:
        doc: Any = None
        with suppress(json.JSONDecodeError):
            doc = json.loads(doc_text)
        ledger.record_invalid_manifest(session, place, export, doc_text, error, claimed_table(doc))
    known.add(export)
    result.invalid.append({"export_id": export, "error": error})


def claimed_table(doc: Any) -> tuple[str, str] | None:
    """The table an invalid manifest names, if it names one: so its failure shows under that table."""
    table = doc.get("table") if isinstance(doc, dict) else None
    if isinstance(table, dict) and isinstance(table.get("schema"), str) and isinstance(table.get("name"), str):
        return table["schema"], table["name"]
    return None


def invalid_id(doc_text: str) -> str:
    """The id a document without a usable export id is recorded under: `invalid-<digest of its text>`."""
    return INVALID_PREFIX + hashlib.sha256(doc_text.encode()).hexdigest()[:16]


INTAKE_ERROR = "intake-error:"  # the ledger id of a table whose manifests could not be copied: + its slug


def intake_error_id(spec: TableSpec) -> str:
    return f"{INTAKE_ERROR}{spec.slug}"


def record_intake_error(session: Any, place: Place, spec: TableSpec, error: str) -> None:
    """The table's manifests could not be copied (e.g. a file that is not JSON): one QUARANTINED row
    per table says why, so CORE.FAILURES and TABLE_STATUS show it; it goes once intake works again."""
    clear_intake_error(session, place, spec)
    ledger.record_invalid_manifest(
        session, place, intake_error_id(spec), "", error, (spec.source_schema, spec.source_table)
    )


def clear_intake_error(session: Any, place: Place, spec: TableSpec) -> None:
    clear_intake_errors(session, place, [spec])


def clear_intake_errors(session: Any, place: Place, specs: list[TableSpec]) -> None:
    ids = [intake_error_id(spec) for spec in specs]
    marks = ", ".join("?" for _ in ids)
    run(session, Stmt(f"DELETE FROM {place.control('MANIFESTS')} WHERE EXPORT_ID IN ({marks})", tuple(ids)))

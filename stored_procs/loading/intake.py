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
from stored_procs.orchestration import lease
from stored_procs.spec import Place, TableSpec
from stored_procs.sql import copy_manifests
from stored_procs.statement import Stmt, run
from sync_contract import failpoints
from sync_contract.errors import ContractError
from sync_contract.manifest import manifest_prefix, parse_manifest


@dataclass
class IntakeResult:
    new: list[str] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # table -> why its manifests could not be copied
    busy: str | None = None  # another intake was at work: this one did nothing

    def to_dict(self) -> dict[str, Any]:
        summary = {"new_manifests": len(self.new), "export_ids": self.new, "invalid": self.invalid}
        return {**summary, "errors": self.errors, "busy": self.busy}


def intake(session: Any, place: Place, specs: list[TableSpec], run_id: str) -> IntakeResult:
    """One intake at a time (a lease, held by the run: its FINALIZER releases it if the task dies): two
    would both see a manifest as new and record it twice."""
    result = IntakeResult()
    with lease.held(session, place, "intake", run_id) as busy:
        if busy is not None:
            result.busy = busy.message()
            return result
        _intake(session, place, specs, result)
    return result


def _intake(session: Any, place: Place, specs: list[TableSpec], result: IntakeResult) -> None:
    for spec in specs:
        try:
            run(session, copy_manifests(place, manifest_prefix(spec.source_schema, spec.source_table)))
        except Exception as err:  # one table's bad folder must not stop the others
            result.errors[spec.source] = (
                f"COPY of manifests failed: {err}. Nothing of this table's new exports was taken in; fix or "
                "remove the file named, then run again (its loaded data and watermark are untouched)"
            )
            ledger.record_intake_error(session, place, spec, result.errors[spec.source])
        else:
            ledger.clear_intake_error(session, place, spec)
    failpoints.reached("intake:after_copy")
    configured = {(s.source_schema, s.source_table) for s in specs}
    known = ledger.known_export_ids(session, place)
    for (doc_text,) in run(session, Stmt(f"SELECT DOC AS D FROM {place.control('INBOX')}")):
        try:
            _take(session, place, doc_text, known, configured, result)
        except Exception as err:  # one document must not stop the others' intake (nor every later one)
            _quarantine(session, place, doc_text, f"could not be recorded: {type(err).__name__}: {err}", known, result)
    run(session, clean_inbox(place))


def clean_inbox(place: Place) -> Stmt:
    """Empty INBOX of the documents the ledger holds: those recorded under their export id, and those
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
    known: set[str],
    configured: set[tuple[str, str]],
    result: IntakeResult,
) -> None:
    try:
        manifest = parse_manifest(json.loads(doc_text))
    except (ContractError, json.JSONDecodeError) as err:
        _quarantine(session, place, doc_text, str(err), known, result)
        return
    if manifest.export_id in known or (manifest.schema, manifest.table) not in configured:
        return  # already in the ledger, or waits in the inbox until its table is configured
    ledger.record_manifest(session, place, manifest, manifest.to_json())
    known.add(manifest.export_id)
    result.new.append(manifest.export_id)


def _quarantine(session: Any, place: Place, doc_text: str, error: str, known: set[str], result: IntakeResult) -> None:
    """Record a document that cannot be taken in as QUARANTINED under its export id (`invalid-<digest>`
    when it has no usable one), once: `clean_inbox` then removes it from INBOX."""
    doc: Any = None
    with suppress(json.JSONDecodeError):
        doc = json.loads(doc_text)
    raw_id = doc.get("export_id") if isinstance(doc, dict) else None
    export = raw_id if isinstance(raw_id, str) and raw_id else "invalid-" + _digest(doc_text)
    if export not in known:
        ledger.record_invalid_manifest(session, place, export, doc_text, error, _claimed_table(doc))
        known.add(export)
        result.invalid.append({"export_id": export, "error": error})


def _claimed_table(doc: Any) -> tuple[str, str] | None:
    """The table an invalid manifest names, if it names one: so its failure shows under that table."""
    table = doc.get("table") if isinstance(doc, dict) else None
    if isinstance(table, dict) and isinstance(table.get("schema"), str) and isinstance(table.get("name"), str):
        return table["schema"], table["name"]
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]

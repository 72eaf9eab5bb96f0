"""LOAD one table: apply its pending manifests in window order, fail closed, advance the watermark.

Per manifest: COPY the listed files into a VARCHAR staging table, check the rows loaded against the
manifest, create or evolve the target, MERGE (one row per key, newest watermark wins), mark the
manifest LOADED, then advance the watermark. Every step can be re-run after a crash: the staging
table is rebuilt, the MERGE changes nothing the second time, the watermark only moves forward and
is repaired from the ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from stored_procs import ledger, run_records, watermarks
from stored_procs.configuration import access
from stored_procs.loading import (
    blocked,
    key_sets,
    manifest_checks,
    replace,
    schema_drift,
    staged_window,
    table_ledger,
)
from stored_procs.loading.apply import apply_batch
from stored_procs.loading.batch import (
    Batch,
    Counts,
    KeyNotUnique,
    group_batches,
    window_kind,
)
from stored_procs.loading.errors import by_configuration
from stored_procs.orchestration import export_check, lease
from stored_procs.spec import Place, TableSpec
from sync_contract import failpoints
from sync_contract.errors import ContractError
from sync_contract.manifest import Manifest, Window, parse_manifest_json
from sync_contract.types import Kind
from sync_contract.watermark import is_after, later, sort_key


@dataclass
class TableLoad:
    spec: TableSpec
    run_id: str
    watermark_before: str | None = None
    watermark_after: str | None = None
    manifests: int = 0
    rows_exported: int = 0
    counts: Counts = field(default_factory=Counts)
    errors: list[str] = field(default_factory=list)
    waiting: int = 0  # batches that cannot load yet: chunks missing, or a gap before them
    notes: list[str] = field(default_factory=list)
    busy: str | None = None  # another run holds the table's lease

    @property
    def status(self) -> str:
        if self.errors:
            return "FAILED"
        if self.busy:
            return "BUSY"
        return "SUCCEEDED" if self.manifests else "NO_CHANGE"


def load_table(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    run_id: str,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    """LOAD one table and write its RUNS row. `problems`: what this run's export requests say about the
    table (`export_check.problems`) when the caller knows it (the local runner holds its exporter's
    answers); None reads them from EXPORT_REQUESTS."""
    started_at, started = ledger.now(), time.monotonic()
    result = TableLoad(spec, run_id)
    with lease.held(session, place, f"load:{spec.slug}", run_id) as busy:
        if busy is not None:  # another run is loading this table: this one leaves it alone
            result.busy = busy.message()
        else:
            try:
                _load_pending(session, place, database, spec, result)
            except Exception as err:  # recorded in RUNS; the caller goes on with the other tables
                result.errors.append(f"{type(err).__name__}: {err}")
    if problems is None:
        problems = export_check.problems(session, place, spec, run_id)
    result.errors.extend(problems)  # a failed export fails the run
    summary = {
        "run_id": run_id,
        "source_schema": spec.source_schema,
        "source_table": spec.source_table,
        "target": f"{spec.target_schema}.{spec.target_table}",
        "started_at": started_at,
        "finished_at": ledger.now(),
        "status": result.status,
        "manifests": result.manifests,
        "rows_exported": result.rows_exported,
        "rows_loaded": result.counts.loaded,
        "rows_inserted": result.counts.inserted,
        "rows_updated": result.counts.updated,
        "rows_deleted": result.counts.deleted,
        "rows_quarantined": result.counts.quarantined,
        "watermark_before": result.watermark_before,
        "watermark_after": result.watermark_after,
        "duration_s": round(time.monotonic() - started, 3),
        "waiting_batches": result.waiting,
        "notes": "; ".join([*result.notes, *([result.busy] if result.busy else [])]) or None,
        "error": "; ".join(result.errors) or None,
    }
    run_records.record_run(session, place, summary)
    return summary


def _load_pending(session: Any, place: Place, database: str, spec: TableSpec, result: TableLoad) -> None:
    before = table_ledger.read(session, place, spec, database)  # one statement: the ledger, the target's columns
    parsed = _parse_pending(session, place, spec, result, before.pending)
    kind = window_kind([m for _, m in parsed])
    batches, incomplete = group_batches(parsed)
    key_set_batches = [b for b in batches if b.first.mode == "keys"]
    batches = [b for b in batches if b.first.mode != "keys"]
    watermark = _repaired_watermark(session, place, spec, kind, before)
    result.watermark_before = result.watermark_after = watermark
    if spec.mode == "full":
        batches = _newest_snapshot_only(session, place, spec, batches, result.run_id, before.newest_loaded_at)
    elif kind is not None:
        batches.sort(key=lambda b: _window_order(kind, b.first))
    known = None  # schema_drift.Known: as read before the first batch changes them
    if batches:  # a target schema the app may not write: this table fails naming the GRANT, batches untouched
        existing = before.target_columns
        replacing = any(replace.replaces(spec, b.first) for b in batches)
        access.ready_target(session, place, database, spec, replacing, bool(existing))
        known = (existing, before.newest_loaded, before.view_columns)
    deferred: list[Batch] = []
    for batch in batches:
        window = batch.first.window
        if kind is not None and _behind(kind, window, watermark):
            ledger.mark_status(session, place, batch.export_ids, ledger.SUPERSEDED, None, result.run_id)
            continue
        if kind is not None and is_after(kind, window.low, watermark):
            # a gap: rows between the loaded watermark and this window were never exported. Not a
            # failure of this batch: it stays NEW until an export covering the gap arrives.
            deferred.append(batch)
            continue
        try:
            counts = apply_batch(session, place, database, spec, batch, result.run_id, result.notes, known)
        except Exception as err:
            if by_configuration(err):  # the table's configuration, not the export: retried once it is fixed
                _record_failure(session, place, batch, str(err), result, configuration=True)
                continue
            _record_failure(
                session,
                place,
                batch,
                str(err),
                result,
                final=isinstance(err, schema_drift.SchemaChangeError | KeyNotUnique | staged_window.WindowMismatch),
            )
            continue
        finally:
            known = None  # the batch may have changed the target's columns: the next one reads them again
        failpoints.reached("load:after_merge")
        ledger.mark_loaded(session, place, batch.export_ids, result.run_id, counts.as_dict())
        failpoints.reached("load:after_ledger")
        watermark = later(kind, watermark, window.high) if kind is not None else window.high
        watermarks.set_watermark(session, place, spec, watermark, batch.export_ids[0], kind)
        result.manifests += len(batch.entries)
        result.rows_exported += batch.rows
        result.counts.add(counts)
        if counts.quarantined:
            result.notes.append(
                f"{batch.label}: {counts.quarantined} rows set aside in {place.control('QUARANTINE')} (values the "
                "target cannot hold exactly; each row has its key and reasons)"
            )
        result.watermark_after = watermark
    _settle_waiting(session, place, spec, deferred, kind, watermark, result, gap=True)
    _settle_waiting(session, place, spec, incomplete, kind, watermark, result, gap=False)
    _apply_key_sets(session, place, database, spec, key_set_batches, result)
    # an error-free load quarantined nothing (every quarantine of a batch is an error: _record_failure), so
    # only an export quarantined before it can hold the table up
    if not result.errors and before.quarantined and (why := blocked.waiting_on(session, place, spec, watermark)):
        result.errors.append(why)  # a stuck table is a failure every run, never NO_CHANGE


def _apply_key_sets(
    session: Any, place: Place, database: str, spec: TableSpec, sets: list[Batch], result: TableLoad
) -> None:
    """Delete detection: the newest complete key set is applied after the table's windows; older ones
    are superseded (each is a whole snapshot of the keys)."""
    ordered = sorted(sets, key=lambda b: (b.first.created_at, b.export_ids[0]))
    for batch in ordered[:-1]:
        ledger.mark_status(session, place, batch.export_ids, ledger.SUPERSEDED, None, result.run_id)
    if not ordered:
        return
    batch = ordered[-1]
    try:
        deleted = key_sets.delete_by_key_set(session, place, database, spec, batch)
    except Exception as err:
        refused = isinstance(err, key_sets.KeySetRefused)
        _record_failure(session, place, batch, str(err), result, refused, configuration=by_configuration(err))
        return
    ledger.mark_loaded(session, place, batch.export_ids, result.run_id, Counts(deleted=deleted).as_dict())
    result.manifests += len(batch.entries)
    result.counts.deleted += deleted
    verb = "flagged _DELETED" if spec.delete_detection == "soft_delete" else "deleted"
    result.notes.append(f"key set {batch.label}: {batch.rows} keys, {deleted} target rows {verb}")


def _settle_waiting(
    session: Any,
    place: Place,
    spec: TableSpec,
    waiting: list[Batch],
    kind: Kind | None,
    watermark: str | None,
    result: TableLoad,
    gap: bool,
) -> None:
    """Batches that could not load (a gap before them, or chunks missing): superseded once loaded data
    has passed them, else they wait."""
    newest_snapshot = (ledger.newest_loaded_snapshot(session, place, spec) or "") if kind is None and waiting else ""
    for batch in waiting:
        if kind is not None:
            covered = not is_after(kind, batch.first.window.high, watermark)
        else:
            covered = batch.first.created_at <= newest_snapshot
        if covered:
            ledger.mark_status(session, place, batch.export_ids, ledger.SUPERSEDED, None, result.run_id)
            continue
        result.waiting += 1
        if gap:
            result.notes.append(
                f"{batch.label} of {spec.source} waits: it starts at {batch.first.window.low!r}, "
                f"after the loaded watermark {watermark!r}"
            )


def _parse_pending(
    session: Any, place: Place, spec: TableSpec, result: TableLoad, pending: list[ledger.LedgerEntry]
) -> list[tuple[ledger.LedgerEntry, Manifest]]:
    """The table's pending manifests; one that no longer parses, whose window cannot be ordered (taken
    in before intake checked it: manifest_checks.check_orderable), or that does not fit the table's
    configuration (another mode, primary key or window column: manifest_checks.misfit) is QUARANTINED
    with the reason, before the batches are grouped and ordered: it never stops the table's own exports."""
    parsed = []
    for entry in pending:
        try:
            manifest = parse_manifest_json(entry.doc)
            if why := manifest_checks.refusal(manifest, None) or manifest_checks.misfit(manifest, spec):
                raise ContractError(why)
            parsed.append((entry, manifest))
        except ContractError as err:
            _record_failure(session, place, Batch((entry,), ()), str(err), result, final=True)
    return parsed


def _behind(kind: Kind, window: Window, watermark: str | None) -> bool:
    """A window the loaded watermark has passed. Never a backfill (every row again, for columns filled
    without moving the watermark): its high may lie at or below the watermark (the newest row deleted,
    a guard lowered across a daylight-saving change), and it replaces values only, carrying newer rows."""
    return not window.backfill and not is_after(kind, window.high, watermark)


def _record_failure(
    session: Any,
    place: Place,
    batch: Batch,
    error: str,
    result: TableLoad,
    final: bool = False,
    configuration: bool = False,
) -> None:
    """The batch FAILED (retried by the next run) or, when `final` or out of attempts, QUARANTINED.
    `configuration`: refused by the table's configuration (loading.errors.ConfigRefused): FAILED without
    using up an attempt, so the export loads as soon as the configuration is fixed, however many runs
    failed before; the table fails every run until then, the error naming the configuration key."""
    final = not configuration and (final or batch.attempts + 1 >= ledger.MAX_ATTEMPTS)
    status = ledger.QUARANTINED if final else ledger.FAILED
    ledger.mark_status(session, place, batch.export_ids, status, error, result.run_id, attempt=not configuration)
    result.errors.append(error)


def _repaired_watermark(
    session: Any, place: Place, spec: TableSpec, kind: Kind | None, before: table_ledger.TableLedger
) -> str | None:
    """The stored watermark, moved up to the newest LOADED window if a crash left it behind (also when
    nothing is pending: else the exporter would send the loaded window again, forever)."""
    stored = before.watermark
    if spec.mode == "full":  # the newest loaded snapshot's fingerprint
        newest = before.newest_loaded
        repaired = newest[1] if newest else stored
    else:
        if kind is None:
            newest = before.newest_loaded
            kind = window_kind([parse_manifest_json(newest[0])]) if newest else None
        if kind is None:
            return stored
        repaired = stored
        for high in before.loaded_highs:
            repaired = later(kind, repaired, high)
    if repaired != stored:
        watermarks.set_watermark(session, place, spec, repaired, "repair", kind)
    return repaired


def _window_order(kind: Kind, manifest: Manifest) -> tuple[Any, str]:
    assert manifest.window.high is not None
    return sort_key(kind, manifest.window.high), manifest.created_at


def _newest_snapshot_only(
    session: Any, place: Place, spec: TableSpec, batches: list[Batch], run_id: str, loaded_at: str | None
) -> list[Batch]:
    """Full mode: every batch is a whole snapshot; only the newest needs loading, and never one
    older than the snapshot already loaded (`loaded_at`: its CREATED_AT; an export that finished late
    must not undo a newer one)."""
    loaded = loaded_at or ""
    ordered = sorted(batches, key=lambda b: (b.first.created_at, b.export_ids[0]))
    keep = ordered[-1:] if ordered and ordered[-1].first.created_at > loaded else []
    for batch in ordered[: len(ordered) - len(keep)]:
        ledger.mark_status(session, place, batch.export_ids, ledger.SUPERSEDED, None, run_id)
    return keep

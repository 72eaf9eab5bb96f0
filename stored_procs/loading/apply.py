"""Apply one batch to its target: COPY its files into staging, check the staged rows against the manifest
(counts, window, unique keys, values the target cannot hold), then write the target: MERGE, the
full-mode swap (loading.replace) or the history MERGE (loading.history). Nothing is written to the
target unless every check passed; a refused statement of a transformed table names the transform.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stored_procs import ledger, sql, stage_events
from stored_procs.configuration import renames
from stored_procs.loading import (
    history,
    overrides,
    quarantine,
    replace,
    schema_drift,
    staged_checks,
    staged_window,
    transforms,
)
from stored_procs.loading.batch import Batch, Counts, LoadError, check_unique_keys, copy_files
from stored_procs.loading.errors import ConfigRefused
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import run
from sync_contract import failpoints
from sync_contract.manifest import Manifest

# A merged batch's staging table of at most this many rows is not dropped after the batch: the table's
# next load replaces it (CREATE OR REPLACE), one statement less per changed cycle. It is TRANSIENT with
# DATA_RETENTION_TIME_IN_DAYS = 0 (sql.create_staging): no Time Travel or Fail-safe copy, only its bytes
# until then; a removed or resynced table's is dropped then (configuration.table_config). A larger one,
# and one whose batch failed, is dropped at once.
KEEP_STAGING_ROWS = 100_000


def apply_batch(
    session: Any,
    place: Place,
    database: str,
    spec: TableSpec,
    batch: Batch,
    run_id: str,
    notes: list[str],
    known: schema_drift.Known | None = None,
) -> Counts:
    for manifest in batch.manifests:
        _check_supported(spec, manifest)
        if manifest.columns != batch.first.columns:
            raise LoadError(
                f"{batch.label} of {spec.source}: chunk {manifest.chunk_index} lists other columns "
                "than chunk 0; nothing was merged"
            )
    if spec.rename and known is not None:  # a rename's error first: a transform over its target depends on it
        source_columns = [c.name for c in batch.first.columns]
        if found := renames.unmatched(spec.rename, source_columns, known[0]):
            raise ConfigRefused(f"rename.{found[0]} of {spec.source}: {found[1]}. Nothing of the batch was loaded")
    columns = sql.target_columns(spec, batch.first)
    if spec.transform and known is not None:  # once per process and transform, before the target is touched
        transforms.check_first_load(session, spec, columns, creates=not known[0])
    drift_notes = schema_drift.prepare_target(
        session, place, database, spec, batch, replace.replaces(spec, batch.first), known
    )
    notes.extend(drift_notes)
    if spec.type_overrides:  # an override added or changed once the target existed (loading.overrides)
        widened = overrides.check_target(session, spec, batch.first, database, columns)
        for name, mapping in widened:
            run(session, sql.widen_column(spec, database, name, mapping))
        if spec.history and widened:  # the current view lists the columns: rebuilt with their new types
            notes.extend(history.ensure_view(session, place, spec, database))
    run(session, sql.create_staging(place, spec, [mapping for _, mapping in columns]))
    merged = False
    try:
        counts = _stage_check_merge(session, place, database, spec, batch, run_id, notes)
        merged = True
        return counts
    finally:
        if not merged or batch.rows > KEEP_STAGING_ROWS:  # a small merged one waits for the next CREATE OR REPLACE
            run(session, sql.drop_staging(place, spec))
        if replace.replaces(spec, batch.first):
            run(session, replace.drop_kept_keys(place, spec))


def _check_supported(spec: TableSpec, manifest: Manifest) -> None:
    if manifest.mode != spec.mode:
        raise LoadError(
            f"export {manifest.export_id} of {spec.source} is a {manifest.mode!r} export but the table is "
            f"configured as {spec.mode!r}; nothing was merged"
        )


def _stage_check_merge(
    session: Any, place: Place, database: str, spec: TableSpec, batch: Batch, run_id: str, notes: list[str]
) -> Counts:
    size = sum(m.bytes for m in batch.manifests)  # of the batch's files, as its manifests list them
    with stage_events.timed("copy", spec.source, bytes=size) as copying:
        copying.rows = loaded = sum(copy_files(session, place, spec, m) for m in batch.manifests)
    checked = staged_checks.run_checks(session, place, spec, batch)  # every check below in one statement
    staged = int(checked["count"][0])  # type: ignore[index]
    if loaded != batch.rows or staged != batch.rows:
        raise LoadError(
            f"{batch.label} of {spec.source}: COPY loaded {loaded} rows and staging holds {staged}, "
            f"but the manifest says {batch.rows}; nothing was merged and the watermark did not move"
        )
    failpoints.reached("load:after_copy")
    staged_window.check(session, place, spec, batch, checked["window"])  # the watermark must not pass unexported rows
    manifest = batch.first
    key_range = check_unique_keys(session, place, spec, batch, checked["keys"])
    replacing = replace.replaces(spec, manifest)
    kept = replace.kept_keys_table(place, spec) if replacing else None
    try:  # rows with values the target cannot hold: set aside (or the batch fails), before any merge
        quarantined = quarantine.apply(
            session, place, spec, manifest, batch.export_ids, run_id, ledger.now(), kept, checked["bad"]
        )
        if spec.history:  # SCD type 2: versions merged in one statement, never a swap (loading.history)
            how = (manifest, ledger.now(), replacing, kept if quarantined else None, key_range)
            timed = stage_events.timed("merge", spec.source, rows=staged - quarantined, bytes=size)
            with timed, _transform_errors(session, place, spec, batch):
                inserted, updated, deleted = history.apply(session, place, database, spec, *how)
            return Counts(loaded, inserted, updated, deleted, quarantined)
        if replacing:
            at = ledger.now()
            timed = stage_events.timed("merge", spec.source, rows=staged - quarantined, bytes=size)
            with timed, _transform_errors(session, place, spec, batch):
                inserted, updated, deleted = replace.apply(
                    session, place, database, spec, manifest, at, quarantined > 0, notes
                )
            return Counts(loaded, inserted, updated, deleted, quarantined)
    except ConfigRefused:  # a transform failing over the rows (_transform_errors): its message names the batch
        raise
    except ValueError as err:  # BadValues, or a shadow table that does not hold what staging holds
        raise LoadError(f"{batch.label} of {spec.source}: {err}") from err
    timed = stage_events.timed("merge", spec.source, rows=staged - quarantined, bytes=size)
    with timed, _transform_errors(session, place, spec, batch):
        merged = run(session, sql.merge(place, spec, manifest, database, key_range))
    inserted, updated = int(merged[0][0]), int(merged[0][1]) if len(merged[0]) > 1 else 0
    return Counts(loaded, inserted, updated, quarantined=quarantined)


@contextmanager
def _transform_errors(session: Any, place: Place, spec: TableSpec, batch: Batch) -> Iterator[None]:
    """A statement writing a transformed table that the engine refused with a compilation or data error
    (transforms.may_be_expression_error): the batch fails naming the transform(s) that fail over its
    typed rows (loading.transforms.failure). Any other error (a lock abort, a network error, a suspended
    warehouse) and our own ValueErrors pass unchanged."""
    try:
        yield
    except Exception as err:
        if not spec.transform or isinstance(err, ValueError) or not transforms.may_be_expression_error(err):
            raise
        manifest = batch.first
        names = [n for n, _ in sql.target_columns(spec, manifest)]
        rows = sql.typed_rows(place, spec, manifest)
        found = transforms.failure(session, rows, spec.transform, names, f"{batch.label} of {spec.source}", err)
        raise ConfigRefused(str(found)) from err

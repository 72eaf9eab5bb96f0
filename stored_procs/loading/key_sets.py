"""Delete detection: a key-set export (mode `keys`: the primary keys and watermark of one snapshot)
deletes, flags `_DELETED`, or (history tables) closes the current versions of, the target rows at or
below its high watermark whose key it lacks; one that would remove more than `max_delete_fraction` of
the rows it judges is refused."""

from __future__ import annotations

from typing import Any

from stored_procs import datetime_text, ledger, sql
from stored_procs.loading import history
from stored_procs.loading.batch import Batch, LoadError, copy_files
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import Stmt, run
from sync_contract.identifiers import quote_ident
from sync_contract.manifest import Manifest


class KeySetRefused(LoadError):
    """A key set that would delete too much of the target: an empty or partial export (quarantined)."""


def delete_by_key_set(session: Any, place: Place, database: str, spec: TableSpec, batch: Batch) -> int:
    if spec.delete_detection == "off":
        raise LoadError(f"{batch.label} of {spec.source} is a key set, but delete detection is off for the table")
    manifest = batch.first
    if not {r[0] for r in run(session, sql.existing_columns(spec, database))}:
        return 0  # no target yet: nothing to delete
    run(session, sql.create_staging(place, spec, [mapping for _, mapping in sql.target_columns(spec, manifest)]))
    try:
        loaded = sum(copy_files(session, place, spec, m) for m in batch.manifests)
        if loaded != batch.rows:
            raise LoadError(
                f"{batch.label} of {spec.source}: COPY loaded {loaded} keys, the manifest says {batch.rows}"
            )
        judged, gone = (int(run(session, stmt)[0][0]) for stmt in key_set_counts(place, spec, manifest, database))
        if gone > spec.max_delete_fraction * judged:
            raise KeySetRefused(
                f"{batch.label} of {spec.source}: the key set ({batch.rows} keys) would delete {gone} of {judged} "
                f"target rows, more than max_delete_fraction = {spec.max_delete_fraction}; nothing was deleted. "
                "If the deletes are real, raise max_delete_fraction for the table and CALL CORE.RETRY_MANIFEST"
            )
        applied = run(session, apply_key_set(place, spec, manifest, database, ledger.now()))
        return int(applied[0][0]) if applied else gone
    finally:
        run(session, sql.drop_staging(place, spec))


# --------------------------------------------------------------------------- statements (pure)


def _key_set_condition(place: Place, spec: TableSpec, manifest: Manifest) -> str:
    """Target rows a key set says are gone: at or below its high watermark (a row written after the key
    set's snapshot is never judged by it) and with no key in the staged set."""
    match = " AND ".join(
        f"{sql.cast_expression(s, m)} = t.{quote_ident(k)}" for k, s, m in sql.staged_keys(spec, manifest)
    )
    wm = spec.column(manifest.window.column or "")
    high = sql.text_as("?", dict(sql.target_columns(spec, manifest))[wm])
    return (
        f"t.{quote_ident(wm)} <= {high} AND NOT EXISTS "
        f"(SELECT 1 AS X FROM {place.control(spec.staging_name)} WHERE {match})"
    )


def key_set_counts(place: Place, spec: TableSpec, manifest: Manifest, database: str) -> list[Stmt]:
    """(target rows the key set judges, of those the ones it would delete): the fail-closed guard."""
    wm = spec.column(manifest.window.column or "")
    below_high = sql.text_as("?", dict(sql.target_columns(spec, manifest))[wm])
    live = f" AND {c}" if (c := sql.live_rows_only(spec, "t")) else ""
    high = (manifest.window.high,)
    return [
        Stmt(
            f"SELECT COUNT(*) AS N FROM {spec.target(database)} AS t WHERE t.{quote_ident(wm)} <= {below_high}{live}",
            high,
        ),
        Stmt(
            f"SELECT COUNT(*) AS N FROM {spec.target(database)} AS t "
            f"WHERE {_key_set_condition(place, spec, manifest)}{live}",
            high,
        ),
    ]


def apply_key_set(place: Place, spec: TableSpec, manifest: Manifest, database: str, at: str) -> Stmt:
    """Delete, or flag as deleted (soft_delete), the target rows whose keys are gone."""
    condition = _key_set_condition(place, spec, manifest)
    if spec.history:  # a gone key's current version is closed; its history stays (loading.history)
        return Stmt(history.close_by_key_set(condition, spec, database), (f"{at}+00:00", manifest.window.high))
    if spec.delete_detection == "soft_delete":
        return Stmt(
            f'UPDATE {spec.target(database)} AS t SET "_DELETED" = TRUE, '
            f'"_DELETED_AT" = {datetime_text.timestamp_ntz()} '
            f"WHERE {condition} AND {sql.live_row('t')}",
            (at, manifest.window.high),
        )
    return Stmt(f"DELETE FROM {spec.target(database)} AS t WHERE {condition}", (manifest.window.high,))

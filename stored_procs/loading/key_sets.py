"""Delete detection: a key-set export (mode `keys`: the primary keys and watermark of one snapshot)
deletes, or flags `_DELETED`, the target rows at or below its high watermark whose key it lacks; one
that would remove more than `max_delete_fraction` of the rows it judges is refused."""

from __future__ import annotations

from typing import Any

from stored_procs import ledger, sql
from stored_procs.loading.batch import Batch, LoadError, copy_files
from stored_procs.spec import Place, TableSpec
from stored_procs.statement import run


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
        judged, gone = (int(run(session, stmt)[0][0]) for stmt in sql.key_set_counts(place, spec, manifest, database))
        if gone > spec.max_delete_fraction * judged:
            raise KeySetRefused(
                f"{batch.label} of {spec.source}: the key set ({batch.rows} keys) would delete {gone} of {judged} "
                f"target rows, more than max_delete_fraction = {spec.max_delete_fraction}; nothing was deleted. "
                "If the deletes are real, raise max_delete_fraction for the table and CALL CORE.RETRY_MANIFEST"
            )
        applied = run(session, sql.apply_key_set(place, spec, manifest, database, ledger.now()))
        return int(applied[0][0]) if applied else gone
    finally:
        run(session, sql.drop_staging(place, spec))
